"""The pacer's exact promises (`policy/pacing.py`), each one a mutation test found unguarded."""

from __future__ import annotations

from parse_mcp.meta import RateSnapshot
from parse_mcp.policy.pacing import Go, Pacer

T0 = 1_800_000_000.0


def test_after_a_daily_reset_the_pacer_forgets_the_reset_and_keeps_pacing() -> None:
    pacer = Pacer()
    pacer.observe(RateSnapshot(observed_at=T0, remaining=5, burst=5, daily_remaining=0, daily_reset_in=600))
    assert pacer.reserve(T0 + 600, max_wait=0) == Go(0.0, token=True)
    assert pacer.snapshot()["daily_reset_at"] is None
    assert pacer.reserve(T0 + 601, max_wait=0) == Go(0.0, token=True)
    assert Pacer.restored(pacer.snapshot()).snapshot() == pacer.snapshot()
