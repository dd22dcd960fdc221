"""Pacing keeps concurrent calls inside the service's token bucket instead of spending requests on 429s."""

from __future__ import annotations

from parse_mcp.meta import RateSnapshot
from parse_mcp.policy.pacing import SAFETY_SECONDS, Go, Learn, Pacer, Refuse

T0 = 1_800_000_000.0


def bucket(remaining: int, *, burst: int = 30, per_minute: float = 60.0, at: float = T0) -> RateSnapshot:
    return RateSnapshot(observed_at=at, remaining=remaining, burst=burst, refill_per_minute=per_minute)


def test_an_unknown_bucket_lets_the_first_call_through() -> None:
    assert Pacer().reserve(T0, max_wait=0) == Go(0.0)


def test_calls_go_at_once_while_tokens_are_left() -> None:
    pacer = Pacer()
    pacer.observe(bucket(2))
    assert pacer.reserve(T0, max_wait=0) == Go(0.0)
    assert pacer.reserve(T0, max_wait=0) == Go(0.0)


def test_waiting_calls_queue_behind_each_other_at_the_refill_rate() -> None:
    pacer = Pacer()
    pacer.observe(bucket(0, per_minute=60.0))  # one token a second
    waits = [pacer.reserve(T0, max_wait=10) for _ in range(3)]
    assert waits == [Go(1 + SAFETY_SECONDS), Go(2 + SAFETY_SECONDS), Go(3 + SAFETY_SECONDS)]


def test_a_wait_longer_than_the_call_may_wait_is_refused_before_sending() -> None:
    pacer = Pacer()
    pacer.observe(bucket(0, per_minute=6.0))  # one token every 10 s
    decision = pacer.reserve(T0, max_wait=5)
    assert isinstance(decision, Refuse)
    assert decision.limit_type == "burst"
    assert decision.retry_after == 10 + SAFETY_SECONDS


def test_tokens_refill_with_time() -> None:
    pacer = Pacer()
    pacer.observe(bucket(0, per_minute=60.0))
    assert pacer.reserve(T0 + 1.5, max_wait=0) == Go(0.0)


def test_a_released_reservation_frees_its_token() -> None:
    pacer = Pacer()
    pacer.observe(bucket(1))
    assert pacer.reserve(T0, max_wait=0) == Go(0.0)
    pacer.release(T0)
    assert pacer.reserve(T0, max_wait=0) == Go(0.0)


def test_a_lower_count_from_the_service_wins_because_someone_else_spends_too() -> None:
    pacer = Pacer()
    pacer.observe(bucket(10))
    pacer.observe(bucket(0))
    assert isinstance(pacer.reserve(T0, max_wait=0), Refuse)


def test_an_exhausted_day_is_refused_until_utc_midnight_without_sending() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=T0, daily_remaining=0, daily_reset_in=3600))
    assert pacer.reserve(T0 + 10, max_wait=100) == Refuse("daily", 3590)
    assert pacer.reserve(T0 + 3600, max_wait=0) == Go(0.0)


def test_the_last_daily_request_is_spent_once() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=T0, daily_remaining=1, daily_reset_in=600))
    assert pacer.reserve(T0, max_wait=0) == Go(0.0)
    assert pacer.reserve(T0, max_wait=0) == Refuse("daily", 600)


def test_a_429_holds_everyone_back_for_the_time_it_gives() -> None:
    pacer = Pacer()
    pacer.rejected(T0, "burst", 5)
    assert pacer.reserve(T0 + 1, max_wait=10) == Go(4.0)
    assert isinstance(pacer.reserve(T0 + 1, max_wait=3), Refuse)


def test_a_daily_429_closes_the_day() -> None:
    pacer = Pacer()
    pacer.rejected(T0, "daily", 7200)
    assert pacer.reserve(T0, max_wait=10) == Refuse("daily", 7200)


def test_until_the_bucket_is_known_only_one_call_is_in_flight() -> None:
    pacer = Pacer()
    assert pacer.reserve(T0, max_wait=10) == Go(0.0)
    assert pacer.reserve(T0, max_wait=10) == Learn()
    pacer.observe(bucket(3))
    assert pacer.reserve(T0, max_wait=10) == Go(0.0)


def test_a_service_without_rate_headers_is_not_paced() -> None:
    pacer = Pacer()
    assert pacer.reserve(T0, max_wait=0) == Go(0.0)
    pacer.no_picture(answered=True)
    assert [pacer.reserve(T0, max_wait=0) for _ in range(3)] == [Go(0.0)] * 3


def test_a_probe_that_got_no_answer_lets_the_next_call_probe_again() -> None:
    pacer = Pacer()
    assert pacer.reserve(T0, max_wait=0) == Go(0.0)
    pacer.no_picture(answered=False)
    assert pacer.reserve(T0, max_wait=0) == Go(0.0)
    assert pacer.reserve(T0, max_wait=0) == Learn()
