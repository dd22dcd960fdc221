"""The repeated-failure breaker counts one client repeating the same call that fails the same way."""

from __future__ import annotations

from collections.abc import Mapping

from parse_mcp.policy.breaker import MIN_GAP_SECONDS, call_digest
from parse_mcp.state.streaks import MAX_STREAKS_PER_CLIENT, RepeatedFailures

ARGS = {"scraper_id": "a", "endpoint": "e", "params": {"x": 1}}


def fail_in_turn(
    breaker: RepeatedFailures, code: str, now: float, arguments: Mapping[str, object] = ARGS, client: str = "c"
) -> int:
    """One call that starts after the previous one ended, and fails."""
    return breaker.failed(breaker.begin(client, "t", arguments, now), code, now)


def test_the_same_call_failing_the_same_way_in_turn_is_counted() -> None:
    breaker = RepeatedFailures()
    assert [fail_in_turn(breaker, "blocked", now) for now in (0, 1, 2)] == [1, 2, 3]


def test_a_repeat_sooner_than_an_answer_can_be_read_is_not_counted() -> None:
    breaker = RepeatedFailures()
    counts = [fail_in_turn(breaker, "blocked", 10 + n * (MIN_GAP_SECONDS / 10)) for n in range(5)]
    assert counts == [1, 1, 1, 1, 1]
    assert fail_in_turn(breaker, "blocked", 11) == 2


def test_argument_order_does_not_make_a_different_call() -> None:
    breaker = RepeatedFailures()
    fail_in_turn(breaker, "x", 0, {"a": 1, "b": 2})
    assert fail_in_turn(breaker, "x", 1, {"b": 2, "a": 1}) == 2


def test_another_error_other_arguments_or_a_success_start_again() -> None:
    breaker = RepeatedFailures()
    fail_in_turn(breaker, "blocked", 0)
    assert fail_in_turn(breaker, "scraper_bug", 1) == 1
    assert fail_in_turn(breaker, "scraper_bug", 2, {**ARGS, "params": {"x": 2}}) == 1
    breaker.succeeded(breaker.begin("c", "t", ARGS, 2.5))
    assert fail_in_turn(breaker, "scraper_bug", 3) == 1


def test_a_quiet_window_forgets_the_streak() -> None:
    breaker = RepeatedFailures(window_seconds=60)
    fail_in_turn(breaker, "blocked", 0)
    assert fail_in_turn(breaker, "blocked", 61) == 1


def test_each_client_has_its_own_count() -> None:
    breaker = RepeatedFailures()
    for client in ("a", "b", "c"):
        assert fail_in_turn(breaker, "blocked", 0, client=client) == 1
    assert fail_in_turn(breaker, "blocked", 1, client="a") == 2


def test_concurrent_duplicates_in_flight_are_not_repeats() -> None:
    breaker = RepeatedFailures()
    in_flight = [breaker.begin("c", "t", ARGS, 0) for _ in range(100)]
    assert {breaker.failed(attempt, "rate_limited_burst", 0) for attempt in in_flight} == {1}
    assert fail_in_turn(breaker, "rate_limited_burst", 1) == 2, "a call made after they all ended is a repeat"


def test_a_call_started_before_the_last_failure_ended_does_not_count_however_late_it_ends() -> None:
    breaker = RepeatedFailures()
    early = breaker.begin("c", "t", ARGS, 5)
    assert fail_in_turn(breaker, "blocked", 5) == 1
    assert breaker.failed(early, "blocked", 30) == 1
    assert fail_in_turn(breaker, "blocked", 60) == 2


def test_a_clients_streaks_stay_bounded_and_its_oldest_is_the_one_forgotten() -> None:
    breaker = RepeatedFailures()
    for n in range(MAX_STREAKS_PER_CLIENT + 50):
        fail_in_turn(breaker, "x", 0, {"n": n})
    assert len(breaker.streaks) == MAX_STREAKS_PER_CLIENT
    assert fail_in_turn(breaker, "x", 1, {"n": 0}) == 1, "the oldest streak was forgotten"
    assert fail_in_turn(breaker, "x", 1, {"n": MAX_STREAKS_PER_CLIENT + 49}) == 2, "the newest is still counted"


def test_an_attempt_holds_a_digest_of_the_arguments_not_the_arguments() -> None:
    huge = {"params": {"blob": "x" * 100_000}}
    attempt = RepeatedFailures().begin("c", "t", huge, 0)
    assert attempt.call == call_digest("t", huge)
    assert len(attempt.call) == 64
    assert all(len(str(value)) < 100 for value in (attempt.client, attempt.call, attempt.started, attempt.started_at))


def test_the_same_arguments_to_another_tool_are_another_call() -> None:
    assert call_digest("get_task", ARGS) != call_digest("execute_endpoint", ARGS)
