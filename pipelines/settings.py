"""Run settings: where extracts and the warehouse live, the as-of date, resource limits.

Every setting has a command-line flag (where it makes sense) and an environment variable; flags
win over the environment, the environment over the defaults below.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import psutil

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DBT_TARGET_DIR = DBT_PROJECT_DIR / "target"
# dagster-dbt gives every build of the dbt_models asset a folder of its own in the target folder
DBT_BUILD_FOLDERS = "dbt_models-*"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
# What dbt reads besides the data: a change to any of these means the models must be rebuilt.
DBT_PROJECT_INPUTS = ("models", "macros", "tests", "dbt_project.yml", "profiles.yml")

# DuckDB gets this share of the machine's memory: enough to build large marts, while leaving room
# for the Dagster process, dbt and a dashboard reading the published file at the same time.
DEFAULT_MEMORY_SHARE = 0.6


def _default_memory_limit() -> str:
    gib = psutil.virtual_memory().total * DEFAULT_MEMORY_SHARE / 2**30
    return f"{max(gib, 1):.0f}GiB"


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    warehouse_dir: Path
    as_of: date
    memory_limit: str
    threads: int
    keep_publishes: int
    webhook_url: str | None
    csv_encoding: str | None
    expectations_dir: Path
    role: str
    reopen_months: tuple[str, ...] = ()
    dbt_vars: dict = field(default_factory=dict)
    # rebuild the incremental models from all history (`refresh --force`, dbt --full-refresh)
    rebuild_models: bool = False
    # dbt models built at once; they share one DuckDB memory limit, so 1 spills least
    dbt_threads: int = 2

    @property
    def published_path(self) -> Path:
        return self.warehouse_dir / "warehouse.duckdb"

    @property
    def work_path(self) -> Path:
        return self.warehouse_dir / "work" / "warehouse.duckdb"

    @property
    def temp_dir(self) -> Path:
        return self.warehouse_dir / "work" / "spill"

    @property
    def history_dir(self) -> Path:
        return self.warehouse_dir / "history"

    @property
    def run_log_path(self) -> Path:
        return self.warehouse_dir / "runs.jsonl"

    @property
    def lock_path(self) -> Path:
        return self.warehouse_dir / "refresh.lock"

    @property
    def exports_dir(self) -> Path:
        return self.warehouse_dir / "exports"

    @property
    def mask_pii(self) -> bool:
        """Analysts see customer ids and numbers but not names (exports and dashboard)."""
        return self.role == "analyst"

    def encoding_for(self, extract: str) -> str | None:
        """The forced CSV encoding of one extract (CW_CSV_ENCODING_<EXTRACT>), else the global."""
        return os.environ.get(f"CW_CSV_ENCODING_{extract.upper()}") or self.csv_encoding

    def with_overrides(self, **overrides) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def load_settings(**overrides) -> Settings:
    env = os.environ
    as_of = env.get("CW_AS_OF")
    settings = Settings(
        raw_dir=Path(env.get("CW_RAW_DIR", PROJECT_ROOT / "data" / "raw")).resolve(),
        warehouse_dir=Path(
            env.get("CW_WAREHOUSE_DIR", PROJECT_ROOT / "data" / "warehouse")
        ).resolve(),
        as_of=date.fromisoformat(as_of) if as_of else date.today(),
        memory_limit=env.get("CW_MEMORY_LIMIT", _default_memory_limit()),
        threads=int(env.get("CW_THREADS", os.cpu_count() or 2)),
        keep_publishes=int(env.get("CW_KEEP_PUBLISHES", "5")),
        webhook_url=env.get("CW_WEBHOOK_URL") or None,
        csv_encoding=env.get("CW_CSV_ENCODING") or None,
        expectations_dir=Path(env.get("CW_EXPECTATIONS_DIR", EXPECTATIONS_DIR)).resolve(),
        role=env.get("CW_ROLE", "full"),
        reopen_months=tuple(m for m in env.get("CW_REOPEN_MONTHS", "").split(",") if m),
        dbt_vars=json.loads(env.get("CW_DBT_VARS") or "{}"),
        rebuild_models=env.get("CW_REBUILD_MODELS", "").lower() in ("1", "true", "yes"),
        dbt_threads=int(env.get("CW_DBT_THREADS") or env.get("CW_THREADS") or os.cpu_count() or 2),
    )
    return settings.with_overrides(**overrides)
