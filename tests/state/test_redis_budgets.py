"""How long the stores wait on Redis, exactly, on a real redis-server: the connection's own bounds, each ledger command
cut at the tool call's budget, a pacing decision cut at its own bound (which alone takes Redis for gone), and pacing
that tries Redis again after exactly its recheck period and goes on from its own picture when Redis comes back empty."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest
import redis

from parse_mcp.policy.deadline import call_budget
from parse_mcp.policy.pacing import PROBE_TIMEOUT_SECONDS, Go, Learn, Pacer
from parse_mcp.runtime import Runtime
from parse_mcp.state import pacing_redis
from parse_mcp.state.keys import Keyspace
from parse_mcp.state.ledger import Call, LedgerUnavailable, Limits, Reservation
from parse_mcp.state.ledger_redis import RedisLedger
from parse_mcp.state.pacing_redis import RECHECK_SECONDS, RedisPacing
from parse_mcp.state.redis_stores import SOCKET_TIMEOUT_SECONDS, SharedRedis, connect
from tests.redis_server import RedisServer
from tests.state.conftest import Clock, fresh_prefix
from tests.state.frozen_redis import frozen

pytestmark = pytest.mark.anyio

# Shorter than the client's socket timeout (1 s) and than a ledger command's own bound (3 s): only the call's budget
# can end these waits so soon.
BUDGET_SECONDS = 0.3
BOOKS = Call("parsebot", "execute_endpoint", "api-1", "list_books", "client-a")


async def test_a_redis_connection_waits_at_most_a_second_to_connect_or_answer_and_retries_once() -> None:
    client = connect("redis://127.0.0.1:9/0")
    try:
        settings = client.connection_pool.connection_kwargs
        assert settings["socket_timeout"] == SOCKET_TIMEOUT_SECONDS == 1.0
        assert settings["socket_connect_timeout"] == SOCKET_TIMEOUT_SECONDS
        assert settings["retry"].get_retries() == 1
    finally:
        await client.aclose()


async def test_with_redis_frozen_every_ledger_command_gives_up_when_the_calls_budget_ends(tmp_path: Path) -> None:
    with RedisServer(tmp_path) as server:
        client = connect(server.url)
        try:
            ledger = RedisLedger(client, fresh_prefix(), Limits(daily_credits=100), time.time)
            held = await ledger.reserve(BOOKS, 2)
            assert isinstance(held, Reservation)
            commands: dict[str, Callable[[], Awaitable[object]]] = {
                "reserve": lambda: ledger.reserve(BOOKS, 2),
                "settle": lambda: ledger.settle(held, 2, None),
                "release": lambda: ledger.release(held),
                "spent_today": lambda: ledger.spent_today("client-a"),
                "last_charge": lambda: ledger.last_charge("parsebot", "api-1", "list_books"),
                "usage": lambda: ledger.usage(3),
            }
            took: dict[str, float] = {}

            async def timed(name: str, command: Callable[[], Awaitable[object]]) -> None:
                started = time.perf_counter()
                with call_budget(time.time(), BUDGET_SECONDS), pytest.raises(LedgerUnavailable):
                    await command()
                took[name] = time.perf_counter() - started

            # All at once, so that the test costs one budget: each on a connection of its own.
            with frozen(server), anyio.fail_after(BUDGET_SECONDS + 0.6):
                async with anyio.create_task_group() as group:
                    for name, command in commands.items():
                        group.start_soon(timed, name, command)
        finally:
            await client.aclose()
    assert set(took) == set(commands)
    assert all(BUDGET_SECONDS - 0.05 <= seconds < BUDGET_SECONDS + 0.45 for seconds in took.values()), took


def pacing_on(
    server: RedisServer, clock: Callable[[], float], probe_timeout: float = PROBE_TIMEOUT_SECONDS
) -> tuple[RedisPacing, redis.asyncio.Redis]:
    client = connect(server.url)
    keys = Keyspace.for_key(fresh_prefix(), "pmx_account_one")
    shared = SharedRedis(client, keys)
    return RedisPacing.for_account(shared, "pmx_account_one", Runtime(clock=clock), probe_timeout), client


async def test_with_redis_frozen_a_pacing_decision_gives_up_at_its_own_bound_and_takes_redis_for_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Shorter than the client's socket timeout (1 s), so that only the decision's own bound ends it so soon.
    monkeypatch.setattr(pacing_redis, "DECISION_TIMEOUT_SECONDS", 0.25)
    caplog.set_level(logging.WARNING, logger="parse_mcp.state.pacing_redis")
    clock = Clock(1_000_000.0)
    with RedisServer(tmp_path) as server:
        pacing, client = pacing_on(server, clock)
        try:
            with frozen(server), anyio.fail_after(0.9):
                started = time.perf_counter()
                decided = await pacing.reserve(clock.now, 5.0)
                took = time.perf_counter() - started
        finally:
            await client.aclose()
    assert isinstance(decided, Go)
    assert 0.25 <= took < 0.75  # the socket timeout alone would take 1 s
    assert not pacing.shared
    assert [r.getMessage() for r in caplog.records] == [
        "Redis unreachable (TimeoutError): pacing goes on from this process's picture, trying Redis every 5 s"
    ]


async def test_a_calls_budget_ending_exactly_at_the_decisions_bound_still_lets_redis_be_taken_for_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Redis took all of its bound: that it was also all of the call's budget says nothing for Redis.
    monkeypatch.setattr(pacing_redis, "DECISION_TIMEOUT_SECONDS", 0.25)
    clock = Clock(1_000_000.0)  # standing still: the budget left is exactly 0.25 s when the decision starts
    with RedisServer(tmp_path) as server:
        pacing, client = pacing_on(server, clock)
        try:
            with frozen(server), anyio.fail_after(0.9), call_budget(clock.now, 0.25):
                assert isinstance(await pacing.reserve(clock.now, 5.0), Go)
        finally:
            await client.aclose()
    assert not pacing.shared


async def test_pacing_without_redis_warns_once_naming_the_fault_and_tries_redis_again_after_exactly_its_period(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="parse_mcp.state.pacing_redis")
    clock = Clock(1_000_000.0)
    server = RedisServer(tmp_path)
    with server:
        pacing, client = pacing_on(server, clock)
        try:
            server.stop()
            await pacing.release(clock.now, Go(0.0))
            lost_at = clock.now
            assert not pacing.shared
            server.start()
            clock.now = lost_at + RECHECK_SECONDS - 0.5
            await pacing.release(clock.now, Go(0.0))
            assert not pacing.shared, "not tried again so soon"
            clock.now = lost_at + RECHECK_SECONDS
            await pacing.release(clock.now, Go(0.0))
            assert pacing.shared
        finally:
            await client.aclose()
    assert [r.getMessage() for r in caplog.records] == [
        "Redis unreachable (ConnectionError): pacing goes on from this process's picture, trying Redis every 5 s"
    ]


async def test_pacing_on_a_redis_that_came_back_empty_goes_on_from_this_processs_own_picture(
    redis_server: RedisServer,
) -> None:
    clock = Clock(1_000_000.0)
    pacing, client = pacing_on(redis_server, clock, probe_timeout=1.5)
    try:
        assert isinstance(await pacing.reserve(clock.now, 5.0), Go)  # the probe: the bucket is unknown
        with redis.Redis(host="127.0.0.1", port=redis_server.port) as raw:
            assert raw.delete(pacing._key) == 1  # what a restarted, empty Redis holds
        # The probe is still in flight, and holds the others for the probe timeout this store was given.
        assert await pacing.reserve(clock.now, 5.0) == Learn(clock.now + 1.5)
    finally:
        await client.aclose()


async def test_pacing_without_redis_from_the_start_holds_the_others_for_the_probe_timeout_it_was_given(
    tmp_path: Path,
) -> None:
    clock = Clock(1_000_000.0)
    server = RedisServer(tmp_path)
    with server:
        pacing, client = pacing_on(server, clock, probe_timeout=1.5)
        try:
            server.stop()
            first = await pacing.reserve(clock.now, 5.0)
            behind = await pacing.reserve(clock.now, 5.0)
        finally:
            await client.aclose()
    assert first == Go(0.0, probe="learn")
    assert behind == Learn(clock.now + 1.5)


async def test_after_fifty_conflicts_in_a_row_a_pacing_decision_is_taken_on_this_processs_picture(
    redis_server: RedisServer,
) -> None:
    clock = Clock(1_000_000.0)
    pacing, client = pacing_on(redis_server, clock)
    seen: list[Pacer | None] = []
    try:
        with redis.Redis(host="127.0.0.1", port=redis_server.port) as other:

            def decide_while_another_process_writes(pacer: Pacer) -> Pacer:
                other.set(pacing._key, json.dumps({"another": "picture"}))
                seen.append(pacer)
                return pacer

            decided = await pacing._decide_shared(decide_while_another_process_writes)
    finally:
        await client.aclose()
    assert len(seen) == pacing_redis.MAX_CONFLICTS + 1
    assert isinstance(decided, Pacer)
