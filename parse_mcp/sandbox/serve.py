"""Serving a sandbox app over loopback HTTP inside the caller's event loop."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager, contextmanager

import anyio
import uvicorn
from starlette.types import ASGIApp

STARTUP_TIMEOUT_SECONDS = 10.0
SHUTDOWN_TIMEOUT_SECONDS = 5.0
_POLL_SECONDS = 0.005


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the host process (the MCP server, a test runner)."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@asynccontextmanager
async def running_sandbox(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve `app` on `host:port` (0 picks a free port) and yield its base URL, e.g. `http://127.0.0.1:54321`."""
    sock = _bind(host, port)
    config = uvicorn.Config(
        app,
        lifespan="off",
        # stdout belongs to the MCP stdio transport: no access log, and warnings go to stderr only.
        log_config=None,
        access_log=False,
        log_level="warning",
        ws="none",
        timeout_graceful_shutdown=int(SHUTDOWN_TIMEOUT_SECONDS),
    )
    server = _EmbeddedServer(config)
    finished = anyio.Event()

    async def serve() -> None:
        try:
            await server.serve(sockets=[sock])
        finally:
            finished.set()

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(serve)
            try:
                await _wait_until_started(server, finished)
                yield _base_url(sock)
            finally:
                await _shut_down(server, finished)
    except BaseExceptionGroup as group:
        # The task group wraps whatever the caller's block raised; hand back the caller's own exception.
        raise _sole_exception(group) from None
    finally:
        sock.close()


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    # proto must say TCP: asyncio only turns Nagle off (TCP_NODELAY) on sockets that do, and with Nagle on
    # every response waits ~40 ms for a delayed ACK between its header and body writes.
    sock = socket.socket(family, kind, proto)
    try:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


async def _wait_until_started(server: uvicorn.Server, finished: anyio.Event) -> None:
    with anyio.fail_after(STARTUP_TIMEOUT_SECONDS):
        while not server.started:
            if finished.is_set():
                raise RuntimeError("the sandbox server stopped before it started serving")
            await anyio.sleep(_POLL_SECONDS)


async def _shut_down(server: uvicorn.Server, finished: anyio.Event) -> None:
    # Shielded so the server closes its sockets even when the body of the `async with` was cancelled.
    server.should_exit = True
    with anyio.move_on_after(SHUTDOWN_TIMEOUT_SECONDS, shield=True):
        await finished.wait()
    server.force_exit = True


def _sole_exception(group: BaseExceptionGroup[BaseException]) -> BaseException:
    while len(group.exceptions) == 1:
        inner = group.exceptions[0]
        if not isinstance(inner, BaseExceptionGroup):
            return inner
        group = inner
    return group


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
