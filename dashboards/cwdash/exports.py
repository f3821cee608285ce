"""Downloads: the month's receivables as CSV and Excel, streamed from DuckDB in batches.

Files carry the mart's own column names and exact decimals, so finance can reconcile them with
marts.receivables_monthly; only the selected month end and customer filters are applied.
"""

from __future__ import annotations

import io
from datetime import date

import pyarrow.csv as pacsv
from openpyxl import Workbook

from cwdash import queries
from cwdash.filters import Filters
from cwdash.warehouse import Warehouse

# An Excel sheet holds 1,048,576 rows, one of them the header. The same cap applies to CSV:
# a download is built in the dashboard's memory; larger books are exported with the CLI
# (customer-warehouse export receivables), which writes files to disk.
MAX_ROWS = 1_048_575
# Excel opens UTF-8 CSV files with Chinese names correctly only with a byte-order mark.
UTF8_BOM = b"\xef\xbb\xbf"


def file_stem(month_end: date) -> str:
    return f"receivables_{month_end:%Y-%m}"


def receivables_csv(opened: Warehouse, filters: Filters, month_end: date) -> bytes:
    sql, params = queries.month_receivables_export(filters, month_end)
    buffer = io.BytesIO()
    buffer.write(UTF8_BOM)
    writer = None
    for batch in opened.batches(sql, params):
        if writer is None:
            writer = pacsv.CSVWriter(buffer, batch.schema)
        writer.write_batch(batch)
    if writer is None:  # no rows: still a valid file with the header
        buffer.write((",".join(queries.RECEIVABLES_EXPORT_COLUMNS) + "\n").encode())
    else:
        writer.close()
    return buffer.getvalue()


def receivables_xlsx(opened: Warehouse, filters: Filters, month_end: date) -> bytes:
    sql, params = queries.month_receivables_export(filters, month_end)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(file_stem(month_end))
    sheet.freeze_panes = "B2"
    sheet.append(list(queries.RECEIVABLES_EXPORT_COLUMNS))
    for batch in opened.batches(sql, params):
        for row in batch.to_pylist():
            sheet.append([row[column] for column in queries.RECEIVABLES_EXPORT_COLUMNS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
