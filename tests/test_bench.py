"""The benchmark runs end to end at a tiny size, so it cannot rot between the big runs."""

import json
import os
import subprocess
import sys
from dataclasses import asdict, replace
from datetime import UTC, datetime

import pytest

from pipelines.bench import BenchResult, RefreshProfile, format_table, refresh_profile
from pipelines.transform import MANIFEST_PATH

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
    models = sum(
        node["resource_type"] == "model"
        for node in json.loads(MANIFEST_PATH.read_text())["nodes"].values()
    )
    for refresh in ("full", "incremental"):
        profile = result["refresh_profiles"][refresh]
        assert profile["models"] == models and profile["tests"] > 0
        parts = profile["before_dbt_s"] + profile["dbt_build_s"] + profile["after_dbt_s"]
        wall = result[f"{refresh}_refresh_s"]
        assert abs(parts - wall) <= max(3.0, 0.05 * wall), (profile, wall)
        assert len(profile["slowest_models_s"]) == 5
    assert "slowest models" in completed.stdout


def _run_results(ended_at: datetime, elapsed_s: float, times: dict[str, float]) -> dict:
    return {
        "metadata": {"generated_at": ended_at.isoformat().replace("+00:00", "Z")},
        "elapsed_time": elapsed_s,
        "results": [
            {"unique_id": unique_id, "execution_time": seconds}
            for unique_id, seconds in times.items()
        ],
    }


def test_refresh_profile_splits_the_wall_time_around_the_dbt_build():
    started_at = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC).timestamp()
    dbt_ended = datetime(2026, 12, 7, 12, 10, 0, tzinfo=UTC)
    times = {f"model.customer_warehouse.model_{i}": float(i) for i in range(1, 8)}
    times |= {"test.customer_warehouse.unique_model_1_id.abc123": 2.5, "test.x.not_null": 0.5}
    profile = refresh_profile(
        _run_results(dbt_ended, 400.0, times), started_at, started_at + 600.0 + 30.0
    )
    assert (profile.before_dbt_s, profile.dbt_build_s, profile.after_dbt_s) == (200, 400, 30)
    assert (profile.models, profile.model_s, profile.tests, profile.test_s) == (7, 28, 2, 3)
    assert list(profile.slowest_models_s) == [f"model_{i}" for i in (7, 6, 5, 4, 3)]


FULL_ONLY_10M_RESULT = BenchResult(
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


def test_full_only_run_reports_skipped_refreshes_as_not_measured():
    result = FULL_ONLY_10M_RESULT
    table = format_table(result)
    lines = {line.split("  ")[1].strip(): line for line in table.splitlines()}
    assert lines["incremental refresh (1 new day)"].endswith("not measured (--full-only)")
    assert lines["refresh, no new files"].endswith("not measured (--full-only)")
    assert "9.00 x T_floor" in lines["full refresh"]
    assert json.loads(json.dumps(asdict(result)))["incremental_refresh_s"] is None
    assert not any(line.strip().startswith("dbt build") for line in table.splitlines())


def test_the_table_shows_where_the_full_refresh_time_went():
    profile = RefreshProfile(
        before_dbt_s=190.5,
        dbt_build_s=667.8,
        after_dbt_s=3.8,
        models=48,
        model_s=579.3,
        tests=207,
        test_s=87.7,
        slowest_models_s={"int_receivables__monthly_computed": 60.2, "customer_credit": 30.1},
    )
    result = replace(FULL_ONLY_10M_RESULT, refresh_profiles={"full": profile, "incremental": None})
    rows = [line.strip() for line in format_table(result).splitlines()]
    assert any(
        row.startswith("before dbt (loads, checks)") and row.endswith("190.5 s") for row in rows
    )
    assert "667.8 s  (48 models 579.3 s, 207 data tests 87.7 s)" in "\n".join(rows)
    assert any(row.startswith("after dbt (publish)") and row.endswith("3.8 s") for row in rows)
    assert any(
        row.endswith("int_receivables__monthly_computed 60.2 s, customer_credit 30.1 s")
        for row in rows
    )
    assert (
        json.loads(json.dumps(asdict(result)))["refresh_profiles"]["full"]["dbt_build_s"] == 667.8
    )
