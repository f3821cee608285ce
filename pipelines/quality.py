"""Data quality gates: Great Expectations suites on raw data and reconciliation checks.

The GX suites in ``expectations/raw_<extract>.json`` run on the rows a refresh loaded (not on all
history, so a nightly run costs what it loaded) as blocking Dagster asset checks: a failure stops
the refresh before dbt builds anything and before publishing. GX is called directly (the
dagster-ge integration is unmaintained). Reconciliation checks compare totals across layers.
"""

import gc
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
from dagster import AssetCheckResult, AssetKey, asset_check

from pipelines.loader import connect
from pipelines.resources import WarehouseResource
from pipelines.settings import EXPECTATIONS_DIR

# Rows validated per Great Expectations batch: bounds memory on big first loads.
VALIDATION_BATCH_ROWS = 1_000_000

# No usage statistics leave the machine, and no progress bars clutter refresh logs.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TQDM_DISABLE", "1")


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


def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every in-memory batch (md5 over pandas' row hashes) when the frame's
    # shallow size is under HASH_THRESHOLD: a batch marker nothing here reads, which cost about
    # half of the validation time of a 30-million-row first load (docs/performance.md).
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _build_suite(definition: dict):
    import great_expectations as gx
    from great_expectations.expectations.registry import get_expectation_impl

    expectations = [
        get_expectation_impl(item["type"])(**item["kwargs"], meta=item.get("meta") or {})
        for item in definition["expectations"]
    ]
    return gx.ExpectationSuite(name=definition["name"], expectations=expectations)


def validate_loaded_rows(
    con: duckdb.DuckDBPyConnection,
    extract: str,
    loaded_at: datetime,
    directory: Path = EXPECTATIONS_DIR,
    rows_per_batch: int = VALIDATION_BATCH_ROWS,
) -> SuiteOutcome:
    """Run the extract's suite on the rows this refresh loaded into raw.<extract>.

    The rows are validated in batches, so a first load of tens of millions of rows needs the
    memory of one batch, not of the whole extract in pandas. Expectations on the whole table
    (key uniqueness across batches, relationships) are dbt tests on staging.
    """
    definition = load_suite_definition(extract, directory)
    suite = _build_suite(definition)
    cursor = con.cursor()
    reader = cursor.sql(
        f"select * from raw.{extract} where _loaded_at = ?", params=[loaded_at]
    ).to_arrow_reader(rows_per_batch)
    rows, success, failures = 0, True, {}
    for number, record_batch in enumerate(reader):
        frame = record_batch.to_pandas()
        rows += len(frame)
        result = _validate_frame(extract, f"{loaded_at:%Y%m%d%H%M%S%f}_{number}", frame, suite)
        # Each validation leaves GX objects in reference cycles that hold the batch; Python's
        # cycle collector ran too rarely to free them, and at 1M customers the 29 batches of
        # order lines took the refresh from 4.4 to 10.8 GiB. Collected per large batch, the whole
        # 1M load peaked at 2.34 GiB. Small batches are left to Python: a collection costs
        # ~0.3 s in this process.
        if len(frame) >= rows_per_batch // 10:
            del frame
            gc.collect()
        success = success and bool(result.success)
        for r in result.results:
            if r.success:
                continue
            kwargs = {k: v for k, v in r.expectation_config.kwargs.items() if k != "batch_id"}
            failure = failures.setdefault(
                (r.expectation_config.type, repr(sorted(kwargs.items()))),
                {
                    "expectation": r.expectation_config.type,
                    "kwargs": kwargs,
                    "observed": _observed(r.result),
                    "failed_batches": 0,
                },
            )
            failure["failed_batches"] += 1
    cursor.close()
    return SuiteOutcome(definition["name"], rows, success, list(failures.values()))


def _validate_frame(extract: str, name: str, frame, suite):
    # A fresh ephemeral context per batch: one long-lived context keeps about 150 MB per
    # validated million rows alive, which a first load of tens of millions of rows cannot afford.
    context = _context()
    source = context.data_sources.add_pandas(f"raw_{extract}")
    asset = source.add_dataframe_asset(name=f"{extract}_{name}")
    batch = asset.add_batch_definition_whole_dataframe("loaded_rows").get_batch(
        batch_parameters={"dataframe": frame}
    )
    return batch.validate(suite)


def _observed(result: dict) -> str:
    if "unexpected_count" in result:
        sample = result.get("partial_unexpected_list") or []
        return f"{result['unexpected_count']} unexpected value(s), e.g. {sample[:5]}"
    return str(result.get("observed_value", result))[:300]


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


reconciliation_checks = [invoice_amounts_match_raw]
