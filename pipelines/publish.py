"""The publish step: the audited work database becomes the warehouse readers use."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from pipelines.ingest import raw_assets
from pipelines.resources import WarehouseResource
from pipelines.storage import publish, release_refresh_lock
from pipelines.transform import dbt_models


@asset(
    group_name="publish",
    deps=[*dbt_models.keys, *(a.key for a in raw_assets)],
    kinds={"duckdb"},
)
def warehouse(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """The published warehouse `<warehouse-dir>/warehouse.duckdb` that readers and the
    dashboard open read-only. Materialized only when every upstream asset and every blocking
    check (Great Expectations, dbt tests, reconciliations) succeeded in this run: the audited
    work database atomically replaces the previous publish, which is kept for rollback."""
    settings = warehouse.settings()
    try:
        path = publish(settings)
    finally:
        release_refresh_lock(settings)
    context.log.info(f"published {path}")
    return MaterializeResult(
        metadata={"path": str(path), "as_of": str(settings.as_of), "bytes": path.stat().st_size}
    )
