"""The repeated-failure breaker counts the same call failing the same way."""

from __future__ import annotations

from parse_mcp.policy.breaker import MAX_TRACKED, RepeatedFailures

ARGS = {"scraper_id": "a", "endpoint": "e", "params": {"x": 1}}


def test_the_same_call_failing_the_same_way_is_counted() -> None:
    breaker = RepeatedFailures()
    assert [breaker.failed("t", ARGS, "blocked", now) for now in (0, 1, 2)] == [1, 2, 3]


def test_argument_order_does_not_make_a_different_call() -> None:
    breaker = RepeatedFailures()
    breaker.failed("t", {"a": 1, "b": 2}, "x", 0)
    assert breaker.failed("t", {"b": 2, "a": 1}, "x", 1) == 2


def test_another_error_other_arguments_or_a_success_start_again() -> None:
    breaker = RepeatedFailures()
    breaker.failed("t", ARGS, "blocked", 0)
    assert breaker.failed("t", ARGS, "scraper_bug", 1) == 1
    assert breaker.failed("t", {**ARGS, "params": {"x": 2}}, "scraper_bug", 2) == 1
    breaker.succeeded("t", ARGS)
    assert breaker.failed("t", ARGS, "scraper_bug", 3) == 1


def test_a_quiet_window_forgets_the_streak() -> None:
    breaker = RepeatedFailures(window_seconds=60)
    breaker.failed("t", ARGS, "blocked", 0)
    assert breaker.failed("t", ARGS, "blocked", 61) == 1


def test_memory_stays_bounded() -> None:
    breaker = RepeatedFailures()
    for n in range(MAX_TRACKED + 50):
        breaker.failed("t", {"n": n}, "x", 0)
    assert len(breaker._streaks) == MAX_TRACKED
