"""Ingest assets: the refresh's work database and one raw asset per extract of the contract."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipelines import dbt_process
from pipelines.contract import EXTRACTS, load_order
from pipelines.loader import connect, load_extract
from pipelines.quality import raw_asset_key, reconcile_file_counts, start_suite
from pipelines.resources import WarehouseResource
from pipelines.storage import acquire_refresh_lock, prepare_work_database
from pipelines.transform import dbt_models

ROW_COUNT_CHECK = "rows_read_equal_loaded_plus_quarantined"


@asset(group_name="ingest")
def work_database(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    """The refresh's private copy of the warehouse: a copy of the last publish that this run loads
    and builds into. Taking it also takes the single-writer refresh lock, so two refreshes never
    build at once; readers keep using the published file throughout."""
    settings = warehouse.settings()
    acquire_refresh_lock(settings)
    if _builds_dbt(context):
        not_started = dbt_process.start(settings)  # dbt imports and parses while loads run
        if not_started:
            context.log.warning(f"{not_started}; dbt starts with the build instead")
    path = prepare_work_database(settings)
    context.log.info(f"work database {path} (as of {settings.as_of})")
    return MaterializeResult(metadata={"path": str(path), "as_of": str(settings.as_of)})


def _builds_dbt(context: AssetExecutionContext) -> bool:
    """Whether this run builds dbt models after loading (every run of the code location
    executes in one process: definitions.py)."""
    selected = context.run.asset_selection  # empty or None: the whole job
    return not selected or not selected.isdisjoint(dbt_models.keys)


def _raw_asset(extract_name: str) -> AssetsDefinition:
    extract = EXTRACTS[extract_name]
    key = raw_asset_key(extract_name)
    referenced = sorted({fk.extract for fk in extract.foreign_keys})

    @asset(
        key=key,
        group_name="raw",
        deps=[work_database, *(raw_asset_key(name) for name in referenced)],
        description=(
            f"Raw extract `{extract_name}` ({extract.family} family) loaded from "
            f"<raw-dir>/{extract_name}/ into raw.{extract_name}: new and re-delivered files only, "
            "newest file wins per primary key "
            f"({', '.join(extract.primary_key)}); rows breaking the contract go to "
            "raw.quarantine with file, line, column and rule."
        ),
        check_specs=[
            AssetCheckSpec(
                ROW_COUNT_CHECK,
                asset=key,
                blocking=True,
                description="for every file: rows read = rows loaded + quarantined",
            ),
        ],
        kinds={"duckdb"},
    )
    def load(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        settings = warehouse.settings()
        con = connect(
            settings.work_path, settings.memory_limit, settings.temp_dir, settings.threads
        )
        try:
            outcomes = load_extract(
                con,
                extract_name,
                settings.raw_dir,
                settings.temp_dir,
                settings.encoding_for(extract_name),
            )
            processed = [o for o in outcomes if o.status != "unchanged"]
            start_suite(
                con,
                extract_name,
                any(o.status == "loaded" for o in processed),
                settings.expectations_dir,
            )
            total_rows = con.execute(f"select count(*) from raw.{extract_name}").fetchone()[0]
            row_counts = reconcile_file_counts(con, extract_name)
        finally:
            con.close()
        for outcome in processed:
            if outcome.status == "rejected":
                context.log.warning(
                    f"rejected {extract_name}/{outcome.file_name}: {outcome.message}"
                )
            else:
                context.log.info(
                    f"{extract_name}/{outcome.file_name}: read {outcome.rows_read}, loaded "
                    f"{outcome.rows_loaded}, quarantined {outcome.rows_quarantined}"
                )
        return MaterializeResult(
            metadata={
                "files": MetadataValue.json([o.__dict__ for o in processed]),
                "files_unchanged": sum(o.status == "unchanged" for o in outcomes),
                "files_rejected": sum(o.status == "rejected" for o in processed),
                "rows_read": sum(o.rows_read for o in processed),
                "rows_loaded": sum(o.rows_loaded for o in processed),
                "rows_quarantined": sum(o.rows_quarantined for o in processed),
                "dagster/row_count": total_rows,
            },
            check_results=[
                AssetCheckResult(
                    check_name=ROW_COUNT_CHECK,
                    passed=row_counts.passed,
                    severity=AssetCheckSeverity.ERROR,
                    description=row_counts.detail,
                ),
            ],
        )

    return load


raw_assets = [_raw_asset(name) for name in load_order()]
