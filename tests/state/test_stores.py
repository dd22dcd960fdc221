"""The same behaviour from both stores: in memory (one process) and in a real Redis (any number)."""

from __future__ import annotations

import pytest

from parse_mcp.json_types import JsonValue
from parse_mcp.settings import Secret
from parse_mcp.state import Stores
from parse_mcp.state.logins import LOGIN_ATTEMPTS, LOGIN_WINDOW_SECONDS
from parse_mcp.state.repairs import MAX_CALL_CHARS
from parse_mcp.state.sessions import MAX_SESSIONS_PER_CLIENT, SessionCredentials
from parse_mcp.state.streaks import MAX_STREAKS_PER_CLIENT
from tests.state.conftest import Clock

pytestmark = pytest.mark.anyio

SESSION = SessionCredentials("sid-7Hq2", Secret("enc-key-9Lm4"))


async def test_a_session_is_found_by_its_client_for_its_api_and_by_nobody_else(stores: Stores) -> None:
    handle = await stores.sessions.add("client-a", "api-1", SESSION, None)

    assert await stores.sessions.get("client-a", handle, "api-1") == SESSION
    assert await stores.sessions.get("client-b", handle, "api-1") is None
    assert await stores.sessions.get("client-a", handle, "api-2") is None
    assert await stores.sessions.get("client-a", "sess_never_issued", "api-1") is None


async def test_a_session_is_not_found_once_it_has_expired(stores: Stores, clock: Clock) -> None:
    handle = await stores.sessions.add("client-a", "api-1", SESSION, clock.now + 60)
    assert await stores.sessions.get("client-a", handle, "api-1") == SESSION

    clock.now += 60

    assert await stores.sessions.get("client-a", handle, "api-1") is None


async def test_the_login_cap_allows_three_attempts_an_hour_per_api_and_says_when_the_next_is_allowed(
    stores: Stores, clock: Clock
) -> None:
    first = clock.now
    for _ in range(LOGIN_ATTEMPTS):
        assert await stores.logins.wait_before_next("api-1", clock.now) is None
        assert await stores.logins.claim("api-1", clock.now) is None
        clock.now += 10

    assert await stores.logins.claim("api-1", clock.now) == pytest.approx(first + LOGIN_WINDOW_SECONDS - clock.now)
    assert await stores.logins.wait_before_next("api-1", clock.now) == pytest.approx(
        first + LOGIN_WINDOW_SECONDS - clock.now
    )
    assert await stores.logins.claim("api-2", clock.now) is None

    clock.now = first + LOGIN_WINDOW_SECONDS
    assert await stores.logins.claim("api-1", clock.now) is None


async def test_looking_at_the_login_cap_spends_no_attempt(stores: Stores, clock: Clock) -> None:
    for _ in range(LOGIN_ATTEMPTS + 2):
        assert await stores.logins.wait_before_next("api-1", clock.now) is None

    assert await stores.logins.claim("api-1", clock.now) is None


async def test_the_same_call_failing_one_time_after_another_is_counted_and_a_success_starts_again(
    stores: Stores, clock: Clock
) -> None:
    counts = []
    for _ in range(3):
        attempt = await stores.streaks.begin("client-a", "get_task", {"task_id": "t-1"}, clock.now)
        clock.now += 1
        counts.append(await stores.streaks.failed(attempt, "task_not_found", clock.now))
        clock.now += 1
    assert counts == [1, 2, 3]

    other_client = await stores.streaks.begin("client-b", "get_task", {"task_id": "t-1"}, clock.now)
    assert await stores.streaks.failed(other_client, "task_not_found", clock.now) == 1

    attempt = await stores.streaks.begin("client-a", "get_task", {"task_id": "t-1"}, clock.now)
    await stores.streaks.succeeded(attempt)
    clock.now += 1
    again = await stores.streaks.begin("client-a", "get_task", {"task_id": "t-1"}, clock.now)
    assert await stores.streaks.failed(again, "task_not_found", clock.now) == 1


async def test_calls_started_together_count_as_one_failure_not_as_repeats(stores: Stores, clock: Clock) -> None:
    together = [await stores.streaks.begin("client-a", "get_task", {"task_id": "t-1"}, clock.now) for _ in range(3)]
    clock.now += 1

    counts = [await stores.streaks.failed(attempt, "task_not_found", clock.now) for attempt in together]

    assert counts == [1, 1, 1]


async def test_a_client_filling_its_own_session_table_never_evicts_another_clients_session(stores: Stores) -> None:
    others = await stores.sessions.add("client-b", "api-1", SESSION, None)
    for _ in range(MAX_SESSIONS_PER_CLIENT + 10):
        await stores.sessions.add("client-a", "api-1", SESSION, None)

    assert await stores.sessions.get("client-b", others, "api-1") == SESSION


async def test_a_client_failing_many_distinct_calls_never_evicts_another_clients_streak(
    stores: Stores, clock: Clock
) -> None:
    first = await stores.streaks.begin("client-b", "get_task", {"task_id": "t-1"}, clock.now)
    assert await stores.streaks.failed(first, "task_not_found", clock.now) == 1
    for n in range(MAX_STREAKS_PER_CLIENT + 10):
        attempt = await stores.streaks.begin("client-a", "get_task", {"task_id": f"t-{n}"}, clock.now)
        await stores.streaks.failed(attempt, "task_not_found", clock.now)
    clock.now += 1

    again = await stores.streaks.begin("client-b", "get_task", {"task_id": "t-1"}, clock.now)
    assert await stores.streaks.failed(again, "task_not_found", clock.now) == 2


FAILED_CALL: dict[str, JsonValue] = {
    "tool": "execute_endpoint",
    "arguments": {"scraper_id": "api-1", "endpoint": "get", "params": {"q": "x"}},
}


async def test_the_call_that_prompted_a_revision_is_offered_once_to_its_client_when_the_revision_is_taken(
    stores: Stores,
) -> None:
    await stores.repairs.remember("client-a", "task-1", FAILED_CALL)
    await stores.repairs.follow("client-a", "task-1", "rev-1")

    assert await stores.repairs.take("client-b", "rev-1") is None
    assert await stores.repairs.take("client-a", "rev-1") == FAILED_CALL
    assert await stores.repairs.take("client-a", "rev-1") is None


async def test_a_revision_another_client_asked_for_takes_nothing_this_client_remembered(stores: Stores) -> None:
    await stores.repairs.remember("client-a", "task-1", FAILED_CALL)
    await stores.repairs.follow("client-b", "task-1", "rev-1")
    await stores.repairs.follow("client-a", "task-1", "rev-2")

    assert await stores.repairs.take("client-b", "rev-1") is None
    assert await stores.repairs.take("client-a", "rev-2") == FAILED_CALL


async def test_a_call_too_large_to_offer_again_is_not_remembered(stores: Stores) -> None:
    huge: dict[str, JsonValue] = {
        "tool": "execute_endpoint",
        "arguments": {"params": {"q": "x" * (MAX_CALL_CHARS + 1)}},
    }
    await stores.repairs.remember("client-a", "task-1", huge)
    await stores.repairs.follow("client-a", "task-1", "rev-1")

    assert await stores.repairs.take("client-a", "rev-1") is None
