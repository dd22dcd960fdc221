"""The breaker's streaks, exactly, in memory and on a real redis-server: a streak is one client's one call (its tool
and its arguments) failing one way; a call started before the last failure was counted is a concurrent duplicate,
whatever the clocks say; and a streak Redis holds in another shape is counted from zero, never a crash."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

import pytest
import redis

from parse_mcp.state import Stores, opened_stores
from parse_mcp.state.streaks import MemoryFailureStreaks, RepeatedFailures
from tests.redis_server import RedisServer
from tests.state.conftest import fresh_prefix, redis_settings

pytestmark = pytest.mark.anyio

TASK = {"task_id": "t-1"}


async def failed_once(stores: Stores, tool: str, arguments: Mapping[str, object], code: str, now: float) -> int:
    return await stores.streaks.failed(await stores.streaks.begin("client-a", tool, arguments, now), code, now)


async def test_two_tools_called_with_the_same_arguments_keep_a_streak_each(stores: Stores) -> None:
    assert await failed_once(stores, "get_task", TASK, "task_not_found", 0) == 1
    assert await failed_once(stores, "cancel_task", TASK, "task_not_found", 10) == 1
    assert await failed_once(stores, "get_task", TASK, "task_not_found", 20) == 2


async def test_one_tool_called_with_other_arguments_keeps_a_streak_of_its_own(stores: Stores) -> None:
    assert await failed_once(stores, "get_task", TASK, "task_not_found", 0) == 1
    assert await failed_once(stores, "get_task", {"task_id": "t-2"}, "task_not_found", 10) == 1
    assert await failed_once(stores, "get_task", TASK, "task_not_found", 20) == 2


async def test_a_call_failing_another_way_starts_its_streak_again(stores: Stores) -> None:
    assert await failed_once(stores, "get_task", TASK, "task_not_found", 0) == 1
    assert await failed_once(stores, "get_task", TASK, "task_not_found", 10) == 2
    assert await failed_once(stores, "get_task", TASK, "upstream_error", 20) == 1
    assert await failed_once(stores, "get_task", TASK, "upstream_error", 30) == 2


async def test_a_call_started_before_the_last_failure_was_counted_is_a_duplicate_whatever_the_clocks_say(
    stores: Stores,
) -> None:
    # The second call's clock reads later than the first failure's (another process's clock, say), but it started
    # before that failure was counted: it cannot have read it, so it does not add to the streak. Only the order
    # marks tell, and they must survive being stored.
    first = await stores.streaks.begin("client-a", "get_task", TASK, 0)
    second = await stores.streaks.begin("client-a", "get_task", TASK, 10)
    assert await stores.streaks.failed(first, "task_not_found", 5) == 1
    assert await stores.streaks.failed(second, "task_not_found", 11) == 1
    third = await stores.streaks.begin("client-a", "get_task", TASK, 20)
    assert await stores.streaks.failed(third, "task_not_found", 21) == 2


async def test_the_memory_store_keeps_its_streaks_in_the_breaker_it_is_given() -> None:
    breaker = RepeatedFailures(window_seconds=30)
    streaks = MemoryFailureStreaks(breaker)
    attempt = await streaks.begin("client-a", "get_task", TASK, 0)
    assert await streaks.failed(attempt, "task_not_found", 0) == 1
    assert breaker.streaks.count("client-a") == 1
    later = await streaks.begin("client-a", "get_task", TASK, 40)
    assert await streaks.failed(later, "task_not_found", 40) == 1, "past the given breaker's window of 30 s"


def rewrite_streaks(server: RedisServer, prefix: str, value: bytes) -> int:
    """Overwrite every streak under `prefix` with `value`; how many."""
    with redis.Redis(host="127.0.0.1", port=server.port) as client:
        keys = [key for key in client.scan_iter(match=f"{prefix}:*:breaker:*") if not key.endswith(b":marks")]
        for key in keys:
            client.set(key, value)
    return len(keys)


@pytest.mark.parametrize(
    "stored",
    [
        {"code": "task_not_found"},
        {"code": "task_not_found", "last": 0},
        {"code": "task_not_found", "count": 3},
        {"count": 3, "last": 0},
        {"code": 7, "count": 3, "last": 0},
    ],
)
async def test_a_streak_stored_in_another_shape_is_counted_from_zero_with_a_warning(
    redis_server: RedisServer, stored: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="parse_mcp.state.redis_stores")
    prefix = fresh_prefix()
    async with opened_stores(redis_settings(redis_server.url, prefix), lambda: 0.0) as stores:
        assert await failed_once(stores, "get_task", TASK, "task_not_found", 0) == 1
        assert rewrite_streaks(redis_server, prefix, json.dumps(stored).encode()) == 1
        assert await failed_once(stores, "get_task", TASK, "task_not_found", 10) == 1
    assert [r.getMessage() for r in caplog.records] == [
        "a breaker streak in Redis is not readable: that call is counted from zero"
    ]


async def test_a_streak_stored_without_its_end_mark_by_an_older_version_goes_on_counting(
    redis_server: RedisServer,
) -> None:
    # Without the mark of its end, any later call is taken to have followed the failure: the first call on a
    # fresh counter too (its mark is 1).
    prefix = fresh_prefix()
    async with opened_stores(redis_settings(redis_server.url, prefix), lambda: 0.0) as stores:
        assert await failed_once(stores, "get_task", TASK, "task_not_found", 0) == 1
        older = {"code": "task_not_found", "count": 2, "last": 0}
        assert rewrite_streaks(redis_server, prefix, json.dumps(older).encode()) == 1
        with redis.Redis(host="127.0.0.1", port=redis_server.port) as client:
            for key in client.scan_iter(match=f"{prefix}:*:breaker:marks"):
                client.delete(key)  # the counter starts again from 1
        assert await failed_once(stores, "get_task", TASK, "task_not_found", 10) == 3
