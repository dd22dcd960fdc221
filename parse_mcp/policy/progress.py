"""Progress for the waits inside a tool call, told to the client that asked for it (contract section 5).

A call can wait up to 15 s for the rate-limit budget or before a retry, deep in the HTTP transport. The
transport must not know about MCP, so, like the call's `Deadline`, the way to tell the client travels in a
context variable: the server sets a `CallProgress` around each tool call, and whatever waits calls
`announce("…")`. Outside a tool call (the doctor, the tests of a service alone) nothing is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

logger = logging.getLogger(__name__)

# (progress, total, message) -> sent: `Context.report_progress`, a no-op when the client gave no token.
ProgressSink = Callable[[float, float | None, str], Awaitable[None]]

_current: ContextVar[CallProgress | None] = ContextVar("parse_mcp_progress", default=None)


class CallProgress:
    """One tool call's progress: seconds since the call began, never going back.

    MCP requires each notification's `progress` to exceed the previous one for the same token; a wait tool
    counts its own seconds and the transport counts the call's, so every report passes through here and is
    lifted just above the last one when it would not be."""

    def __init__(self, send: ProgressSink, clock: Callable[[], float]) -> None:
        self._send = send
        self._clock = clock
        self._started = clock()
        self._last = -1.0

    async def report(self, progress: float, total: float | None, message: str) -> None:
        value = progress if progress > self._last else self._last + 0.001
        self._last = value
        try:
            await self._send(value, total, message)
        except Exception:
            # A notification that cannot be delivered (the client went away) must not fail the call itself.
            logger.info("a progress notification could not be sent", exc_info=True)

    async def note(self, message: str) -> None:
        """A step without a known end: the seconds since the call began, no total."""
        await self.report(self._clock() - self._started, None, message)


def current() -> CallProgress | None:
    return _current.get()


@contextmanager
def reporting_progress(progress: CallProgress) -> Iterator[CallProgress]:
    token = _current.set(progress)
    try:
        yield progress
    finally:
        _current.reset(token)


async def announce(message: str) -> None:
    """Tell the client of the current tool call what the call is waiting for; nothing outside a call."""
    progress = _current.get()
    if progress is not None:
        await progress.note(message)


def waiting_for_rate_limit(seconds: float) -> str:
    return f"waiting {_seconds(seconds)} s for the rate limit"


def retrying_in(seconds: float) -> str:
    return f"retrying in {_seconds(seconds)} s"


def _seconds(seconds: float) -> str:
    # Whole seconds read well; a sub-second wait is still said as such rather than as "0 s".
    return f"{seconds:.0f}" if seconds >= 1 else f"{seconds:.1f}"
