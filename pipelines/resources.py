"""The resources of the code location, declared once and shared by every asset."""

from datetime import date
from pathlib import Path

from dagster import ConfigurableResource

from pipelines.settings import Settings, load_settings


class WarehouseResource(ConfigurableResource):
    """Where extracts and the warehouse live, and the as-of date; empty = environment/default."""

    raw_dir: str = ""
    warehouse_dir: str = ""
    as_of: str = ""

    def settings(self) -> Settings:
        return load_settings(
            raw_dir=Path(self.raw_dir).resolve() if self.raw_dir else None,
            warehouse_dir=Path(self.warehouse_dir).resolve() if self.warehouse_dir else None,
            as_of=date.fromisoformat(self.as_of) if self.as_of else None,
        )
