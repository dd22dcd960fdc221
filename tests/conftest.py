"""Shared fixtures: a sandbox reached in-process with a manual clock, and real MCP clients on top.

The sandbox app is called through `httpx2.ASGITransport`: no socket, no uvicorn, and every task of a test
lives in one event loop, so virtual time can tell when all of them wait. The few tests about sockets (the
CLI, stdio and streamable HTTP) ask for `served_sandbox`, a real server on 127.0.0.1.
"""

from __future__ import annotations

import heapq
import itertools
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import httpx2
import pytest
from mcp import Client
from starlette.types import ASGIApp

from parse_mcp.cli import settle_heap
from parse_mcp.runtime import Runtime
from parse_mcp.sandbox import PARSEBOT_KEY, ManualClock, SandboxConfig, create_app, running_sandbox
from parse_mcp.sandbox.aiparser import AIPARSER_KEY
from parse_mcp.server import ParseMCPServer, build_server
from parse_mcp.settings import Secret, Settings
from tests.redis_server import RedisServer

# The address an in-process sandbox answers to. Nothing listens there: a request that missed the transport
# and went to the network would be refused at once instead of reaching some other local server.
IN_PROCESS_URL = "http://127.0.0.1:9"
# How long one look at the tasks may wait before looking again (see `_every_other_task_waits`).
_LOOK_SECONDS = 0.03


def pytest_collection_finish(session: pytest.Session) -> None:
    """The worker's heap settled as the served server's (`parse_mcp.cli.settle_heap`): what collection imported is
    frozen out of later collections, and the young generation is collected less often. The tests then spend less
    time walking the modules, models and strategies they loaded, and nothing they check depends on when a
    collection runs."""
    settle_heap()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class VirtualTime:
    """Time that moves only when every task is waiting: then the earliest sleeper wakes, and the shared
    clock jumps to its wake-up time. Sleepers wake in order, so concurrent pacing is exercised as it
    would be in real time, without waiting for it."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.slept: list[float] = []
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._order = itertools.count()
        self._someone_sleeps = anyio.Event()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        wake = anyio.Event()
        heapq.heappush(self._sleepers, (self.clock.now() + max(0.0, seconds), next(self._order), wake))
        self._someone_sleeps.set()
        await wake.wait()

    async def drive(self) -> None:
        while True:
            await self._someone_sleeps.wait()
            await _every_other_task_waits()
            when, _, wake = heapq.heappop(self._sleepers)
            self.clock.set(max(self.clock.now(), when))
            wake.set()
            if not self._sleepers:
                self._someone_sleeps = anyio.Event()


async def _every_other_task_waits() -> None:
    """Return once every other task waits on something, by anyio's public `wait_all_tasks_blocked`.

    That function looks again 0.1 s after a look that found a task ready. A server on a socket (uvicorn,
    in the streamable HTTP tests) wakes every 0.1 s too, and the two can fall into step so that every look
    finds it ready; giving up each look after a shorter while moves the next look out of step."""
    while True:
        with anyio.move_on_after(_LOOK_SECONDS):
            await anyio.wait_all_tasks_blocked()
            return


@dataclass
class Sandbox:
    """A sandbox, and virtual time shared by the sandbox and the server under test.

    `app` is set when the sandbox is reached in-process: servers built by `server()` then call it through
    `httpx2.ASGITransport`. It is None for a sandbox served on a socket, which anything can reach at `url`."""

    url: str
    clock: ManualClock
    time: VirtualTime
    app: ASGIApp | None = None

    @property
    def slept(self) -> list[float]:
        return self.time.slept

    @property
    def runtime(self) -> Runtime:
        return Runtime(clock=self.clock.now, sleep=self.time.sleep, random=lambda: 0.0)

    def settings(self, key: str = PARSEBOT_KEY, base_path: str = "") -> Settings:
        """Both services on this sandbox; `key` and `base_path` change only the Parse.bot side."""
        return Settings(
            parse_api_key=Secret(key),
            parse_base_url=self.url + base_path,
            scraperapi_key=Secret(AIPARSER_KEY),
            aiparser_base_url=self.url,
        )

    def transport(self) -> httpx2.AsyncBaseTransport | None:
        """A transport that calls the sandbox app in-process, or None (the network) for a served sandbox."""
        return None if self.app is None else httpx2.ASGITransport(app=self.app)

    def server(
        self,
        settings: Settings | None = None,
        *,
        runtime: Runtime | None = None,
        parsebot_transport: httpx2.AsyncBaseTransport | None = None,
    ) -> ParseMCPServer:
        """The server under test, wired to this sandbox (`settings()` unless told) on virtual time."""
        return build_server(
            settings or self.settings(),
            parsebot_transport=parsebot_transport or self.transport(),
            aiparser_transport=self.transport(),
            runtime=runtime or self.runtime,
        )


@pytest.fixture(autouse=True, scope="session")
def _ledgers_kept_apart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every server a test starts from the environment (a subprocess, `Settings.from_env`) keeps its spend ledger
    under this run's temporary directory, never in the user's state directory."""
    before = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    yield
    if before is None:
        del os.environ["XDG_STATE_HOME"]
    else:
        os.environ["XDG_STATE_HOME"] = before


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone set to one far from UTC (UTC+14), and put back afterwards: what is counted in
    UTC must not move with it."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Generous defaults so that only the tests about limits meet them; override per module."""
    return SandboxConfig()


@asynccontextmanager
async def started(config: SandboxConfig, *, on_socket: bool = False) -> AsyncIterator[Sandbox]:
    """A fresh sandbox with its own virtual time: in-process, or served on 127.0.0.1 when `on_socket`."""
    clock = ManualClock()
    time = VirtualTime(clock)
    app = create_app(config, clock)
    async with anyio.create_task_group() as group:
        group.start_soon(time.drive)
        try:
            if on_socket:
                async with running_sandbox(app) as url:
                    yield Sandbox(url, clock, time)
            else:
                yield Sandbox(IN_PROCESS_URL, clock, time, app)
        finally:
            group.cancel_scope.cancel()


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[Sandbox]:
    async with started(sandbox_config) as running:
        yield running


@pytest.fixture
async def served_sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[Sandbox]:
    """For code that opens its own connections (the CLI): the sandbox on a real loopback socket."""
    async with started(sandbox_config, on_socket=True) as running:
        yield running


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[Client]:
    async with Client(sandbox.server(), raise_exceptions=True) as connected:
        yield connected


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server for this test worker, on a free port with its own directory; tests keep apart by
    key prefix. A test that stops Redis starts its own `RedisServer` instead."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server
