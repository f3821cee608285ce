"""Read-only access to the published warehouse file.

A refresh never writes ``warehouse.duckdb``: it builds a private copy and renames it over the
published file (pipelines/storage.py). The dashboard therefore identifies a publish by the file's
inode and modification time. When they change, a new publish has landed and a new connection is
opened; queries still running on the old one keep reading the old file, whose inode lives until
its last handle closes. A connection opened at the instant of a publish is opened again
(``pipelines.storage.open_published``: DuckDB opens a file by name more than once while
connecting). So the dashboard works while a refresh runs and never sees a half-built warehouse.

The connection is an in-memory DuckDB database with the published file attached read-only as
``wh``. Only the in-memory side is ever written: it holds the small helper views and
pre-aggregated tables of ``queries`` (built once per publish), never data of its own.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pandas as pd
import pyarrow as pa
import streamlit as st

from pipelines.settings import Settings, load_settings
from pipelines.storage import open_published

# Query results are shared by all sessions for this long; a new publish changes the cache key,
# so the TTL only bounds how long results of an unchanged publish stay in memory.
QUERY_TTL_SECONDS = 600
# Even without a new publish the connection is reopened this often (frees memory of helper
# tables that are no longer used).
CONNECTION_TTL_SECONDS = 6 * 3600
# Columns an analyst (CW_ROLE=analyst) sees masked: customer identity beyond the id.
PII_COLUMNS = {"customer_name", "contact", "contact_name", "email", "phone"}
MASK = "***"
# The dashboard shares the machine with refreshes (which take 60% of RAM by default).
DEFAULT_MEMORY_LIMIT = "2GB"


class Publish(NamedTuple):
    """Identity of one published warehouse file: replaced by rename means a new inode."""

    path: str
    inode: int
    mtime_ns: int


def settings() -> Settings:
    return load_settings()


def current_publish() -> Publish | None:
    path = settings().published_path
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return Publish(str(path), stat.st_ino, stat.st_mtime_ns)


def _sql_string(text: str) -> str:
    """A SQL string literal; used only for the warehouse path, which ATTACH cannot bind."""
    return "'" + text.replace("'", "''") + "'"


def _attached(path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with the published file at ``path`` attached read-only as wh."""
    spill = Path(tempfile.gettempdir()) / "customer-warehouse-dashboard"
    con = duckdb.connect(
        ":memory:",
        config={
            "memory_limit": os.environ.get("CW_DASHBOARD_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT),
            "temp_directory": str(spill),
        },
    )
    try:
        con.execute(f"attach {_sql_string(str(path))} as wh (read_only)")
    except duckdb.Error:
        con.close()
        raise
    return con


class Warehouse:
    """One read-only connection to one publish, shared by every session (thread-safe)."""

    def __init__(self, publish: Publish) -> None:
        self.publish = publish
        self._con = open_published(Path(publish.path), _attached)
        rows = self._con.execute(
            "select table_schema || '.' || table_name, column_name"
            " from information_schema.columns where table_catalog = 'wh'"
        ).fetchall()
        self.columns: dict[str, set[str]] = {}
        for table, column in rows:
            self.columns.setdefault(table, set()).add(column)
        self._lock = threading.Lock()
        self._built: set[str] = set()

    def has(self, *tables: str) -> bool:
        """Whether every ``schema.table`` exists in this publish (marts may not be built yet)."""
        return all(table in self.columns for table in tables)

    def has_column(self, table: str, column: str) -> bool:
        return column in self.columns.get(table, set())

    def ensure(self, name: str, kind: str, sql: str) -> None:
        """Create the in-memory view or table ``name`` from ``sql`` once for this publish."""
        if name in self._built:
            return
        with self._lock:
            if name not in self._built:
                cursor = self._con.cursor()
                try:
                    cursor.execute(f"create or replace {kind} {name} as {sql}")
                finally:
                    cursor.close()
                self._built.add(name)

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        # One cursor per query: DuckDB connections are not shared across threads, cursors are.
        cursor = self._con.cursor()
        try:
            return cursor.execute(sql, list(params)).df()
        finally:
            cursor.close()

    def batches(
        self, sql: str, params: Sequence[Any] = (), rows_per_batch: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        """Stream a large result (downloads) without materialising it as one DataFrame."""
        cursor = self._con.cursor()
        try:
            reader = cursor.sql(sql, params=list(params)).to_arrow_reader(rows_per_batch)
            masked = PII_COLUMNS if settings().mask_pii else set()
            for batch in reader:
                for column in masked.intersection(batch.schema.names):
                    index = batch.schema.get_field_index(column)
                    batch = batch.set_column(
                        index, column, pa.array([MASK] * batch.num_rows, pa.string())
                    )
                yield batch
        finally:
            cursor.close()


# Not closed when evicted: a session may still be querying it; DuckDB closes it once the last
# reference is gone.
@st.cache_resource(ttl=CONNECTION_TTL_SECONDS, max_entries=2, show_spinner=False)
def _open(publish: Publish) -> Warehouse:
    return Warehouse(publish)


def current() -> Warehouse | None:
    """The connection to the file published right now, or None when nothing is published."""
    publish = current_publish()
    return None if publish is None else _open(publish)


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=2000, show_spinner=False)
def _cached_query(publish: Publish, sql: str, params: tuple, _warehouse: Warehouse) -> pd.DataFrame:
    # The cache key is (publish, sql, params); the leading underscore keeps the connection out.
    return _warehouse.query(sql, params)


def query(warehouse: Warehouse, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """Run a (small, aggregated) query on ``warehouse``; results are cached per publish.

    Masking happens after the cache, so one role's cached result never reaches another role.
    """
    frame = _cached_query(warehouse.publish, sql, tuple(params), warehouse)
    masked = PII_COLUMNS.intersection(frame.columns) if settings().mask_pii else set()
    if masked:
        frame = frame.assign(**{column: MASK for column in masked})
    return frame
