"""A bad night never shows users a half-built or wrong warehouse: real processes, real files.

Dashboard-style readers query the published file while refreshes run; refreshes are killed with
SIGKILL during the load, during dbt and inside publishing; two refreshes start at once; the disk
fills up and the warehouse folder cannot be written. Every case works on copies of the small
generated extracts and their published warehouse (tests/conftest.py) in temporary folders.
docs/reliability.md describes what is covered and how to run the longer soak.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from tests.conftest import AS_OF, cli

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("CW_RELIABILITY_SEED", random.randrange(10**6)))
# Rows of order lines in three layers, counted in one read: a reader sees one publish or the
# other, never raw rows of one and modelled rows of another.
COUNTS_SQL = (
    "select (select count(*) from raw.sales_order_lines),"
    " (select count(*) from staging.stg_erp__sales_order_lines),"
    " (select count(*) from intermediate.int_sales__order_lines)"
)
# Readers connect as the dashboard, exports and `status` do (pipelines.storage.open_published).
READER = r"""
import json, os, sys, time
from pathlib import Path
from pipelines.storage import open_published
path, out, stop, sql = sys.argv[1:5]
with open(out, "w") as log:
    while True:
        stopping = os.path.exists(stop)
        try:
            con = open_published(Path(path))
            try:
                log.write(json.dumps({"ok": list(con.execute(sql).fetchone())}) + "\n")
            finally:
                con.close()
        except Exception as error:
            log.write(json.dumps({"error": repr(error)}) + "\n")
        log.flush()
        if stopping:
            break
        time.sleep(0.02)
"""


# ---- helpers ----------------------------------------------------------------------------------
def copy_warehouse(published: Path, target: Path) -> Path:
    """A private copy of a published warehouse folder (without its stale work folder)."""
    shutil.copytree(published.parent, target, ignore=shutil.ignore_patterns("work"))
    return target


def first_id(raw: Path, extract: str) -> str:
    [path] = sorted((raw / extract).glob("*.csv"))[:1]
    with path.open(encoding="utf-8") as handle:
        handle.readline()
        return handle.readline().split(",")[0].strip('"')


def add_order_lines(raw: Path, name: str, rows: int) -> Path:
    """A night's new extract file: ``rows`` new order lines of known customers and products."""
    customer, product = first_id(raw, "customers"), first_id(raw, "products")
    path = raw / "sales_order_lines" / f"{name}.csv"
    lines = [
        f"{name.upper()},{n},{AS_OF.isoformat()},{customer},{product},1,10.00"
        for n in range(1, rows + 1)
    ]
    path.write_text(
        "order_id,line_no,order_date,customer_id,product_id,quantity,unit_price\n"
        + "\n".join(lines)
        + "\n"
    )
    return path


def counts(path: Path) -> tuple[int, ...]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return tuple(con.execute(COUNTS_SQL).fetchone())
    finally:
        con.close()


class Refresh:
    """A `customer-warehouse refresh` process with its output in files."""

    def __init__(self, raw: Path, warehouse: Path, logs: Path, *args: str, env=None):
        logs.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = logs / "stdout.txt", logs / "stderr.txt"
        with self.stdout_path.open("w") as out, self.stderr_path.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipelines", "refresh", "--raw-dir", str(raw),
                 "--warehouse-dir", str(warehouse), "--as-of", AS_OF.isoformat(), *args],
                stdout=out, stderr=err, env={**os.environ, **(env or {})},
            )  # fmt: skip
        self.pid = self.process.pid

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def wait(self, timeout: float = 900) -> int:
        return self.process.wait(timeout=timeout)

    def wait_for(self, marker: str, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.stderr():
            assert self.process.poll() is None, f"ended before {marker!r}:\n{self.describe()}"
            assert time.monotonic() < deadline, f"no {marker!r} after {timeout} s"
            time.sleep(0.05)

    def kill(self) -> list[psutil.Process]:
        """SIGKILL the refresh process only, like the OOM killer; returns its orphans."""
        children = psutil.Process(self.pid).children(recursive=True)
        os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=60)
        return children

    def describe(self) -> str:
        return f"--- stdout\n{self.stdout()[-3000:]}\n--- stderr\n{self.stderr()[-5000:]}"


def assert_clean_failure(completed_stdout: str, completed_stderr: str, *phrases: str) -> str:
    """A failure the operator can read: stderr ends in one `error:` paragraph naming the cause
    (Dagster's log of the failed step, traceback included, stays above it), and stdout ends in
    the run summary, not a traceback."""
    last = [line for line in completed_stderr.splitlines() if line.strip()][-1]
    assert last.startswith("error: "), completed_stderr[-3000:]
    for phrase in phrases:
        assert phrase in last, last
    tail = "\n".join(completed_stdout.strip().splitlines()[-5:])
    assert "Traceback" not in tail and 'File "' not in tail, tail
    return last


# ---- (a) readers during a refresh, (c) two refreshes at once ---------------------------------
@pytest.fixture(scope="module")
def concurrent_night(published_warehouse, generated_raw, tmp_path_factory):
    """Readers query the published file in a loop while two refreshes are started at once on
    a night that delivered one new order-lines file."""
    root = tmp_path_factory.mktemp("concurrent")
    warehouse = copy_warehouse(published_warehouse, root / "warehouse")
    raw = root / "raw"
    shutil.copytree(generated_raw, raw)
    add_order_lines(raw, "late_orders", 40)
    published = warehouse / "warehouse.duckdb"
    before = counts(published)

    stop = root / "stop-readers"
    readers = []
    for n in range(2):
        log = root / f"reader-{n}.jsonl"
        process = subprocess.Popen(
            [sys.executable, "-c", READER, str(published), str(log), str(stop), COUNTS_SQL]
        )
        readers.append((process, log))
    deadline = time.monotonic() + 120
    while not all(log.exists() and log.read_text().count("\n") >= 3 for _, log in readers):
        assert time.monotonic() < deadline, "readers did not start"
        time.sleep(0.1)

    refreshes = [Refresh(raw, warehouse, root / f"refresh-{n}", "--quiet") for n in range(2)]
    codes = [r.wait() for r in refreshes]
    time.sleep(1)  # a few reads of the new publish
    stop.touch()
    for process, _ in readers:
        process.wait(timeout=120)
    reads = [json.loads(line) for _, log in readers for line in log.read_text().splitlines()]
    return {
        "before": before,
        "after": counts(published),
        "reads": reads,
        "refreshes": refreshes,
        "codes": codes,
    }


def test_readers_see_the_old_or_the_new_publish_never_a_mix(concurrent_night):
    before, after, reads = (concurrent_night[k] for k in ("before", "after", "reads"))
    errors = [r["error"] for r in reads if "error" in r]
    seen = [tuple(r["ok"]) for r in reads if "ok" in r]

    assert errors == []
    assert after == tuple(n + 40 for n in before), (before, after)
    assert set(seen) == {before, after}  # both publishes were read, and nothing else
    assert seen.index(after) > 0 and seen[-1] == after
    assert len(seen) >= 20


def test_second_refresh_started_at_once_refuses_and_names_the_first(concurrent_night):
    refreshes, codes = concurrent_night["refreshes"], concurrent_night["codes"]
    assert sorted(codes) == [0, 1], [r.describe() for r in refreshes]
    winner, loser = (refreshes[0], refreshes[1]) if codes[0] == 0 else refreshes[::-1]

    assert "Refresh SUCCEEDED" in winner.stdout()
    assert_clean_failure(
        loser.stdout(),
        loser.stderr(),
        f"another refresh is already running (pid {winner.pid}, started",
        "this one did not start",
    )


# ---- (b) SIGKILL at random points ------------------------------------------------------------
PUBLISH = (
    "from pipelines.settings import load_settings; from pipelines.storage import publish;"
    " publish(load_settings())"
)


def crash_while_publishing(warehouse: Path, point: str) -> None:
    """Publish a finished work database in a real process that SIGKILLs itself at ``point``
    (CW_TEST_CRASH_AT, see pipelines/storage.py): the exact moment a random kill rarely hits."""
    work = warehouse / "work" / "warehouse.duckdb"
    work.parent.mkdir(exist_ok=True)
    shutil.copyfile(warehouse / "warehouse.duckdb", work)
    con = duckdb.connect(str(work))
    con.execute("insert into raw.sales_order_lines select * from raw.sales_order_lines limit 7")
    con.close()
    env = {**os.environ, "CW_WAREHOUSE_DIR": str(warehouse), "CW_TEST_CRASH_AT": point}
    crashed = subprocess.run([sys.executable, "-c", PUBLISH], env=env, capture_output=True)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()[-3000:]


def history_of(warehouse: Path) -> list[Path]:
    return sorted((warehouse / "history").glob("warehouse-*.duckdb"), reverse=True)


def test_killed_refresh_leaves_the_served_warehouse_untouched_and_the_next_succeeds(
    published_warehouse, generated_raw, tmp_path
):
    rng = random.Random(SEED)
    warehouse = copy_warehouse(published_warehouse, tmp_path / "warehouse")
    raw = tmp_path / "raw"
    shutil.copytree(generated_raw, raw)
    add_order_lines(raw, "late_orders", 30)
    published = warehouse / "warehouse.duckdb"
    served = published.read_bytes()
    before = counts(published)

    def killed_at(name: str, marker: str, delay: tuple[float, float]) -> None:
        refresh = Refresh(raw, warehouse, tmp_path / name)
        refresh.wait_for(marker)
        time.sleep(rng.uniform(*delay))
        orphans = refresh.kill()
        gone, alive = psutil.wait_procs(orphans, timeout=120)
        assert not alive, f"processes of the killed refresh still run: {alive}"
        assert published.read_bytes() == served, f"{name} (seed {SEED}) changed the served file"

    # During the load: the work database is being filled.
    killed_at("during-load", "work database", (0.0, 1.0))
    # During dbt: models are being rebuilt in the work database (dbt is a child process).
    killed_at("during-dbt", "Running dbt command", (0.5, 4.0))
    # Inside publishing, after the served file was linked into history, before the rename.
    crash_while_publishing(warehouse, "publish:before-rename")
    assert published.read_bytes() == served
    assert [path.read_bytes() == served for path in history_of(warehouse)] == [True]

    # The next refresh succeeds, and the crash left no duplicate in the history.
    result = cli("refresh", "--raw-dir", str(raw), "--warehouse-dir", str(warehouse),
                 "--as-of", AS_OF.isoformat(), "--quiet")  # fmt: skip
    assert "Refresh SUCCEEDED" in result.stdout
    assert counts(published) == tuple(n + 30 for n in before)
    assert [path.read_bytes() == served for path in history_of(warehouse)] == [True]
    runs = [json.loads(line) for line in (warehouse / "runs.jsonl").read_text().splitlines()]
    assert runs[-1]["outcome"] == "succeeded" and runs[-1]["published"]


def test_crash_right_after_the_rename_serves_the_complete_new_publish(
    published_warehouse, tmp_path
):
    warehouse = copy_warehouse(published_warehouse, tmp_path / "warehouse")
    published = warehouse / "warehouse.duckdb"
    served, before = published.read_bytes(), counts(published)

    crash_while_publishing(warehouse, "publish:after-rename")
    assert counts(published)[0] == before[0] + 7  # the new publish, whole
    assert [path.read_bytes() == served for path in history_of(warehouse)] == [True]
    cli("rollback", "--warehouse-dir", str(warehouse))
    assert published.read_bytes() == served


def test_refresh_refuses_while_a_leftover_process_still_writes_the_work_database(
    published_warehouse, generated_raw, tmp_path
):
    """What a killed refresh's orphaned dbt looks like to the next refresh: it must not build
    next to it (both would write the same work files), and it must say who is in the way."""
    warehouse = copy_warehouse(published_warehouse, tmp_path / "warehouse")
    raw = tmp_path / "raw"
    shutil.copytree(generated_raw, raw)
    add_order_lines(raw, "late_orders", 5)
    work = warehouse / "work" / "warehouse.duckdb"
    work.parent.mkdir()
    shutil.copyfile(warehouse / "warehouse.duckdb", work)
    served = (warehouse / "warehouse.duckdb").read_bytes()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]);"
         " print('ready', flush=True); time.sleep(600)", str(work)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = cli("refresh", "--raw-dir", str(raw), "--warehouse-dir", str(warehouse),
                     "--as-of", AS_OF.isoformat(), "--quiet", check=False)  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1
    assert_clean_failure(
        result.stdout, result.stderr, f"is still open for writing by pid {holder.pid}"
    )
    assert (warehouse / "warehouse.duckdb").read_bytes() == served


# ---- (d) the warehouse folder cannot be written --------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """Mount a tmpfs of a given size (root only; skipped where mounting is not possible)."""
    mounted = []

    def mount(size_bytes: int) -> Path:
        point = tmp_path / f"disk-{len(mounted)}"
        point.mkdir()
        completed = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_bytes // 1024}k", "tmpfs", str(point)],
            capture_output=True, text=True,
        )  # fmt: skip
        if completed.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {completed.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_warehouse_path_that_is_a_file_fails_with_a_clear_message(generated_raw, tmp_path):
    not_a_folder = tmp_path / "warehouse"
    not_a_folder.write_text("oops")
    result = cli("refresh", "--raw-dir", str(generated_raw), "--warehouse-dir",
                 str(not_a_folder), "--quiet", check=False)  # fmt: skip
    assert result.returncode == 2
    assert_clean_failure(result.stdout, result.stderr, "is a file, not a folder")


def test_disk_too_small_for_the_work_copy_fails_clearly(
    published_warehouse, generated_raw, tmp_path, small_disk
):
    size = published_warehouse.stat().st_size
    warehouse = copy_warehouse(published_warehouse, small_disk(size + 512 * 1024) / "wh")
    shutil.rmtree(warehouse / "history", ignore_errors=True)
    raw = tmp_path / "raw"
    shutil.copytree(generated_raw, raw)
    add_order_lines(raw, "late_orders", 5)
    served = (warehouse / "warehouse.duckdb").read_bytes()

    result = cli("refresh", "--raw-dir", str(raw), "--warehouse-dir", str(warehouse),
                 "--as-of", AS_OF.isoformat(), "--quiet", check=False)  # fmt: skip
    assert result.returncode == 1
    assert_clean_failure(
        result.stdout, result.stderr, "No space left on device", "published warehouse is untouched"
    )
    assert (warehouse / "warehouse.duckdb").read_bytes() == served
    assert not list((warehouse / "work").glob("warehouse.duckdb*"))  # no half copy left


def test_disk_full_during_the_build_fails_clearly(
    published_warehouse, generated_raw, tmp_path, small_disk
):
    size = published_warehouse.stat().st_size
    # Room for the served file and the work copy, not for what the build adds to it.
    warehouse = copy_warehouse(published_warehouse, small_disk(2 * size + 512 * 1024) / "wh")
    shutil.rmtree(warehouse / "history", ignore_errors=True)
    raw = tmp_path / "raw"
    shutil.copytree(generated_raw, raw)
    add_order_lines(raw, "late_orders", 5)
    served = (warehouse / "warehouse.duckdb").read_bytes()

    result = cli("refresh", "--raw-dir", str(raw), "--warehouse-dir", str(warehouse),
                 "--as-of", AS_OF.isoformat(), "--quiet", check=False)  # fmt: skip
    assert result.returncode == 1
    assert_clean_failure(result.stdout, result.stderr, "did not publish", "is nearly full")
    assert (warehouse / "warehouse.duckdb").read_bytes() == served


def test_unwritable_warehouse_folder_fails_before_building(
    published_warehouse, generated_raw, tmp_path
):
    """Permission denied, as root: the immutable attribute (chattr +i) refuses even root."""
    warehouse = copy_warehouse(published_warehouse, tmp_path / "warehouse")
    (warehouse / "work").mkdir()
    raw = tmp_path / "raw"
    shutil.copytree(generated_raw, raw)
    add_order_lines(raw, "late_orders", 5)
    served = (warehouse / "warehouse.duckdb").read_bytes()
    immutable = subprocess.run(["chattr", "+i", str(warehouse)], capture_output=True, text=True)
    if immutable.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {immutable.stderr.strip()}")
    try:
        result = cli("refresh", "--raw-dir", str(raw), "--warehouse-dir", str(warehouse),
                     "--as-of", AS_OF.isoformat(), "--quiet", check=False)  # fmt: skip
    finally:
        subprocess.run(["chattr", "-i", str(warehouse)], check=True)
    assert result.returncode == 1
    assert_clean_failure(
        result.stdout,
        result.stderr,
        f"cannot write to the warehouse folder {warehouse} (Operation not permitted",
    )
    assert "no extract file was loaded" in result.stdout  # it stopped before loading anything
    assert (warehouse / "warehouse.duckdb").read_bytes() == served
