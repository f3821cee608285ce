"""The refresh's dbt process, started before the build needs it.

A dbt process spends about 3 s before its first model: Python imports dbt and the adapter
(~1.7 s), then dbt loads its parse of the project (~1.2 s; ~3.5 s when it must parse again).
`start()` launches that process in the refresh's first step, so that this runs while the
extracts load (the loader leaves part of the machine's two cores idle). It parses the project
with the refresh's settings and then waits. The dbt step runs `dbt build` through dagster-dbt as
before; its "dbt executable" is a launcher (`pipelines/dbt_process_client.py`) that hands its
arguments, environment and standard streams to the waiting process over a Unix socket. That
process builds with the manifest it already holds and exits. dagster-dbt reads the same output
and exit code as from any dbt process.

The waiting process ends with the refresh that started it (its stdin is a pipe from the refresh,
read to end of file) and removes its folder, so a refresh that fails before the build leaves
nothing running or behind. When the build's settings differ from the parse's, dbt parses again
in the build; when no process waits, the launcher runs dbt itself.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from pipelines import engines
from pipelines.dbt_process_client import REQUEST_HEADER_BYTES
from pipelines.settings import DBT_PROJECT_DIR, DBT_TARGET_DIR, PROJECT_ROOT, Settings

PARTIAL_PARSE_FILE = "partial_parse.msgpack"
PROJECT_PARTIAL_PARSE = DBT_TARGET_DIR / PARTIAL_PARSE_FILE
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")
# dbt's exit codes: 1 when a model or test failed, 2 when dbt itself failed.
EXIT_FAILED, EXIT_ERROR = 1, 2
LAUNCHER_NAME = "dbt"
STOP_TIMEOUT_S = 10


def dbt_environment(settings: Settings) -> dict[str, str]:
    """What profiles.yml reads (the work database of this refresh and its resource limits) and
    what the models read while executing (the as-of date and the months to reopen)."""
    return dict(
        os.environ,
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
        CW_WORK_DATABASE=str(settings.work_path),
        CW_MEMORY_LIMIT=settings.memory_limit,
        CW_THREADS=str(settings.threads),
        CW_DBT_THREADS=str(settings.dbt_threads),
        CW_AS_OF=settings.as_of.isoformat(),
        CW_REOPEN_MONTHS=",".join(settings.reopen_months),
        # dbt's own log file repeats the events dagster-dbt already prints and logs (each
        # node's start, result and errors) and cost ~0.8 s of a demo build even at info level.
        # DBT_LOG_LEVEL_FILE=info (or debug, with every SQL statement) writes it again.
        DBT_LOG_LEVEL_FILE=os.environ.get("DBT_LOG_LEVEL_FILE", "none"),
    )


def keep_partial_parse(target_path: Path) -> None:
    """Make a dbt invocation's parse state the one the next invocation starts from.

    dagster-dbt runs every build in a target folder of its own, seeded from target/; without
    this, a refresh whose settings differ from the last `dbt parse` parses again every night.
    """
    state = target_path / PARTIAL_PARSE_FILE
    if not state.exists():
        return
    staged = PROJECT_PARTIAL_PARSE.with_name(f".{PARTIAL_PARSE_FILE}.{os.getpid()}")
    shutil.copyfile(state, staged)
    staged.replace(PROJECT_PARTIAL_PARSE)


def parse_inputs(args: list[str], env: dict[str, str]) -> dict:
    """What a dbt parse depends on besides the project's files: the --vars and --target flags
    and the CW_ settings profiles.yml and the models read."""
    flags = {}
    for name in ("--vars", "--target"):
        if name in args and args.index(name) + 1 < len(args):
            flags[name] = args[args.index(name) + 1]
    return {"flags": flags, "env": {k: v for k, v in env.items() if k.startswith("CW_")}}


def parse_arguments(settings: Settings) -> list[str]:
    arguments = ["parse", "--quiet", "--profiles-dir", str(DBT_PROJECT_DIR)]
    arguments += ["--project-dir", str(DBT_PROJECT_DIR), "--target", engines.DEFAULT_ENGINE]
    if settings.dbt_vars:
        arguments += ["--vars", json.dumps(settings.dbt_vars)]
    return arguments


# ---- the refresh's side -----------------------------------------------------------------------
@dataclass
class ReadyProcess:
    """A dbt process started for one refresh's settings, and the launcher that reaches it."""

    settings: Settings
    process: subprocess.Popen
    folder: Path

    @property
    def launcher(self) -> Path:
        return self.folder / LAUNCHER_NAME

    def wait(self) -> None:
        """Until the process has exited, and with it closed the work database (DuckDB writes
        its last checkpoint then: minutes for a large warehouse). A process that never got
        its command (the build failed to launch) ends on the end of file."""
        self._end_of_file()
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def stop(self) -> None:
        """End a process that has not built."""
        self._end_of_file()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()  # no database is open before the build
        self.wait()

    def _end_of_file(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()


_ready: ReadyProcess | None = None


def start(settings: Settings) -> str | None:
    """Start a dbt process that parses the project for these settings and waits for the build.

    Only for the default engine (a build on Spark or Postgres copies data first, and parses
    for its own profile). Returns why no process was started where one could have been; the
    build then starts dbt itself, as without this module.
    """
    global _ready
    if _ready is not None:
        _ready.stop()  # from a refresh of this process that ended before its build
        _ready = None
    if engines.current_engine() != engines.DEFAULT_ENGINE:
        return None
    if " " in sys.executable:
        return f"the Python path {sys.executable} has a space, which a launcher line cannot hold"
    folder = Path(tempfile.mkdtemp(prefix="cw-dbt-"))
    try:
        _ready = ReadyProcess(settings, _spawn(settings, folder), folder)
    except OSError as error:
        shutil.rmtree(folder, ignore_errors=True)
        return f"cannot start dbt ahead of the build in {folder.parent}: {error}"
    return None


def _spawn(settings: Settings, folder: Path) -> subprocess.Popen:
    socket_path = folder / "build.sock"
    launcher = folder / LAUNCHER_NAME
    launcher.write_text(
        f"#!{sys.executable} -S\n"
        "import sys\n"
        f"sys.path.insert(0, {str(PROJECT_ROOT)!r})\n"
        "from pipelines.dbt_process_client import main\n"
        f"main({str(socket_path)!r}, {str(DBT_EXECUTABLE)!r})\n"
    )
    launcher.chmod(0o755)
    if not os.access(launcher, os.X_OK):  # a temporary folder mounted noexec
        raise PermissionError(f"{launcher} cannot be executed")
    # Listening before the process starts, a launcher can connect at once and waits for the
    # parse; once the process has ended (and with it the last open listener), connecting fails
    # and the launcher runs dbt itself.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(socket_path))
        listener.listen(1)
        return subprocess.Popen(
            [sys.executable, "-m", "pipelines.dbt_process", str(listener.fileno())]
            + parse_arguments(settings),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=[listener.fileno()],
            cwd=PROJECT_ROOT,
            env=dict(
                dbt_environment(settings), DBT_TARGET_PATH=str(folder), DBT_LOG_PATH=str(folder)
            ),
        )


def take(settings: Settings) -> ReadyProcess | None:
    """The process started for these settings, if it is still waiting; the caller builds
    through its launcher and then wait()s for it."""
    global _ready
    ready, _ready = _ready, None
    if ready is None:
        return None
    if ready.settings != settings or ready.process.poll() is not None:
        ready.stop()
        return None
    return ready


# ---- the dbt process's side -------------------------------------------------------------------
_building = threading.Event()


def _exit_with_refresh_unless_building(refresh_pipe: int, folder: Path) -> None:
    """End of file on the pipe from the refresh: it ended (or was killed) before its build. A
    build under way is finished, as a dbt subprocess would be."""
    while os.read(refresh_pipe, 4096):
        pass
    if not _building.is_set():
        shutil.rmtree(folder, ignore_errors=True)  # a killed refresh cannot remove it
        os._exit(0)


def serve(listener: socket.socket, arguments: list[str]) -> int:
    """Parse, then run the one dbt command a launcher sends; its exit code is the launcher's."""
    target = Path(os.environ["DBT_TARGET_PATH"])
    # stdin is the pipe from the refresh until the launcher's streams replace it; read as a
    # raw descriptor of its own, it neither holds a lock at exit nor reads the launcher's stdin
    refresh_pipe = os.dup(0)
    threading.Thread(
        target=_exit_with_refresh_unless_building, args=(refresh_pipe, target), daemon=True
    ).start()
    if PROJECT_PARTIAL_PARSE.exists():
        shutil.copyfile(PROJECT_PARTIAL_PARSE, target / PARTIAL_PARSE_FILE)
    parsed = _invoke(arguments)
    manifest = parsed.result if parsed.success else None
    if manifest is not None:
        _keep_parse_state(target)
    parsed_for = parse_inputs(arguments, dict(os.environ))
    connection, _ = listener.accept()
    _building.set()
    listener.close()  # one command per process: a second launcher runs dbt itself
    # The process id tells the launcher whom to pass an interrupt to, and that it was accepted.
    connection.sendall(f"{os.getpid()}\n".encode())
    header, streams, _, _ = socket.recv_fds(connection, REQUEST_HEADER_BYTES, 3)
    length = int.from_bytes(header, "big")
    payload = b""
    while len(payload) < length:
        chunk = connection.recv(length - len(payload))
        if not chunk:
            return EXIT_ERROR  # the launcher ended while sending its command
        payload += chunk
    request = json.loads(payload)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for stream, number in zip(streams, (0, 1, 2), strict=True):
        os.dup2(stream, number)
        os.close(stream)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    # The build's log folder gets the parse's log too (when DBT_LOG_LEVEL_FILE asks for one):
    # one dbt.log per run tells whether the parse was reused.
    build_logs = request["env"].get("DBT_LOG_PATH")
    if build_logs and (target / "dbt.log").exists():
        Path(build_logs).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target / "dbt.log", Path(build_logs) / "dbt.log")
    if manifest is not None and parse_inputs(request["args"], request["env"]) != parsed_for:
        # dagster-dbt logs this line with the rest of dbt's output
        print("the build's settings differ from the early parse's: dbt parses again.")
        manifest = None
    result = _invoke(request["args"], manifest)
    if manifest is None and "DBT_TARGET_PATH" in request["env"]:
        _keep_parse_state(Path(request["env"]["DBT_TARGET_PATH"]))
    if result.success:
        code = 0
    else:
        code = EXIT_ERROR if result.exception is not None else EXIT_FAILED
        if result.exception is not None:
            print(f"dbt failed: {result.exception}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    connection.sendall(str(code).encode())
    connection.close()
    return code


def _invoke(arguments: list[str], manifest=None):
    from dbt.cli.main import dbtRunner

    sys.argv = ["dbt", *arguments]  # what dbt logs as its invocation command
    return dbtRunner(manifest=manifest).invoke(arguments)


def _keep_parse_state(target_path: Path) -> None:
    """The next refresh parses faster from it; a build's outcome never depends on keeping it."""
    try:
        keep_partial_parse(target_path)
    except OSError as error:
        print(f"dbt's parse state was not kept for the next refresh: {error}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(serve(socket.socket(fileno=int(sys.argv[1])), sys.argv[2:]))
