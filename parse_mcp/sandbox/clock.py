"""Where the sandbox reads the time: every limit, reset, task status and header is computed from an injected clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A source of the current time in epoch seconds (UTC)."""

    def now(self) -> float: ...


class SystemClock:
    """The wall clock, for people running the sandbox by hand."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to, so tests can cross refills and midnights without sleeping."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a ManualClock only moves forward with advance(); use set() to go back")
        self._now += seconds

    def set(self, t: float) -> None:
        self._now = t


def iso_utc(t: float) -> str:
    """An epoch time as the ISO 8601 UTC text the sandbox's task and listing timestamps use."""
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
