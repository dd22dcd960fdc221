"""How the rest of a cut answer is kept, so that any page of it is read without parsing the whole.

A page needs only the items of the list it follows, so only they are kept: each item as compact JSON, joined by
commas, then the byte offset where each starts (and where the last ends), then their number. Items `a` to `b` are
then one slice, read as the JSON list `[` + slice + `]`: a page of a 2 MB answer parses about 40 KB, not 2 MB.

    item 0 , item 1 , ... , item n-1 | n + 1 offsets (8 bytes each, little-endian) | n (8 bytes)
"""

from __future__ import annotations

import re
import struct
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from parse_mcp.json_types import JsonValue
from parse_mcp.policy.size import encode, loads_bounded

_COUNT = struct.Struct("<Q")
_OFFSET_BYTES = 8
_INDEX = re.compile(r"\[[0-9]+\]")
# A page holds at most this many characters of data; its items are read from a slice of about twice that many
# bytes (UTF-8 spends more than one byte on a character beyond ASCII), so a page never parses more than it shows.
_WINDOW_FACTOR = 2


def pack(items: Sequence[JsonValue]) -> bytes:
    """The items, kept as described above."""
    encoded = [encode(item) for item in items]
    offsets = array("Q")
    position = 0
    for line in encoded:
        offsets.append(position)
        position += len(line) + 1
    offsets.append(position)
    return b",".join(encoded) + b"," * bool(encoded) + offsets.tobytes() + _COUNT.pack(len(encoded))


@dataclass(frozen=True, slots=True)
class Kept:
    """Items kept by `pack`, read back a slice at a time."""

    body: bytes
    count: int
    offsets: array[int]

    @classmethod
    def opened(cls, body: bytes) -> Kept | None:
        """The items in `body`, or None when it is not what `pack` writes (then nothing is offered from it)."""
        if len(body) < _COUNT.size:
            return None
        (count,) = _COUNT.unpack_from(body, len(body) - _COUNT.size)
        index_at = len(body) - _COUNT.size - (count + 1) * _OFFSET_BYTES
        if count > len(body) or index_at < 0:
            return None
        offsets = array("Q")
        offsets.frombytes(body[index_at : len(body) - _COUNT.size])
        # Only this server writes a body (and Redis holds it sealed): the ends are checked, not every offset.
        if offsets[0] != 0 or offsets[-1] != index_at:
            return None
        return cls(body, count, offsets)

    def window(self, start: int, max_chars: int) -> list[JsonValue]:
        """The items from `start` that may fit in `max_chars` characters, and at least one: the page's candidates."""
        limit = self.offsets[start] + max_chars * _WINDOW_FACTOR
        end = start + 1
        while end < self.count and self.offsets[end + 1] - 1 <= limit:
            end += 1
        return self.items(start, end)

    def items(self, start: int, end: int) -> list[JsonValue]:
        if start >= end:
            return []
        value = loads_bounded(b"[" + self.body[self.offsets[start] : self.offsets[end] - 1] + b"]")
        assert isinstance(value, list)  # it is JSON this server wrote: a list of the items
        return value


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
