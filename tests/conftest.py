"""Shared fixtures: a real sandbox on 127.0.0.1 with a manual clock, and real MCP clients on top."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import anyio.lowlevel
import pytest
from mcp import Client

from parse_mcp.runtime import Runtime
from parse_mcp.sandbox import PARSEBOT_KEY, ManualClock, SandboxConfig, create_app, running_sandbox
from parse_mcp.sandbox.aiparser import AIPARSER_KEY
from parse_mcp.server import build_server
from parse_mcp.settings import Secret, Settings


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
            await _all_other_tasks_waiting()
            when, _, wake = heapq.heappop(self._sleepers)
            self.clock.set(max(self.clock.now(), when))
            wake.set()
            if not self._sleepers:
                self._someone_sleeps = anyio.Event()


async def _all_other_tasks_waiting() -> None:
    """Return once every other task waits on something. Unlike `anyio.wait_all_tasks_blocked`, which sleeps
    0.1 s between looks, this yields one loop turn at a time: a 0.1 s sleep can fall into step with uvicorn's own
    0.1 s tick and then find its task ready at every look, for ever."""
    this = asyncio.current_task()
    for _ in range(100_000):
        # One turn of the event loop: ready tasks run and I/O that arrived is handled; no time passes.
        await anyio.lowlevel.checkpoint()
        waiting = (
            task is this or (task._fut_waiter is not None and not task._fut_waiter.done())  # type: ignore[attr-defined]
            for task in asyncio.all_tasks()
        )
        if all(waiting):
            return
    raise RuntimeError("some task never waits: virtual time cannot move")


@dataclass
class Sandbox:
    """A running sandbox, and virtual time shared by the sandbox and the server under test."""

    url: str
    clock: ManualClock
    time: VirtualTime

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


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Generous defaults so that only the tests about limits meet them; override per module."""
    return SandboxConfig()


@asynccontextmanager
async def started(config: SandboxConfig) -> AsyncIterator[Sandbox]:
    clock = ManualClock()
    time = VirtualTime(clock)
    async with running_sandbox(create_app(config, clock)) as url, anyio.create_task_group() as group:
        group.start_soon(time.drive)
        try:
            yield Sandbox(url, clock, time)
        finally:
            group.cancel_scope.cancel()


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[Sandbox]:
    async with started(sandbox_config) as running:
        yield running


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[Client]:
    async with Client(build_server(sandbox.settings(), runtime=sandbox.runtime), raise_exceptions=True) as connected:
        yield connected
