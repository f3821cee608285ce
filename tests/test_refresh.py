"""End to end: the CLI refreshes generated extracts through the real Dagster job and dbt."""

import json
import shutil
from datetime import timedelta

import duckdb
import pytest

from pipelines.contract import EXTRACTS
from tests.conftest import AS_OF, cli, last_dbt_run_folder, refresh

pytestmark = pytest.mark.slow


def table_fingerprints(path, schemas=("raw", "staging", "intermediate", "marts")):
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in {schemas} and table_name not in ('file_manifest', 'quarantine')"
            " order by 1, 2"
        ).fetchall()
        return {
            f"{schema}.{name}": con.execute(
                "select count(*), sum(hash(t)) from "
                f"(select * {'exclude (_loaded_at)' if schema == 'raw' else ''} "
                f"from {schema}.{name}) t"
            ).fetchone()
            for schema, name in tables
        }
    finally:
        con.close()


def test_refresh_loads_every_extract_and_builds_every_model(published_warehouse, generated_raw):
    con = duckdb.connect(str(published_warehouse), read_only=True)
    try:
        for extract in EXTRACTS:
            loaded = con.execute(f"select count(*) from raw.{extract}").fetchone()[0]
            assert loaded > 0, extract
            manifest = con.execute(
                "select sum(rows_read), sum(rows_loaded), sum(rows_quarantined) "
                "from raw.file_manifest where extract = ?",
                [extract],
            ).fetchone()
            assert manifest[0] == manifest[1] + manifest[2]
        staged = con.execute("select count(*) from staging.stg_erp__sales_order_lines").fetchone()[
            0
        ]
        assert staged == con.execute("select count(*) from raw.sales_order_lines").fetchone()[0]
        models = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema in ('staging', 'intermediate', 'marts')"
            ).fetchall()
        }
        assert "int_sales__customer_monthly" in models
    finally:
        con.close()


def test_published_marts_carry_their_dbt_descriptions_for_sql_clients(published_warehouse):
    con = duckdb.connect(str(published_warehouse), read_only=True)
    try:
        undocumented_marts = con.execute(
            "select table_name from duckdb_tables() "
            "where schema_name = 'marts' and coalesce(comment, '') = ''"
        ).fetchall()
        column_comments = con.execute(
            "select count(*), count(nullif(comment, '')) from duckdb_columns() "
            "where schema_name = 'marts' and table_name = 'customer_profitability'"
        ).fetchone()
    finally:
        con.close()
    assert undocumented_marts == []
    assert column_comments[0] > 10 and column_comments[1] == column_comments[0]


def test_receivables_monthly_is_stored_in_month_order(published_warehouse):
    # Month-end reads skip other months' row groups only if the mart is clustered by month.
    con = duckdb.connect(str(published_warehouse), read_only=True)
    try:
        out_of_order, months = con.execute(
            "select count(*) filter (where month_end < previous_month_end), "
            "count(distinct month_end) from ("
            "  select month_end, lag(month_end) over (order by rowid) as previous_month_end"
            "  from marts.receivables_monthly)"
        ).fetchone()
    finally:
        con.close()
    assert months > 12 and out_of_order == 0


def test_refresh_records_the_run_and_status_reports_it(published_warehouse):
    runs = [
        json.loads(line)
        for line in (published_warehouse.parent / "runs.jsonl").read_text().splitlines()
    ]
    assert runs[-1]["outcome"] == "succeeded" and runs[-1]["as_of"] == AS_OF.isoformat()
    assert runs[-1]["checks_failed"] == [] and runs[-1]["checks_passed"] > 50
    status = cli("status", "--warehouse-dir", str(published_warehouse.parent))
    assert "Last refresh: succeeded" in status.stdout


def test_second_refresh_without_new_files_changes_nothing(
    published_warehouse, generated_raw, tmp_path
):
    warehouse_dir = tmp_path / "wh"
    shutil.copytree(published_warehouse.parent, warehouse_dir)
    before = table_fingerprints(warehouse_dir / "warehouse.duckdb")
    common = [
        "--raw-dir",
        str(generated_raw),
        "--warehouse-dir",
        str(warehouse_dir),
        "--as-of",
        AS_OF.isoformat(),
        "--quiet",
    ]

    shortcut = cli("refresh", *common)
    assert "the warehouse is up to date" in shortcut.stdout

    forced = cli("refresh", *common, "--force")
    assert "SUCCEEDED" in forced.stdout and "no new or changed extract files" in forced.stdout
    assert table_fingerprints(warehouse_dir / "warehouse.duckdb") == before


def test_nightly_refresh_on_a_new_as_of_date_reuses_the_parsed_dbt_project(
    published_warehouse, generated_raw, tmp_path, monkeypatch
):
    # The as-of date changes every night; dbt must not parse the whole project again for it.
    # dbt says it reused the parse only at debug level, which its log file then has to keep.
    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "debug")
    warehouse_dir = tmp_path / "wh"
    shutil.copytree(published_warehouse.parent, warehouse_dir)
    for days in (1, 2):
        refresh(generated_raw, warehouse_dir, AS_OF + timedelta(days=days))
    log = (last_dbt_run_folder() / "dbt.log").read_text()
    assert "Unable to do partial parsing" not in log
    assert "skipping partial parsing" in log
    # parsed by the dbt process the refresh started early, which then ran the build
    assert log.index("'invocation_command': 'dbt parse") < log.index(
        "'invocation_command': 'dbt build"
    )
    con = duckdb.connect(str(warehouse_dir / "warehouse.duckdb"), read_only=True)
    try:
        served_as_of = con.execute(
            "select max(frozen_as_of_date) from intermediate.int_receivables__frozen_months"
        ).fetchone()[0]
    finally:
        con.close()
    assert served_as_of == AS_OF + timedelta(days=1)  # November, closed by the first night


def _used_and_free_blocks(path) -> tuple[int, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select used_blocks, free_blocks from pragma_database_size()").fetchone()
    finally:
        con.close()


def test_nightly_refreshes_reuse_the_space_of_the_tables_they_replace(
    published_warehouse, generated_raw, tmp_path
):
    # Every night rebuilds the table models in a copy of the publish; the file must not grow by
    # their size each time (DuckDB reuses free blocks but never shrinks a file).
    warehouse_dir = tmp_path / "wh"
    shutil.copytree(published_warehouse.parent, warehouse_dir)
    published = warehouse_dir / "warehouse.duckdb"
    blocks_before = sum(_used_and_free_blocks(published))
    for days in (1, 2):
        refresh(generated_raw, warehouse_dir, AS_OF + timedelta(days=days), "--force")
    used, free = _used_and_free_blocks(published)
    # Without the hook: 38 of 91 blocks free, from 51 before (the marts' content moves a little
    # with the as-of date, so the used blocks may too).
    assert free <= 0.05 * (used + free), (used, free)
    assert used + free <= 1.2 * blocks_before, (blocks_before, used, free)


def test_failed_check_leaves_the_last_publish_untouched_and_rollback_restores(
    published_warehouse, private_raw, tmp_path
):
    warehouse_dir = tmp_path / "wh"
    shutil.copytree(published_warehouse.parent, warehouse_dir)
    published = warehouse_dir / "warehouse.duckdb"
    served_bytes = published.read_bytes()

    suites = tmp_path / "expectations"
    shutil.copytree(cli.__globals__["__file__"].rsplit("/tests/", 1)[0] + "/expectations", suites)
    strict = json.loads((suites / "raw_complaints.json").read_text())
    strict["expectations"].append(
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"max_value": 0}}
    )
    (suites / "raw_complaints.json").write_text(json.dumps(strict))
    late = private_raw / "complaints" / "complaints_late.csv"
    late.write_text(
        "complaint_id,customer_id,opened_date,category\nCPX1,C0000001,2026-10-30,delivery\n"
    )

    failed = cli(
        "refresh",
        "--raw-dir",
        str(private_raw),
        "--warehouse-dir",
        str(warehouse_dir),
        "--as-of",
        AS_OF.isoformat(),
        "--quiet",
        env={"CW_EXPECTATIONS_DIR": str(suites)},
        check=False,
    )
    assert failed.returncode == 1
    assert "did not publish" in failed.stdout and "great_expectations" in failed.stdout
    assert published.read_bytes() == served_bytes

    succeeded = cli(
        "refresh",
        "--raw-dir",
        str(private_raw),
        "--warehouse-dir",
        str(warehouse_dir),
        "--as-of",
        AS_OF.isoformat(),
        "--quiet",
    )
    assert "SUCCEEDED" in succeeded.stdout
    assert published.read_bytes() != served_bytes
    cli("rollback", "--warehouse-dir", str(warehouse_dir))
    assert published.read_bytes() == served_bytes
