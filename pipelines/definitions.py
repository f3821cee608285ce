"""The Dagster code location of Customer Warehouse (loaded by workspace.yaml and the CLI)."""

from dagster import Definitions

from pipelines.ingest import raw_assets, work_database
from pipelines.jobs import (
    new_extract_files_sensor,
    nightly_refresh,
    nightly_refresh_schedule,
    record_failed_refresh,
    record_succeeded_refresh,
)
from pipelines.publish import warehouse
from pipelines.quality import reconciliation_checks
from pipelines.resources import WarehouseResource
from pipelines.transform import dbt_models, dbt_resource

defs = Definitions(
    assets=[work_database, *raw_assets, dbt_models, warehouse],
    asset_checks=reconciliation_checks,
    jobs=[nightly_refresh],
    schedules=[nightly_refresh_schedule],
    sensors=[new_extract_files_sensor, record_succeeded_refresh, record_failed_refresh],
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource},
)
