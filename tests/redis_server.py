"""A real `redis-server` for the tests of shared state: its own instance, port and directory, stopped by its PID.

No persistence (`--save ''`, `--appendonly no`): a stopped instance forgets everything, like a Redis that was
replaced. Start-up is awaited by reading the server's own log for its "ready" line (no polling, no sleeps),
then confirmed with a PING; both bounded.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path
from types import TracebackType

import redis

from tests.processes import free_port

READY_LINE = "Ready to accept connections"
START_TIMEOUT_SECONDS = 15.0


class RedisServer:
    """One redis-server process on 127.0.0.1; `stop()` then `start()` brings it back on the same port, empty."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed: `make test` installs it (apt-get install redis-server)")
        self.executable = executable
        self.directory = directory
        self.port = port if port is not None else free_port()
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        arguments = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        arguments += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""]
        process = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._process = process
        ready = threading.Event()
        log: list[str] = []
        self._reader = threading.Thread(target=_read_log, args=(process, ready, log), daemon=True)
        self._reader.start()
        if not ready.wait(START_TIMEOUT_SECONDS):
            self.stop()
            raise RuntimeError("redis-server did not start:\n" + "".join(log[-20:]))
        with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5) as client:
            assert client.ping() is True

    def stop(self) -> None:
        """Stop this instance by its PID (SIGTERM, then SIGKILL if it lingers), and wait for it to exit."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        # The process has exited: its log ends, the reader sees the end, and the pipe can be closed.
        if self._reader is not None:
            self._reader.join(timeout=10)
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _traceback: TracebackType | None
    ) -> None:
        self.stop()


def _read_log(process: subprocess.Popen[str], ready: threading.Event, log: list[str]) -> None:
    """Read the server's log until it closes: it says when it is ready, and a pipe left unread would fill."""
    assert process.stdout is not None
    for line in process.stdout:
        log.append(line)
        if READY_LINE in line:
            ready.set()
