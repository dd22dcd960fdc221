"""State that outlives one tool call: one interface per kind, two stores each, chosen once at start-up.

    kind                    interface         in memory (default)      in Redis (PARSE_MCP_REDIS_URL)
    login sessions          SessionStore      MemorySessionStore       RedisSessionStore (sealed, with TTL)
    login cap per API       LoginAttempts     MemoryLoginAttempts      RedisLoginAttempts (one Lua script)
    breaker streaks         FailureStreaks    MemoryFailureStreaks     RedisFailureStreaks
    pacing picture          PacingStore       MemoryPacing             RedisPacing (state/pacing_redis.py,
                            (services/http)   (services/http.py)       one WATCH/MULTI/EXEC per decision)
    HTTP event store        EventStore (SDK)  none (no resumption)     state/events.py
    calls to repair         RepairMemory      MemoryRepairMemory       RedisRepairMemory (sealed, with TTL)
    cut answers kept        ResultStore       MemoryResultStore        RedisResultStore (state/results_redis.py,
                                                                       sealed, with TTL, caps in one Lua script)
    the spend ledger        Ledger            SqliteLedger (on disk,   RedisLedger (state/ledger_redis.py, one
                            (state/ledger.py) under the state dir;     Lua script a decision, day keys kept
                                              memory for tests)        35 days); both fail over to memory

What belongs to the account (the login cap, the rate-limit picture per upstream key) is shared by every
process on one key when Redis is set; what belongs to a client (sessions, streaks) stays that client's, in
whichever process it calls. The Redis module, and `redis` and `cryptography` with it, are imported only when
Redis is configured.

In memory, what grows with what clients do is bounded (`state.bounded.ClientTables`): each client's sessions and
streaks up to a cap of its own, where it loses its own oldest and never another's, under a total cap. In Redis,
every command on a call's path waits no longer than what is left of the call's budget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from parse_mcp.settings import Settings
from parse_mcp.state.faults import StateUnavailable
from parse_mcp.state.ledger import Ledger, Limits, open_ledger
from parse_mcp.state.logins import LoginAttempts, MemoryLoginAttempts
from parse_mcp.state.repairs import MemoryRepairMemory, RepairMemory
from parse_mcp.state.results import MemoryResultStore, ResultStore
from parse_mcp.state.sessions import MemorySessionStore, SessionStore
from parse_mcp.state.streaks import FailureStreaks, MemoryFailureStreaks

if TYPE_CHECKING:
    from parse_mcp.state.redis_stores import SharedRedis

__all__ = [
    "FailureStreaks",
    "Ledger",
    "LoginAttempts",
    "RepairMemory",
    "ResultStore",
    "SessionStore",
    "StateUnavailable",
    "Stores",
    "memory_stores",
    "opened_stores",
]


@dataclass(frozen=True, slots=True)
class Stores:
    sessions: SessionStore
    logins: LoginAttempts
    streaks: FailureStreaks
    repairs: RepairMemory
    results: ResultStore
    ledger: Ledger
    # The Redis connection and key names, for the stores built on top (pacing, the HTTP event store); None in memory.
    shared: SharedRedis | None = None


def memory_stores(clock: Callable[[], float], ledger: Ledger | None = None) -> Stores:
    return Stores(
        MemorySessionStore(clock),
        MemoryLoginAttempts(),
        MemoryFailureStreaks(),
        MemoryRepairMemory(clock),
        MemoryResultStore(clock),
        ledger if ledger is not None else open_ledger(Limits(), clock),
    )


def limits_of(settings: Settings) -> Limits:
    return Limits(settings.daily_credits, settings.client_daily_credits, settings.scraperapi_daily_credits)


@asynccontextmanager
async def opened_stores(settings: Settings, clock: Callable[[], float]) -> AsyncIterator[Stores]:
    """The stores these settings choose, open for the server's lifetime (the Redis connection and the ledger closed
    after)."""
    if settings.redis_url is None:
        ledger = open_ledger(limits_of(settings), clock, state_dir=settings.state_dir)
        try:
            yield memory_stores(clock, ledger)
        finally:
            await ledger.aclose()
        return
    # Here, not at the top: only a Redis deployment loads redis and cryptography.
    from parse_mcp.state.redis_stores import (
        RedisFailureStreaks,
        RedisLoginAttempts,
        RedisRepairMemory,
        RedisSessionStore,
        redis_stores,
    )
    from parse_mcp.state.results_redis import RedisResultStore, result_ids_from_secrets

    ids = result_ids_from_secrets([secret.get_secret_value() for secret in settings.session_secrets])
    async with redis_stores(settings) as (shared, sealer):
        ledger = open_ledger(limits_of(settings), clock, redis=shared.client, redis_prefix=shared.keys.key("ledger"))
        try:
            yield Stores(
                RedisSessionStore(shared, sealer, clock),
                RedisLoginAttempts(shared, clock),
                RedisFailureStreaks(shared, clock),
                RedisRepairMemory(shared, sealer, clock),
                RedisResultStore(shared, sealer, ids, clock),
                ledger,
                shared,
            )
        finally:
            await ledger.aclose()
