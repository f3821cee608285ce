"""dbt models as Dagster assets (asset key = model name), dbt tests as asset checks."""

import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)
from dbt import version as dbt_version
from packaging import version

from pipelines import dbt_process, engines, gx_worker
from pipelines.dbt_process import DBT_EXECUTABLE, dbt_environment, keep_partial_parse
from pipelines.resources import WarehouseResource
from pipelines.settings import (
    DBT_BUILD_FOLDERS,
    DBT_PROJECT_DIR,
    DBT_PROJECT_INPUTS,
    DBT_TARGET_DIR,
    load_settings,
)
from pipelines.storage import project_changed_since_last_publish

MANIFEST_PATH = DBT_TARGET_DIR / "manifest.json"
# A build's folder (DBT_BUILD_FOLDERS) holds its compiled SQL and artifacts, about 9 MB for the
# demo: the newest are kept for troubleshooting, the rest pruned.
RUN_FOLDERS_KEPT = 20
RUN_FOLDER_MIN_AGE_S = 7 * 24 * 3600


def _newest_input_mtime() -> float:
    newest = 0.0
    for name in DBT_PROJECT_INPUTS:
        path = DBT_PROJECT_DIR / name
        paths = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(p.stat().st_mtime for p in paths if p.is_file())])
    return newest


def ensure_manifest() -> Path:
    """Parse the dbt project once; again only when a model, macro, test or config changed.

    The parse sees the profile a refresh with these settings builds with, so that refresh's
    `dbt build` reuses it (dbt parses everything again when the rendered profile differs).
    """
    if MANIFEST_PATH.exists() and MANIFEST_PATH.stat().st_mtime >= _newest_input_mtime():
        return MANIFEST_PATH
    completed = subprocess.run(
        [str(DBT_EXECUTABLE), "parse", "--quiet", "--profiles-dir", str(DBT_PROJECT_DIR)]
        + ["--target", engines.DEFAULT_ENGINE],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        env=dbt_environment(load_settings()),
    )
    if completed.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{completed.stdout}\n{completed.stderr}")
    return MANIFEST_PATH


def prune_run_folders(target: Path = DBT_TARGET_DIR) -> None:
    """Remove dbt run folders beyond the newest RUN_FOLDERS_KEPT, once older than a week (a
    build still running in another warehouse folder is never older than that)."""
    runs = sorted(
        (folder for folder in target.glob(DBT_BUILD_FOLDERS) if folder.is_dir()),
        key=lambda folder: folder.stat().st_mtime,
        reverse=True,
    )
    cutoff = time.time() - RUN_FOLDER_MIN_AGE_S
    for folder in runs[RUN_FOLDERS_KEPT:]:
        if folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """dbt sources are the raw ingest assets; models keep their names; groups follow folders."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey(["raw", dbt_resource_props["name"]])
        return AssetKey([dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        folders = dbt_resource_props.get("fqn", [])[1:-1]
        return "_".join(folders) or "dbt"


translator = WarehouseDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(manifest=ensure_manifest(), dagster_dbt_translator=translator)
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """Builds and tests every dbt model at the refresh's as-of date: in the work database, or on
    the engine CW_ENGINE names (`refresh --engine spark|postgres`, pipelines/engines.py)."""
    settings = warehouse.settings()
    gx_worker.stop()  # every raw asset is loaded and validated by now
    prune_run_folders()
    # The as-of date and the months to reopen reach the models through the environment, not
    # --vars: dbt parses the whole project again whenever the vars differ from its last parse.
    os.environ.update(dbt_environment(settings))
    # dbt unit tests check model logic on fixed inputs, not the night's data: `make test` runs
    # them (tests/test_dbt_unit_tests.py), the nightly build skips them.
    build = ["build", "--exclude-resource-type", "unit_test"]
    if settings.dbt_vars:
        build += ["--vars", json.dumps(settings.dbt_vars)]
    engine = engines.current_engine()
    # Incremental models (order lines by month) rebuild from all history when asked, when the
    # project changed since the last publish, and on other engines, which receive every raw row
    # anyway. The closed receivables months are exempt (full_refresh=false in their config).
    if (
        settings.rebuild_models
        or engine != engines.DEFAULT_ENGINE
        or project_changed_since_last_publish(settings)
    ):
        build.append("--full-refresh")
    if engine == engines.DEFAULT_ENGINE:
        ready = dbt_process.take(settings)  # started by work_database; waits for its parse
        if ready is None:
            invocation = dbt.cli([*build, "--target", engine], context=context)
            yield from invocation.stream()
            keep_partial_parse(invocation.target_path)
            return
        # The dbt process keeps its parse state itself: the copy dagster-dbt seeded this build's
        # folder with may predate it.
        launched = dbt.model_copy(update={"dbt_executable": str(ready.launcher)})
        try:
            yield from launched.cli([*build, "--target", engine], context=context).stream()
        finally:
            ready.wait()
        return
    # Another engine builds the models: copy the raw tables there first, and what readers use
    # back into the work database afterwards (pipelines/engines.py, docs/engines.md).
    relations = engines.exported_relations(json.loads(MANIFEST_PATH.read_text()))
    started = time.perf_counter()
    engine_env = engines.prepare(settings, engine, relations)
    context.log.info(f"raw tables copied to {engine} in {time.perf_counter() - started:.1f} s")
    saved = {name: os.environ.get(name) for name in engine_env}
    os.environ.update(engine_env)
    started = time.perf_counter()
    try:
        yield from dbt.cli([*build, "--target", engine], context=context).stream()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    context.log.info(f"dbt build on {engine} took {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    engines.export(settings, engine, relations)
    context.log.info(
        f"{len(relations)} relations copied back from {engine} in "
        f"{time.perf_counter() - started:.1f} s"
    )


class WarehouseDbtCliResource(DbtCliResource):
    """dbt-core of this virtual environment, whether or not the venv is activated.

    dagster-dbt asks `dbt --version` in a subprocess before every command (a full dbt start-up,
    seconds) to learn what the installed package already says; the nightly build skips that.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(dbt_version.__version__)

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        """No adapter handle in this process: dagster-dbt opens one (loading dbt's macros, about
        0.5 s) only for fetch_row_counts and fetch_column_metadata, which the build never asks."""
        return None


dbt_resource = WarehouseDbtCliResource(
    project_dir=str(DBT_PROJECT_DIR),
    profiles_dir=str(DBT_PROJECT_DIR),
    dbt_executable=str(DBT_EXECUTABLE),
)
