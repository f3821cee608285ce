"""Publishing: the audited work database becomes the warehouse readers use; finance exports."""

from dagster import AssetExecutionContext, MaterializeResult, MonthlyPartitionsDefinition, asset

from pipelines.exports import export_receivables
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


# The export partitions are calendar months; history before 2015 is not expected in this product.
receivables_export_partitions = MonthlyPartitionsDefinition(start_date="2015-01-01")


@asset(
    group_name="publish",
    deps=[warehouse],
    partitions_def=receivables_export_partitions,
    kinds={"excel"},
)
def receivables_export(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    """Finance's receivables export of one closed month (`<warehouse-dir>/exports/
    receivables_YYYY-MM.xlsx`: the customer rows and the book summary, one sheet each),
    written from the published warehouse. Materialized automatically once a refresh closes the
    month, or on demand with `customer-warehouse export receivables --month YYYY-MM`."""
    month = context.partition_key[:7]
    [path] = export_receivables(warehouse.settings(), month, "xlsx")
    return MaterializeResult(metadata={"path": str(path), "month": month})
