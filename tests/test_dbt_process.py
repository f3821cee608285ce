"""The dbt process a refresh starts early: real dbt, real processes, real Unix sockets."""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipelines import dbt_process
from pipelines.dbt_process import dbt_environment
from pipelines.settings import DBT_PROJECT_DIR, PROJECT_ROOT, load_settings

DBT_PROCESS_TIMEOUT_S = 120


@pytest.fixture
def settings(tmp_path):
    settings = load_settings(warehouse_dir=tmp_path / "wh")
    settings.work_path.parent.mkdir(parents=True)
    return settings


@pytest.fixture
def ready(settings):
    dbt_process.start(settings)
    process = dbt_process.take(settings)
    assert process is not None
    yield process
    process.stop()


def run_launcher(
    launcher: Path, settings, build_target: Path, *args: str, **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(launcher), *args, "--target", "duckdb"],
        cwd=DBT_PROJECT_DIR,
        env={**dbt_environment(settings), "DBT_TARGET_PATH": str(build_target), **env},
        capture_output=True,
        text=True,
        timeout=DBT_PROCESS_TIMEOUT_S,
    )


LIST_ONE_MODEL = ("ls", "--select", "stg_erp__customers", "--output", "name")


def test_the_waiting_process_runs_the_launchers_command_with_its_parse_and_exits(
    ready, settings, tmp_path
):
    listed = run_launcher(ready.launcher, settings, tmp_path / "build", *LIST_ONE_MODEL)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "stg_erp__customers" in listed.stdout
    assert not (tmp_path / "build" / "partial_parse.msgpack").exists()  # nothing parsed
    assert ready.process.wait(timeout=DBT_PROCESS_TIMEOUT_S) == 0


def test_a_build_with_other_settings_than_the_parse_parses_again(ready, settings, tmp_path):
    listed = run_launcher(
        ready.launcher, settings, tmp_path / "build", *LIST_ONE_MODEL, CW_AS_OF="2020-01-31"
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "dbt parses again" in listed.stdout
    assert "stg_erp__customers" in listed.stdout
    assert (tmp_path / "build" / "partial_parse.msgpack").exists()


def test_dbt_errors_reach_the_launcher_as_dbt_exit_code_2(ready, settings, tmp_path):
    failed = run_launcher(ready.launcher, settings, tmp_path / "build", "build", "--no-such-option")
    assert failed.returncode == 2
    assert "no-such-option" in failed.stdout + failed.stderr
    assert ready.process.wait(timeout=DBT_PROCESS_TIMEOUT_S) == 2  # it ran there, not in a new dbt


def test_a_cancelled_build_is_interrupted_in_the_dbt_process(ready, settings, tmp_path):
    # dagster-dbt sends SIGINT to the launcher when a run is cancelled; a long query is under way
    endless = "select sum(hash(a.range * b.range)) from range(300000) a, range(300000) b"
    launcher = subprocess.Popen(
        [str(ready.launcher), "show", "--inline", endless, "--target", "duckdb"],
        cwd=DBT_PROJECT_DIR,
        env={**dbt_environment(settings), "DBT_TARGET_PATH": str(tmp_path / "build")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: list(map(lines.put, launcher.stdout)), daemon=True)
    reader.start()
    try:
        while "Running with dbt" not in lines.get(timeout=DBT_PROCESS_TIMEOUT_S):
            pass  # until the dbt process has taken the command
        time.sleep(1)  # and started the query
        launcher.send_signal(signal.SIGINT)
        assert ready.process.wait(timeout=DBT_PROCESS_TIMEOUT_S) == 2
        assert launcher.wait(timeout=DBT_PROCESS_TIMEOUT_S) == 2
    finally:
        launcher.kill()
        ready.process.kill()


def test_the_waiting_process_ends_with_the_refresh_and_removes_its_folder(ready):
    deadline = time.monotonic() + DBT_PROCESS_TIMEOUT_S
    while not (ready.folder / "manifest.json").exists() and time.monotonic() < deadline:
        time.sleep(0.2)  # parsed: now it waits for a command
    ready.process.stdin.close()
    assert ready.process.wait(timeout=DBT_PROCESS_TIMEOUT_S) == 0
    assert not ready.folder.exists()


def test_a_process_started_for_other_settings_is_not_taken(settings, tmp_path):
    dbt_process.start(settings)
    started = dbt_process._ready
    assert dbt_process.take(load_settings(warehouse_dir=tmp_path / "other")) is None
    assert started.process.poll() is not None  # stopped, not left waiting


def test_the_launcher_runs_dbt_itself_when_no_process_waits(tmp_path):
    stand_in = tmp_path / "dbt"
    stand_in.write_text('#!/bin/sh\necho stand-in dbt got "$@"\n')
    stand_in.chmod(0o755)
    completed = subprocess.run(
        [sys.executable, "-S", "-c"]
        + [
            f"import sys; sys.path.insert(0, {str(PROJECT_ROOT)!r}); "
            "from pipelines.dbt_process_client import main; "
            f"main({str(tmp_path / 'nobody.sock')!r}, {str(stand_in)!r})",
            "build",
            "--full-refresh",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "stand-in dbt got build --full-refresh"
