"""The benchmark runs end to end at a tiny size, so it cannot rot between the big runs."""

import json
import os
import subprocess
import sys
from dataclasses import asdict

import pytest

from pipelines.bench import BenchResult, format_table

pytestmark = pytest.mark.slow

REQUIRED_KEYS = {
    "customers",
    "order_lines",
    "t_floor_s",
    "full_refresh_s",
    "incremental_refresh_s",
    "noop_refresh_s",
    "peak_rss_bytes",
    "warehouse_bytes",
    "query_p95_ms",
}


def test_bench_measures_every_figure_and_writes_one_json(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "pipelines", "bench", "--customers", "120", "--months", "13"],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "CW_BENCH_ROOT": str(tmp_path)},
    )
    assert completed.returncode == 0, completed.stderr[-5000:]
    assert "full refresh" in completed.stdout and "T_floor" in completed.stdout
    [result_file] = (tmp_path / "results").glob("*.json")
    result = json.loads(result_file.read_text())
    assert result.keys() >= REQUIRED_KEYS
    assert result["customers"] == 120 and result["order_lines"] > 0
    assert result["t_floor_s"] > 0 and 0 < result["noop_refresh_s"] < result["full_refresh_s"]
    assert result["peak_rss_bytes"] > 0 and result["warehouse_bytes"] > 0
    assert len(result["query_ms_by_name"]) >= 20
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


def test_full_only_run_reports_skipped_refreshes_as_not_measured():
    result = BenchResult(
        customers=10_000_000,
        months=8,
        order_lines=100_000_000,
        raw_bytes=2**30,
        generate_s=1.0,
        t_floor_s=100.0,
        full_refresh_s=900.0,
        incremental_refresh_s=None,
        noop_refresh_s=None,
        peak_rss_bytes=2**33,
        warehouse_bytes=2**35,
        query_p50_ms=10.0,
        query_p95_ms=150.0,
        full_to_floor_ratio=9.0,
        incremental_to_full_ratio=None,
    )
    table = format_table(result)
    lines = {line.split("  ")[1].strip(): line for line in table.splitlines()}
    assert lines["incremental refresh (1 new day)"].endswith("not measured (--full-only)")
    assert lines["refresh, no new files"].endswith("not measured (--full-only)")
    assert "9.00 x T_floor" in lines["full refresh"]
    assert json.loads(json.dumps(asdict(result)))["incremental_refresh_s"] is None
