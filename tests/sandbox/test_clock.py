from __future__ import annotations

import time

import pytest

from parse_mcp.sandbox import Clock, ManualClock, SystemClock


def test_a_manual_clock_starts_at_its_start_and_moves_only_when_advanced() -> None:
    clock = ManualClock()
    assert clock.now() == 1_800_000_000.0
    clock.advance(2.5)
    assert clock.now() == 1_800_000_002.5
    assert clock.now() == 1_800_000_002.5


def test_a_manual_clock_can_be_set_anywhere_but_not_advanced_backwards() -> None:
    clock = ManualClock(start=100.0)
    clock.set(50.0)
    assert clock.now() == 50.0
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)


def test_the_system_clock_reads_the_wall_clock() -> None:
    clock: Clock = SystemClock()
    before = time.time()
    assert before <= clock.now() <= time.time()
