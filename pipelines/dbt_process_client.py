"""The "dbt executable" dagster-dbt runs when a dbt process is already waiting (dbt_process.py).

It hands its arguments, environment, working folder and standard streams to that process and
exits with its exit code; without a waiting process it runs dbt itself. It runs under
`python -S` and imports nothing outside the standard library, so it starts in milliseconds.
"""

import json
import os
import signal
import socket
import sys

REQUEST_HEADER_BYTES = 8
NO_EXIT_CODE = 2


def main(socket_path: str, dbt_executable: str) -> None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(socket_path)
        dbt_pid = _accepted_by(connection)
    except (OSError, ValueError):  # no process waits, or it ended before accepting
        os.execv(dbt_executable, [dbt_executable, *sys.argv[1:]])
    # dagster-dbt interrupts dbt with SIGINT when a run is cancelled: pass it on.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda received, _frame: os.kill(dbt_pid, received))
    request = json.dumps(
        {"args": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd()}
    ).encode()
    socket.send_fds(connection, [len(request).to_bytes(REQUEST_HEADER_BYTES, "big")], [0, 1, 2])
    connection.sendall(request)
    reply = b""
    while chunk := connection.recv(16):
        reply += chunk
    if not reply:
        print("the dbt process ended without an exit code", file=sys.stderr)
    sys.exit(int(reply) if reply else NO_EXIT_CODE)


def _accepted_by(connection: socket.socket) -> int:
    """The dbt process's id, sent as one line once it has accepted (after its parse)."""
    line = b""
    while not line.endswith(b"\n"):
        byte = connection.recv(1)
        if not byte:
            raise ConnectionResetError("the dbt process ended before accepting")
        line += byte
    return int(line)
