"""Every table that grows with what clients do is bounded, and one client filling its own never evicts another's."""

from __future__ import annotations

import pytest

from parse_mcp.settings import Secret
from parse_mcp.state.bounded import ClientTables
from parse_mcp.state.logins import MAX_APIS_TRACKED, MemoryLoginAttempts
from parse_mcp.state.sessions import MAX_SESSIONS, MAX_SESSIONS_PER_CLIENT, MemorySessionStore, SessionCredentials
from parse_mcp.state.streaks import MAX_STREAKS, MAX_STREAKS_PER_CLIENT, RepeatedFailures

pytestmark = pytest.mark.anyio

SESSION = SessionCredentials("sid", Secret("enc"))


def test_a_client_past_its_cap_loses_its_own_oldest_entry_and_nobody_elses() -> None:
    tables: ClientTables[str, int] = ClientTables(per_client=3, total=100)
    tables.put("quiet", "kept", 0)
    for n in range(10):
        tables.put("noisy", f"k{n}", n)

    assert tables.get("quiet", "kept") == 0
    assert tables.count("noisy") == 3
    assert [tables.get("noisy", f"k{n}") for n in (6, 7, 8, 9)] == [None, 7, 8, 9]


def test_using_an_entry_makes_it_the_last_its_client_loses() -> None:
    tables: ClientTables[str, int] = ClientTables(per_client=2, total=100)
    tables.put("c", "old", 1)
    tables.put("c", "new", 2)
    assert tables.get("c", "old") == 1

    tables.put("c", "newest", 3)

    assert (tables.get("c", "old"), tables.get("c", "new"), tables.get("c", "newest")) == (1, None, 3)


def test_past_the_total_the_client_holding_the_most_loses_its_oldest_and_smaller_clients_lose_nothing() -> None:
    tables: ClientTables[str, int] = ClientTables(per_client=50, total=100)
    for client in ("a", "b", "c"):
        tables.put(client, "first", 0)
    for n in range(200):
        tables.put(f"noisy-{n % 3}", f"k{n}", n)

    assert len(tables) == 100
    assert [tables.get(client, "first") for client in ("a", "b", "c")] == [0, 0, 0]
    assert sorted(tables.count(f"noisy-{n}") for n in range(3)) == [32, 32, 33]


def test_an_entry_is_found_only_by_the_client_that_put_it() -> None:
    tables: ClientTables[str, int] = ClientTables(per_client=2, total=4)
    tables.put("a", "same-key", 1)
    assert tables.get("b", "same-key") is None
    assert tables.pop("b", "same-key") is None
    assert tables.pop("a", "same-key") == 1
    assert len(tables) == 0


def test_every_cap_is_a_client_share_of_a_larger_total() -> None:
    assert 0 < MAX_STREAKS_PER_CLIENT < MAX_STREAKS
    assert 0 < MAX_SESSIONS_PER_CLIENT < MAX_SESSIONS


async def test_a_client_logging_in_again_and_again_keeps_its_newest_sessions_and_others_keep_theirs() -> None:
    # Room for one session more than a client's share: a cap on the total alone would evict the other's.
    store = MemorySessionStore(clock=lambda: 0.0, max_sessions=MAX_SESSIONS_PER_CLIENT + 1)
    other = await store.add("other", "api-1", SESSION, None)
    handles = [await store.add("looping", "api-1", SESSION, None) for _ in range(MAX_SESSIONS_PER_CLIENT + 20)]

    assert await store.get("other", other, "api-1") == SESSION
    assert await store.get("looping", handles[0], "api-1") is None
    assert await store.get("looping", handles[-1], "api-1") == SESSION


async def test_the_login_cap_past_its_total_forgets_only_the_api_attempted_longest_ago() -> None:
    logins = MemoryLoginAttempts(limit=1, max_apis=MAX_APIS_TRACKED)
    assert await logins.claim("api-first", 0.0) is None
    assert await logins.claim("api-second", 0.0) is None
    for n in range(MAX_APIS_TRACKED - 1):
        assert await logins.claim(f"api-{n}", 1.0) is None

    assert await logins.wait_before_next("api-first", 2.0) is None, "forgotten: the service's own cap answers now"
    assert await logins.wait_before_next("api-second", 2.0) is not None


def test_a_client_failing_distinct_calls_in_a_loop_never_evicts_another_clients_streak() -> None:
    breaker = RepeatedFailures(total=MAX_STREAKS_PER_CLIENT + 1)
    first = breaker.begin("other", "get_task", {"task_id": "t-1"}, 0)
    assert breaker.failed(first, "task_not_found", 0) == 1
    for n in range(MAX_STREAKS_PER_CLIENT + 20):
        breaker.failed(breaker.begin("looping", "get_task", {"task_id": f"t-{n}"}, 0), "task_not_found", 0)

    again = breaker.begin("other", "get_task", {"task_id": "t-1"}, 1)
    assert breaker.failed(again, "task_not_found", 1) == 2
    assert breaker.streaks.count("looping") == MAX_STREAKS_PER_CLIENT
