"""Pacing keeps concurrent calls inside the service's token bucket instead of spending requests on 429s,
and stays sane when calls are cancelled, probes stall and the headers are hostile."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parse_mcp.meta import RateSnapshot
from parse_mcp.policy.pacing import (
    DAILY_PROBE_INTERVAL_SECONDS,
    DAILY_RESET_GRACE_SECONDS,
    DEFAULT_BURST_RETRY_SECONDS,
    MAX_WAIT_SECONDS,
    PROBE_TIMEOUT_SECONDS,
    SAFETY_SECONDS,
    Go,
    Learn,
    Pacer,
    Refuse,
)

T0 = 1_800_000_000.0  # 08:00:00 UTC
TO_MIDNIGHT = 57_600.0  # from T0 to the next 00:00 UTC
DAY = 86_400.0


def bucket(remaining: int, *, burst: int = 30, per_minute: float = 60.0, at: float = T0) -> RateSnapshot:
    return RateSnapshot(observed_at=at, remaining=remaining, burst=burst, refill_per_minute=per_minute)


def paced(snapshot: RateSnapshot) -> Pacer:
    pacer = Pacer()
    pacer.observe(snapshot)
    return pacer


def wait_of(decision: Go | Learn | Refuse) -> float:
    assert isinstance(decision, Go), decision
    return decision.wait


def daily_locked(retry_after: float | None, *, at: float = T0) -> Pacer:
    pacer = paced(bucket(30, at=at))
    pacer.rejected(at, "daily", retry_after)
    return pacer


# --- the bucket ---------------------------------------------------------------------------------------


def test_an_unknown_bucket_lets_the_first_call_through_as_the_probe() -> None:
    assert Pacer().reserve(T0, max_wait=0) == Go(0.0, probe="learn")


def test_calls_go_at_once_while_tokens_are_left() -> None:
    pacer = paced(bucket(2))
    assert pacer.reserve(T0, max_wait=0) == Go(0.0, token=True)
    assert pacer.reserve(T0, max_wait=0) == Go(0.0, token=True)


def test_waiting_calls_queue_behind_each_other_at_the_refill_rate() -> None:
    pacer = paced(bucket(0, per_minute=60.0))  # one token a second
    waits = [wait_of(pacer.reserve(T0, max_wait=10)) for _ in range(3)]
    assert waits == [1 + SAFETY_SECONDS, 2 + SAFETY_SECONDS, 3 + SAFETY_SECONDS]


def test_a_wait_longer_than_the_call_may_wait_is_refused_before_sending() -> None:
    pacer = paced(bucket(0, per_minute=6.0))  # one token every 10 s
    assert pacer.reserve(T0, max_wait=5) == Refuse("burst", 10 + SAFETY_SECONDS)


def test_tokens_refill_with_time() -> None:
    pacer = paced(bucket(0, per_minute=60.0))
    assert wait_of(pacer.reserve(T0 + 1.5, max_wait=0)) == 0.0


@given(
    elapsed=st.floats(min_value=0.0, max_value=0.999, allow_nan=False), per_minute=st.sampled_from([6.0, 60.0, 600.0])
)
def test_a_bucket_partly_refilled_is_not_a_token_a_call_waits_for_the_rest_of_it(
    elapsed: float, per_minute: float
) -> None:
    # Sending on a fraction of a token is a 429 from the service under load: only a whole token lets a call go.
    per_second = per_minute / 60
    pacer = paced(bucket(0, per_minute=per_minute))
    since = elapsed / per_second  # the bucket is `elapsed` of a token full by now
    wait = wait_of(pacer.reserve(T0 + since, max_wait=60))
    assert wait == pytest.approx((1 - elapsed) / per_second + SAFETY_SECONDS, abs=1e-5)  # T0 + since rounds
    assert wait > 0


def test_a_call_goes_at_once_the_moment_a_whole_token_has_refilled() -> None:
    pacer = paced(bucket(0, per_minute=60.0))
    assert wait_of(pacer.reserve(T0 + 1.0, max_wait=0)) == 0.0
    assert wait_of(pacer.reserve(T0 + 1.0, max_wait=5)) == pytest.approx(1 + SAFETY_SECONDS)


def test_a_lower_count_from_the_service_wins_because_someone_else_spends_too() -> None:
    pacer = paced(bucket(10))
    pacer.observe(bucket(0))
    assert isinstance(pacer.reserve(T0, max_wait=0), Refuse)


def test_a_429_holds_everyone_back_for_the_time_it_gives() -> None:
    pacer = Pacer()
    pacer.rejected(T0, "burst", 5)
    pacer.no_picture(answered=True)
    assert wait_of(pacer.reserve(T0 + 1, max_wait=10)) == 4.0
    assert isinstance(pacer.reserve(T0 + 1, max_wait=3), Refuse)


def test_a_service_without_rate_headers_is_not_paced() -> None:
    pacer = Pacer()
    assert pacer.reserve(T0, max_wait=0) == Go(0.0, probe="learn")
    pacer.no_picture(answered=True)
    assert [pacer.reserve(T0, max_wait=0) for _ in range(3)] == [Go(0.0)] * 3


# --- giving back a reservation --------------------------------------------------------------------------


def test_a_released_reservation_frees_its_token() -> None:
    pacer = paced(bucket(1))
    go = pacer.reserve(T0, max_wait=0)
    assert isinstance(go, Go)
    pacer.release(T0, go)
    assert pacer.reserve(T0, max_wait=0) == Go(0.0, token=True)


def test_200_cancelled_reservations_leave_the_next_calls_wait_unchanged() -> None:
    untouched = paced(bucket(0, per_minute=60.0))
    pacer = paced(bucket(0, per_minute=60.0))
    cancelled = [pacer.reserve(T0, max_wait=300) for _ in range(200)]
    assert wait_of(cancelled[-1]) == 200 + SAFETY_SECONDS  # they really queued
    for go in cancelled:
        assert isinstance(go, Go)
        pacer.release(T0 + 0.5, go)
    assert pacer.reserve(T0 + 0.5, max_wait=10) == untouched.reserve(T0 + 0.5, max_wait=10)
    assert wait_of(untouched.reserve(T0 + 0.5, max_wait=10)) == pytest.approx(1.5 + SAFETY_SECONDS)


def test_a_released_reservation_gives_back_only_what_it_took() -> None:
    pacer = paced(RateSnapshot(observed_at=T0, remaining=5, burst=5, refill_per_minute=60, daily_remaining=1))
    assert pacer.reserve(T0, max_wait=0) == Go(0.0, token=True, daily_unit=True)
    pacer.release(T0, Go(0.0))  # a reservation that took nothing (e.g. an unpaced request) gives nothing
    assert pacer.reserve(T0, max_wait=0) == Go(0.0, token=True, daily_unit=True, probe="learn")  # day spent


def test_a_cancelled_probe_lets_the_next_call_probe_at_once() -> None:
    pacer = Pacer()
    probe = pacer.reserve(T0, max_wait=0)
    assert isinstance(probe, Go)
    pacer.release(T0, probe)
    assert pacer.reserve(T0, max_wait=0) == Go(0.0, probe="learn")


# Pictures a pacer may hold: each is a list of things the service said, applied in order.
PICTURES = st.sampled_from(
    [
        [],
        [bucket(3)],
        [bucket(0, per_minute=60.0)],
        [bucket(2, per_minute=0.5, burst=2)],
        [RateSnapshot(observed_at=T0, daily_remaining=2, daily_reset_in=3600)],
        [RateSnapshot(observed_at=T0, remaining=9, burst=9, refill_per_minute=60, daily_remaining=2)],
        [RateSnapshot(observed_at=T0, remaining=1, burst=4, refill_per_minute=12, daily_remaining=0)],
        [bucket(1), "burst 429"],
        [bucket(5), "daily 429"],
    ]
)


def prepared(picture: list[RateSnapshot | str]) -> Pacer:
    pacer = Pacer()
    for said in picture:
        if isinstance(said, RateSnapshot):
            pacer.observe(said)
        else:
            pacer.rejected(T0, said.split()[0], 3.0)
    return pacer


@given(
    picture=PICTURES,
    count=st.integers(min_value=1, max_value=40),
    max_wait=st.sampled_from([0.0, 2.0, 60.0, 1e9]),
    order=st.randoms(use_true_random=False),
    later=st.floats(min_value=0.0, max_value=5.0),
)
def test_any_number_of_reservations_given_back_leave_the_pacer_as_it_was(
    picture: list[RateSnapshot | str], count: int, max_wait: float, order: random.Random, later: float
) -> None:
    pacer, untouched = prepared(picture), prepared(picture)
    now = T0 + later
    taken = [pacer.reserve(now, max_wait) for _ in range(count)]
    given_back = [go for go in taken if isinstance(go, Go)]
    order.shuffle(given_back)
    for go in given_back:
        pacer.release(now, go)
    assert [pacer.reserve(now, max_wait) for _ in range(count)] == [
        untouched.reserve(now, max_wait) for _ in range(count)
    ]


# --- the first probe ------------------------------------------------------------------------------------


def test_until_the_bucket_is_known_only_one_call_is_in_flight() -> None:
    pacer = Pacer()
    assert pacer.reserve(T0, max_wait=10) == Go(0.0, probe="learn")
    assert pacer.reserve(T0, max_wait=10) == Learn(T0 + PROBE_TIMEOUT_SECONDS)
    pacer.observe(bucket(3))
    assert pacer.reserve(T0, max_wait=10) == Go(0.0, token=True)


def test_a_stalled_probe_holds_the_others_at_most_the_probe_timeout() -> None:
    pacer = Pacer()
    assert pacer.reserve(T0, max_wait=30) == Go(0.0, probe="learn")
    held = pacer.reserve(T0 + 1, max_wait=30)
    assert isinstance(held, Learn)
    assert held.retry_at == T0 + PROBE_TIMEOUT_SECONDS
    assert pacer.reserve(T0 + PROBE_TIMEOUT_SECONDS, max_wait=30) == Go(0.0, probe="learn")
    assert pacer.reserve(T0 + PROBE_TIMEOUT_SECONDS, max_wait=30) == Learn(T0 + 2 * PROBE_TIMEOUT_SECONDS)


def test_a_probe_timeout_given_to_the_pacer_is_kept_when_it_is_restored_from_a_snapshot() -> None:
    pacer = Pacer(probe_timeout=1.5)
    assert pacer.reserve(T0, max_wait=30) == Go(0.0, probe="learn")
    assert pacer.reserve(T0, max_wait=30) == Learn(T0 + 1.5)
    restored = Pacer.restored(pacer.snapshot(), probe_timeout=1.5)
    assert restored.reserve(T0 + 1, max_wait=30) == Learn(T0 + 1.5)
    assert restored.reserve(T0 + 1.5, max_wait=30) == Go(0.0, probe="learn")
    # The default is the module's, and the timeout is not part of the shared picture.
    assert Pacer.restored(pacer.snapshot()).reserve(T0 + 1.5, max_wait=30) == Learn(T0 + PROBE_TIMEOUT_SECONDS)


def test_waiting_for_the_probe_always_names_a_moment_still_to_come() -> None:
    pacer = Pacer()
    pacer.reserve(T0, max_wait=30)
    for elapsed in (0.0, 0.001, 2.5, PROBE_TIMEOUT_SECONDS - 1e-6):
        decision = pacer.reserve(T0 + elapsed, max_wait=30)
        assert isinstance(decision, Learn)
        assert T0 + elapsed < decision.retry_at <= T0 + elapsed + PROBE_TIMEOUT_SECONDS


def test_a_probe_that_got_no_answer_lets_the_next_call_probe_again() -> None:
    pacer = Pacer()
    assert pacer.reserve(T0, max_wait=0) == Go(0.0, probe="learn")
    pacer.no_picture(answered=False)
    assert pacer.reserve(T0, max_wait=0) == Go(0.0, probe="learn")
    assert isinstance(pacer.reserve(T0, max_wait=0), Learn)


def test_a_probe_that_must_wait_holds_the_others_from_when_it_is_sent() -> None:
    pacer = Pacer()
    pacer.rejected(T0, "burst", 3)  # a 429 before any picture
    assert pacer.reserve(T0, max_wait=10) == Go(3.0, probe="learn")
    assert pacer.reserve(T0 + 1, max_wait=10) == Learn(T0 + 3 + PROBE_TIMEOUT_SECONDS)


# --- hostile headers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [999_999_999.0, DAY + 1, math.inf, math.nan, -5.0, None])
def test_a_burst_retry_after_beyond_a_day_or_unusable_holds_calls_a_second_not_a_day(
    retry_after: float | None,
) -> None:
    pacer = paced(bucket(30, per_minute=600.0))  # a token every 0.1 s: the hold is what makes the wait
    pacer.rejected(T0, "burst", retry_after)
    assert wait_of(pacer.reserve(T0, max_wait=5)) == DEFAULT_BURST_RETRY_SECONDS
    assert wait_of(pacer.reserve(T0 + DEFAULT_BURST_RETRY_SECONDS, max_wait=0)) == 0.0


def test_a_refill_of_a_millionth_token_a_minute_is_not_paced_by() -> None:
    pacer = paced(bucket(0, per_minute=0.000001))  # one token every 694 days
    waits = [wait_of(pacer.reserve(T0, max_wait=math.inf)) for _ in range(5)]
    assert waits == [0.0] * 5


def test_a_hostile_refill_rate_replaces_a_sane_one_rather_than_being_ignored() -> None:
    pacer = paced(bucket(0, per_minute=60.0))
    pacer.observe(bucket(0, per_minute=0.000001))
    assert wait_of(pacer.reserve(T0, max_wait=0)) == 0.0


def test_no_computed_wait_is_longer_than_a_day() -> None:
    pacer = paced(bucket(0, per_minute=60 / 80_000))  # one token every 80,000 s: believed
    waits = [wait_of(pacer.reserve(T0, max_wait=math.inf)) for _ in range(4)]
    assert waits[0] == pytest.approx(80_000 + SAFETY_SECONDS)
    assert max(waits) == MAX_WAIT_SECONDS


def test_the_daily_count_in_the_headers_never_refuses_a_call_alone() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=T0, daily_remaining=0, daily_reset_in=999_999_999))
    decisions = [pacer.reserve(T0 + 10, max_wait=100) for _ in range(3)]
    held = Learn(T0 + 10 + PROBE_TIMEOUT_SECONDS)
    assert decisions == [Go(0.0, daily_unit=True, probe="learn"), held, held]


def test_a_spent_day_in_the_headers_lets_one_call_at_a_time_ask_and_a_daily_429_closes_it() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=T0, daily_remaining=0, daily_reset_in=3600))
    assert pacer.reserve(T0, max_wait=0) == Go(0.0, daily_unit=True, probe="learn")
    pacer.rejected(T0, "daily", 3600)
    assert pacer.reserve(T0, max_wait=0) == Refuse("daily", 3600)


def test_the_last_daily_request_is_spent_once_then_the_next_call_asks_alone() -> None:
    pacer = paced(RateSnapshot(observed_at=T0, remaining=5, burst=5, daily_remaining=1, daily_reset_in=600))
    assert pacer.reserve(T0, max_wait=0) == Go(0.0, token=True, daily_unit=True)
    assert pacer.reserve(T0, max_wait=0) == Go(0.0, token=True, daily_unit=True, probe="learn")
    assert isinstance(pacer.reserve(T0, max_wait=0), Learn)


def test_a_daily_count_is_forgotten_when_its_reset_comes() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=T0, remaining=5, burst=5, daily_remaining=0, daily_reset_in=600))
    assert pacer.reserve(T0 + 600, max_wait=0) == Go(0.0, token=True)


def test_a_daily_count_with_a_reset_beyond_a_day_is_forgotten_at_the_end_of_the_utc_day() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=T0, remaining=5, burst=5, daily_remaining=0, daily_reset_in=2 * DAY))
    end_of_day = T0 + TO_MIDNIGHT + DAILY_RESET_GRACE_SECONDS
    assert isinstance(pacer.reserve(end_of_day - 1, max_wait=0), Go)
    assert isinstance(pacer.reserve(end_of_day - 1, max_wait=0), Learn)
    assert pacer.reserve(end_of_day, max_wait=0) == Go(0.0, token=True)


# --- the daily lock -------------------------------------------------------------------------------------


def test_a_daily_429_closes_the_day_for_the_time_it_gives() -> None:
    pacer = daily_locked(7200)
    assert pacer.reserve(T0, max_wait=10) == Refuse("daily", 7200)
    assert pacer.reserve(T0 + 7200, max_wait=10) == Go(0.0, token=True)


@pytest.mark.parametrize("retry_after", [None, 999_999_999.0, 2 * DAY, TO_MIDNIGHT + 3600])
def test_the_daily_lock_lifts_at_utc_midnight_plus_a_minute_whatever_the_header_says(
    retry_after: float | None,
) -> None:
    pacer = daily_locked(retry_after)
    lifts = TO_MIDNIGHT + DAILY_RESET_GRACE_SECONDS
    assert pacer.reserve(T0, max_wait=10) == Refuse("daily", lifts)
    assert pacer.reserve(T0 + lifts, max_wait=10) == Go(0.0, token=True)


def test_the_daily_lock_never_lasts_longer_than_a_day_even_just_after_midnight() -> None:
    just_after_midnight = T0 + TO_MIDNIGHT + 30
    pacer = daily_locked(None, at=just_after_midnight)
    decision = pacer.reserve(just_after_midnight, max_wait=10)
    assert decision == Refuse("daily", MAX_WAIT_SECONDS)


def test_headers_alone_never_lock_the_day() -> None:
    pacer = paced(bucket(30))
    pacer.observe(RateSnapshot(observed_at=T0, daily_remaining=0, daily_reset_in=DAY))
    pacer.rejected(T0, "burst", 10)
    assert not any(
        isinstance(decision, Refuse) and decision.limit_type == "daily"
        for decision in (pacer.reserve(T0 + second, max_wait=60) for second in range(0, 60, 6))
    )


def test_the_daily_lock_lets_one_probe_through_every_15_minutes() -> None:
    pacer = daily_locked(None)
    lifts = TO_MIDNIGHT + DAILY_RESET_GRACE_SECONDS
    almost = T0 + DAILY_PROBE_INTERVAL_SECONDS - 1
    assert pacer.reserve(almost, max_wait=10) == Refuse("daily", lifts - DAILY_PROBE_INTERVAL_SECONDS + 1)
    first = T0 + DAILY_PROBE_INTERVAL_SECONDS
    assert pacer.reserve(first, max_wait=10) == Go(0.0, token=True, daily_unit=True, probe="daily_lock")
    assert pacer.reserve(first, max_wait=10) == Refuse("daily", lifts - DAILY_PROBE_INTERVAL_SECONDS)
    pacer.rejected(first, "daily", None)  # the probe found the day still spent
    second = first + DAILY_PROBE_INTERVAL_SECONDS
    assert isinstance(pacer.reserve(second - 1, max_wait=10), Refuse)
    assert pacer.reserve(second, max_wait=10) == Go(0.0, token=True, daily_unit=True, probe="daily_lock")


def test_a_probe_that_finds_the_day_open_lifts_the_lock_for_everyone() -> None:
    pacer = daily_locked(None)
    probe_time = T0 + DAILY_PROBE_INTERVAL_SECONDS
    assert isinstance(pacer.reserve(probe_time, max_wait=10), Go)
    pacer.observe(RateSnapshot(observed_at=probe_time, remaining=29, burst=30, daily_remaining=4_999))
    assert [pacer.reserve(probe_time, max_wait=10) for _ in range(3)] == [Go(0.0, token=True, daily_unit=True)] * 3


def test_a_daily_probe_that_was_never_sent_lets_the_next_call_probe_in_its_place() -> None:
    pacer = daily_locked(None)
    probe_time = T0 + DAILY_PROBE_INTERVAL_SECONDS
    probe = pacer.reserve(probe_time, max_wait=10)
    assert isinstance(probe, Go)
    pacer.release(probe_time + 1, probe)
    assert pacer.reserve(probe_time + 1, max_wait=10) == probe


def _through_json(pacer: Pacer) -> Pacer:
    return Pacer.restored(json.loads(json.dumps(pacer.snapshot())))


def _decisions(pacer: Pacer, start: float) -> list[Go | Learn | Refuse]:
    return [pacer.reserve(start + step, max_wait=120.0) for step in (0.0, 0.0, 0.5, 3.0, 1000.0, 2000.0)]


def _pacers_in_every_state() -> list[Pacer]:
    unknown, probing, bucket_known, unpaced, day_spent, day_locked = (Pacer() for _ in range(6))
    probing.reserve(T0, max_wait=10.0)
    bucket_known.observe(daily(remaining=1, daily_remaining=40))
    bucket_known.reserve(T0, max_wait=10.0)
    bucket_known.rejected(T0, "burst", 2.0)
    unpaced.no_picture(answered=True)
    day_spent.observe(daily(remaining=5, daily_remaining=0))
    day_locked.observe(bucket(5))
    day_locked.rejected(T0, "daily", None)
    return [unknown, probing, bucket_known, unpaced, day_spent, day_locked]


def daily(*, remaining: int, daily_remaining: int) -> RateSnapshot:
    return RateSnapshot(
        observed_at=T0, remaining=remaining, burst=30, refill_per_minute=60.0, daily_remaining=daily_remaining
    )


@pytest.mark.parametrize("state", range(6))
def test_a_pacer_restored_from_its_json_snapshot_decides_exactly_as_the_original(state: int) -> None:
    original = _pacers_in_every_state()[state]
    restored = _through_json(original)
    assert restored.snapshot() == original.snapshot()
    assert _decisions(restored, T0 + 0.1) == _decisions(original, T0 + 0.1)


@pytest.mark.parametrize(
    "snapshot",
    [
        None,
        "text",
        [],
        {},
        {"version": 999},
        {**Pacer().snapshot(), "taken": "1"},
        {**Pacer().snapshot(), "level": "x"},
    ],
)
def test_a_snapshot_of_another_version_or_shape_restores_a_fresh_pacer_that_probes(snapshot: object) -> None:
    assert Pacer.restored(snapshot).snapshot() == Pacer().snapshot()
    assert Pacer.restored(snapshot).reserve(T0, max_wait=10.0) == Go(0.0, probe="learn")
