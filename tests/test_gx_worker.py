"""Great Expectations in its worker process: results come back whole and to the right extract,
a dead worker is named, and the checks run per load stage."""

import os
import signal
import subprocess
import sys
from concurrent.futures import Future
from datetime import datetime

import duckdb
import psutil
import pyarrow
import pytest
from dagster import AssetCheckKey, AssetSelection, materialize

from pipelines import gx_worker
from pipelines.contract import EXTRACTS, load_stages
from pipelines.quality import (
    GREAT_EXPECTATIONS_CHECK,
    great_expectations_suites,
    raw_asset_key,
    regrouped,
    submit_loaded_rows,
)
from pipelines.resources import WarehouseResource

LOADED_AT = datetime(2026, 12, 1, 2, 0)


@pytest.fixture
def raw_products(tmp_path):
    (tmp_path / "work").mkdir()
    con = duckdb.connect(str(tmp_path / "work" / "warehouse.duckdb"))
    con.execute("create schema raw")
    con.execute(
        "create table raw.products as select 'P' || i as product_id, 'Product ' || i as "
        "product_name, 'tools' as category, (i * 1.5)::decimal(18, 4) as unit_cost, "
        "(i * 2.0)::decimal(18, 4) as list_price, "
        "?::timestamp as _loaded_at from range(1, 2501) t(i)",
        [LOADED_AT],
    )
    yield con
    con.close()


def test_failures_found_in_any_batch_come_back_from_the_worker(raw_products):
    raw_products.execute("update raw.products set unit_cost = -1 where product_id = 'P2400'")
    outcome = submit_loaded_rows(raw_products, "products", LOADED_AT, rows_per_batch=1000).outcome()
    assert outcome.rows_checked == 2500 and not outcome.success
    [failure] = [f for f in outcome.failures if f["kwargs"].get("column") == "unit_cost"]
    assert failure["failed_batches"] == 1 and "1 unexpected value" in failure["observed"]


def test_a_decimal_a_ten_thousandth_below_a_bound_still_fails_it(raw_products):
    raw_products.execute("update raw.products set unit_cost = -0.0001 where product_id = 'P9'")
    raw_products.execute("update raw.products set list_price = 0 where product_id = 'P10'")
    outcome = submit_loaded_rows(raw_products, "products", LOADED_AT).outcome()
    [failure] = outcome.failures
    assert failure["kwargs"]["column"] == "unit_cost"
    assert "1 unexpected value(s), e.g. [-0.0001]" in failure["observed"]


def test_small_record_batches_are_regrouped_to_the_validation_batch_size():
    batches = [pyarrow.record_batch({"n": list(range(300))}) for _ in range(10)]
    tables = list(regrouped(batches, 1000))
    assert [t.num_rows for t in tables] == [1200, 1200, 600]
    assert pyarrow.concat_tables(tables).column("n").to_pylist() == list(range(300)) * 10
    assert list(regrouped([], 1000)) == []


def test_suites_in_flight_together_each_get_their_own_batches(raw_products):
    later = datetime(2026, 12, 2, 2, 0)
    raw_products.execute(
        "insert into raw.products select product_id || 'b', product_name, category, -1, "
        "list_price, ? from raw.products",
        [later],
    )
    first = submit_loaded_rows(raw_products, "products", LOADED_AT, rows_per_batch=1000)
    second = submit_loaded_rows(raw_products, "products", later, rows_per_batch=1000)
    second_outcome, first_outcome = second.outcome(), first.outcome()
    assert first_outcome.success and first_outcome.rows_checked == 2500
    assert not second_outcome.success and second_outcome.rows_checked == 2500
    [failure] = second_outcome.failures
    assert failure["kwargs"]["column"] == "unit_cost" and failure["failed_batches"] == 3


@pytest.mark.parametrize(
    ("queued_batches", "waits_after_batches"),
    [(0, [2, 3, 4, 5]), (2.5, [3, 4, 5]), (None, [])],
    ids=["no queue", "two and a half batches", "whole extract"],
)
def test_the_loader_waits_for_the_worker_only_beyond_the_queue_budget(
    raw_products, monkeypatch, queued_batches, waits_after_batches
):
    submitted, waited_after = [], []

    def submit(extract, batch_name, batch, suite):
        submitted.append(batch.nbytes)
        validated = Future()
        validated.set_result({"success": True, "failures": []})
        return validated

    def result(future, extract):
        waited_after.append(len(submitted))
        return future.result()

    monkeypatch.setattr(gx_worker, "submit", submit)
    monkeypatch.setattr(gx_worker, "result", result)
    batch_bytes = raw_products.sql("select * from raw.products limit 500").to_arrow_table().nbytes
    budget = 1 << 40 if queued_batches is None else int(queued_batches * batch_bytes)
    pending = submit_loaded_rows(
        raw_products, "products", LOADED_AT, rows_per_batch=500, queue_bytes=budget
    )
    assert len(submitted) == 5
    assert waited_after == waits_after_batches
    outcome = pending.outcome()
    assert outcome.success and outcome.rows_checked == 2500
    assert len(waited_after) == 5  # every batch's result was taken


def test_every_load_stage_points_only_into_earlier_stages():
    stages = load_stages()
    assert sorted(name for stage in stages for name in stage) == sorted(EXTRACTS)
    for number, stage in enumerate(stages):
        earlier = {name for previous in stages[:number] for name in previous}
        for name in stage:
            assert {fk.extract for fk in EXTRACTS[name].foreign_keys} <= earlier, name


def test_a_suite_check_run_on_its_own_validates_the_newest_load(raw_products, tmp_path):
    raw_products.execute("update raw.products set unit_cost = -1 where product_id = 'P7'")
    raw_products.close()
    check = AssetCheckKey(raw_asset_key("products"), GREAT_EXPECTATIONS_CHECK)
    [stage] = [checks for checks in great_expectations_suites if check in checks.check_keys]
    result = materialize(
        [stage],
        selection=AssetSelection.checks(check),
        resources={"warehouse": WarehouseResource(warehouse_dir=str(tmp_path))},
        raise_on_error=False,
    )
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.asset_check_key == check and not evaluation.passed
    assert "2500 new rows" in evaluation.description and "unit_cost" in evaluation.description


def test_a_worker_that_dies_is_reported_by_extract_and_replaced(raw_products):
    gx_worker.start().submit(int).result()
    for pid in list(gx_worker.start()._processes):
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(gx_worker.ValidatorStopped, match="while validating products"):
        submit_loaded_rows(raw_products, "products", LOADED_AT).outcome()
    assert submit_loaded_rows(raw_products, "products", LOADED_AT).outcome().success


def test_the_worker_exits_when_the_refresh_process_is_killed(tmp_path):
    refresh = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from pipelines import gx_worker; "
            "gx_worker.start().submit(int).result(); print('ready', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert refresh.stdout.readline().strip() == "ready"
    workers = psutil.Process(refresh.pid).children(recursive=True)
    assert workers, "the worker process did not start"
    refresh.kill()
    refresh.wait(timeout=30)
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, f"worker processes outlived the killed refresh: {alive}"
