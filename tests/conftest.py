"""Shared fixtures: a generated demo dataset and a published warehouse built from it by the CLI."""

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from pipelines.settings import DBT_PROJECT_DIR

AS_OF = date(2026, 10, 31)
SMALL_CUSTOMERS = 150
SMALL_MONTHS = 26


def cli(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run the installed customer-warehouse CLI as a real process."""
    completed = subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=900,
    )
    if check and completed.returncode != 0:
        raise AssertionError(
            f"customer-warehouse {' '.join(args)} exited {completed.returncode}\n"
            f"--- stdout\n{completed.stdout[-4000:]}\n--- stderr\n{completed.stderr[-8000:]}"
        )
    return completed


def last_dbt_run_folder() -> Path:
    """The target folder of the last dbt command a refresh ran (dagster-dbt keeps one per run)."""
    runs = sorted(
        (DBT_PROJECT_DIR / "target").glob("*/run_results.json"), key=lambda p: p.stat().st_mtime
    )
    return runs[-1].parent


@pytest.fixture(scope="session")
def generated_raw(tmp_path_factory) -> Path:
    raw = tmp_path_factory.mktemp("generated") / "raw"
    cli(
        "generate",
        "--raw-dir",
        str(raw),
        "--customers",
        str(SMALL_CUSTOMERS),
        "--months",
        str(SMALL_MONTHS),
        "--seed",
        "11",
        "--end-date",
        AS_OF.isoformat(),
    )
    return raw


def refresh(raw: Path, warehouse_dir: Path, as_of: date, *extra: str) -> Path:
    """`customer-warehouse refresh` of raw into warehouse_dir; the published file."""
    cli(
        "refresh",
        "--raw-dir",
        str(raw),
        "--warehouse-dir",
        str(warehouse_dir),
        "--as-of",
        as_of.isoformat(),
        "--quiet",
        *extra,
    )
    return warehouse_dir / "warehouse.duckdb"


@pytest.fixture(scope="session")
def published_warehouse(generated_raw, tmp_path_factory) -> Path:
    """A warehouse refreshed once from the generated extracts (shared, treat as read-only)."""
    return refresh(generated_raw, tmp_path_factory.mktemp("published"), AS_OF)


@pytest.fixture
def private_raw(generated_raw, tmp_path) -> Path:
    """A copy of the generated extracts a test may change."""
    target = tmp_path / "raw"
    shutil.copytree(generated_raw, target)
    return target
