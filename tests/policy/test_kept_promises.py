"""The exact promises of keeping a cut answer's items (`policy/kept.py`), each one a mutation test found unguarded.

A kept body is laid out as runs of items, then where each run starts, the index of each run's first item, the
number of runs and a mark; `runs_of` reads back how `pack` grouped the items.
"""

from __future__ import annotations

import json
import struct

import pytest

from parse_mcp.json_types import JsonValue
from parse_mcp.policy.kept import Kept, pack

MARK = b"kept:runs:1"


def runs_of(body: bytes) -> list[int]:
    """The index of each run's first item, and the count of all items, as the body says."""
    kept = Kept.opened(body)
    assert kept is not None
    return list(kept.firsts)


def laid_out(runs: list[list[JsonValue]], *, firsts: list[int] | None = None) -> bytes:
    """A body laid out by hand: the runs as compact JSON, then its numbers (`firsts` as given, or as they are)."""
    encoded = [json.dumps(run, separators=(",", ":")).encode() for run in runs]
    offsets = [0]
    for text in encoded:
        offsets.append(offsets[-1] + len(text))
    if firsts is None:
        firsts = [0]
        for items in runs:
            firsts.append(firsts[-1] + len(items))
    numbers = [*offsets, *firsts, len(runs)]
    return b"".join(encoded) + struct.pack(f"<{len(numbers)}Q", *numbers) + MARK


def test_small_items_are_kept_in_runs_of_exactly_the_most_items_a_run_holds() -> None:
    assert runs_of(pack(list(range(200)))) == [0, 64, 128, 192, 200]


def test_large_items_are_kept_in_runs_of_about_the_bytes_a_run_holds() -> None:
    items: list[JsonValue] = ["x" * 998] * 100  # 1,001 bytes each in a run: 16 of them make about 16 KB
    assert runs_of(pack(items)) == [0, 16, 32, 48, 64, 80, 96, 100]


def test_a_run_one_byte_too_large_is_kept_one_item_shorter_and_one_of_exactly_the_bytes_is_kept_whole() -> None:
    # Four items of 23 characters encode in 105 bytes: three fit in 100.
    assert runs_of(pack(["a" * 23] * 8, run_items=4, run_bytes=100)) == [0, 3, 6, 8]
    # Four items of 22 characters encode in exactly 101 bytes: the run stays at four.
    assert runs_of(pack(["a" * 22] * 8, run_items=4, run_bytes=101)) == [0, 4, 8]


def test_two_items_too_large_for_a_run_together_are_kept_one_a_run() -> None:
    assert runs_of(pack(["a" * 50, "b" * 50], run_items=2, run_bytes=60)) == [0, 1, 2]


def test_items_read_back_are_exactly_the_ones_asked_for() -> None:
    kept = Kept.opened(pack(list(range(10)), run_items=4))
    assert kept is not None
    assert kept.items(1, 2) == [1]
    assert kept.items(3, 9) == [3, 4, 5, 6, 7, 8]
    assert kept.items(5, 5) == []


def test_a_window_from_the_end_of_the_list_is_empty() -> None:
    kept = Kept.opened(pack(list(range(10)), run_items=4))
    assert kept is not None
    assert kept.window(10, 100) == []


def test_a_window_reaches_the_last_run_when_it_fits() -> None:
    kept = Kept.opened(pack([1, 2, 3, 4], run_items=2))
    assert kept is not None
    assert kept.window(0, 10_000) == [1, 2, 3, 4]


def test_a_window_takes_a_run_that_ends_exactly_at_twice_the_page_and_no_further() -> None:
    # Runs of one item each: '["aaaaaa"]' is 10 bytes, so a page of 5 characters reads the run after its own.
    kept = Kept.opened(pack(["a" * 6] * 3, run_items=1))
    assert kept is not None
    assert kept.window(0, 5) == ["a" * 6] * 2


@pytest.mark.parametrize("length", range(9))
def test_a_body_too_short_to_hold_its_numbers_opens_as_nothing(length: int) -> None:
    assert Kept.opened(b"\x00" * length + MARK) is None
    assert Kept.opened(struct.pack("<Q", 2) + MARK) is None  # two runs said, and no room for their numbers


def test_a_body_without_the_mark_opens_as_nothing() -> None:
    assert Kept.opened(pack([1, 2])[:-1]) is None
    assert Kept.opened(laid_out([[1, 2]])) is not None


def test_a_body_whose_runs_do_not_fit_in_it_opens_as_nothing() -> None:
    whole = laid_out([[1, 2], [3]])
    assert Kept.opened(whole) is not None
    numbers_and_mark = 8 * 7 + len(MARK)
    assert Kept.opened(whole[-numbers_and_mark:]) is None  # the numbers of two runs, none of their bytes


@pytest.mark.parametrize(
    "firsts",
    [[1, 2, 3], [0, 2, 2], [0, 3, 2]],
    ids=["not from 0", "an empty last run", "counting down"],
)
def test_a_body_whose_run_indexes_do_not_count_up_from_0_opens_as_nothing(firsts: list[int]) -> None:
    assert Kept.opened(laid_out([[1, 2], [3]], firsts=firsts)) is None
