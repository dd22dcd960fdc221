"""How the rest of a cut answer is kept, so that any page of it is read without parsing the whole.

A page needs only the items of the list it follows, so only they are kept, in runs: each run of items written
as one compact JSON list, the runs one after the other, then where each run starts (and where the last ends),
the index of each run's first item (and the count of all), the number of runs, and a mark saying what this is.
A page is then read from the runs around it: a page of a 2 MB answer parses about 40 KB, not 2 MB.

    run 0 | run 1 | ... | k + 1 offsets | k + 1 first items | k | mark      (numbers: 8 bytes, little-endian)

A run holds up to `RUN_ITEMS` items and about `RUN_BYTES` bytes (fewer items when they are large, one when one
alone is larger): one encoding of a run costs far less than one of each item, which made keeping a big answer
cost more than cutting it, and a page never parses much more than itself.
"""

from __future__ import annotations

import bisect
import re
import struct
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from parse_mcp.json_types import JsonValue
from parse_mcp.policy.size import encode, loads_bounded

RUN_ITEMS = 64
RUN_BYTES = 16_384
_MARK = b"kept:runs:1"
_NUMBER = struct.Struct("<Q")
_NUMBER_BYTES = _NUMBER.size
_INDEX = re.compile(r"\[[0-9]+\]")
# A page holds at most this many characters of data; its items are read from runs of about twice that many bytes
# (UTF-8 spends more than one byte on a character beyond ASCII), so a page never parses much more than it shows.
_WINDOW_FACTOR = 2


def pack(items: Sequence[JsonValue], *, run_items: int = RUN_ITEMS, run_bytes: int = RUN_BYTES) -> bytes:
    """The items, kept as described above (in runs of at most `run_items` items and about `run_bytes` bytes)."""
    runs: list[bytes] = []
    firsts = array("Q")
    start, size = 0, run_items
    while start < len(items):
        group = items[start : start + size]
        run = encode(list(group))
        if len(run) > run_bytes and len(group) > 1:
            size = _run_size(len(group), len(run), run_items, run_bytes)  # fewer: as many as this run says fit
            continue
        runs.append(run)
        firsts.append(start)
        start += len(group)
        size = _run_size(len(group), len(run), run_items, run_bytes)
    offsets = array("Q", [0])
    for run in runs:
        offsets.append(offsets[-1] + len(run))
    firsts.append(len(items))
    return b"".join(runs) + offsets.tobytes() + firsts.tobytes() + _NUMBER.pack(len(runs)) + _MARK


def _run_size(items: int, encoded: int, run_items: int, run_bytes: int) -> int:
    """How many items the next run should hold, judged from the last (`items` items in `encoded` bytes): about
    `run_bytes`, at most `run_items`, and fewer than `items` when those did not fit (so that trying again ends)."""
    fitting = items * run_bytes // max(1, encoded)
    return max(1, min(run_items, fitting, items - 1 if encoded > run_bytes else run_items))


@dataclass(frozen=True, slots=True)
class Kept:
    """Items kept by `pack`, read back a run at a time."""

    body: bytes
    count: int
    offsets: array[int]  # where each run starts in `body`, and where the last ends
    firsts: array[int]  # the index of each run's first item, and the count of all

    @classmethod
    def opened(cls, body: bytes) -> Kept | None:
        """The items in `body`, or None when it is not what `pack` writes (then nothing is offered from it)."""
        if not body.endswith(_MARK) or len(body) < len(_MARK) + _NUMBER_BYTES:
            return None
        tail = len(body) - len(_MARK) - _NUMBER_BYTES
        (runs,) = _NUMBER.unpack_from(body, tail)
        index_at = tail - 2 * (runs + 1) * _NUMBER_BYTES
        if runs > len(body) or index_at < 0:
            return None
        offsets, firsts = array("Q"), array("Q")
        offsets.frombytes(body[index_at : index_at + (runs + 1) * _NUMBER_BYTES])
        firsts.frombytes(body[index_at + (runs + 1) * _NUMBER_BYTES : tail])
        # Only this server writes a body (and Redis holds it sealed): the ends are checked, not every offset.
        if offsets[0] != 0 or offsets[-1] != index_at or firsts[0] != 0 or (runs and firsts[-1] <= firsts[-2]):
            return None
        return cls(body, firsts[-1], offsets, firsts)

    def window(self, start: int, max_chars: int) -> list[JsonValue]:
        """The items from `start` that may fit in `max_chars` characters, and at least one: the page's candidates.
        They come from the run holding `start` and the runs after it, as long as they stay within about twice
        `max_chars` bytes of it."""
        if not self.count:
            return []
        first = self._run_of(start)
        limit = self.offsets[first + 1] + max_chars * _WINDOW_FACTOR
        last = first + 1
        while last < len(self.firsts) - 1 and self.offsets[last + 1] <= limit:
            last += 1
        return self._runs(first, last)[start - self.firsts[first] :]

    def items(self, start: int, end: int) -> list[JsonValue]:
        if start >= end:
            return []
        first, last = self._run_of(start), self._run_of(end - 1) + 1
        skipped = start - self.firsts[first]
        return self._runs(first, last)[skipped : skipped + end - start]

    def _run_of(self, index: int) -> int:
        return bisect.bisect_right(self.firsts, index, 0, len(self.firsts) - 1) - 1

    def _runs(self, first: int, last: int) -> list[JsonValue]:
        """The items of runs `first` to `last` (excluded), in order."""
        items: list[JsonValue] = []
        for run in range(first, last):
            value = loads_bounded(self.body[self.offsets[run] : self.offsets[run + 1]])
            assert isinstance(value, list)  # it is JSON this server wrote: a list of the items
            items += value
        return items


def item_fields(fields: Sequence[str], list_path: str) -> tuple[list[str] | None, list[int]]:
    """`fields` (paths from the data's root) as paths inside each item of the list at `list_path`, and the indexes
    of those that lead elsewhere (they name nothing a page holds). None for the paths inside: the items whole.

    A path through a list applies to each of its items, so the list's place is its keys without indexes:
    `$.shops[0].items` is reached by `shops.items`, and `shops.items.title` is `title` in each item.
    """
    place = _INDEX.sub("", list_path).removeprefix("$").removeprefix(".")
    inside: list[str] = []
    elsewhere: list[int] = []
    for position, path in enumerate(fields):
        if not place:
            inside.append(path)
        elif path == place:
            return None, []
        elif path.startswith(place + "."):
            inside.append(path[len(place) + 1 :])
        else:
            elsewhere.append(position)
    return inside, elsewhere
