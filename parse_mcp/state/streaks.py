"""Where the repeated-failure breaker keeps its streaks: the interface, and the store in this process.

`parse_mcp.policy.breaker` decides (what counts as a repeat, when a streak starts again); a store only
keeps each client's streaks and hands out the order marks that tell a repeat from a concurrent duplicate.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Protocol

from parse_mcp.policy.breaker import WINDOW_SECONDS, Attempt, Streak, call_digest, next_streak
from parse_mcp.state.bounded import ClientTables

# An agent repeats the call it has just made: a streak that 256 other failing calls of the same client have
# pushed back is one it is no longer repeating, and forgetting it costs at most a late "stop". About 300 bytes a
# streak (a 64-digit digest and four numbers), so 75 KB a client.
MAX_STREAKS_PER_CLIENT = 256
# The backstop for many clients at once (one agent opening MCP session after MCP session): about 3 MB in all.
MAX_STREAKS = 10_000


class FailureStreaks(Protocol):
    async def begin(self, client: str, tool: str, arguments: Mapping[str, object], now: float) -> Attempt:
        """Mark the start of a call; pass the attempt back to `failed` or `succeeded` when it ends."""
        ...

    async def failed(self, attempt: Attempt, code: str, now: float) -> int:
        """Count one failure; the number of times in a row this client's call has now failed this way."""
        ...

    async def succeeded(self, attempt: Attempt) -> None: ...


class RepeatedFailures:
    """The breaker's streaks in this process: each client's in a table of its own (`ClientTables`), so a client
    failing many distinct calls forgets its own oldest streaks and never another client's."""

    def __init__(
        self,
        window_seconds: float = WINDOW_SECONDS,
        per_client: int = MAX_STREAKS_PER_CLIENT,
        total: int = MAX_STREAKS,
    ) -> None:
        self.window_seconds = window_seconds
        self.streaks: ClientTables[str, Streak] = ClientTables(per_client, total)
        self._marks = itertools.count()

    def begin(self, client: str, tool: str, arguments: Mapping[str, object], now: float) -> Attempt:
        """Mark the start of a call; pass the attempt back to `failed` or `succeeded` when it ends."""
        return Attempt(client, call_digest(tool, arguments), next(self._marks), now)

    def failed(self, attempt: Attempt, code: str, now: float) -> int:
        """Count one failure; the number of times in a row this client's call has now failed this way."""
        previous = self.streaks.get(attempt.client, attempt.call)
        streak = next_streak(previous, attempt, code, now, next(self._marks), self.window_seconds)
        self.streaks.put(attempt.client, attempt.call, streak)
        return streak.count

    def succeeded(self, attempt: Attempt) -> None:
        self.streaks.pop(attempt.client, attempt.call)


class MemoryFailureStreaks:
    """`RepeatedFailures` behind the async interface the Redis store needs."""

    def __init__(self, breaker: RepeatedFailures | None = None) -> None:
        self._breaker = breaker if breaker is not None else RepeatedFailures()

    async def begin(self, client: str, tool: str, arguments: Mapping[str, object], now: float) -> Attempt:
        return self._breaker.begin(client, tool, arguments, now)

    async def failed(self, attempt: Attempt, code: str, now: float) -> int:
        return self._breaker.failed(attempt, code, now)

    async def succeeded(self, attempt: Attempt) -> None:
        self._breaker.succeeded(attempt)
