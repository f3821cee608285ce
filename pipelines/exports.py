"""Finance's monthly receivables export: the month's customer rows and the book summary."""

from __future__ import annotations

import calendar
import re
from datetime import date
from pathlib import Path

import pandas as pd

from pipelines.settings import Settings
from pipelines.storage import open_published

FORMATS = ("xlsx", "csv", "parquet")
# Columns that are counts, days or ratios: everything else numeric in these marts is money.
_NOT_MONEY = re.compile(r"(dso|days|utilization|ratio|count|customers|_pct|share|score)")


class ExportError(RuntimeError):
    """The export cannot be written; the message says why."""


def month_end(month: str) -> date:
    """'2026-09' -> date(2026, 9, 30)."""
    try:
        year, number = (int(part) for part in month.split("-"))
        return date(year, number, calendar.monthrange(year, number)[1])
    except (ValueError, TypeError):
        raise ExportError(f"not a month (YYYY-MM): {month!r}") from None


def read_month(settings: Settings, month: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The month's receivables rows (one per customer) and its summary row, from the publish."""
    if not settings.published_path.exists():
        raise ExportError(f"nothing published yet in {settings.warehouse_dir}: run a refresh")
    end = month_end(month)
    con = open_published(settings.published_path)
    try:
        customers = con.execute(
            """
            select r.*, c.customer_name, c.region, c.sales_rep
            from marts.receivables_monthly r
            left join staging.stg_erp__customers c using (customer_id)
            where r.month_end = ?
            order by r.closing_ar desc, r.customer_id
            """,
            [end],
        ).df()
        summary = con.execute(
            "select * from marts.receivables_summary_monthly where month_end = ?", [end]
        ).df()
    finally:
        con.close()
    if customers.empty and summary.empty:
        raise ExportError(f"no receivables for {month} in {settings.published_path}")
    if settings.mask_pii:
        customers["customer_name"] = "***"
    leading = ["customer_id", "customer_name", "region", "sales_rep", "month_end"]
    customers = customers[leading + [c for c in customers.columns if c not in leading]]
    return customers, summary


def export_receivables(
    settings: Settings, month: str, fmt: str, out_dir: Path | None = None
) -> list[Path]:
    """Write the month's export; returns the files written."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    customers, summary = read_month(settings, month)
    target = out_dir or settings.exports_dir
    target.mkdir(parents=True, exist_ok=True)
    stem = f"receivables_{month}"
    if fmt == "xlsx":
        path = target / f"{stem}.xlsx"
        _write_workbook(path, {"Customers": customers, "Summary": summary})
        return [path]
    written = []
    for name, frame in (("customers", customers), ("summary", summary)):
        path = target / f"{stem}_{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False, encoding="utf-8-sig")
        else:
            frame.to_parquet(path, index=False)
        written.append(path)
    return written


def _write_workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            sheet.freeze_panes = "A2"
            for cell in sheet[1]:
                cell.font = Font(bold=True)
            for index, column in enumerate(frame.columns, start=1):
                letter = get_column_letter(index)
                sheet.column_dimensions[letter].width = max(12, min(40, len(str(column)) + 4))
                if not pd.api.types.is_numeric_dtype(frame[column]) or frame[column].dtype == bool:
                    continue
                number_format = "0.0" if _NOT_MONEY.search(column) else "#,##0.00"
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = number_format
