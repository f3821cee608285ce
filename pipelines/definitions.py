"""The Dagster code location of Customer Warehouse (loaded by workspace.yaml and the CLI)."""

from dagster import Definitions, in_process_executor

from pipelines.ingest import raw_assets, work_database
from pipelines.jobs import (
    export_closed_month,
    new_extract_files_sensor,
    nightly_refresh,
    nightly_refresh_schedule,
    receivables_export_job,
    record_failed_refresh,
    record_succeeded_refresh,
)
from pipelines.publish import receivables_export, warehouse
from pipelines.quality import quality_checks
from pipelines.resources import WarehouseResource
from pipelines.transform import dbt_models, dbt_resource

defs = Definitions(
    assets=[work_database, *raw_assets, dbt_models, warehouse, receivables_export],
    asset_checks=quality_checks,
    jobs=[nightly_refresh, receivables_export_job],
    schedules=[nightly_refresh_schedule],
    sensors=[
        new_extract_files_sensor,
        record_succeeded_refresh,
        record_failed_refresh,
        export_closed_month,
    ],
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource},
    # Runs of assets picked in the UI too: DuckDB has one writer, and the dbt process started
    # by work_database serves the dbt step of the same process (pipelines/dbt_process.py).
    executor=in_process_executor,
)
