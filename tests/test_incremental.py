"""The incremental order lines (int_sales__order_lines, built by order month) give the same
warehouse as a rebuild from all history, whatever changed between two refreshes."""

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.generate import generate_day
from pipelines.transform import ensure_manifest
from tests.conftest import (
    AS_OF,
    SMALL_CUSTOMERS,
    SMALL_MONTHS,
    last_dbt_run_folder,
    refresh,
)
from tests.engine_equality import compare_warehouses, primary_keys

NEW_DAY = date(2026, 11, 1)
ORDER_LINES = "intermediate.int_sales__order_lines"


def last_build_of_order_lines() -> str:
    """The SQL the last dbt build ran for the order lines."""
    return next(last_dbt_run_folder().glob("run/**/int_sales__order_lines.sql")).read_text()


def assert_same_warehouse(incremental: Path, rebuilt: Path) -> None:
    manifest = ensure_manifest()
    nodes = json.loads(Path(manifest).read_text())["nodes"].values()
    marts = sorted(
        f"marts.{node['name']}"
        for node in nodes
        if node["resource_type"] == "model" and node["schema"] == "marts"
    )
    differences = compare_warehouses(rebuilt, incremental, marts, primary_keys(Path(manifest)))
    assert not differences, "\n".join(map(str, differences))
    con = duckdb.connect()
    try:
        con.execute(f"attach '{incremental}' as incremental (read_only)")
        con.execute(f"attach '{rebuilt}' as rebuilt (read_only)")
        lines = "select * exclude (source_loaded_at, product_loaded_at) from {}." + ORDER_LINES
        for left, right in (("incremental", "rebuilt"), ("rebuilt", "incremental")):
            extra = con.execute(
                f"select count(*) from ({lines.format(left)} except all {lines.format(right)})"
            ).fetchone()[0]
            assert extra == 0, f"{extra} order lines in {left} and not in {right}"
    finally:
        con.close()


def refresh_both_ways(raw: Path, incremental_dir: Path, rebuilt_dir: Path, as_of: date):
    """From the same publish: the nightly (incremental) refresh, and `--force` on a copy, which
    rebuilds every model from all history (closed receivables months stay frozen in both)."""
    shutil.copytree(incremental_dir, rebuilt_dir)
    incremental = refresh(raw, incremental_dir, as_of)
    assert "delete from" in last_build_of_order_lines()  # built incrementally
    rebuilt = refresh(raw, rebuilt_dir, as_of, "--force")
    assert "delete from" not in last_build_of_order_lines()  # built from all history
    return incremental, rebuilt


@pytest.mark.slow
def test_incremental_refresh_matches_a_rebuild_after_a_new_day_a_cost_change_and_an_earlier_as_of(
    private_raw, tmp_path
):
    incremental_dir = tmp_path / "incremental"
    published = refresh(private_raw, incremental_dir, AS_OF)
    con = duckdb.connect(str(published), read_only=True)
    total_lines = con.execute(f"select count(*) from {ORDER_LINES}").fetchone()[0]
    con.close()

    # a new day of extracts
    generate_day(private_raw, NEW_DAY, customers=SMALL_CUSTOMERS, months=SMALL_MONTHS, seed=11)
    incremental, rebuilt = refresh_both_ways(
        private_raw, incremental_dir, tmp_path / "rebuilt_day", NEW_DAY
    )
    con = duckdb.connect(str(incremental), read_only=True)
    november_lines = con.execute(
        f"select count(*) from {ORDER_LINES} where order_month = ?", [NEW_DAY]
    ).fetchone()[0]
    con.close()
    assert 0 < november_lines < total_lines
    assert_same_warehouse(incremental, rebuilt)

    # a products file with a new unit cost: every month's COGS changes
    products = private_raw / "products" / "products.csv"
    header, first, *_ = products.read_text().splitlines()
    fields = first.split(",")
    fields[3] = f"{float(fields[3]) * 1.5:.2f}"
    (private_raw / "products" / "products_cost_update.csv").write_text(
        f"{header}\n{','.join(fields)}\n"
    )
    assert_same_warehouse(
        *refresh_both_ways(private_raw, incremental_dir, tmp_path / "rebuilt_cost", NEW_DAY)
    )

    # an as-of date back in September: October and November leave the order lines
    assert_same_warehouse(
        *refresh_both_ways(
            private_raw, incremental_dir, tmp_path / "rebuilt_earlier", date(2026, 9, 30)
        )
    )
