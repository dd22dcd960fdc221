"""The edges of the pure policies, each a promise a mutant broke without a test noticing (`make mutate`).

Budgets at their exact end, pacing figures at 0 and 1, a snapshot of the wrong type, a release during a daily
lock, the breaker's window and gap at their exact length, and progress that never goes back. Clocks are numbers
passed in: nothing here sleeps.
"""

from __future__ import annotations

import itertools
from datetime import datetime

import anyio
import pytest

from parse_mcp.errors import ErrorRecord, UpstreamFailure
from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Cut, RateSnapshot
from parse_mcp.policy.breaker import MIN_GAP_SECONDS, Attempt, Streak, call_digest, next_streak
from parse_mcp.policy.deadline import Deadline
from parse_mcp.policy.pacing import MAX_WAIT_SECONDS, Go, Learn, Pacer, Refuse, seconds_to_utc_midnight
from parse_mcp.policy.progress import CallProgress, retrying_in, waiting_for_rate_limit
from parse_mcp.policy.retry import RetryPolicy, retry_delay
from parse_mcp.policy.size import depth_of, encode, fit, size_of

NOW = 1_000_000.0


# -- retry and deadline -------------------------------------------------------------------------------------


def test_a_429_whose_wait_ends_exactly_at_the_end_of_the_budget_is_still_repeated() -> None:
    policy = RetryPolicy(max_attempts=3, wait_budget_seconds=15.0)
    failure = UpstreamFailure(ErrorRecord(code="rate_limited_burst", retry_after=5))
    decided = retry_delay(
        failure, repeat="always", method="GET", attempt=1, waited=10.0, policy=policy, random=lambda: 0.0
    )
    assert decided == 5


def test_a_deadline_that_has_passed_leaves_no_time_at_all() -> None:
    deadline = Deadline(ends_at=NOW)
    assert deadline.left(NOW + 30) == 0.0
    assert deadline.left(NOW) == 0.0
    assert deadline.left(NOW - 0.25) == 0.25


# -- the breaker ----------------------------------------------------------------------------------------------


def test_two_calls_whose_arguments_json_cannot_hold_are_still_told_apart_and_the_same_call_matches() -> None:
    first = call_digest("execute_endpoint", {"when": datetime(2026, 1, 1)})  # noqa: DTZ001
    again = call_digest("execute_endpoint", {"when": datetime(2026, 1, 1)})  # noqa: DTZ001
    other = call_digest("execute_endpoint", {"when": datetime(2026, 1, 2)})  # noqa: DTZ001
    assert first == again
    assert first != other
    assert len(first) == 64


def attempt(started: int, started_at: float) -> Attempt:
    return Attempt(client="c", call="d", started=started, started_at=started_at)


def test_a_failure_exactly_one_window_after_the_last_still_continues_the_streak() -> None:
    previous = Streak("blocked", 2, last=NOW, ended=4)
    after = next_streak(previous, attempt(5, NOW + 10), "blocked", now=NOW + 60, ended=6, window=60.0)
    assert after.count == 3
    later = next_streak(previous, attempt(5, NOW + 10), "blocked", now=NOW + 60.5, ended=6, window=60.0)
    assert later.count == 1


def test_a_call_made_exactly_the_minimum_gap_after_the_last_failure_counts_as_a_repeat() -> None:
    previous = Streak("blocked", 1, last=NOW, ended=4)
    on_the_gap = next_streak(previous, attempt(5, NOW + MIN_GAP_SECONDS), "blocked", now=NOW + 1, ended=6, window=60)
    assert on_the_gap.count == 2
    too_soon = next_streak(previous, attempt(5, NOW + 0.4), "blocked", now=NOW + 1, ended=6, window=60)
    assert too_soon.count == 1


# -- progress -----------------------------------------------------------------------------------------------


def test_progress_starts_at_zero_and_each_report_is_above_the_last_even_when_the_seconds_are_equal() -> None:
    sent: list[float] = []

    async def send(progress: float, total: float | None, message: str) -> None:
        sent.append(progress)

    async def main() -> None:
        progress = CallProgress(send, clock=lambda: NOW)
        await progress.report(0.0, None, "a")
        await progress.report(0.0, None, "b")
        await progress.report(2.0, None, "c")
        await progress.report(2.0, None, "d")

    anyio.run(main)
    assert sent[0] == 0.0
    assert all(later > earlier for earlier, later in itertools.pairwise(sent))
    assert sent[2] == 2.0


def test_waits_are_said_in_whole_seconds_from_one_second_and_in_tenths_below() -> None:
    assert waiting_for_rate_limit(1.0) == "waiting 1 s for the rate limit"
    assert retrying_in(1.5) == "retrying in 2 s"
    assert retrying_in(0.5) == "retrying in 0.5 s"


# -- pacing ---------------------------------------------------------------------------------------------------


def test_a_fresh_pacer_knows_nothing_and_has_taken_nothing() -> None:
    snapshot = Pacer().snapshot()
    assert snapshot["taken"] == 0
    assert snapshot["updated"] == 0.0
    assert snapshot["blocked_until"] == 0.0
    assert snapshot["next_daily_probe_at"] == 0.0
    assert snapshot["unpaced"] is False
    assert {name: snapshot[name] for name in ("level", "capacity", "per_second", "daily_remaining")} == dict.fromkeys(
        ("level", "capacity", "per_second", "daily_remaining")
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("level", float("inf")), ("level", True), ("capacity", "2"), ("daily_remaining", "5"), ("daily_remaining", True)],
)
def test_a_snapshot_with_a_figure_of_the_wrong_type_restores_a_pacer_with_no_picture(field: str, value: object) -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=NOW, remaining=5, burst=10, refill_per_minute=60, daily_remaining=50))
    snapshot = pacer.snapshot()
    assert Pacer.restored(snapshot).snapshot() == snapshot
    assert Pacer.restored({**snapshot, field: value}).snapshot() == Pacer().snapshot()


def test_a_refill_of_zero_per_minute_is_no_rate_and_does_not_break_the_pacer() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=NOW, remaining=2, burst=2, refill_per_minute=0))
    assert pacer.snapshot()["per_second"] is None
    assert isinstance(pacer.reserve(NOW, max_wait=1.0), Go)


@pytest.mark.parametrize("told", [0.0, 0.5])
def test_a_429_that_asks_for_less_than_a_second_is_believed(told: float) -> None:
    pacer = Pacer()
    pacer.rejected(NOW, "burst", told)
    decided = pacer.reserve(NOW, max_wait=5.0)
    assert isinstance(decided, Go)
    assert decided.wait == told


def test_a_429_that_asks_for_exactly_the_longest_trusted_wait_is_believed() -> None:
    pacer = Pacer()
    pacer.rejected(NOW, "burst", MAX_WAIT_SECONDS)
    decided = pacer.reserve(NOW, max_wait=5.0)
    assert isinstance(decided, Refuse)
    assert decided.retry_after == MAX_WAIT_SECONDS


def test_an_answer_without_a_bucket_still_leaves_the_pacer_probing_one_call_at_a_time() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=NOW, burst=10))
    assert isinstance(pacer.reserve(NOW, max_wait=5.0), Go)
    assert isinstance(pacer.reserve(NOW, max_wait=5.0), Learn)


def test_a_burst_of_zero_is_no_capacity_and_the_tokens_the_service_gave_are_used() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=NOW, remaining=5, burst=0, refill_per_minute=60))
    decided = pacer.reserve(NOW, max_wait=5.0)
    assert decided == Go(0.0, token=True)


def test_a_bucket_of_one_refills_to_one_and_no_more() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=NOW, remaining=1, burst=1, refill_per_minute=60))
    assert pacer.reserve(NOW, max_wait=5.0) == Go(0.0, token=True)
    assert pacer.reserve(NOW + 10, max_wait=5.0) == Go(0.0, token=True)
    second = pacer.reserve(NOW + 10, max_wait=5.0)
    assert isinstance(second, Go)
    assert second.wait == pytest.approx(1.05)


def test_a_released_token_never_lifts_the_bucket_above_its_size() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=NOW, remaining=2, burst=2, refill_per_minute=60))
    taken = pacer.reserve(NOW, max_wait=5.0)
    assert isinstance(taken, Go)
    pacer.reserve(NOW + 10, max_wait=5.0)
    pacer.release(NOW + 20, taken)  # the bucket refilled to its size while two tokens were out
    assert pacer.reserve(NOW + 20, max_wait=5.0) == Go(0.0, token=True)
    assert pacer.reserve(NOW + 20, max_wait=5.0) == Go(0.0, token=True)
    third = pacer.reserve(NOW + 20, max_wait=5.0)
    assert isinstance(third, Go)
    assert third.wait > 0


def test_releasing_a_call_that_took_no_token_gives_none_back() -> None:
    pacer = Pacer()
    probe = pacer.reserve(NOW, max_wait=5.0)  # before the picture: the probe takes no token
    assert probe == Go(0.0, token=False, probe="learn")
    pacer.observe(RateSnapshot(observed_at=NOW, remaining=1, burst=1, refill_per_minute=60))
    pacer.release(NOW, Go(0.0, token=False))
    assert pacer.snapshot()["taken"] == 0


def test_a_call_cancelled_during_a_daily_lock_does_not_open_the_probe_early() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=NOW, remaining=5, burst=5, refill_per_minute=60))
    early = pacer.reserve(NOW, max_wait=5.0)
    assert isinstance(early, Go)
    pacer.rejected(NOW, "daily", None)
    assert pacer.snapshot()["daily_remaining"] == 0
    pacer.release(NOW + 1, early)
    assert isinstance(pacer.reserve(NOW + 1, max_wait=5.0), Refuse)


def test_the_day_s_count_is_our_own_when_it_is_lower_than_the_service_s() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=NOW, remaining=5, burst=5, refill_per_minute=60, daily_remaining=10))
    pacer.reserve(NOW, max_wait=5.0)
    pacer.observe(RateSnapshot(observed_at=NOW, daily_remaining=10))
    assert pacer.snapshot()["daily_remaining"] == 9


def test_one_request_left_today_stays_one_when_the_service_says_more() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=NOW, daily_remaining=1))
    pacer.observe(RateSnapshot(observed_at=NOW, daily_remaining=10))
    assert pacer.snapshot()["daily_remaining"] == 1


def test_a_day_spent_by_the_headers_opens_again_when_the_service_says_requests_are_left() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=NOW, daily_remaining=0))
    pacer.observe(RateSnapshot(observed_at=NOW, daily_remaining=50))
    assert pacer.snapshot()["daily_remaining"] == 50


def test_a_daily_lock_holds_while_the_service_says_none_are_left_and_lifts_when_one_is() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=NOW, remaining=5, burst=5, refill_per_minute=60))
    pacer.rejected(NOW, "daily", None)
    pacer.observe(RateSnapshot(observed_at=NOW + 1, daily_remaining=0))
    assert isinstance(pacer.reserve(NOW + 2, max_wait=5.0), Refuse)
    pacer.observe(RateSnapshot(observed_at=NOW + 3, daily_remaining=1))
    assert isinstance(pacer.reserve(NOW + 3, max_wait=5.0), Go)


@pytest.mark.usefixtures("far_from_utc")
def test_the_day_resets_at_utc_midnight_whatever_the_local_time_zone() -> None:
    noon_utc = datetime.fromisoformat("2026-03-01T12:00:00+00:00").timestamp()
    assert seconds_to_utc_midnight(noon_utc) == 12 * 3600


def test_a_refill_of_exactly_one_token_a_day_is_still_a_rate_and_one_slower_is_not() -> None:
    one_a_day = 0.0006944444444444444  # per minute: one token every 86,400.0 s exactly, in floating point
    assert 1.0 / (one_a_day / 60.0) == MAX_WAIT_SECONDS
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=NOW, remaining=1, burst=1, refill_per_minute=one_a_day))
    assert pacer.snapshot()["per_second"] == one_a_day / 60.0
    slower = Pacer()
    slower.observe(RateSnapshot(observed_at=NOW, remaining=1, burst=1, refill_per_minute=one_a_day / 2))
    assert slower.snapshot()["per_second"] is None


# -- fitting a value to a size ----------------------------------------------------------------------------------


def nested(levels: int, inner: JsonValue) -> JsonValue:
    value = inner
    for _ in range(levels):
        value = [value]
    return value


def test_a_value_that_fits_is_returned_itself_uncut() -> None:
    value: JsonValue = {"a": [1, 2, {"b": "c"}]}
    kept, cuts = fit(value, size_of(value))
    assert kept is value
    assert cuts == []


def test_a_budget_smaller_than_any_value_gives_null_and_one_cut_of_the_whole() -> None:
    value: JsonValue = {"a": "x" * 50}
    assert fit(value, 1) == (None, [Cut("$", 0, size_of(value), "chars")])


def test_json_nested_past_what_pydantic_writes_is_written_compact_and_unescaped() -> None:
    value = nested(300, {"a": "é", "b": [1, 2]})
    assert encode(value) == ("[" * 300 + '{"a":"é","b":[1,2]}' + "]" * 300).encode()


def test_a_value_deeper_than_the_encoder_goes_is_cut_by_depth_and_then_by_size() -> None:
    value: JsonValue = ["x" * 500, nested(5_000, 1)]
    kept, cuts = fit(value, 100, max_depth=3)
    assert depth_of(kept) <= 3
    assert size_of(kept) <= 100
    assert {"levels", "chars"} <= {cut.unit for cut in cuts}


def test_a_value_too_large_keeps_every_level_up_to_the_depth_allowed() -> None:
    value: JsonValue = {"a": {"b": "x" * 500}}
    kept, cuts = fit(value, 50, max_depth=2)
    assert isinstance(kept, dict)
    inner = kept["a"]
    assert isinstance(inner, dict)
    assert isinstance(inner["b"], str)
    assert inner["b"].startswith("xxx")
    assert [cut.unit for cut in cuts] == ["chars"]


def test_a_token_given_back_after_the_bucket_shrank_never_lifts_it_above_its_new_size() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=NOW, remaining=2, burst=2))
    taken = pacer.reserve(NOW, max_wait=5.0)
    assert taken == Go(0.0, token=True)
    pacer.observe(RateSnapshot(observed_at=NOW, burst=1))
    pacer.release(NOW, taken)
    assert pacer.snapshot()["level"] == 1.0
    assert pacer.snapshot()["taken"] == 0
