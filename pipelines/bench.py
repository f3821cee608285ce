"""`customer-warehouse bench`: how the refresh scales, measured against this machine's floor.

One run measures, on one generated dataset:
- T_floor: plain DuckDB reading every raw file into a scratch database (no checks, no models),
  the physical floor for this data on this machine;
- the full refresh (load, checks, dbt build, publish) and its ratio to T_floor;
- an incremental refresh after one new day of extracts, and its ratio to the full refresh;
- a refresh with no new files;
- peak resident memory of each refresh's process tree (the CLI and its dbt subprocess);
- the published file's size and the dashboard's query latency (p50/p95 over repeated runs);
- where each refresh's time went: before, in and after its dbt build, and the slowest models.
Every run prints a table and writes benchmarks/results/<timestamp>_<customers>.json.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import psutil

from pipelines.settings import DBT_BUILD_FOLDERS, DBT_TARGET_DIR, PROJECT_ROOT

# CW_BENCH_ROOT moves generated data and results elsewhere (the CI smoke run uses a temp dir).
BENCH_ROOT = Path(os.environ.get("CW_BENCH_ROOT", PROJECT_ROOT / "benchmarks"))
RESULTS_DIR = BENCH_ROOT / "results"
DATA_ROOT = BENCH_ROOT / "data"
QUERY_REPEATS = 20
SLOWEST_MODELS_SHOWN = 5
PROGRESS_INTERVAL_S = 60.0


@dataclass
class RefreshProfile:
    """Where one refresh's wall time went, from its dbt build's run_results.json."""

    before_dbt_s: float  # Dagster's start, loads, contract checks, Great Expectations
    dbt_build_s: float
    after_dbt_s: float  # reconciliations and the publish
    models: int
    model_s: float  # summed over models: more than their share of the wall with 2 dbt threads
    tests: int
    test_s: float
    slowest_models_s: dict[str, float]


@dataclass
class BenchResult:
    customers: int
    months: int
    order_lines: int
    raw_bytes: int
    generate_s: float
    t_floor_s: float
    full_refresh_s: float
    # None when the run skipped them (--full-only)
    incremental_refresh_s: float | None
    noop_refresh_s: float | None
    peak_rss_bytes: int
    warehouse_bytes: int
    query_p50_ms: float
    query_p95_ms: float
    full_to_floor_ratio: float
    incremental_to_full_ratio: float | None
    refresh_peak_rss_bytes: dict[str, int | None] = field(default_factory=dict)
    # None for a refresh that ran no dbt build (no new files)
    refresh_profiles: dict[str, RefreshProfile | None] = field(default_factory=dict)
    query_ms_by_name: dict[str, dict[str, float]] = field(default_factory=dict)
    machine: dict[str, object] = field(default_factory=dict)


class PeakMemory:
    """Samples the resident memory of a process and all its children until stopped."""

    def __init__(self, pid: int, interval: float = 0.1):
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                root = psutil.Process(self.pid)
                total = root.memory_info().rss
                for child in root.children(recursive=True):
                    try:
                        total += child.memory_info().rss
                    except psutil.Error:
                        continue
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _dbt_builds_since(since: float) -> list[Path]:
    return [
        folder
        for folder in DBT_TARGET_DIR.glob(DBT_BUILD_FOLDERS)
        if folder.stat().st_mtime >= since
    ]


def _refresh_phase(since: float) -> str:
    builds = _dbt_builds_since(since)
    if not builds:
        return "loading and checking extracts"
    if not any((build / "run_results.json").exists() for build in builds):
        return "dbt build"
    return "after the dbt build (reconciliations, publish)"


def refresh_profile(run_results: dict, started_at: float, ended_at: float) -> RefreshProfile:
    """Split a refresh's wall time (epoch seconds) around its dbt build, whose run_results.json
    says when the build ended and how long it took; sum model and test times."""
    dbt_ended_at = datetime.fromisoformat(run_results["metadata"]["generated_at"]).timestamp()
    dbt_build_s = run_results["elapsed_time"]
    model_s = {
        result["unique_id"].split(".", 2)[2]: result["execution_time"]
        for result in run_results["results"]
        if result["unique_id"].startswith("model.")
    }
    test_s = [
        result["execution_time"]
        for result in run_results["results"]
        if result["unique_id"].startswith(("test.", "unit_test."))
    ]
    slowest = sorted(model_s.items(), key=lambda item: item[1], reverse=True)
    return RefreshProfile(
        before_dbt_s=round(max(0.0, dbt_ended_at - dbt_build_s - started_at), 2),
        dbt_build_s=round(dbt_build_s, 2),
        after_dbt_s=round(max(0.0, ended_at - dbt_ended_at), 2),
        models=len(model_s),
        model_s=round(sum(model_s.values()), 2),
        tests=len(test_s),
        test_s=round(sum(test_s), 2),
        slowest_models_s={name: round(s, 2) for name, s in slowest[:SLOWEST_MODELS_SHOWN]},
    )


def _run_cli(
    args: list[str], env: dict[str, str], label: str, progress: Callable[[str], None]
) -> tuple[float, int, RefreshProfile | None]:
    """Run the CLI as its own process, saying every minute how far it is; return its wall
    seconds, the peak RSS of its process tree and, when it built the models, its profile."""
    started_at = time.time()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env},
    )
    with PeakMemory(process.pid) as memory:
        while True:
            try:
                output, _ = process.communicate(timeout=PROGRESS_INTERVAL_S)
                break
            except subprocess.TimeoutExpired:  # retrying loses no output
                progress(
                    f"{label}: {(time.perf_counter() - started) // 60:.0f} min, "
                    f"{_refresh_phase(started_at)}, peak {memory.peak / 2**30:.2f} GiB so far"
                )
    elapsed, ended_at = time.perf_counter() - started, time.time()
    if process.returncode != 0:
        cause = (
            f"killed by signal {-process.returncode} (SIGKILL: out of memory?)"
            if process.returncode < 0
            else f"exit code {process.returncode}"
        )
        raise RuntimeError(
            f"customer-warehouse {' '.join(args)} failed ({cause}):\n{output[-5000:]}"
        )
    builds = [build / "run_results.json" for build in _dbt_builds_since(started_at)]
    finished = [results for results in builds if results.exists()]
    if not finished:
        return elapsed, memory.peak, None
    newest = max(finished, key=lambda results: results.stat().st_mtime)
    profile = refresh_profile(json.loads(newest.read_text()), started_at, ended_at)
    return elapsed, memory.peak, profile


def measure_floor(raw_dir: Path, scratch: Path) -> float:
    """Load every raw file into a throwaway DuckDB database with DuckDB's own readers."""
    if scratch.exists():
        scratch.unlink()
    started = time.perf_counter()
    con = duckdb.connect(str(scratch))
    for folder in sorted(p for p in raw_dir.iterdir() if p.is_dir()):
        csvs = sorted(str(p) for p in folder.iterdir() if p.name.endswith((".csv", ".csv.gz")))
        parquets = sorted(str(p) for p in folder.iterdir() if p.name.endswith(".parquet"))
        if csvs:
            con.execute(
                f"create table {folder.name} as select * from read_csv({csvs}, "
                "header = true, union_by_name = true)"
            )
        if parquets:
            con.execute(
                f"create table {folder.name}_parquet as select * from "
                f"read_parquet({parquets}, union_by_name = true)"
            )
    con.execute("checkpoint")
    con.close()
    elapsed = time.perf_counter() - started
    scratch.unlink()
    return elapsed


def dashboard_page_calls(warehouse_path: Path) -> dict[str, Callable[[], object]]:
    """What each dashboard page asks the warehouse on first view, as callables by name.

    They are the dashboard's own query functions (dashboards/cwdash/queries.py) with its result
    cache bypassed, so every call runs its SQL in DuckDB.
    """
    sys.path.insert(0, str(PROJECT_ROOT / "dashboards"))
    from cwdash import queries, warehouse
    from cwdash.filters import Filters

    stat = warehouse_path.stat()
    wh = warehouse.Warehouse(warehouse.Publish(str(warehouse_path), stat.st_ino, stat.st_mtime_ns))
    queries.query = lambda _wh, sql, params=(): _wh.query(sql, params)
    last = max(queries.month_options(wh)["month_end"])
    last = last.date() if hasattr(last, "date") else last
    first = queries.month_end_shift(last, -23)
    everyone = Filters(month_end=last)
    region = queries.dimension_options(wh).get("region", [None])[0]
    one_region = Filters(month_end=last, region=region)
    customer, name = wh.query(
        "select customer_id, customer_name from wh.marts.customer_card order by customer_id limit 1"
    ).iloc[0]

    def listing(build):
        return lambda: queries.page_rows(wh, build, 1, 50)

    return {
        "overview/profit_by_month": lambda: queries.profit_by_month(wh, everyone, first, last),
        "overview/receivables_book": lambda: queries.receivables_book(wh, everyone, first, last),
        "overview/pareto": lambda: queries.pareto(wh, everyone),
        "overview/tiers": lambda: queries.tier_summary(wh, everyone, "abc_tier"),
        "profitability/classes": lambda: queries.class_counts(wh, everyone),
        "profitability/heatmap": lambda: queries.product_heatmap(wh, everyone),
        "profitability/loss_customers": listing(queries.loss_customers(everyone)),
        "profitability/region_filter": lambda: queries.profit_by_month(wh, one_region, first, last),
        "abc/migration": lambda: queries.tier_migration(wh, everyone, "month"),
        "abc/quadrants": lambda: queries.quadrant_points(wh, everyone),
        "abc/key_accounts": lambda: queries.key_account_trend(wh, first, last),
        "credit/grades": lambda: queries.grade_distribution(wh, everyone),
        "credit/over_limit": listing(queries.over_limit_customers(everyone)),
        "credit/open_items": listing(queries.open_items(everyone, limitation_only=False)),
        "credit/month_receivables": listing(queries.month_receivables(everyone, last)),
        "satisfaction/trend": lambda: queries.satisfaction_trend(wh, ("all", "all"), first, last),
        "satisfaction/attributes": lambda: queries.attributes(wh),
        "satisfaction/complaints": lambda: queries.complaints_by_category(wh, everyone, last),
        "satisfaction/rfm": lambda: queries.rfm_segments(wh, everyone),
        "satisfaction/defection": listing(queries.defection_risk_customers(everyone)),
        "customer/search": lambda: queries.search_customers(wh, name[:4]),
        "customer/card": lambda: queries.card(wh, customer),
        "customer/profit_trend": lambda: queries.customer_profit_trend(wh, customer, first, last),
        "health/loads": lambda: queries.loads_by_extract(wh),
        "health/quarantine": lambda: queries.quarantine_by_rule(wh),
    }


def measure_queries(warehouse: Path, repeats: int = QUERY_REPEATS) -> dict[str, dict[str, float]]:
    """Latency of every page query: the first call (builds the per-publish cubes) and p50/p95
    of the repeated calls a user's clicks make afterwards."""
    timings: dict[str, dict[str, float]] = {}
    for name, call in dashboard_page_calls(warehouse).items():
        samples = []
        for _ in range(repeats + 1):
            started = time.perf_counter()
            call()
            samples.append((time.perf_counter() - started) * 1000)
        first, repeated = samples[0], sorted(samples[1:])
        timings[name] = {
            "first": first,
            "p50": statistics.median(repeated),
            "p95": repeated[max(0, int(round(0.95 * len(repeated))) - 1)],
        }
    return timings


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_benchmark(
    customers: int,
    months: int = 24,
    keep: bool = False,
    file_format: str = "csv",
    seed: int = 42,
    full_only: bool = False,
    progress=print,
) -> BenchResult:
    from pipelines.generate import generate_day, generate_extracts

    end = date.today() - timedelta(days=2)
    data = DATA_ROOT / f"{customers}c_{months}m_{file_format}_seed{seed}_{end.isoformat()}"
    raw, warehouse_dir = data / "raw", data / "warehouse"
    marker = data / "generated.json"
    if marker.exists():
        generated = json.loads(marker.read_text())
        progress(f"reusing generated data in {data}")
    else:
        shutil.rmtree(data, ignore_errors=True)
        progress(f"generating {customers:,} customers x {months} months into {raw}")
        started = time.perf_counter()
        rows = generate_extracts(
            raw,
            customers=customers,
            months=months,
            seed=seed,
            end_date=end,
            file_format=file_format,
        )
        generated = {"rows": rows, "seconds": time.perf_counter() - started}
        marker.write_text(json.dumps(generated))
    shutil.rmtree(warehouse_dir, ignore_errors=True)
    for day_files in raw.glob("*/*_day_*"):
        day_files.unlink()

    progress("T_floor: plain DuckDB load of every raw file")
    t_floor = measure_floor(raw, data / "floor.duckdb")
    env = {"CW_RAW_DIR": str(raw), "CW_WAREHOUSE_DIR": str(warehouse_dir)}
    refresh = ["refresh", "--as-of", end.isoformat(), "--quiet"]
    progress("full refresh")
    full_s, full_rss, full_profile = _run_cli(refresh, env, "full refresh", progress)
    if full_only:
        progress("skipping the incremental and no-change refreshes (--full-only)")
        incremental_s = incremental_rss = noop_s = noop_rss = incremental_profile = None
    else:
        progress("incremental refresh after one new day")
        new_day = end + timedelta(days=1)
        generate_day(
            raw, new_day, customers=customers, months=months, seed=seed, file_format=file_format
        )
        next_refresh = ["refresh", "--as-of", new_day.isoformat(), "--quiet"]
        incremental_s, incremental_rss, incremental_profile = _run_cli(
            next_refresh, env, "incremental refresh", progress
        )
        progress("refresh with no new files")
        noop_s, noop_rss, _ = _run_cli(next_refresh, env, "no-change refresh", progress)
    published = warehouse_dir / "warehouse.duckdb"
    progress("dashboard queries")
    queries = measure_queries(published)
    p50s = [q["p50"] for q in queries.values()] or [0.0]
    p95s = [q["p95"] for q in queries.values()] or [0.0]
    result = BenchResult(
        customers=customers,
        months=months,
        order_lines=int(generated["rows"].get("sales_order_lines", 0)),
        raw_bytes=_folder_bytes(raw),
        generate_s=round(generated["seconds"], 2),
        t_floor_s=round(t_floor, 2),
        full_refresh_s=round(full_s, 2),
        incremental_refresh_s=None if incremental_s is None else round(incremental_s, 2),
        noop_refresh_s=None if noop_s is None else round(noop_s, 2),
        peak_rss_bytes=max(rss for rss in (full_rss, incremental_rss, noop_rss) if rss),
        warehouse_bytes=published.stat().st_size,
        query_p50_ms=round(statistics.median(p50s), 2),
        query_p95_ms=round(max(p95s), 2),
        full_to_floor_ratio=round(full_s / t_floor, 2) if t_floor else 0.0,
        incremental_to_full_ratio=(
            round(incremental_s / full_s, 3) if full_s and incremental_s is not None else None
        ),
        refresh_peak_rss_bytes={"full": full_rss, "incremental": incremental_rss, "noop": noop_rss},
        refresh_profiles={"full": full_profile, "incremental": incremental_profile},
        query_ms_by_name={k: {m: round(v, 2) for m, v in q.items()} for k, q in queries.items()},
        machine={
            "cpus": os.cpu_count(),
            "memory_bytes": psutil.virtual_memory().total,
            "python": sys.version.split()[0],
            "duckdb": duckdb.__version__,
        },
    )
    if not keep:
        shutil.rmtree(data, ignore_errors=True)
    return result


def write_result(result: BenchResult) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{datetime.now():%Y%m%dT%H%M%S}_{result.customers}c.json"
    path.write_text(json.dumps(asdict(result), indent=2) + "\n")
    return path


def _profile_rows(profile: RefreshProfile | None) -> list[tuple[str, str]]:
    if profile is None:
        return []
    slowest = ", ".join(f"{name} {s:.1f} s" for name, s in profile.slowest_models_s.items())
    return [
        ("  before dbt (loads, checks)", f"{profile.before_dbt_s:.1f} s"),
        (
            "  dbt build",
            f"{profile.dbt_build_s:.1f} s  ({profile.models} models {profile.model_s:.1f} s, "
            f"{profile.tests} data tests {profile.test_s:.1f} s)",
        ),
        ("  after dbt (publish)", f"{profile.after_dbt_s:.1f} s"),
        ("  slowest models", slowest),
    ]


def format_table(result: BenchResult) -> str:
    gib = 2**30
    rows = [
        ("customers", f"{result.customers:,}"),
        ("order lines", f"{result.order_lines:,}"),
        ("raw data", f"{result.raw_bytes / gib:.2f} GiB"),
        ("T_floor (plain DuckDB load)", f"{result.t_floor_s:.1f} s"),
        (
            "full refresh",
            f"{result.full_refresh_s:.1f} s  ({result.full_to_floor_ratio:.2f} x T_floor)",
        ),
        *_profile_rows(result.refresh_profiles.get("full")),
        (
            "incremental refresh (1 new day)",
            "not measured (--full-only)"
            if result.incremental_refresh_s is None
            else f"{result.incremental_refresh_s:.1f} s  "
            f"({result.incremental_to_full_ratio:.1%} of full)",
        ),
        *_profile_rows(result.refresh_profiles.get("incremental")),
        (
            "refresh, no new files",
            "not measured (--full-only)"
            if result.noop_refresh_s is None
            else f"{result.noop_refresh_s:.1f} s",
        ),
        ("peak memory (refresh process tree)", f"{result.peak_rss_bytes / gib:.2f} GiB"),
        ("warehouse file", f"{result.warehouse_bytes / gib:.2f} GiB"),
        (
            "dashboard queries p50 / p95",
            f"{result.query_p50_ms:.1f} / {result.query_p95_ms:.1f} ms",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)
