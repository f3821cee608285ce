"""Closed receivables months stay frozen; late data becomes restatements; finance's export."""

import shutil

import duckdb
import openpyxl
import pytest

from tests.conftest import AS_OF, cli

pytestmark = pytest.mark.slow


def query(path, sql, params=()):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


@pytest.fixture
def own_warehouse(published_warehouse, tmp_path):
    target = tmp_path / "wh"
    shutil.copytree(published_warehouse.parent, target)
    return target


def test_late_payment_for_a_closed_month_is_a_restatement_not_a_change(own_warehouse, private_raw):
    published = own_warehouse / "warehouse.duckdb"
    invoice_id, customer_id = query(
        published,
        "select invoice_id, customer_id"
        " from intermediate.int_receivables__invoice_month_end_balances"
        " where month_start_date = date '2026-09-01' and open_amount > 100"
        " order by invoice_id limit 1",
    )[0]
    september = (
        "select collected, closing_ar, is_frozen from marts.receivables_monthly"
        " where customer_id = ? and month = date '2026-09-01'"
    )
    [frozen_row] = query(published, september, [customer_id])
    assert frozen_row[2] is True
    (private_raw / "payments" / "payments_late.csv").write_text(
        "payment_id,invoice_id,customer_id,payment_date,amount\n"
        f"LATE1,{invoice_id},{customer_id},2026-09-20,100.00\n"
    )
    common = [
        "--raw-dir",
        str(private_raw),
        "--warehouse-dir",
        str(own_warehouse),
        "--as-of",
        AS_OF.isoformat(),
        "--quiet",
    ]
    cli("refresh", *common)

    assert query(published, september, [customer_id]) == [frozen_row]
    restated = dict(
        query(
            published,
            "select column_name, difference from marts.receivables_restatements"
            " where customer_id = ? and month = date '2026-09-01'",
            [customer_id],
        )
    )
    assert restated["collected"] == 100 and restated["closing_ar"] == -100

    cli("reopen", "--month", "2026-09", *common)
    [reopened] = query(published, september, [customer_id])
    assert reopened[0] == frozen_row[0] + 100 and reopened[1] == frozen_row[1] - 100
    assert query(published, "select count(*) from marts.receivables_restatements") == [(0,)]


def test_monthly_export_opens_in_a_spreadsheet(published_warehouse, tmp_path):
    out = tmp_path / "exports"
    result = cli(
        "export",
        "receivables",
        "--month",
        "2026-09",
        "--format",
        "xlsx",
        "--warehouse-dir",
        str(published_warehouse.parent),
        "--out-dir",
        str(out),
    )
    assert result.stdout.strip().endswith("receivables_2026-09.xlsx")
    workbook = openpyxl.load_workbook(out / "receivables_2026-09.xlsx")
    customers, summary = workbook["Customers"], workbook["Summary"]
    assert customers.freeze_panes == "A2" and customers["A1"].font.bold
    header = [cell.value for cell in customers[1]]
    closing = header.index("closing_ar") + 1
    assert customers.cell(row=2, column=closing).number_format == "#,##0.00"
    expected_rows = query(
        published_warehouse,
        "select count(*), sum(closing_ar) from marts.receivables_monthly"
        " where month_end = date '2026-09-30'",
    )[0]
    values = [row[closing - 1] for row in customers.iter_rows(min_row=2, values_only=True)]
    assert len(values) == expected_rows[0]
    assert sum(values) == pytest.approx(float(expected_rows[1]), abs=0.01)
    summary_header = [cell.value for cell in summary[1]]
    summary_closing = summary.cell(row=2, column=summary_header.index("closing_ar") + 1).value
    assert summary_closing == pytest.approx(float(expected_rows[1]), abs=0.01)


def test_export_of_a_month_without_data_fails_clearly(published_warehouse, tmp_path):
    result = cli(
        "export",
        "receivables",
        "--month",
        "1999-01",
        "--warehouse-dir",
        str(published_warehouse.parent),
        "--out-dir",
        str(tmp_path),
        check=False,
    )
    assert result.returncode == 1 and "no receivables for 1999-01" in result.stderr
