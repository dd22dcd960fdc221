"""What the end-to-end tests share to run real processes on this machine: a free loopback port, and
`parse-mcp --transport http` as a subprocess, read until it listens."""

from __future__ import annotations

import functools
import os
import resource
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import IO

import anyio
import httpx2
import uvicorn
from starlette.types import ASGIApp


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def keyless_env() -> dict[str, str]:
    """This environment without any key or setting of ours: a subprocess gets only what its test gives it."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PARSE_", "SCRAPERAPI_"))}


@contextmanager
def sandbox_http_server(
    port: int, extra_env: Mapping[str, str] | None = None, *, stdout: int = subprocess.DEVNULL
) -> Iterator[subprocess.Popen[bytes]]:
    """`parse-mcp --sandbox --transport http` on 127.0.0.1:`port`, logging at debug to its stderr pipe."""
    command = [sys.executable, "-m", "parse_mcp.cli", "--sandbox", "--transport", "http", "--port", str(port)]
    command += ["--log-level", "debug"]
    env = {**keyless_env(), **(extra_env or {})}
    with subprocess.Popen(command, env=env, stdout=stdout, stderr=subprocess.PIPE) as process:
        try:
            yield process
        finally:
            process.terminate()
            process.wait(timeout=10)


async def read_until_listening(process: subprocess.Popen[bytes]) -> bytes:
    """What the server wrote to stderr until uvicorn said it accepts connections (bounded, no polling)."""
    assert process.stderr is not None
    stderr = process.stderr
    seen = b""
    with anyio.fail_after(30):
        while b"Uvicorn running on" not in seen:
            line = await anyio.to_thread.run_sync(stderr.readline)
            assert line, f"the server exited before it listened: {seen.decode(errors='replace')}"
            seen += line
    return seen


def drain_stderr(process: subprocess.Popen[bytes]) -> Callable[[], bytes]:
    """Read the process's stderr from now on in a thread, so that a server logging at debug never blocks on a full
    pipe (64 KB) mid-call; the function returned waits for the process to end and gives everything read."""
    assert process.stderr is not None
    stderr = process.stderr
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(stderr.readline, b"")), daemon=True)
    reader.start()

    def everything() -> bytes:
        process.wait(timeout=10)
        reader.join(timeout=10)
        return b"".join(chunks)

    return everything


@contextmanager
def limited_http_server(
    port: int,
    *args: str,
    extra_env: Mapping[str, str] | None = None,
    stderr: IO[bytes],
    descriptor_limit: int | None = None,
    log_level: str = "debug",
) -> Iterator[subprocess.Popen[bytes]]:
    """`parse-mcp --sandbox --transport http` on 127.0.0.1:`port` with `args`, its stderr written to a file
    (so a test can measure how much it wrote), under `ulimit -n descriptor_limit` when given."""
    command = [sys.executable, "-m", "parse_mcp.cli", "--sandbox", "--transport", "http", "--port", str(port)]
    command += ["--log-level", log_level, *args]
    env = {**keyless_env(), **(extra_env or {})}
    limit = None if descriptor_limit is None else functools.partial(_limit_descriptors, descriptor_limit)
    with subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        preexec_fn=limit,
    ) as process:
        try:
            yield process
        finally:
            process.terminate()
            process.wait(timeout=10)


def _limit_descriptors(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


async def until_healthy(base_url: str, *, seconds: float = 30) -> None:
    """Poll `GET /healthz` until it answers 200, for at most `seconds` (the server is starting)."""
    with anyio.fail_after(seconds):
        async with httpx2.AsyncClient(timeout=5) as http:
            while True:
                try:
                    if (await http.get(f"{base_url}/healthz")).status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                await anyio.sleep(0.05)  # the interval between polls, not a wait for the server


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the test runner owns the process."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def serving_app(app: ASGIApp) -> AsyncIterator[str]:
    """Serve `app` with uvicorn in this process on a free loopback port, and yield its base URL.

    The socket listens before uvicorn starts, so requests queue in the backlog until it accepts them:
    nothing has to wait for start-up."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    config = uvicorn.Config(app, log_config=None, access_log=False, log_level="warning", ws="none")
    uvicorn_server = _QuietServer(config)
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(lambda: uvicorn_server.serve(sockets=[sock]))
            try:
                yield f"http://127.0.0.1:{sock.getsockname()[1]}"
            finally:
                uvicorn_server.should_exit = True
    finally:
        sock.close()
