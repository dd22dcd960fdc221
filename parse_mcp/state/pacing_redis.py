"""One pacing picture for every process and replica on an upstream key, kept in Redis.

The decisions stay `parse_mcp.policy.pacing.Pacer`'s: each one loads the shared snapshot, runs the pure
method on it and saves the result in one optimistic transaction (`WATCH`, `MULTI`, `EXEC`, again on a
conflict), so two processes never spend the same token. Within a process the decisions queue on a lock, so
conflicts only come from other processes. Time is the caller's clock (tests inject it); the pacer never lets
its picture go back in time, so a process whose clock is a little behind waits a little longer, no more.

If Redis stops answering, pacing goes on from the last shared picture this process saw, with one warning,
and tries Redis again every `RECHECK_SECONDS`: a call never waits on a Redis that is gone. A decision waits
on Redis at most `DECISION_TIMEOUT_SECONDS`, and never past the tool call's budget: a call whose budget runs
out first decides on this process's picture, without taking Redis for gone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TypeVar

import anyio
from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from parse_mcp.meta import RateSnapshot
from parse_mcp.policy.deadline import time_left
from parse_mcp.policy.pacing import PROBE_TIMEOUT_SECONDS, Go, Learn, Pacer, Refuse
from parse_mcp.runtime import Runtime
from parse_mcp.state.keys import Keyspace
from parse_mcp.state.redis_stores import SharedRedis

logger = logging.getLogger(__name__)

# While Redis is unreachable, how often a decision tries it again.
RECHECK_SECONDS = 5.0
# How often a call told `Learn` looks at the shared picture: the probe's answer may come in another process,
# which cannot wake it.
LEARN_POLL_SECONDS = 0.25
# A picture no process has touched for this long describes a bucket that has long refilled: Redis drops it.
PICTURE_TTL_SECONDS = 2 * 86_400
# One decision never waits longer than this on Redis (a few round trips; the client itself times out at 1 s).
DECISION_TIMEOUT_SECONDS = 3.0
# Conflicts come only from other processes; past this many in a row, this one decision is taken locally.
MAX_CONFLICTS = 50

T = TypeVar("T")


class RedisPacing:
    """The `PacingStore` on Redis, under `<prefix>:<hash of the upstream key>:pacing`."""

    def __init__(self, client: Redis, key: str, runtime: Runtime, probe_timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
        self._redis = client
        self._key = key
        self._clock = runtime.clock
        self._sleep = runtime.sleep
        # The last shared picture seen: where pacing goes on from while Redis is away, and what seeds Redis
        # again when it comes back empty.
        self._probe_timeout = probe_timeout
        self._local = Pacer(probe_timeout)
        self._lock = anyio.Lock()
        self._retry_shared_at: float | None = None  # set while Redis is unreachable
        self._answered = anyio.Event()

    @classmethod
    def for_account(
        cls, shared: SharedRedis, upstream_key: str, runtime: Runtime, probe_timeout: float = PROBE_TIMEOUT_SECONDS
    ) -> RedisPacing:
        key = Keyspace.for_key(shared.keys.prefix, upstream_key).key("pacing")
        return cls(shared.client, key, runtime, probe_timeout)

    @property
    def shared(self) -> bool:
        """Whether decisions go to Redis (False while it is unreachable)."""
        return self._retry_shared_at is None

    async def reserve(self, now: float, max_wait: float) -> Go | Learn | Refuse:
        return await self._decide(lambda pacer: pacer.reserve(now, max_wait))

    async def release(self, now: float, go: Go) -> None:
        await self._decide(lambda pacer: pacer.release(now, go))

    async def observe(self, snapshot: RateSnapshot) -> None:
        await self._decide(lambda pacer: pacer.observe(snapshot))
        self._wake()

    async def rejected(self, now: float, limit_type: str | None, retry_after: float | None) -> None:
        await self._decide(lambda pacer: pacer.rejected(now, limit_type, retry_after))

    async def no_picture(self, *, answered: bool) -> None:
        await self._decide(lambda pacer: pacer.no_picture(answered=answered))
        self._wake()

    async def await_answer(self, now: float, learn: Learn) -> None:
        """Until an answer in this process wakes us, or for a short while: an answer in another process
        shows only in the shared picture."""
        seconds = max(0.0, min(LEARN_POLL_SECONDS, learn.retry_at - now))
        answered = self._answered
        async with anyio.create_task_group() as group:

            async def look_again_later() -> None:
                await self._sleep(seconds)
                group.cancel_scope.cancel()

            group.start_soon(look_again_later)
            await answered.wait()
            group.cancel_scope.cancel()

    def _wake(self) -> None:
        self._answered.set()
        self._answered = anyio.Event()

    async def _decide(self, decide: Callable[[Pacer], T]) -> T:
        if self._retry_shared_at is not None and self._clock() < self._retry_shared_at:
            return decide(self._local)
        left = time_left(self._clock())
        budget_first = left is not None and left < DECISION_TIMEOUT_SECONDS
        try:
            with anyio.fail_after(left if budget_first else DECISION_TIMEOUT_SECONDS):
                result = await self._decide_shared(decide)
        except TimeoutError as exc:
            # Only a Redis that took all of `DECISION_TIMEOUT_SECONDS` is gone; a call's end says nothing of it.
            if not budget_first:
                self._lost_redis(exc)
            return decide(self._local)
        except (RedisError, OSError) as exc:
            self._lost_redis(exc)
            return decide(self._local)
        if self._retry_shared_at is not None:
            self._retry_shared_at = None
            logger.info("Redis answers again: pacing is shared again")
        return result

    async def _decide_shared(self, decide: Callable[[Pacer], T]) -> T:
        async with self._lock, self._redis.pipeline(transaction=True) as pipe:
            for _ in range(MAX_CONFLICTS):
                try:
                    await pipe.watch(self._key)
                    pacer = self._picture(await pipe.get(self._key))
                    result = decide(pacer)
                    pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
                    pipe.set(self._key, json.dumps(pacer.snapshot()), ex=PICTURE_TTL_SECONDS)
                    await pipe.execute()
                except WatchError:
                    continue  # another process decided in between: decide again on its picture
                self._local = pacer
                return result
        logger.debug("pacing: %d conflicts in a row, deciding on this process's picture", MAX_CONFLICTS)
        return decide(self._local)

    def _picture(self, raw: object) -> Pacer:
        if isinstance(raw, bytes | str):
            try:
                return Pacer.restored(json.loads(raw), self._probe_timeout)
            except ValueError:
                return Pacer(self._probe_timeout)
        # Nothing stored: a new account, or a Redis that restarted empty; go on from what this process saw.
        return Pacer.restored(self._local.snapshot(), self._probe_timeout)

    def _lost_redis(self, exc: BaseException) -> None:
        if self._retry_shared_at is None:
            # Once per outage, not once per call; the log names the fault, never the URL.
            logger.warning(
                "Redis unreachable (%s): pacing goes on from this process's picture, trying Redis every %.0f s",
                type(exc).__name__,
                RECHECK_SECONDS,
            )
        self._retry_shared_at = self._clock() + RECHECK_SECONDS
