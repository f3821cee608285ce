"""The Dagster code location loads and wires the pieces together as documented."""

from dagster import AssetKey

from pipelines.contract import EXTRACTS
from pipelines.dbt_process import dbt_environment
from pipelines.definitions import defs
from pipelines.settings import load_settings


def test_definitions_load_with_the_nightly_job_schedule_and_sensor():
    assert defs.resolve_job_def("nightly_refresh") is not None
    assert defs.resolve_schedule_def("nightly_refresh_schedule").cron_schedule == "0 2 * * *"
    assert defs.resolve_sensor_def("new_extract_files_sensor") is not None


def test_every_extract_is_a_raw_asset_feeding_its_staging_model():
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    for extract in EXTRACTS:
        assert AssetKey(["raw", extract]) in keys
    staged = graph.get(AssetKey(["stg_erp__sales_order_lines"]))
    assert AssetKey(["raw", "sales_order_lines"]) in staged.parent_keys


def test_raw_assets_carry_blocking_great_expectations_checks():
    graph = defs.resolve_asset_graph()
    check_keys = graph.asset_check_keys
    for extract in EXTRACTS:
        names = {c.name for c in check_keys if c.asset_key == AssetKey(["raw", extract])}
        assert "great_expectations" in names


def test_dbt_tests_become_asset_checks_and_every_asset_is_described():
    graph = defs.resolve_asset_graph()
    dbt_checks = {
        c for c in graph.asset_check_keys if c.asset_key == AssetKey(["stg_erp__customers"])
    }
    assert any("unique" in c.name for c in dbt_checks)
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable:
            assert node.description, f"{key.to_user_string()} has no description"


def test_dbt_threads_follow_cw_threads_unless_set_on_their_own(monkeypatch):
    monkeypatch.delenv("CW_DBT_THREADS", raising=False)
    monkeypatch.setenv("CW_THREADS", "3")
    assert dbt_environment(load_settings())["CW_DBT_THREADS"] == "3"
    monkeypatch.setenv("CW_DBT_THREADS", "1")
    environment = dbt_environment(load_settings())
    assert environment["CW_DBT_THREADS"] == "1" and environment["CW_THREADS"] == "3"
