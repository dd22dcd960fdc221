"""Where the repeated-failure breaker keeps its streaks: the interface, and the store in this process.

`parse_mcp.policy.breaker` decides (what counts as a repeat, when a streak starts again); a store only
keeps each client's streaks and hands out the order marks that tell a repeat from a concurrent duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from parse_mcp.policy.breaker import Attempt, RepeatedFailures


class FailureStreaks(Protocol):
    async def begin(self, client: str, tool: str, arguments: Mapping[str, object], now: float) -> Attempt:
        """Mark the start of a call; pass the attempt back to `failed` or `succeeded` when it ends."""
        ...

    async def failed(self, attempt: Attempt, code: str, now: float) -> int:
        """Count one failure; the number of times in a row this client's call has now failed this way."""
        ...

    async def succeeded(self, attempt: Attempt) -> None: ...


class MemoryFailureStreaks:
    """Today's breaker, as it always was, behind the async interface the Redis store needs."""

    def __init__(self, breaker: RepeatedFailures | None = None) -> None:
        self._breaker = breaker if breaker is not None else RepeatedFailures()

    async def begin(self, client: str, tool: str, arguments: Mapping[str, object], now: float) -> Attempt:
        return self._breaker.begin(client, tool, arguments, now)

    async def failed(self, attempt: Attempt, code: str, now: float) -> int:
        return self._breaker.failed(attempt, code, now)

    async def succeeded(self, attempt: Attempt) -> None:
        self._breaker.succeeded(attempt)
