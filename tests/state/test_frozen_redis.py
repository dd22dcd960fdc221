"""A frozen Redis costs calls their replay and their shared state, never their time: every call ends within its
budget, however many are waiting on Redis at once."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from pathlib import Path

import anyio
import pytest

from parse_mcp.policy.breaker import Attempt
from parse_mcp.policy.deadline import call_budget
from parse_mcp.policy.pacing import Go
from parse_mcp.runtime import REAL_TIME
from parse_mcp.settings import Secret
from parse_mcp.state import StateUnavailable, opened_stores
from parse_mcp.state.pacing_redis import RedisPacing
from parse_mcp.state.sessions import SessionCredentials
from tests.redis_server import RedisServer
from tests.state.conftest import fresh_prefix, redis_settings
from tests.state.frozen_redis import at_once, every_path, frozen, logged_in, one_session, served_on_redis

pytestmark = pytest.mark.anyio

# Short, so that the test costs seconds; `python -m bench.frozen_redis` runs the same with the default 45 s.
BUDGET_SECONDS = 3.0
CALLS = 55


async def test_55_calls_at_once_on_one_session_with_redis_frozen_each_end_within_their_budget(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with RedisServer(tmp_path) as redis:
        async with served_on_redis(redis, fresh_prefix(), BUDGET_SECONDS) as url, one_session(url) as client:
            paths = every_path(await logged_in(client))
            with frozen(redis), anyio.fail_after(BUDGET_SECONDS + 30):
                outcomes = await at_once(client, [paths[n % len(paths)] for n in range(CALLS)])

    durations = [seconds for seconds, _ in outcomes]
    assert len(durations) == CALLS
    assert max(durations) <= BUDGET_SECONDS + 1, sorted(durations)[-5:]
    answers = [answer for _, answer in outcomes]
    assert all(answer.get("error", {}).get("code") != "internal_error" for answer in answers)
    # Not saved by the server's backstop (budget + 1 s): every wait on Redis gave up within the budget itself.
    assert "outlived its" not in caplog.text
    session_calls = [answer for answer in answers if answer.get("error", {}).get("code") == "state_unavailable"]
    assert session_calls, "a call that needs its login session says the state is unavailable"


# Shorter than the Redis client's own socket timeout (1 s): only the call's budget can end these waits so soon.
SHORT_BUDGET_SECONDS = 0.3


async def ends_within_the_budget(operation: Awaitable[object]) -> object:
    """Await `operation` under a budget of `SHORT_BUDGET_SECONDS`; its outcome (a raised `StateUnavailable` is
    returned too), after checking it ended within the budget and a little more."""
    started = time.perf_counter()
    with call_budget(time.time(), SHORT_BUDGET_SECONDS), anyio.fail_after(10):
        try:
            outcome: object = await operation
        except StateUnavailable as exc:
            outcome = exc
    took = time.perf_counter() - started
    assert took < SHORT_BUDGET_SECONDS + 0.2, f"took {took:.2f} s"
    return outcome


async def test_with_redis_frozen_each_store_gives_up_when_the_calls_budget_ends_keeping_its_own_failure_mode(
    tmp_path: Path,
) -> None:
    with RedisServer(tmp_path) as redis:
        settings = redis_settings(redis.url, fresh_prefix())
        async with opened_stores(settings, time.time) as stores:
            assert stores.shared is not None
            pacing = RedisPacing.for_account(stores.shared, "pmx_account_one", REAL_TIME)
            handle = await stores.sessions.add("client-a", "api-1", SessionCredentials("sid", Secret("enc")), None)
            attempt = await stores.streaks.begin("client-a", "get_task", {"task_id": "t-1"}, time.time())
            with frozen(redis):
                found = await ends_within_the_budget(stores.sessions.get("client-a", handle, "api-1"))
                claimed = await ends_within_the_budget(stores.logins.claim("api-1", time.time()))
                begun = await ends_within_the_budget(stores.streaks.begin("client-a", "t", {}, time.time()))
                counted = await ends_within_the_budget(stores.streaks.failed(attempt, "task_not_found", time.time()))
                decided = await ends_within_the_budget(pacing.reserve(time.time(), 5.0))

    assert isinstance(found, StateUnavailable)
    assert isinstance(claimed, StateUnavailable)
    assert isinstance(begun, Attempt)
    assert begun.started == -1, "the breaker fails open"
    assert counted == 1, "the breaker fails open"
    assert isinstance(decided, Go), "pacing goes on from this process's picture"
    assert pacing.shared, "a call's budget running out says nothing about Redis: it is not taken for gone"
