"""What the benchmarks share: a sandbox to talk to, and small statistics."""

from __future__ import annotations

import os
import statistics
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from parse_mcp.demo import sandbox_settings
from parse_mcp.sandbox import SandboxConfig, SystemClock, create_app, running_sandbox
from parse_mcp.settings import Settings


class StatusCounter:
    """ASGI middleware counting the statuses the sandbox answers, so a benchmark can tell how many 429s it sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.counts: dict[int, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                status = int(str(message["status"]))
                self.counts[status] = self.counts.get(status, 0) + 1
            await send(message)

        await self.app(scope, receive, counting)  # type: ignore[arg-type]


@asynccontextmanager
async def sandbox(config: SandboxConfig) -> AsyncIterator[tuple[Settings, StatusCounter]]:
    counter = StatusCounter(create_app(config, SystemClock()))
    async with running_sandbox(counter) as url:
        yield sandbox_settings(url), counter


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def verdict(ok: bool) -> str:
    return "meets the goal" if ok else "MISSES the goal"


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
