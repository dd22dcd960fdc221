"""The stores in Redis: one picture of the account's state for every process and replica on one key.

Imported only when `PARSE_MCP_REDIS_URL` is set (it brings `redis` and `cryptography`). Every command has a
short socket timeout and at most one quick reconnection, and waits no longer than what is left of the tool
call's budget (`reaching_redis_within_budget`): a Redis that is gone or frozen costs one command at most
2 s (two socket timeouts), never more than the call has left, and never a hang. Measured with Redis frozen
(`python -m bench.frozen_redis`): 2.0 to 3.3 s a call one at a time, at most 5.6 s with 55 calls at once on
one HTTP session. redis-py opens a new connection by itself on the next command once Redis is back. A failure
to reach Redis, or one that does not answer in time, is `StateUnavailable` (`retry_later`, fault `service`),
except in the breaker, which fails open: a count it cannot read (Redis away, or a value that is not a streak)
is no reason to refuse a call.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import anyio
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from parse_mcp.json_types import JsonValue
from parse_mcp.policy.breaker import WINDOW_SECONDS, Attempt, Streak, call_digest, next_streak, streak_name
from parse_mcp.policy.deadline import time_left
from parse_mcp.settings import Secret, Settings
from parse_mcp.state.faults import StateUnavailable
from parse_mcp.state.keys import Keyspace, digest
from parse_mcp.state.logins import LOGIN_ATTEMPTS, LOGIN_WINDOW_SECONDS
from parse_mcp.state.repairs import REMEMBERED_SECONDS, worth_remembering
from parse_mcp.state.sealing import Sealer
from parse_mcp.state.sessions import SessionCredentials, StoredSession, new_handle

logger = logging.getLogger(__name__)

# Redis on the same network answers in about a millisecond: a second without an answer means it is gone. With the
# one reconnection (`connect`), a command on a frozen Redis gives up after about two of these.
SOCKET_TIMEOUT_SECONDS = 1.0
# A session with no expiry from the service still leaves Redis eventually, as it would leave a restarted process.
SESSION_TTL_SECONDS = 7 * 24 * 3600


def connect(url: str) -> Redis:
    """A client for `url` that never makes a call wait long: one retry at once (a connection dropped by a
    Redis restart is replaced), then the error."""
    return Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1),
    )


@dataclass(frozen=True, slots=True)
class SharedRedis:
    """The connection and the account's key names, for every store kept in Redis (the next ones too)."""

    client: Redis
    keys: Keyspace


@contextmanager
def reaching_redis(what: str) -> Iterator[None]:
    """Turn any failure to talk to Redis into `StateUnavailable`; the log says what, never the URL."""
    try:
        yield
    except (RedisError, OSError) as exc:
        logger.warning("Redis unavailable while %s: %s", what, type(exc).__name__)
        raise StateUnavailable() from exc


@asynccontextmanager
async def reaching_redis_within_budget(what: str, clock: Callable[[], float]) -> AsyncIterator[None]:
    """`reaching_redis`, and the block is cut when the tool call's budget runs out (`TimeoutError`, an `OSError`,
    so `StateUnavailable` like any Redis that does not answer). Outside a tool call the socket timeouts bound it."""
    with reaching_redis(what), anyio.fail_after(time_left(clock())):
        yield


@asynccontextmanager
async def redis_stores(settings: Settings) -> AsyncIterator[tuple[SharedRedis, Sealer]]:
    """The connection for these settings (which must name Redis and a session secret), closed at the end."""
    if settings.redis_url is None or not settings.session_secrets:
        raise ValueError("Redis stores need PARSE_MCP_REDIS_URL and PARSE_MCP_SESSION_SECRET")
    upstream_key = settings.parse_api_key or settings.scraperapi_key or Secret("")
    client = connect(settings.redis_url.get_secret_value())
    try:
        yield (
            SharedRedis(client, Keyspace.for_key(settings.redis_prefix, upstream_key.get_secret_value())),
            Sealer([secret.get_secret_value() for secret in settings.session_secrets]),
        )
    finally:
        await client.aclose()


# -- login sessions --------------------------------------------------------------------------------------


class RedisSessionStore:
    """Each session under a hash of its handle, sealed whole (client, API, session id and key, expiry), with a
    TTL: Redis holds nothing readable without the session secret, not even which client logged in."""

    def __init__(self, shared: SharedRedis, sealer: Sealer, clock: Callable[[], float]) -> None:
        self._redis = shared.client
        self._keys = shared.keys
        self._sealer = sealer
        self._clock = clock

    async def add(self, client: str, scraper_id: str, credentials: SessionCredentials, expires_at: float | None) -> str:
        handle = new_handle()
        record = {
            "client": client,
            "scraper_id": scraper_id,
            "session_id": credentials.session_id,
            "encryption_key": credentials.encryption_key.get_secret_value(),
            "expires_at": expires_at,
        }
        ttl = SESSION_TTL_SECONDS if expires_at is None else max(1, math.ceil(expires_at - self._clock()))
        async with reaching_redis_within_budget("keeping a session", self._clock):
            await self._redis.set(self._key(handle), self._sealer.seal(json.dumps(record).encode()), ex=ttl)
        return handle

    async def get(self, client: str, handle: str, scraper_id: str) -> SessionCredentials | None:
        async with reaching_redis_within_budget("looking a session up", self._clock):
            sealed = await self._redis.get(self._key(handle))
        stored = _unsealed(self._sealer, sealed) if isinstance(sealed, bytes) else None
        if stored is None or not stored.usable_by(client, scraper_id, self._clock()):
            return None
        return stored.credentials

    def _key(self, handle: str) -> str:
        return self._keys.key("session", digest(handle))


def _unsealed(sealer: Sealer, sealed: bytes) -> StoredSession | None:
    plain = sealer.open(sealed)
    if plain is None:
        return None
    record = json.loads(plain)
    expires_at = record.get("expires_at")
    return StoredSession(
        client=str(record["client"]),
        scraper_id=str(record["scraper_id"]),
        credentials=SessionCredentials(str(record["session_id"]), Secret(str(record["encryption_key"]))),
        expires_at=float(expires_at) if isinstance(expires_at, int | float) else None,
    )


# -- the login cap ---------------------------------------------------------------------------------------

# The attempts of one API inside the window, as a sorted set scored by time. Trim, count, and (when asked and
# allowed) add, in one script: Redis runs it alone, so two processes never both take the last attempt.
# Returns nil when an attempt is allowed, else the seconds to wait (as text: Lua would cut a number to an int).
_LOGIN_SCRIPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local freeing = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  return tostring(tonumber(freeing[2]) + window - now)
end
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
end
return false
"""


class RedisLoginAttempts:
    def __init__(
        self,
        shared: SharedRedis,
        clock: Callable[[], float],
        limit: int = LOGIN_ATTEMPTS,
        window: float = LOGIN_WINDOW_SECONDS,
    ) -> None:
        self._clock = clock
        self._keys = shared.keys
        self._script = shared.client.register_script(_LOGIN_SCRIPT)
        self._limit = limit
        self._window = window

    async def wait_before_next(self, scraper_id: str, now: float) -> float | None:
        return await self._run(scraper_id, now, claim=False)

    async def claim(self, scraper_id: str, now: float) -> float | None:
        return await self._run(scraper_id, now, claim=True)

    async def _run(self, scraper_id: str, now: float, *, claim: bool) -> float | None:
        member = f"{now!r}:{secrets.token_hex(4)}"  # two attempts at the same instant are two attempts
        arguments = (repr(now), repr(self._window), self._limit, "1" if claim else "0", member)
        async with reaching_redis_within_budget("counting logins", self._clock):
            wait = await self._script(keys=[self._keys.key("logins", scraper_id)], args=arguments)
        return None if wait is None else max(0.0, float(wait))


# -- the repair loop's memory ----------------------------------------------------------------------------


class RedisRepairMemory:
    """Each remembered call under a hash of (client, task or revision), sealed (a call may carry a session handle),
    expiring by itself: any replica the client reaches next knows which call a revision was for."""

    def __init__(self, shared: SharedRedis, sealer: Sealer, clock: Callable[[], float]) -> None:
        self._redis = shared.client
        self._keys = shared.keys
        self._sealer = sealer
        self._clock = clock

    async def remember(self, client: str, task_id: str, call: Mapping[str, JsonValue]) -> None:
        encoded = worth_remembering(call)
        if encoded is None:
            return
        sealed = self._sealer.seal(encoded.encode())
        async with reaching_redis_within_budget("remembering a call to repair", self._clock):
            await self._redis.set(self._key(client, "task", task_id), sealed, ex=int(REMEMBERED_SECONDS))

    async def follow(self, client: str, task_id: str, revision_id: str) -> None:
        async with reaching_redis_within_budget("following a revision", self._clock):
            sealed = await self._redis.getdel(self._key(client, "task", task_id))
            if isinstance(sealed, bytes):
                await self._redis.set(self._key(client, "revision", revision_id), sealed, ex=int(REMEMBERED_SECONDS))

    async def take(self, client: str, revision_id: str) -> dict[str, JsonValue] | None:
        async with reaching_redis_within_budget("taking a repaired call", self._clock):
            sealed = await self._redis.getdel(self._key(client, "revision", revision_id))
        plain = self._sealer.open(sealed) if isinstance(sealed, bytes) else None
        if plain is None:
            return None
        call: dict[str, JsonValue] = json.loads(plain)
        return call

    def _key(self, client: str, kind: str, task_id: str) -> str:
        return self._keys.key("repair", digest("\x00".join((client, kind, task_id))))


# -- the repeated-failure breaker ------------------------------------------------------------------------


class RedisFailureStreaks:
    """Each client's streaks under a hash of (client, digest of tool and arguments), with the breaker's window as
    TTL; the order marks come from one counter, so starts and ends are ordered across processes as within one.

    Reading and writing a streak are two steps: two failures of one call ending at the same moment in two
    processes may count once, which is the breaker's rule for concurrent duplicates anyway."""

    def __init__(self, shared: SharedRedis, clock: Callable[[], float], window_seconds: float = WINDOW_SECONDS) -> None:
        self._redis = shared.client
        self._keys = shared.keys
        self._clock = clock
        self._window = window_seconds
        self._warned_unreadable = False

    async def begin(self, client: str, tool: str, arguments: Mapping[str, object], now: float) -> Attempt:
        try:
            async with (
                reaching_redis_within_budget("marking a call's start", self._clock),
                self._redis.pipeline(transaction=False) as pipe,
            ):
                self._mark(pipe)
                mark, _ = await pipe.execute()
        except StateUnavailable:
            mark = -1  # fails open: this call will not be counted as a repeat
        return Attempt(client, call_digest(tool, arguments), int(mark), now)

    async def failed(self, attempt: Attempt, code: str, now: float) -> int:
        key = self._key(attempt)
        try:
            async with reaching_redis_within_budget("counting a failure", self._clock):
                # The mark and the streak in one round trip: half the wait on a Redis that is slow to answer.
                async with self._redis.pipeline(transaction=False) as pipe:
                    self._mark(pipe)
                    pipe.get(key)
                    ended, _, raw = await pipe.execute()
                streak = next_streak(self._readable(raw), attempt, code, now, int(ended), self._window)
                await self._redis.set(key, _streak_to_json(streak), ex=max(1, math.ceil(self._window)))
        except StateUnavailable:
            return 1
        return streak.count

    async def succeeded(self, attempt: Attempt) -> None:
        try:
            async with reaching_redis_within_budget("ending a streak", self._clock):
                await self._redis.delete(self._key(attempt))
        except StateUnavailable:
            return

    def _mark(self, pipe: Pipeline) -> None:
        """The next order mark. The counter outlives every streak (each lives a window from its last write) by
        expiring two windows after its last use, so when it is gone and starts again from 1, no streak is left
        to be compared with the new marks; and an account that stops calling leaves nothing behind."""
        marks = self._keys.key("breaker", "marks")
        pipe.incr(marks)
        pipe.expire(marks, max(1, math.ceil(2 * self._window)))

    def _key(self, attempt: Attempt) -> str:
        return self._keys.key("breaker", digest(streak_name(attempt)))

    def _readable(self, raw: object) -> Streak | None:
        """The streak stored, or None (count from zero) when there is none or it cannot be read: a value
        written by something else, or by a version that stored it otherwise, fails open. Said once per
        process, not once per call."""
        if not isinstance(raw, bytes):
            return None
        streak = _streak_from_json(raw)
        if streak is None and not self._warned_unreadable:
            self._warned_unreadable = True
            logger.warning("a breaker streak in Redis is not readable: that call is counted from zero")
        return streak


def _streak_to_json(streak: Streak) -> str:
    return json.dumps({"code": streak.code, "count": streak.count, "last": streak.last, "ended": streak.ended})


def _streak_from_json(raw: bytes) -> Streak | None:
    """The streak in `raw`, or None when it is not one (not JSON, or JSON of another shape)."""
    try:
        data: JsonValue = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    code, count, last, ended = data.get("code"), data.get("count"), data.get("last"), data.get("ended")
    if not (isinstance(code, str) and isinstance(count, int) and isinstance(last, int | float)):
        return None
    return Streak(code, count, float(last), ended if isinstance(ended, int) else -1)
