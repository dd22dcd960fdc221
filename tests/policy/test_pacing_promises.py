"""The exact promises of pacing and of a call's budget (`policy/pacing.py`, `policy/deadline.py`), each one a mutation
test found unguarded."""

from __future__ import annotations

from datetime import datetime

import pytest

from parse_mcp.meta import RateSnapshot
from parse_mcp.policy.deadline import call_budget, time_left
from parse_mcp.policy.pacing import Go, Pacer, seconds_to_utc_midnight

T0 = 1_800_000_000.0


def test_after_a_daily_reset_the_pacer_forgets_the_reset_and_keeps_pacing() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=T0, remaining=5, burst=5, daily_remaining=0, daily_reset_in=600))
    assert pacer.reserve(T0 + 600, max_wait=0) == Go(0.0, token=True)
    assert pacer.snapshot()["daily_reset_at"] is None
    assert pacer.reserve(T0 + 601, max_wait=0) == Go(0.0, token=True)
    assert Pacer.restored(pacer.snapshot()).snapshot() == pacer.snapshot()


@pytest.mark.parametrize(
    ("clock", "left"),
    [("23:59:59.250000", 1.0), ("23:58:30", 90.0), ("12:34:56.500000", 41_104.0), ("00:00:00", 86_400.0)],
)
def test_the_seconds_to_utc_midnight_count_hours_minutes_seconds_and_a_started_second_as_whole(
    clock: str, left: float
) -> None:
    now = datetime.fromisoformat(f"2027-01-15T{clock}+00:00").timestamp()
    assert seconds_to_utc_midnight(now) == left


def test_the_time_left_is_the_current_calls_budget_and_none_outside_a_call() -> None:
    assert time_left(T0) is None
    with call_budget(T0, 30.0):
        assert time_left(T0 + 10.0) == 20.0
    assert time_left(T0) is None
