"""What the end-to-end tests share to run real processes on this machine: a free loopback port, and
`parse-mcp --transport http` as a subprocess, read until it listens."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import anyio


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
