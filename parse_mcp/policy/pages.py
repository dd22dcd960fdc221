"""Pages of an answer that was cut to fit: which list they follow, and the page a cursor points at.

When `size.fit` cuts a list short, the rest of the answer is not lost: the server keeps it for a while, and
later pages follow that list, in order, each fitted the same way, with no item lost or repeated. The list
followed is the outermost one the fit cut, found again in the whole answer from the path the cut gives (the
path `meta.omitted` shows). A cursor is the index of the next item, as decimal text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Cut
from parse_mcp.policy.size import fit

_CURSOR = re.compile(r"[0-9]{1,9}", re.ASCII)
_INDEX = re.compile(r"\[([0-9]{1,9})\]")


@dataclass(frozen=True, slots=True)
class Paged:
    """The list later pages follow: its path in the answer (as `meta.omitted` wrote it) and its length."""

    path: str
    total: int


@dataclass(frozen=True, slots=True)
class Page:
    """Items `start` to `start + len(items)` of the list, fitted; `next_start` is None after the last."""

    items: JsonValue
    start: int
    next_start: int | None
    cuts: tuple[Cut, ...]


def paged_list(value: JsonValue, cuts: Sequence[Cut]) -> Paged | None:
    """The outermost list the fit cut short, when its path leads to a list of the length the cut saw."""
    found: list[tuple[int, Paged]] = []
    for cut in cuts:
        if cut.unit != "items":
            continue
        resolved = resolve(value, cut.path)
        if resolved is not None and isinstance(resolved[0], list) and len(resolved[0]) == cut.total:
            found.append((resolved[1], Paged(cut.path, cut.total)))
    return min(found, key=lambda depth_and_paged: depth_and_paged[0])[1] if found else None


def resolve(value: JsonValue, path: str) -> tuple[JsonValue, int] | None:
    """The value at `path` (`$`, then `.key` and `[index]` steps, as the fit writes them) and its depth; None
    when the path leads nowhere.

    A key may itself hold dots or brackets, so at each object the longest key that the path continues with is
    taken. Without backtracking, two keys that both fit (`a` and `a.b`) can send the walk the wrong way; it then
    ends nowhere, or at a list of another length, and `paged_list` offers no pages rather than wrong ones.
    """
    if not path.startswith("$"):
        return None
    rest, current, depth = path[1:], value, 0
    while rest:
        step = _step(current, rest)
        if step is None:
            return None
        current, rest = step
        depth += 1
    return current, depth


def _step(current: JsonValue, rest: str) -> tuple[JsonValue, str] | None:
    if rest.startswith("[") and isinstance(current, list):
        match = _INDEX.match(rest)
        if match is None or int(match.group(1)) >= len(current):
            return None
        return current[int(match.group(1))], rest[match.end() :]
    if rest.startswith(".") and isinstance(current, dict):
        after = rest[1:]
        fitting = [key for key in current if after.startswith(key) and after[len(key) : len(key) + 1] in ("", ".", "[")]
        if not fitting:
            return None
        key = max(fitting, key=len)
        return current[key], after[len(key) :]
    return None


def parse_cursor(cursor: str, total: int) -> int | None:
    """The index a cursor names, when it is one this list can have (0 to its length); else None."""
    if not _CURSOR.fullmatch(cursor):
        return None
    start = int(cursor)
    return start if start <= total else None


def cursor_of(start: int | None) -> str | None:
    return None if start is None else str(start)


def page(window: list[JsonValue], start: int, total: int, max_chars: int, path: str = "$") -> Page:
    """The items of `window` (items `start` onwards of the list at `path`, of `total`) that fit in `max_chars`,
    fitted as a first answer is, and where the next page starts. A page holds at least one item (shortened when
    it alone is too large), so paging always ends."""
    fitted, cuts = fit(window, max_chars)
    taken = len(fitted) if isinstance(fitted, list) else 0
    following = start + max(taken, 1)
    # The page's own end is not an omission (the next cursor reads on from there); cuts inside its items are,
    # written as indexes into the whole list.
    inside = tuple(_shifted(cut, start, path) for cut in cuts if cut.path != "$")
    return Page(fitted, start, following if following < total else None, inside)


def _shifted(cut: Cut, start: int, path: str) -> Cut:
    """A cut inside item `i` of the page, as a cut inside item `start + i` of the list at `path`."""
    match = _INDEX.match(cut.path, 1)
    if match is None:
        return cut
    return Cut(f"{path}[{start + int(match.group(1))}]{cut.path[match.end() :]}", cut.kept, cut.total, cut.unit)
