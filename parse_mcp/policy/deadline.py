"""One time budget per tool call, covering every request, body, retry and pacing wait inside it.

Per-request timeouts do not bound a call: an upstream that sends a byte every two seconds never trips
a 30 s read timeout, and three slow answers plus the waits between them add up. So each tool call
opens one `Deadline` (contract section 5: 45 s by default, under the 60 s many clients allow), and
everything that waits or sends asks it how much time is left. It travels in a context variable, so
the layers in between need not pass it along; outside a tool call there is none and nothing is cut.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

DEFAULT_CALL_BUDGET_SECONDS = 45.0

_current: ContextVar[Deadline | None] = ContextVar("parse_mcp_deadline", default=None)


@dataclass(frozen=True, slots=True)
class Deadline:
    """The moment, on the runtime's clock, by which the tool call must have answered."""

    ends_at: float

    def left(self, now: float) -> float:
        return max(0.0, self.ends_at - now)


def time_left(now: float) -> float | None:
    """Seconds left in the current call's budget, or None outside a tool call."""
    deadline = _current.get()
    return None if deadline is None else deadline.left(now)


@contextmanager
def call_budget(now: float, seconds: float) -> Iterator[Deadline]:
    """Run the block under a budget of `seconds` from `now`; an enclosing, earlier deadline still holds."""
    outer = _current.get()
    deadline = Deadline(now + seconds)
    if outer is not None and outer.ends_at < deadline.ends_at:
        deadline = outer
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)
