"""How long Redis keeps each kind of state, read back from a real redis-server: every key a store writes expires by
itself, after exactly the time its store promises.

Expiry read back through the store (a stored `expires_at` compared with the clock) would pass a store that forgot
the TTL or set the wrong one, so each test reads the key's own TTL (`PTTL`) right after the write. Where a TTL
follows the injected clock (a session's expiry), the clock is the test's; Redis's own clock only counts down, so a
TTL read at once is within a second of what was set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
import redis

from parse_mcp.json_types import JsonValue
from parse_mcp.meta import RateSnapshot
from parse_mcp.policy.breaker import WINDOW_SECONDS
from parse_mcp.runtime import Runtime
from parse_mcp.settings import Secret
from parse_mcp.state import Stores, opened_stores
from parse_mcp.state.events import EVENT_TTL_SECONDS, RedisEventStore
from parse_mcp.state.ledger import RETENTION_DAYS, Call, Reservation
from parse_mcp.state.logins import LOGIN_WINDOW_SECONDS
from parse_mcp.state.pacing import pacing_store
from parse_mcp.state.pacing_redis import PICTURE_TTL_SECONDS
from parse_mcp.state.redis_stores import SESSION_TTL_SECONDS, RedisFailureStreaks, RedisLoginAttempts, redis_stores
from parse_mcp.state.repairs import REMEMBERED_SECONDS
from parse_mcp.state.results import ORIGIN_TTL_SECONDS, RESULT_TTL_SECONDS, StoredResult
from parse_mcp.state.results_redis import RedisResultStore, result_ids_from_secrets
from parse_mcp.state.sessions import SessionCredentials
from tests.redis_server import RedisServer
from tests.state.conftest import SESSION_SECRET, Clock, fresh_prefix, redis_settings

pytestmark = pytest.mark.anyio

# Every write here is to a local Redis: ten seconds is far more than any of them takes.
WAIT_SECONDS = 10.0
# A TTL read right after the write has counted down by at most this much (milliseconds).
SLACK_MS = 1500
DAY = 86_400
CREDENTIALS = SessionCredentials("sid-ttl", Secret("enc-ttl"))
FAILED_CALL: dict[str, JsonValue] = {"tool": "execute_endpoint", "arguments": {"scraper_id": "api-1"}}


def ttls_ms(server: RedisServer, prefix: str) -> dict[str, int]:
    """Each key under the prefix, named by what follows `<prefix>:<account>:`, and its TTL in milliseconds
    (-1: none, -2: gone)."""
    found: dict[str, int] = {}
    with redis.Redis(host="127.0.0.1", port=server.port) as client:
        for key in client.scan_iter(match=f"{prefix}:*"):
            name = key.decode().split(":", 2)[2]
            found[name] = int(client.pttl(key))
    return found


def expiring_in(ttl_ms: int, seconds: float) -> bool:
    """Whether a TTL read at once was set to `seconds` (never more, and at most the read's delay less)."""
    return seconds * 1000 - SLACK_MS < ttl_ms <= seconds * 1000


def named(ttls: dict[str, int], kind: str) -> dict[str, int]:
    return {name: ttl for name, ttl in ttls.items() if name.split(":")[0] == kind}


@asynccontextmanager
async def redis_state(server: RedisServer, prefix: str, clock: Clock) -> AsyncIterator[Stores]:
    with anyio.fail_after(WAIT_SECONDS):
        async with opened_stores(redis_settings(server.url, prefix), clock) as stores:
            yield stores


# -- login sessions ---------------------------------------------------------------------------------------------


async def test_a_session_without_an_expiry_is_kept_in_redis_for_a_week(redis_server: RedisServer, clock: Clock) -> None:
    prefix = fresh_prefix()
    async with redis_state(redis_server, prefix, clock) as stores:
        await stores.sessions.add("client-a", "api-1", CREDENTIALS, None)

    sessions = named(ttls_ms(redis_server, prefix), "session")
    assert len(sessions) == 1
    assert all(expiring_in(ttl, SESSION_TTL_SECONDS) for ttl in sessions.values()), sessions
    assert SESSION_TTL_SECONDS == 7 * DAY


async def test_a_session_kept_in_redis_expires_with_its_own_expiry_on_the_injected_clock_rounded_up(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    async with redis_state(redis_server, prefix, clock) as stores:
        # 60.25 s after the injected now, whatever time Redis's own clock says.
        await stores.sessions.add("client-a", "api-1", CREDENTIALS, clock.now + 60.25)

    sessions = named(ttls_ms(redis_server, prefix), "session")
    assert len(sessions) == 1
    assert all(expiring_in(ttl, 61) for ttl in sessions.values()), sessions


async def test_a_session_whose_expiry_has_already_passed_is_kept_one_second_at_most(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    async with redis_state(redis_server, prefix, clock) as stores:
        handle = await stores.sessions.add("client-a", "api-1", CREDENTIALS, clock.now - 30)
        assert await stores.sessions.get("client-a", handle, "api-1") is None

    sessions = named(ttls_ms(redis_server, prefix), "session")
    assert len(sessions) == 1
    assert all(0 < ttl <= 1000 for ttl in sessions.values()), sessions


# -- the login cap ----------------------------------------------------------------------------------------------


async def test_an_apis_login_count_is_kept_in_redis_for_the_hour_of_the_window(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    async with redis_state(redis_server, prefix, clock) as stores:
        assert await stores.logins.claim("api-1", clock.now) is None

    logins = named(ttls_ms(redis_server, prefix), "logins")
    assert list(logins) == ["logins:api-1"]
    assert expiring_in(logins["logins:api-1"], LOGIN_WINDOW_SECONDS)
    assert LOGIN_WINDOW_SECONDS == 3600


async def test_a_login_count_with_a_window_of_a_fraction_of_a_second_expires_in_that_fraction(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    with anyio.fail_after(WAIT_SECONDS):
        async with redis_stores(redis_settings(redis_server.url, prefix)) as (shared, _):
            logins = RedisLoginAttempts(shared, clock, window=2.5)
            assert await logins.claim("api-1", clock.now) is None

    ttl = ttls_ms(redis_server, prefix)["logins:api-1"]
    assert 2500 - SLACK_MS < ttl <= 2500


async def test_looking_at_the_login_cap_writes_no_key_to_redis(redis_server: RedisServer, clock: Clock) -> None:
    prefix = fresh_prefix()
    async with redis_state(redis_server, prefix, clock) as stores:
        assert await stores.logins.wait_before_next("api-1", clock.now) is None

    assert named(ttls_ms(redis_server, prefix), "logins") == {}


# -- breaker streaks --------------------------------------------------------------------------------------------


async def test_a_breaker_streak_is_kept_for_the_breakers_window_and_its_order_marks_for_two(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    async with redis_state(redis_server, prefix, clock) as stores:
        attempt = await stores.streaks.begin("client-a", "get_task", {"task_id": "t-1"}, clock.now)
        assert await stores.streaks.failed(attempt, "task_not_found", clock.now) == 1

    breaker = named(ttls_ms(redis_server, prefix), "breaker")
    marks = breaker.pop("breaker:marks")
    assert len(breaker) == 1, breaker
    assert all(expiring_in(ttl, WINDOW_SECONDS) for ttl in breaker.values()), breaker
    assert expiring_in(marks, 2 * WINDOW_SECONDS)
    assert WINDOW_SECONDS == 15 * 60


async def test_with_a_window_under_a_second_a_streak_and_the_marks_are_kept_one_second(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    with anyio.fail_after(WAIT_SECONDS):
        async with redis_stores(redis_settings(redis_server.url, prefix)) as (shared, _):
            streaks = RedisFailureStreaks(shared, clock, window_seconds=0.2)
            attempt = await streaks.begin("client-a", "get_task", {"task_id": "t-1"}, clock.now)
            assert await streaks.failed(attempt, "task_not_found", clock.now) == 1

    breaker = named(ttls_ms(redis_server, prefix), "breaker")
    assert len(breaker) == 2, breaker
    assert all(expiring_in(ttl, 1) for ttl in breaker.values()), breaker


async def test_a_window_of_a_fraction_of_a_second_is_rounded_up_for_the_streak_and_for_the_marks(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    with anyio.fail_after(WAIT_SECONDS):
        async with redis_stores(redis_settings(redis_server.url, prefix)) as (shared, _):
            streaks = RedisFailureStreaks(shared, clock, window_seconds=10.3)
            attempt = await streaks.begin("client-a", "get_task", {"task_id": "t-1"}, clock.now)
            assert await streaks.failed(attempt, "task_not_found", clock.now) == 1

    breaker = named(ttls_ms(redis_server, prefix), "breaker")
    marks = breaker.pop("breaker:marks")
    assert expiring_in(marks, 21)  # ceil(2 * 10.3)
    assert len(breaker) == 1
    assert all(expiring_in(ttl, 11) for ttl in breaker.values()), breaker


# -- calls to repair --------------------------------------------------------------------------------------------


async def test_a_call_to_repair_is_kept_a_day_before_and_after_its_revision_is_asked_for(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    async with redis_state(redis_server, prefix, clock) as stores:
        await stores.repairs.remember("client-a", "task-1", FAILED_CALL)
        remembered = named(ttls_ms(redis_server, prefix), "repair")
        await stores.repairs.follow("client-a", "task-1", "rev-1")
        followed = named(ttls_ms(redis_server, prefix), "repair")
        assert await stores.repairs.take("client-a", "rev-1") == FAILED_CALL
        taken = named(ttls_ms(redis_server, prefix), "repair")

    assert len(remembered) == 1
    assert all(expiring_in(ttl, REMEMBERED_SECONDS) for ttl in remembered.values()), remembered
    assert len(followed) == 1
    assert followed.keys() != remembered.keys(), "the task's key becomes the revision's"
    assert all(expiring_in(ttl, REMEMBERED_SECONDS) for ttl in followed.values()), followed
    assert taken == {}
    assert REMEMBERED_SECONDS == DAY


# -- the pacer's picture ----------------------------------------------------------------------------------------


async def test_the_pacers_shared_picture_is_kept_two_days_after_its_last_change(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    async with redis_state(redis_server, prefix, clock) as stores:
        pacing = pacing_store(stores, Secret("pmx_account_one"), Runtime(clock=clock))
        await pacing.observe(RateSnapshot(observed_at=clock.now, remaining=3, burst=30, refill_per_minute=60.0))

    assert list(named(ttls_ms(redis_server, prefix), "pacing")) == ["pacing"]
    assert expiring_in(ttls_ms(redis_server, prefix)["pacing"], PICTURE_TTL_SECONDS)
    assert PICTURE_TTL_SECONDS == 2 * DAY


# -- cut answers ------------------------------------------------------------------------------------------------


def cut_answer() -> StoredResult:
    return StoredResult(b'{"rows": ["a", "b"]}', "parsebot", "execute_endpoint", "api-1", "list_books", "$.rows", 5.0)


async def test_a_cut_answer_and_its_indexes_are_kept_for_its_time_to_live_and_where_it_came_from_for_a_day(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    async with redis_state(redis_server, prefix, clock) as stores:
        assert await stores.results.put("client-a", cut_answer()) is not None

    ttls = ttls_ms(redis_server, prefix)
    answers, indexes = named(ttls, "result"), named(ttls, "results")
    origins = {name: ttl for name, ttl in indexes.items() if name.startswith("results:origin:")}
    for name in origins:
        del indexes[name]
    assert len(answers) == 1
    assert len(origins) == 1
    assert sorted(name.split(":")[1] for name in indexes) == ["all", "bytes", "client", "sizes"]
    assert all(expiring_in(ttl, RESULT_TTL_SECONDS) for ttl in [*answers.values(), *indexes.values()]), ttls
    assert all(expiring_in(ttl, ORIGIN_TTL_SECONDS) for ttl in origins.values()), origins
    assert (RESULT_TTL_SECONDS, ORIGIN_TTL_SECONDS) == (15 * 60, DAY)


async def test_a_cut_answer_with_a_time_to_live_of_a_fraction_of_a_second_is_kept_that_many_milliseconds(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    with anyio.fail_after(WAIT_SECONDS):
        async with redis_stores(redis_settings(redis_server.url, prefix)) as (shared, sealer):
            store = RedisResultStore(shared, sealer, result_ids_from_secrets([SESSION_SECRET]), clock, ttl=90.4)
            assert await store.put("client-a", cut_answer()) is not None

    ttls = ttls_ms(redis_server, prefix)
    kept = {name: ttl for name, ttl in ttls.items() if not name.startswith("results:origin:")}
    assert len(kept) == 5, ttls
    assert all(90_400 - SLACK_MS < ttl <= 90_400 for ttl in kept.values()), kept


# -- the spend ledger -------------------------------------------------------------------------------------------


async def test_every_key_of_the_ledger_is_kept_in_redis_for_the_retention_period_after_its_last_write(
    redis_server: RedisServer,
) -> None:
    clock = Clock(1_773_482_400.0)  # 2026-03-14 10:00 UTC
    prefix = fresh_prefix()
    settings = dataclasses.replace(redis_settings(redis_server.url, prefix), daily_credits=100)
    with anyio.fail_after(WAIT_SECONDS):
        async with opened_stores(settings, clock) as stores:
            call = Call("parsebot", "execute_endpoint", "api-1", "list_books", "client-a")
            settled = await stores.ledger.reserve(call)
            assert isinstance(settled, Reservation)
            await stores.ledger.settle(settled, 3, None)
            # In flight: a reservation held, and an endpoint whose price another call is learning.
            assert isinstance(await stores.ledger.reserve(call), Reservation)
            learning = Call("parsebot", "execute_endpoint", "api-1", "an_endpoint_never_charged", "client-b")
            assert isinstance(await stores.ledger.reserve(learning), Reservation)

    ledger = named(ttls_ms(redis_server, prefix), "ledger")
    assert sorted(ledger) == [
        f"ledger:{name}"
        for name in ("held", "learning", "prices", "reservations", "reserved", "rows:2026-03-14", "spent:2026-03-14")
    ]
    assert all(expiring_in(ttl, RETENTION_DAYS * DAY) for ttl in ledger.values()), ledger
    assert RETENTION_DAYS == 35


# -- HTTP stream events -----------------------------------------------------------------------------------------


async def test_an_http_stream_is_kept_an_hour_after_its_last_event(redis_server: RedisServer, clock: Clock) -> None:
    prefix = fresh_prefix()
    with anyio.fail_after(WAIT_SECONDS):
        async with redis_stores(redis_settings(redis_server.url, prefix)) as (shared, sealer):
            await RedisEventStore(shared, sealer, clock).store_event("1", None)

    events = named(ttls_ms(redis_server, prefix), "events")
    assert len(events) == 1
    assert all(expiring_in(ttl, EVENT_TTL_SECONDS) for ttl in events.values()), events
    assert EVENT_TTL_SECONDS == 3600
