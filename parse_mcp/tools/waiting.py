"""Bounded waiting for work that runs elsewhere (a parser generating, a build running).

A wait polls until the work settles or the bound runs out, and tells a client that asked for progress
about each change of status, once. It never outlives its bound: long work gets a handle back and a
call to keep waiting, so no tool call hits the 60 s limit many clients impose.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context

from parse_mcp.guidance.table import NextCall
from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Meta
from parse_mcp.policy import progress
from parse_mcp.policy.deadline import time_left
from parse_mcp.results import ToolResult
from parse_mcp.runtime import Runtime
from parse_mcp.voice import speakable

# Polls start a second apart and space out with the time already waited, up to every 5 s: short work is
# noticed within a second, long work costs a read every 5 s (each read spends a request of the budget).
FIRST_POLL_SECONDS = 1.0
POLL_SECONDS = 5.0
# Time kept back from the call's budget for the last read and the answer, so a long wait ends in a
# keep-waiting answer rather than in a read cut short by the budget.
LAST_READ_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Waited:
    document: JsonValue
    meta: Meta
    status: str
    settled: bool
    elapsed: float

    def keep_waiting(self, what: str, tool: str, arguments: Mapping[str, JsonValue]) -> ToolResult:
        """The answer when the bound ran out first: the state so far, and the same wait, ready to call."""
        return ToolResult.success(
            f"{what} is still {self.status} after {self.elapsed:.0f} s.",
            self.document,
            self.meta,
            next_step=f"Call {tool} again.",
            next_call=NextCall.offer(tool, dict(arguments)),
        )


async def wait_until_settled(
    read: Callable[[], Awaitable[tuple[JsonValue, Meta]]],
    settled: Callable[[str], bool],
    *,
    budget_seconds: float,
    runtime: Runtime,
    ctx: Context[Any, Any],
    label: str,
    poll_seconds: float = POLL_SECONDS,
) -> Waited:
    """Read until the document's `status` is settled, for at most `budget_seconds` (and within the tool
    call's own budget); progress on each change."""
    started = runtime.clock()
    call_left = time_left(started)
    if call_left is not None:
        budget_seconds = max(0.0, min(budget_seconds, call_left - LAST_READ_SECONDS))
    reported: str | None = None
    while True:
        document, meta = await read()
        raw = document.get("status") if isinstance(document, dict) else None
        # The status is the service's text: only a plain token is repeated in our sentences.
        status = (speakable(raw) if isinstance(raw, str) else None) or "unknown"
        elapsed = runtime.clock() - started
        if status != reported:
            reported = status
            await _report(ctx, min(elapsed, budget_seconds), budget_seconds, f"{label}: {status}")
        left = budget_seconds - elapsed
        if settled(status) or left <= 0:
            return Waited(document, meta, status, settled(status), elapsed)
        interval = min(poll_seconds, max(FIRST_POLL_SECONDS, elapsed / 2))
        await runtime.sleep(min(interval, left))


async def _report(ctx: Context[Any, Any], done: float, total: float, message: str) -> None:
    # Through the call's progress when there is one: the transport reports its waits there too, and the
    # values a client receives must keep increasing.
    call = progress.current()
    if call is not None:
        await call.report(done, total, message)
    else:
        await ctx.report_progress(done, total, message)
