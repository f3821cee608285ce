"""Great Expectations validation in a worker process of its own.

Importing GX takes about 2.5 s (scipy, pydantic models), a tenth of a demo refresh. Started as
the refresh starts, the worker imports it on the second core while Dagster starts and the first
extract loads; afterwards it validates one batch while the loader reads the next. This module
imports neither Dagster nor the loader, so the worker is ready as soon as GX is.
"""

import gc
import json
import multiprocessing
import os
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache

import pyarrow

# No usage statistics leave the machine, and no progress bars clutter refresh logs.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TQDM_DISABLE", "1")

# A batch this large is garbage-collected as soon as it is validated (see validate_batch).
COLLECTED_BATCH_ROWS = 100_000

_executor: ProcessPoolExecutor | None = None


class ValidatorStopped(RuntimeError):
    """The worker process died (killed for memory, most likely) while validating."""


def start() -> ProcessPoolExecutor:
    """The worker, started on first use; call early to have GX imported before it is needed."""
    global _executor
    if _executor is None:
        _executor = ProcessPoolExecutor(
            max_workers=1,
            # spawn, not fork: the refresh process runs threads (DuckDB, Dagster) a fork would
            # copy mid-flight
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_prepare_worker,
        )
        # The pool starts its process at the first submission: this one starts the GX import.
        _executor.submit(int)
    return _executor


def stop() -> None:
    """End the worker once loading is over, so its memory is free for the dbt build. Batches
    still queued (a refresh that failed while loading) are dropped, not validated."""
    global _executor
    if _executor is not None:
        _executor.shutdown(cancel_futures=True)
        _executor = None


def submit(extract: str, batch_name: str, batch: pyarrow.Table, suite: dict) -> Future:
    """Validate one batch of loaded rows against a suite definition (expectations/*.json)."""
    try:
        return start().submit(validate_batch, extract, batch_name, batch, json.dumps(suite))
    except BrokenProcessPool as error:
        raise _stopped(extract) from error


def result(future: Future, extract: str) -> dict:
    """The outcome of submit(): {"success": bool, "failures": [{type, kwargs, observed}]}."""
    try:
        return future.result()
    except BrokenProcessPool as error:
        raise _stopped(extract) from error


def _stopped(extract: str) -> ValidatorStopped:
    global _executor
    _executor = None  # the next refresh in this process starts a new worker
    return ValidatorStopped(
        f"the Great Expectations worker process stopped while validating {extract} "
        "(out of memory? lower CW_MEMORY_LIMIT to leave it room)"
    )


def _prepare_worker() -> None:
    # A refresh killed outright (the OOM killer, SIGKILL) cannot shut the pool down, and the
    # worker, blocked on its call queue, would wait for work forever.
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    # pyspark, which GX imports when it is installed (the Spark engine needs it), exits the
    # process when the main module has neither a file nor a spec, taking the run for a doctest
    # session: a spawned worker's main module is such a module when the parent ran `python -m`.
    main = sys.modules["__main__"]
    if getattr(main, "__spec__", None) is None and not hasattr(main, "__file__"):
        main.__file__ = __file__
    import great_expectations  # noqa: F401


def _exit_with_parent() -> None:
    multiprocessing.parent_process().join()
    os._exit(1)


def validate_batch(extract: str, batch_name: str, batch: pyarrow.Table, suite: str) -> dict:
    """Runs in the worker: one GX validation of a batch, reduced to what the refresh reports."""
    frame = frame_for_validation(batch)
    result = _validate_frame(extract, batch_name, frame, _build_suite(suite))
    failures = []
    for r in result.results:
        if not r.success:
            kwargs = {k: v for k, v in r.expectation_config.kwargs.items() if k != "batch_id"}
            failures.append(
                {
                    "type": r.expectation_config.type,
                    "kwargs": kwargs,
                    "observed": _observed(r.result),
                }
            )
    outcome = {"success": bool(result.success), "failures": failures}
    # Each validation leaves GX objects in reference cycles that hold the batch; Python's cycle
    # collector ran too rarely to free them, and at 1M customers validating the order lines
    # grew the process from 4.4 to 10.8 GiB. Collected per large batch, the whole 1M load peaked
    # at 2.34 GiB. Small batches are left to Python: a collection costs ~0.2-0.3 s.
    if len(frame) >= COLLECTED_BATCH_ROWS:
        del frame, result
        gc.collect()
    return outcome


def frame_for_validation(batch: pyarrow.Table):
    """The batch as pandas, DECIMAL columns as float64.

    As Python Decimal objects, GX compares every value to a bound in a Python function per row;
    as float64 it compares whole columns: 1,015,993 order lines validated in a median 0.77 s
    instead of 3.84 s (three runs each). The suites' bounds are small round numbers (0, 1, 5, 10,
    100), which float64 tells apart from any DECIMAL(18,4) value that differs from them.
    """
    schema = pyarrow.schema(
        [
            field.with_type(pyarrow.float64()) if pyarrow.types.is_decimal(field.type) else field
            for field in batch.schema
        ]
    )
    return batch.cast(schema).to_pandas()


@lru_cache(maxsize=32)
def _build_suite(suite: str):
    import great_expectations as gx
    from great_expectations.expectations.registry import get_expectation_impl

    definition = json.loads(suite)
    expectations = [
        get_expectation_impl(item["type"])(**item["kwargs"], meta=item.get("meta") or {})
        for item in definition["expectations"]
    ]
    return gx.ExpectationSuite(name=definition["name"], expectations=expectations)


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


def _validate_frame(extract: str, batch_name: str, frame, suite):
    # A fresh ephemeral context per batch: one long-lived context keeps about 150 MB per
    # validated million rows alive, which a first load of tens of millions of rows cannot afford.
    context = _context()
    source = context.data_sources.add_pandas(f"raw_{extract}")
    asset = source.add_dataframe_asset(name=f"{extract}_{batch_name}")
    batch = asset.add_batch_definition_whole_dataframe("loaded_rows").get_batch(
        batch_parameters={"dataframe": frame}
    )
    return batch.validate(suite)


def _observed(result: dict) -> str:
    if "unexpected_count" in result:
        sample = result.get("partial_unexpected_list") or []
        return f"{result['unexpected_count']} unexpected value(s), e.g. {sample[:5]}"
    return str(result.get("observed_value", result))[:300]
