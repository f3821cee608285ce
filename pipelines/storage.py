"""The warehouse file: write-audit-publish, the single-writer lock, rollback and the run log.

A refresh never writes the file readers use. It copies the last publish to a private work
database, loads and builds there, and only after every blocking check passed renames the work file
over ``warehouse.duckdb`` (an atomic rename on the same filesystem). Readers that opened the old
file keep reading it; new readers get the new one; nobody ever sees a half-built warehouse, and
because readers open it read-only and the writer never touches it, nobody hits DuckDB's
"Could not set lock on file". Readers connect through ``open_published``, which opens again a
connection that straddled a publish. The previous publishes are kept (hard links) for rollback.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import signal
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

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


def _reason(error: BaseException) -> str:
    """The operating system's words for an error (``No space left on device``), else its text."""
    if isinstance(error, OSError) and error.strerror:
        named = error.filename and error.errno != errno.ENOSPC
        return error.strerror + (f": {error.filename}" if named else "")
    return " ".join(str(error).split())[:400]


def _crash_point(name: str) -> None:
    """For the reliability tests only (docs/reliability.md): ``CW_TEST_CRASH_AT=<name>`` makes
    this process kill itself with SIGKILL here, like a power cut at that exact point."""
    if os.environ.get("CW_TEST_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


# ---- the refresh lock: one writer at a time ---------------------------------------------------
_held_locks: dict[Path, int] = {}


def acquire_refresh_lock(settings: Settings) -> None:
    """Take the single-writer lock, or fail at once saying who holds it."""
    path = settings.lock_path
    if path in _held_locks:
        return
    try:
        settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise RefreshError(
            f"cannot use the warehouse folder {settings.warehouse_dir}: {_reason(error)}. "
            "It must be a folder this user may write to (--warehouse-dir, CW_WAREHOUSE_DIR)."
        ) from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 200, 0).decode(errors="replace").strip() or "unknown"
        os.close(descriptor)
        raise RefreshError(
            f"another refresh is already running ({holder}); this one did not start. "
            "Wait for it to finish (customer-warehouse status) and run again."
        ) from None
    stamp = f"pid {os.getpid()}, started {datetime.now().isoformat(timespec='seconds')}"
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, stamp.encode(), 0)
    except OSError as error:
        os.close(descriptor)
        raise RefreshError(
            f"cannot write the refresh lock {path}: {_reason(error)}. "
            "Check free disk space in the warehouse folder."
        ) from None
    _held_locks[path] = descriptor


def release_refresh_lock(settings: Settings) -> None:
    descriptor = _held_locks.pop(settings.lock_path, None)
    if descriptor is not None:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


# ---- work database -------------------------------------------------------------------------
def _writer_of(path: Path) -> str | None:
    """Who still holds DuckDB's write lock on ``path`` (a process a killed refresh left behind,
    such as its dbt), or None. DuckDB locks database files with POSIX record locks."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.lockf(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        pass
    else:
        fcntl.lockf(descriptor, fcntl.LOCK_UN)
        return None
    finally:
        os.close(descriptor)
    try:
        inode = str(path.stat().st_ino)
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if len(fields) > 5 and fields[5].rsplit(":", 1)[-1] == inode:
                command = Path(f"/proc/{fields[4]}/cmdline").read_bytes().replace(b"\0", b" ")
                return f"pid {fields[4]} ({command.decode(errors='replace').strip()[:120]})"
    except OSError:
        pass
    return "another process"


def prepare_work_database(settings: Settings) -> Path:
    """Start the work database from the last publish (raw history is incremental)."""
    work = settings.work_path
    holder = _writer_of(work)
    if holder:
        raise RefreshError(
            f"the work database {work} is still open for writing by {holder}, most likely a "
            "process of an earlier refresh that was killed. Wait for it to end (or stop it), "
            "then refresh again; the published warehouse is untouched."
        )
    # Publishing renames into the warehouse folder: find out now, not after the build.
    probe = settings.warehouse_dir / ".write-probe"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise RefreshError(
            f"cannot write to the warehouse folder {settings.warehouse_dir} "
            f"({_reason(error)}), where a refresh publishes. Check that this user may write "
            "there (permissions, a read-only mount, the immutable attribute); the published "
            "warehouse is untouched."
        ) from None
    try:
        work.parent.mkdir(parents=True, exist_ok=True)
        _remove_work_files(work)
        if settings.published_path.exists():
            shutil.copyfile(settings.published_path, work)
        con = connect(work, settings.memory_limit, settings.temp_dir, settings.threads)
        try:
            ensure_raw_schema(con)
        finally:
            con.close()
    except (OSError, duckdb.Error) as error:
        _remove_work_files(work)  # don't leave a half copy on a full disk
        raise RefreshError(
            f"cannot write the work database in {work.parent}: {_reason(error)}. "
            "Check free disk space and that this user may write to the warehouse folder "
            f"{settings.warehouse_dir}; the published warehouse is untouched."
        ) from None
    return work


def _remove_work_files(work: Path) -> None:
    """The work database, its WAL and DuckDB's spill folder (<name>.tmp) from an earlier run."""
    for leftover in work.parent.glob(work.name + "*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def publish(settings: Settings) -> Path:
    """Atomically replace warehouse.duckdb by the audited work database; keep history.

    A failure (or a crash) before the rename leaves the served file as it was; after it, the new
    publish is complete and only the history clean-up is left."""
    work, published = settings.work_path, settings.published_path
    try:
        con = connect(work)
        try:
            con.execute("checkpoint")
        finally:
            con.close()
        with work.open("rb+") as handle:
            os.fsync(handle.fileno())
        settings.history_dir.mkdir(parents=True, exist_ok=True)
        earlier = history(settings)
        # A refresh killed between the link and the rename left that link: don't keep it twice.
        if published.exists() and not (earlier and os.path.samefile(earlier[0], published)):
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            os.link(published, settings.history_dir / f"warehouse-{stamp}.duckdb")
        _crash_point("publish:before-rename")
        os.replace(work, published)
    except (OSError, duckdb.Error) as error:
        raise RefreshError(
            f"cannot publish into {settings.warehouse_dir}: {_reason(error)}. Check free disk "
            "space and that this user may write there; readers still see the previous warehouse."
        ) from None
    _crash_point("publish:after-rename")
    try:
        _fsync_directory(published.parent)
        for old in history(settings)[settings.keep_publishes :]:
            old.unlink()
    except OSError:
        pass  # published already; the next refresh prunes the history again
    return published


# A publish lands at most once per refresh; more replacements while one reader connects mean
# something renames files in a loop.
OPEN_PUBLISHED_ATTEMPTS = 5


def _read_only(path: Path) -> duckdb.DuckDBPyConnection:
    return connect(path, read_only=True)


def _file_identity(path: Path) -> tuple[int, int, int]:
    status = path.stat()
    return status.st_dev, status.st_ino, status.st_ctime_ns


def open_published(
    path: Path,
    open_file: Callable[[Path], duckdb.DuckDBPyConnection] = _read_only,
) -> duckdb.DuckDBPyConnection:
    """Connect to the published warehouse (by default read-only; the dashboard attaches it to an
    in-memory database) as one whole publish.

    DuckDB opens a database file by name three times while connecting: for its magic bytes, for
    its headers, then for good. A publish renamed into place between the second and the third
    makes the reader take one file's headers with the other's blocks, which fails with `IO
    Error: No more data remaining in MetadataReader` or a serialization error. So the file's
    identity is compared before and after connecting, and a connection that straddles a publish
    is discarded and opened again."""
    for _ in range(OPEN_PUBLISHED_ATTEMPTS):
        before = _file_identity(path)
        try:
            opened = open_file(path)
        except duckdb.Error:
            if _file_identity(path) != before:
                continue
            raise
        if _file_identity(path) == before:
            return opened
        opened.close()
    raise RefreshError(
        f"{path} was replaced {OPEN_PUBLISHED_ATTEMPTS} times while it was being opened; "
        "something renames files into the warehouse folder in a loop"
    )


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
    except OSError as error:
        raise RefreshError(
            f"cannot roll back in {settings.warehouse_dir}: {_reason(error)}; the served "
            "warehouse is unchanged."
        ) from None
    finally:
        release_refresh_lock(settings)
    return previous


# ---- what a refresh would change ------------------------------------------------------------
def pending_files(settings: Settings) -> list[str]:
    """Extract files that are new or changed since the last publish (by name, size, time)."""
    known: set[tuple] = set()
    if settings.published_path.exists():
        con = open_published(settings.published_path)
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


def _last_publish(settings: Settings) -> dict | None:
    """The run log record of the newest refresh that published, if any."""
    return next((r for r in reversed(read_run_records(settings)) if r["published"]), None)


def project_changed_since_last_publish(settings: Settings) -> bool:
    """True when the last publish was built by another version of the project (or there is
    none): its incremental models may hold rows the current SQL would compute differently."""
    last = _last_publish(settings)
    return last is None or last.get("project_fingerprint") != project_fingerprint()


def is_up_to_date(settings: Settings) -> bool:
    """True when the last publish used the same files, as-of date and project as now."""
    last = _last_publish(settings)
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
    try:
        settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
        with settings.run_log_path.open("a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(record.to_json() + "\n")
    except OSError as error:
        raise RefreshError(
            f"cannot write the run log {settings.run_log_path}: {_reason(error)}"
        ) from None


def read_run_records(settings: Settings, limit: int | None = None) -> list[dict]:
    if not settings.run_log_path.exists():
        return []
    lines = settings.run_log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a line torn by a process killed while writing it (or an empty line)
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
