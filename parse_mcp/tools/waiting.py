"""Bounded waiting for work that runs elsewhere (a parser generating, a build running).

A wait polls until the work settles or the bound runs out, and tells a client that asked for progress
about each change of status, once. It never outlives its bound: long work gets a handle back and a
call to keep waiting, so no tool call hits the 60 s limit many clients impose.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from mcp.server.mcpserver import Context

from parse_mcp.runtime import Runtime

T = TypeVar("T")

POLL_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Waited(Generic[T]):
    last: T
    status: str
    settled: bool
    elapsed: float


async def wait_until_settled(
    read: Callable[[], Awaitable[T]],
    status_of: Callable[[T], str],
    settled: Callable[[str], bool],
    *,
    budget_seconds: float,
    runtime: Runtime,
    ctx: Context[Any, Any],
    label: str,
    poll_seconds: float = POLL_SECONDS,
) -> Waited[T]:
    """Read until `settled(status)`, for at most `budget_seconds`; progress on every status change."""
    started = runtime.clock()
    reported: str | None = None
    while True:
        last = await read()
        status = status_of(last)
        elapsed = runtime.clock() - started
        if status != reported:
            reported = status
            await ctx.report_progress(min(elapsed, budget_seconds), budget_seconds, f"{label}: {status}")
        if settled(status):
            return Waited(last, status, True, elapsed)
        left = budget_seconds - elapsed
        if left <= 0:
            return Waited(last, status, False, elapsed)
        await runtime.sleep(min(poll_seconds, left))
