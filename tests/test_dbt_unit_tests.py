"""dbt unit tests: the marts' business logic on hand-worked inputs (skipped by nightly builds)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.slow


def test_every_dbt_unit_test_passes(published_warehouse, tmp_path):
    # Unit tests read their inputs' column types from the built relations, so they run on a
    # copy of a real build; the copy keeps the shared fixture untouched.
    database = tmp_path / "warehouse.duckdb"
    shutil.copyfile(published_warehouse, database)
    target = tmp_path / "target"
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "test",
            "--select",
            "test_type:unit",
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
        env={
            **os.environ,
            "CW_WORK_DATABASE": str(database),
        },
    )
    results = json.loads((target / "run_results.json").read_text())["results"]
    unit_tests = [r for r in results if r["unique_id"].startswith("unit_test.")]
    failed = [r["unique_id"] for r in unit_tests if r["status"] != "pass"]
    assert completed.returncode == 0 and not failed, completed.stdout[-5000:]
    assert len(unit_tests) >= 30
