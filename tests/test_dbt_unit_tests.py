"""dbt unit tests (the marts' business logic on hand-worked inputs, skipped by nightly builds) and
the project's own generic data tests on broken data."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.slow


def _dbt(database: Path, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, list]:
    target = tmp_path / "target"
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            *args,
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
            "--log-path",
            str(tmp_path / "logs"),
            "--vars",
            '{as_of_date: "2026-10-31"}',
        ],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "CW_WORK_DATABASE": str(database)},
    )
    return completed, json.loads((target / "run_results.json").read_text())["results"]


def _copy(published_warehouse: Path, tmp_path: Path) -> Path:
    # Tests read column types from the built relations, so they run on a copy of a real build;
    # the copy keeps the shared fixture untouched.
    database = tmp_path / "warehouse.duckdb"
    shutil.copyfile(published_warehouse, database)
    return database


def test_every_dbt_unit_test_passes(published_warehouse, tmp_path):
    completed, results = _dbt(
        _copy(published_warehouse, tmp_path), tmp_path, "test", "--select", "test_type:unit"
    )
    unit_tests = [r for r in results if r["unique_id"].startswith("unit_test.")]
    failed = [r["unique_id"] for r in unit_tests if r["status"] != "pass"]
    assert completed.returncode == 0 and not failed, completed.stdout[-5000:]
    assert len(unit_tests) >= 30


def test_not_null_columns_fails_naming_each_column_that_holds_nulls(published_warehouse, tmp_path):
    database = _copy(published_warehouse, tmp_path)
    with duckdb.connect(str(database)) as con:
        con.execute(
            "update marts.customer_credit set credit_limit = null where customer_id in "
            "(select customer_id from marts.customer_credit order by customer_id limit 3)"
        )
        con.execute(
            "update marts.customer_credit set credit_grade = null where customer_id = "
            "(select min(customer_id) from marts.customer_credit)"
        )
    completed, results = _dbt(
        database,
        tmp_path,
        "test",
        "--select",
        "customer_credit,test_name:not_null_columns",
        "--store-failures",
    )
    [result] = [r for r in results if r["unique_id"].startswith("test.")]
    assert result["status"] == "fail" and result["failures"] == 2, completed.stdout[-3000:]
    with duckdb.connect(str(database), read_only=True) as con:
        [failures] = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_name like 'not_null_columns_customer_cred%'"
        ).fetchone()
        null_rows = dict(con.execute(f"select column_name, null_rows from {failures}").fetchall())
    assert null_rows == {"credit_limit": 3, "credit_grade": 1}
