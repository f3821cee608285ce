"""The warehouse file: write-audit-publish, the single-writer lock, rollback and the run log.

A refresh never writes the file readers use. It copies the last publish to a private work
database, loads and builds there, and only after every blocking check passed renames the work file
over ``warehouse.duckdb`` (an atomic rename on the same filesystem). Readers that opened the old
file keep reading it; new readers get the new one; nobody ever sees a half-built warehouse, and
because readers open it read-only and the writer never touches it, nobody hits DuckDB's
"Could not set lock on file". The previous publishes are kept (hard links) for rollback.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pipelines.contract import EXTRACTS
from pipelines.loader import connect, ensure_raw_schema, list_source_files
from pipelines.settings import (
    DBT_PROJECT_DIR,
    DBT_PROJECT_INPUTS,
    EXPECTATIONS_DIR,
    PROJECT_ROOT,
    Settings,
)


class RefreshError(RuntimeError):
    """A refresh cannot proceed; the message is meant for the operator."""


# ---- the refresh lock: one writer at a time ---------------------------------------------------
_held_locks: dict[Path, int] = {}


def acquire_refresh_lock(settings: Settings) -> None:
    """Take the single-writer lock, or fail at once saying who holds it."""
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    path = settings.lock_path
    if path in _held_locks:
        return
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 200, 0).decode(errors="replace").strip() or "unknown"
        os.close(descriptor)
        raise RefreshError(
            f"another refresh is already running ({holder}); this one did not start. "
            "Wait for it to finish (customer-warehouse status) and run again."
        ) from None
    os.ftruncate(descriptor, 0)
    stamp = f"pid {os.getpid()}, started {datetime.now().isoformat(timespec='seconds')}"
    os.pwrite(descriptor, stamp.encode(), 0)
    _held_locks[path] = descriptor


def release_refresh_lock(settings: Settings) -> None:
    descriptor = _held_locks.pop(settings.lock_path, None)
    if descriptor is not None:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


# ---- work database -------------------------------------------------------------------------
def prepare_work_database(settings: Settings) -> Path:
    """Start the work database from the last publish (raw history is incremental)."""
    work = settings.work_path
    work.parent.mkdir(parents=True, exist_ok=True)
    for stale in work.parent.glob(work.name + "*"):
        stale.unlink()
    try:
        if settings.published_path.exists():
            shutil.copyfile(settings.published_path, work)
        con = connect(work, settings.memory_limit, settings.temp_dir, settings.threads)
    except OSError as error:
        raise RefreshError(
            f"cannot write the work database in {work.parent}: {error.strerror or error}. "
            "Check free disk space and that this user may write to the warehouse folder."
        ) from error
    try:
        ensure_raw_schema(con)
    finally:
        con.close()
    return work


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def publish(settings: Settings) -> Path:
    """Atomically replace warehouse.duckdb by the audited work database; keep history."""
    work, published = settings.work_path, settings.published_path
    con = connect(work)
    con.execute("checkpoint")
    con.close()
    with work.open("rb+") as handle:
        os.fsync(handle.fileno())
    settings.history_dir.mkdir(parents=True, exist_ok=True)
    if published.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        os.link(published, settings.history_dir / f"warehouse-{stamp}.duckdb")
    os.replace(work, published)
    _fsync_directory(published.parent)
    for old in history(settings)[settings.keep_publishes :]:
        old.unlink()
    return published


def history(settings: Settings) -> list[Path]:
    """Earlier publishes, newest first."""
    if not settings.history_dir.is_dir():
        return []
    return sorted(settings.history_dir.glob("warehouse-*.duckdb"), reverse=True)


def rollback(settings: Settings) -> Path:
    """Serve the previous publish again (the current one is removed from service)."""
    earlier = history(settings)
    if not earlier:
        raise RefreshError(f"no earlier publish to roll back to in {settings.history_dir}")
    acquire_refresh_lock(settings)
    try:
        previous = earlier[0]
        staging = settings.published_path.with_suffix(".rollback")
        shutil.copyfile(previous, staging)
        os.replace(staging, settings.published_path)
        _fsync_directory(settings.warehouse_dir)
        previous.unlink()
    finally:
        release_refresh_lock(settings)
    return previous


# ---- what a refresh would change ------------------------------------------------------------
def pending_files(settings: Settings) -> list[str]:
    """Extract files that are new or changed since the last publish (by name, size, time)."""
    known: set[tuple] = set()
    if settings.published_path.exists():
        con = connect(settings.published_path, read_only=True)
        try:
            known = set(
                con.execute(
                    "select extract, file_name, size_bytes, modified_ns from raw.file_manifest"
                ).fetchall()
            )
        finally:
            con.close()
    pending = []
    for extract in EXTRACTS:
        for source in list_source_files(settings.raw_dir / extract):
            if (extract, source.name, source.size, source.modified_ns) not in known:
                pending.append(f"{extract}/{source.name}:{source.size}:{source.modified_ns}")
    return pending


def project_fingerprint() -> str:
    """A hash of everything that decides what a refresh builds besides the data and the date."""
    digest = hashlib.sha256()
    inputs = [DBT_PROJECT_DIR / name for name in DBT_PROJECT_INPUTS] + [EXPECTATIONS_DIR]
    for root in inputs:
        paths = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in paths:
            if path.is_file():
                digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def is_up_to_date(settings: Settings) -> bool:
    """True when the last publish used the same files, as-of date and project as now."""
    last = next((r for r in reversed(read_run_records(settings)) if r["published"]), None)
    return (
        last is not None
        and settings.published_path.exists()
        and last["as_of"] == settings.as_of.isoformat()
        and last.get("project_fingerprint") == project_fingerprint()
        and last.get("dbt_vars", {}) == settings.dbt_vars
        and not pending_files(settings)
    )


# ---- run log ----------------------------------------------------------------------------------
@dataclass
class RunRecord:
    run_id: str
    started_at: str
    ended_at: str
    outcome: str  # succeeded | failed
    as_of: str
    trigger: str
    files: list[dict]
    checks_passed: int
    checks_failed: list[str]
    reason: str
    published: bool
    project_fingerprint: str = ""
    dbt_vars: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False)


def append_run_record(settings: Settings, record: RunRecord) -> None:
    """Runs are logged outside the warehouse file, so failed runs are remembered too."""
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    with settings.run_log_path.open("a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(record.to_json() + "\n")


def read_run_records(settings: Settings, limit: int | None = None) -> list[dict]:
    if not settings.run_log_path.exists():
        return []
    lines = settings.run_log_path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return records[-limit:] if limit else records


def notify_webhook(url: str, record: RunRecord) -> str | None:
    """POST the failed run to the configured webhook; returns an error text instead of raising."""
    body = json.dumps(
        {
            "text": f"Customer Warehouse refresh {record.outcome}: {record.reason}",
            "run": record.__dict__,
        }
    ).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10):
            return None
    except OSError as error:
        return f"webhook {url} not notified: {error}"
