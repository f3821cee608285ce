"""Data quality gates: Great Expectations suites on raw data and reconciliation checks.

The GX suites in ``expectations/raw_<extract>.json`` run on the rows a refresh loaded (not on all
history, so a nightly run costs what it loaded) as blocking Dagster asset checks: a failure stops
the refresh before dbt builds anything and before publishing. GX is called directly (the
dagster-ge integration is unmaintained). Reconciliation checks compare totals across layers.
"""

import json
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    asset_check,
    multi_asset_check,
)

from pipelines import gx_worker
from pipelines.contract import load_stages
from pipelines.loader import connect
from pipelines.resources import WarehouseResource
from pipelines.settings import EXPECTATIONS_DIR

GREAT_EXPECTATIONS_CHECK = "great_expectations"

# Rows validated per Great Expectations batch: bounds memory on big first loads.
VALIDATION_BATCH_ROWS = 1_000_000
# How far the GX worker may fall behind the loader, in bytes of batches waiting for it (a million
# order lines take ~190 MiB as Arrow). Up to this much, a load step hands over its batches and the
# next extract loads while they validate; beyond it, the step waits for the worker.
VALIDATION_QUEUE_BYTES = 1 << 30


@dataclass
class SuiteOutcome:
    suite: str
    rows_checked: int
    success: bool
    failures: list[dict] = field(default_factory=list)

    def describe(self) -> str:
        if self.success:
            return f"{self.suite}: {self.rows_checked} new rows passed"
        lines = [
            f"{self.suite}: {len(self.failures)} expectation(s) failed on "
            f"{self.rows_checked} new rows"
        ]
        lines += [f"  - {f['expectation']} {f['kwargs']}: {f['observed']}" for f in self.failures]
        return "\n".join(lines)


def suite_path(extract: str, directory: Path = EXPECTATIONS_DIR) -> Path:
    return directory / f"raw_{extract}.json"


def load_suite_definition(extract: str, directory: Path = EXPECTATIONS_DIR) -> dict:
    return json.loads(suite_path(extract, directory).read_text(encoding="utf-8"))


class PendingSuite:
    """An extract's suite running on one refresh's loaded rows, batch by batch, in the worker."""

    def __init__(self, extract: str, suite: str):
        self.extract, self.suite = extract, suite
        self.rows, self.success, self.failures = 0, True, {}

    def record(self, outcome: dict) -> None:
        self.success = self.success and outcome["success"]
        for failed in outcome["failures"]:
            failure = self.failures.setdefault(
                (failed["type"], repr(sorted(failed["kwargs"].items()))),
                {
                    "expectation": failed["type"],
                    "kwargs": failed["kwargs"],
                    "observed": failed["observed"],
                    "failed_batches": 0,
                },
            )
            failure["failed_batches"] += 1

    def outcome(self) -> SuiteOutcome:
        """Waits for this suite's batches still in the worker (and for those queued before them)."""
        while any(pending is self for pending, _, _ in _in_flight):
            _collect_oldest()
        return SuiteOutcome(self.suite, self.rows, self.success, list(self.failures.values()))


# Batches submitted and not yet collected (with their size in bytes), every extract's in
# submission order. The worker validates them while the loader goes on (with the rest of this
# extract, or with the next extracts): its core is busy while the refresh's is, and the memory
# they hold stays under VALIDATION_QUEUE_BYTES plus one batch.
_in_flight: deque[tuple[PendingSuite, Future, int]] = deque()


def _collect_oldest() -> None:
    pending, future, _ = _in_flight.popleft()
    try:
        pending.record(gx_worker.result(future, pending.extract))
    except gx_worker.ValidatorStopped:
        _in_flight.clear()  # the other batches died with the worker
        raise


def regrouped(
    batches: Iterable[pyarrow.RecordBatch], rows_per_batch: int
) -> Iterator[pyarrow.Table]:
    """Record batches gathered into tables of at least rows_per_batch rows (the last: the rest).

    DuckDB's reader hands out at most 122,880 rows per record batch whatever size is asked for,
    and each GX batch has a fixed cost (a fresh context, a garbage collection: 0.20 s of the
    0.34 s a 122,880-row batch of order lines took): 1,015,993 order lines took a median 3.13 s
    through the worker in 123k-row batches, 2.09 s regrouped (three runs each).
    """
    chunks: list[pyarrow.RecordBatch] = []
    rows = 0
    for batch in batches:
        chunks.append(batch)
        rows += batch.num_rows
        if rows >= rows_per_batch:
            yield pyarrow.Table.from_batches(chunks)
            chunks, rows = [], 0
    if chunks:
        yield pyarrow.Table.from_batches(chunks)


def submit_loaded_rows(
    con: duckdb.DuckDBPyConnection,
    extract: str,
    loaded_at: datetime,
    directory: Path = EXPECTATIONS_DIR,
    rows_per_batch: int = VALIDATION_BATCH_ROWS,
    queue_bytes: int = VALIDATION_QUEUE_BYTES,
) -> PendingSuite:
    """Start the extract's suite on the rows this refresh loaded into raw.<extract>.

    The rows go to the GX worker process (pipelines/gx_worker.py) in batches, so a first load of
    tens of millions of rows needs the memory of a few batches, not of the whole extract in
    pandas. Batches may still be validating when this returns (up to VALIDATION_QUEUE_BYTES of
    them): the caller goes on loading and takes the result with ``outcome()``. Expectations on
    the whole table (key uniqueness across batches, relationships) are dbt tests on staging.
    """
    definition = load_suite_definition(extract, directory)
    pending = PendingSuite(extract, definition["name"])
    cursor = con.cursor()
    reader = cursor.sql(
        f"select * from raw.{extract} where _loaded_at = ?", params=[loaded_at]
    ).to_arrow_reader(rows_per_batch)
    for number, batch in enumerate(regrouped(reader, rows_per_batch)):
        pending.rows += batch.num_rows
        batch_name = f"{loaded_at:%Y%m%d%H%M%S%f}_{number}"
        future = gx_worker.submit(extract, batch_name, batch, definition)
        _in_flight.append((pending, future, batch.nbytes))
        while len(_in_flight) > 1 and sum(size for *_, size in _in_flight) > queue_bytes:
            _collect_oldest()
    cursor.close()
    return pending


# Suites started by this process's load steps, by extract (None: the step loaded no new rows),
# taken by the great_expectations check step of the same run.
_started_suites: dict[str, PendingSuite | None] = {}


def start_suite(
    con: duckdb.DuckDBPyConnection, extract: str, loaded_new_rows: bool, directory: Path
) -> None:
    """Called by the extract's load step: its suite runs while the next extracts load."""
    _started_suites[extract] = (
        _suite_on_newest_load(con, extract, directory) if loaded_new_rows else None
    )


def _suite_on_newest_load(
    con: duckdb.DuckDBPyConnection, extract: str, directory: Path
) -> PendingSuite:
    loaded_at = con.execute(f"select max(_loaded_at) from raw.{extract}").fetchone()[0]
    return submit_loaded_rows(con, extract, loaded_at, directory)


def abandon_validation() -> None:
    """After a refresh: forget suites it left unfinished (it failed while loading) and stop the
    worker without validating their queued batches."""
    _in_flight.clear()
    _started_suites.clear()
    gx_worker.stop()


def raw_asset_key(extract: str) -> AssetKey:
    return AssetKey(["raw", extract])


def _great_expectations_suites(stage: int, extracts: list[str]) -> AssetChecksDefinition:
    @multi_asset_check(
        name=f"great_expectations_suites_stage_{stage}",
        specs=[
            AssetCheckSpec(
                GREAT_EXPECTATIONS_CHECK,
                asset=raw_asset_key(extract),
                blocking=True,
                description=f"expectations/raw_{extract}.json on the rows this refresh loaded",
            )
            for extract in extracts
        ],
        can_subset=True,
    )
    def check_suites(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[AssetCheckResult]:
        """The Great Expectations suite of each extract of this load stage, on the rows this
        refresh loaded; a failure stops the later stages and the dbt build. The load steps
        started the suites in the GX worker, so this step collects their results; run on its
        own, it validates the newest load in the work database."""
        settings = warehouse.settings()
        for check_key in sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key.path):
            extract = check_key.asset_key.path[-1]
            if extract in _started_suites:
                pending = _started_suites.pop(extract)
            else:
                con = _work_connection(warehouse)
                try:
                    pending = _suite_on_newest_load(con, extract, settings.expectations_dir)
                finally:
                    con.close()
            suite = pending.outcome() if pending else None
            yield AssetCheckResult(
                asset_key=check_key.asset_key,
                check_name=GREAT_EXPECTATIONS_CHECK,
                passed=suite is None or suite.success,
                severity=AssetCheckSeverity.ERROR,
                description=suite.describe() if suite else "no new rows to check",
                metadata={
                    "rows_checked": suite.rows_checked if suite else 0,
                    "failures": MetadataValue.json(suite.failures if suite else []),
                },
            )

    return check_suites


# One check step per load stage, run when the stage's extracts are loaded: an extract's
# suite validates in the GX worker while the next extracts load, and a failure still stops the
# stages (and the dbt build) that depend on it. One step for every extract would have to wait for
# extracts that depend on earlier ones, and Dagster would split the job around it.
great_expectations_suites = [
    _great_expectations_suites(stage, extracts)
    for stage, extracts in enumerate(load_stages(), start=1)
]


# ---- reconciliation -----------------------------------------------------------------------
@dataclass
class Reconciliation:
    name: str
    passed: bool
    detail: str


def reconcile_file_counts(con: duckdb.DuckDBPyConnection, extract: str) -> Reconciliation:
    """Every file of the extract: rows read = loaded + quarantined, as stored in the warehouse."""
    broken = con.execute(
        """
        select m.extract, m.file_name, m.rows_read, m.rows_loaded, m.rows_quarantined,
            coalesce(q.stored, 0) as stored
        from raw.file_manifest m
        left join (
            select extract, file_name, count(*) as stored from raw.quarantine group by all
        ) q using (extract, file_name)
        where m.status = 'loaded' and m.extract = ?
            and (m.rows_read <> m.rows_loaded + m.rows_quarantined
                 or m.rows_quarantined <> coalesce(q.stored, 0))
        """,
        [extract],
    ).fetchall()
    if broken:
        detail = "; ".join(
            f"{e}/{f}: read {r} != loaded {ld} + quarantined {qn} (stored {s})"
            for e, f, r, ld, qn, s in broken[:10]
        )
        return Reconciliation("file_row_counts", False, detail)
    return Reconciliation("file_row_counts", True, "every file: read = loaded + quarantined")


def _compare(name: str, values: dict[str, object], tolerance: float = 0.005) -> Reconciliation:
    numbers = {k: float(v or 0) for k, v in values.items()}
    spread = max(numbers.values()) - min(numbers.values())
    detail = ", ".join(f"{k} = {v:,.2f}" for k, v in numbers.items())
    return Reconciliation(name, spread <= tolerance, detail)


def reconcile_invoice_amounts(con: duckdb.DuckDBPyConnection) -> Reconciliation:
    """Invoice amounts in raw = in staging (no row lost or duplicated between the layers)."""
    raw_total, staged_total = con.execute(
        "select (select sum(amount) from raw.invoices),"
        " (select sum(invoice_amount) from staging.stg_billing__invoices)"
    ).fetchone()
    return _compare("invoice_amounts", {"raw": raw_total, "staging": staged_total})


def _work_connection(warehouse):
    settings = warehouse.settings()
    return connect(settings.work_path, settings.memory_limit, settings.temp_dir, read_only=True)


@asset_check(
    asset=AssetKey(["stg_billing__invoices"]), blocking=True, name="invoice_amounts_match_raw"
)
def invoice_amounts_match_raw(warehouse: WarehouseResource) -> AssetCheckResult:
    """Sum of invoice amounts in raw.invoices equals the sum in staging."""
    con = _work_connection(warehouse)
    try:
        outcome = reconcile_invoice_amounts(con)
    finally:
        con.close()
    return AssetCheckResult(passed=outcome.passed, description=outcome.detail)


quality_checks = [*great_expectations_suites, invoice_amounts_match_raw]
