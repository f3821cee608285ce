"""Shared by the dashboard tests: pages, test warehouses, and key numbers read from the marts.

The expected numbers are computed here with plain SQL on the published file, independently of
the dashboard's own queries, so a test compares the page with the marts, not with itself.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from pipelines.loader import ensure_raw_schema

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DASHBOARD_DIR = PROJECT_ROOT / "dashboards"
APP = DASHBOARD_DIR / "app.py"
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"

# The dashboard's modules live beside app.py (Streamlit puts that folder on sys.path); tests
# import them from here.
if str(DASHBOARD_DIR) not in sys.path:
    sys.path.insert(0, str(DASHBOARD_DIR))
from cwdash import exports, filters, formatting, i18n, queries, warehouse  # noqa: E402

__all__ = ["exports", "filters", "formatting", "i18n", "queries", "warehouse"]

# (url path, page file relative to app.py), in navigation order.
PAGES = (
    ("overview", "views/overview.py"),
    ("profitability", "views/profitability.py"),
    ("abc", "views/abc.py"),
    ("credit", "views/credit.py"),
    ("satisfaction", "views/satisfaction.py"),
    ("customer", "views/customer.py"),
    ("health", "views/health.py"),
)
LANGUAGES = ("en", "zh")


def month_end_of(day: date) -> date:
    next_month = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return date.fromordinal(next_month.toordinal() - 1)


# ---- warehouses for the empty states and the data-health page -----------------------------------
def unbuilt_warehouse(warehouse_dir: Path) -> Path:
    """A published file holding only the raw schema: as after a first refresh that built nothing."""
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    path = warehouse_dir / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    try:
        ensure_raw_schema(con)
    finally:
        con.close()
    return path


def copy_warehouse(published: Path, warehouse_dir: Path) -> Path:
    """A private copy of a published warehouse (file and run log) a test may change."""
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    target = warehouse_dir / "warehouse.duckdb"
    shutil.copyfile(published, target)
    run_log = published.parent / "runs.jsonl"
    if run_log.exists():
        shutil.copyfile(run_log, warehouse_dir / "runs.jsonl")
    return target


QUARANTINED = (
    ("invoices", "invoices_bad.csv", 7, "amount", "invalid_decimal", "not a number: 'abc'"),
    ("invoices", "invoices_bad.csv", 9, "due_date", "invalid_date", "not a date: '2026-13-01'"),
    ("customers", "customers.csv", 3, "customer_id", "duplicate_key", "C0000001 twice"),
)
FAILED_CHECK = "reconcile_receivables_roll_forward"


def add_quarantine_and_failed_run(warehouse_dir: Path) -> None:
    """Quarantined rows in the published file and a failed last run in the run log."""
    path = warehouse_dir / "warehouse.duckdb"
    staged = warehouse_dir / "staged.duckdb"
    shutil.copyfile(path, staged)
    con = duckdb.connect(str(staged))
    try:
        for extract, file_name, line, column, rule, message in QUARANTINED:
            con.execute(
                "insert into raw.quarantine values (?, ?, ?, ?, ?, ?, ?, current_timestamp)",
                [extract, file_name, line, column, rule, message, f'{{"{column}": "bad"}}'],
            )
    finally:
        con.close()
    os.replace(staged, path)  # a publish is a rename, as in pipelines.storage.publish
    failed = {
        "run_id": "test-failed-run",
        "started_at": "2026-11-01T02:00:00+00:00",
        "ended_at": "2026-11-01T02:03:00+00:00",
        "outcome": "failed",
        "as_of": "2026-11-01",
        "trigger": "schedule",
        "files": [],
        "checks_passed": 12,
        "checks_failed": [FAILED_CHECK],
        "reason": "blocking checks failed",
        "published": False,
    }
    with (warehouse_dir / "runs.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(failed) + "\n")


# ---- key numbers straight from the marts -------------------------------------------------------
@dataclass(frozen=True)
class KeyNumbers:
    as_of_month: date
    revenue: float
    open_ar: float
    over_limit_customers: int
    key_accounts: int
    receivables_rows: int
    receivables_closing_ar: float
    loss_customers: int
    top20_share: float
    checks_passed: int
    busiest_region: str
    busiest_region_revenue: float


def key_numbers(published: Path) -> KeyNumbers:
    con = duckdb.connect(str(published), read_only=True)
    try:
        month = con.execute(
            "select max(month_end) from marts.receivables_summary_monthly"
        ).fetchone()[0]

        def scalar(sql: str, params: list | None = None):
            return con.execute(sql, params or []).fetchone()[0]

        revenue = scalar(
            "select sum(net_revenue) from marts.customer_profitability_monthly where month_end = ?",
            [month],
        )
        region, region_revenue = con.execute(
            """
            select c.region, sum(p.net_revenue)
            from marts.customer_profitability_monthly as p
            join staging.stg_erp__customers as c using (customer_id)
            where p.month_end = ?
            group by c.region order by 2 desc limit 1
            """,
            [month],
        ).fetchone()
        customers = scalar("select count(*) from marts.customer_abc")
        top20 = scalar(
            """
            select sum(greatest(ranking_value, 0)) filter (where rank <= ceil(0.2 * ?))
                / sum(greatest(ranking_value, 0))
            from marts.customer_abc
            """,
            [customers],
        )
        runs = (published.parent / "runs.jsonl").read_text().splitlines()
        return KeyNumbers(
            as_of_month=month,
            revenue=float(revenue),
            open_ar=float(
                scalar(
                    "select closing_ar from marts.receivables_summary_monthly where month_end = ?",
                    [month],
                )
            ),
            over_limit_customers=int(
                scalar(
                    "select over_limit_customers from marts.receivables_summary_monthly"
                    " where month_end = ?",
                    [month],
                )
            ),
            key_accounts=int(
                scalar(
                    "select key_accounts from marts.key_account_trend where month_end = ?", [month]
                )
            ),
            receivables_rows=int(
                scalar(
                    "select count(*) from marts.receivables_monthly where month_end = ?", [month]
                )
            ),
            receivables_closing_ar=float(
                scalar(
                    "select sum(closing_ar) from marts.receivables_monthly where month_end = ?",
                    [month],
                )
            ),
            loss_customers=int(
                scalar(
                    "select count(*) from marts.customer_profitability"
                    " where profitability_class = 'loss'"
                )
            ),
            top20_share=float(top20),
            checks_passed=int(json.loads(runs[-1])["checks_passed"]),
            busiest_region=region,
            busiest_region_revenue=float(region_revenue),
        )
    finally:
        con.close()
