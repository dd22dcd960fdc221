"""Where the pacer's picture of the account's rate limits lives: in this process, or the account's in Redis.

`HttpClient` asks a `PacingStore` for the pacer's decisions (`parse_mcp.policy.pacing.Pacer`). `MemoryPacing`
keeps the picture in this process; `RedisPacing` (`state/pacing_redis.py`) shares one per upstream key among
every process and replica. `pacing_store` chooses, with the other stores (`opened_stores`): Redis when the
settings name it, one picture per upstream key (Parse.bot and the AI Parser each have their own bucket);
`redis` is imported only in that case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import anyio

from parse_mcp.meta import RateSnapshot
from parse_mcp.policy.pacing import PROBE_TIMEOUT_SECONDS, Go, Learn, Pacer, Refuse
from parse_mcp.runtime import Runtime
from parse_mcp.settings import Secret

if TYPE_CHECKING:
    from parse_mcp.state import Stores


class PacingStore(Protocol):
    """The pacer's five decisions (`parse_mcp.policy.pacing.Pacer`), on a picture kept in this process or
    shared, plus the wait a call told `Learn` takes before asking again."""

    async def reserve(self, now: float, max_wait: float) -> Go | Learn | Refuse: ...

    async def release(self, now: float, go: Go) -> None: ...

    async def observe(self, snapshot: RateSnapshot) -> None: ...

    async def rejected(self, now: float, limit_type: str | None, retry_after: float | None) -> None: ...

    async def no_picture(self, *, answered: bool) -> None: ...

    async def await_answer(self, now: float, learn: Learn) -> None:
        """Return when the first answer may have come (`observe` or `no_picture` in this process, or the
        shared picture may have changed), and at the latest at `learn.retry_at`."""
        ...


class MemoryPacing:
    """One process's picture: the pacer itself. Nothing here awaits, so no decision lets another task in
    between reading the picture and changing it."""

    def __init__(self, pacer: Pacer | None = None) -> None:
        self._pacer = pacer if pacer is not None else Pacer()
        self._answered = anyio.Event()

    async def reserve(self, now: float, max_wait: float) -> Go | Learn | Refuse:
        return self._pacer.reserve(now, max_wait)

    async def release(self, now: float, go: Go) -> None:
        self._pacer.release(now, go)

    async def observe(self, snapshot: RateSnapshot) -> None:
        self._pacer.observe(snapshot)
        self.wake()

    async def rejected(self, now: float, limit_type: str | None, retry_after: float | None) -> None:
        self._pacer.rejected(now, limit_type, retry_after)

    async def no_picture(self, *, answered: bool) -> None:
        self._pacer.no_picture(answered=answered)
        self.wake()

    async def await_answer(self, now: float, learn: Learn) -> None:
        # The answer wakes us; a stalled probe stops holding us at `retry_at`.
        with anyio.move_on_after(max(0.0, learn.retry_at - now)):
            await self._answered.wait()

    def wake(self) -> None:
        """Wake every call waiting for a first answer, and start a fresh event for the next ones."""
        self._answered.set()
        self._answered = anyio.Event()


def pacing_store(
    stores: Stores, upstream_key: Secret, runtime: Runtime, probe_timeout: float = PROBE_TIMEOUT_SECONDS
) -> PacingStore:
    """The pacing picture for one upstream key; `probe_timeout` is how long the first call, while the budget is
    unknown, holds the others back (`parse_mcp.policy.pacing.PROBE_TIMEOUT_SECONDS`)."""
    if stores.shared is None:
        return MemoryPacing(Pacer(probe_timeout))
    from parse_mcp.state.pacing_redis import RedisPacing

    return RedisPacing.for_account(stores.shared, upstream_key.get_secret_value(), runtime, probe_timeout)
