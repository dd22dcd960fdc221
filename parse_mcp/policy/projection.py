"""Field projection: keep only the parts of an answer the agent names, before it is fitted.

A field is a dot path into the data (`rows.title`): each segment is an object key, and a path through a list
applies to each of its items, so `["rows.title", "rows.price"]` keeps two fields of every row. Paths share
their beginnings, so they are merged into one tree and the answer is walked once. A key that holds a dot
cannot be named; that is the price of a syntax an agent writes without escaping.

Projection happens here, in this server, on the answer already paid for: it spends no credit and sends no
request. A path that matches nothing is reported, never an error that loses the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from parse_mcp.json_types import JsonValue

# Bounds on what a caller may ask: enough for any real selection, small enough that a hostile list of paths
# costs nothing to check.
MAX_FIELDS = 50
MAX_FIELD_CHARS = 200
MAX_SEGMENTS = 32
# Levels of lists and objects projection walks (object levels are bounded by the segments already); a list
# deeper than this is kept as it is (fitting cuts it at a smaller depth), so a hostile answer cannot make
# projection recurse without end.
MAX_PROJECTION_DEPTH = 64


class FieldsError(ValueError):
    """`fields` cannot be used as given; the message is ours and names no part of the caller's text."""


@dataclass(slots=True)
class _Node:
    """One segment of the merged paths: its children by key, and which paths end here (their indexes)."""

    children: dict[str, _Node] = field(default_factory=dict)
    ends: list[int] = field(default_factory=list)


def check_fields(fields: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """Each field split into its segments; raises `FieldsError` for a list or a path this server will not walk."""
    if not fields:
        raise FieldsError("fields is empty: leave it out to keep the whole answer, or name at least one path.")
    if len(fields) > MAX_FIELDS:
        raise FieldsError(f"fields has {len(fields)} paths; at most {MAX_FIELDS} are taken.")
    paths: list[tuple[str, ...]] = []
    for position, text in enumerate(fields, start=1):
        if len(text) > MAX_FIELD_CHARS:
            raise FieldsError(f"fields path {position} is longer than {MAX_FIELD_CHARS} characters.")
        segments = tuple(text.split("."))
        if any(not segment for segment in segments):
            raise FieldsError(f"fields path {position} has an empty segment: write keys joined by dots, as rows.title.")
        if len(segments) > MAX_SEGMENTS:
            raise FieldsError(f"fields path {position} has more than {MAX_SEGMENTS} segments.")
        paths.append(segments)
    return tuple(paths)


def project(value: JsonValue, fields: Sequence[tuple[str, ...]]) -> tuple[JsonValue, list[int]]:
    """`value` with only the named fields, and the indexes (into `fields`) of the paths that matched nothing.

    Objects keep the named keys, in the answer's order. Lists keep every item, each projected; an item in which
    nothing matched becomes null, so that the others keep their places. A path through an empty list matches
    (it applies to each of no items). What a path cannot enter (a string where it names a key) is left out, and
    when nothing matches at all the answer is null.
    """
    root = _tree(fields)
    matched: set[int] = set()
    projected = _project(value, root, matched, 0)
    unmatched = [index for index in range(len(fields)) if index not in matched]
    return (None if isinstance(projected, _Nothing) else projected), unmatched


class _Nothing:
    """What a part of the answer in which no path reached its end projects to."""


_NOTHING = _Nothing()


def _tree(fields: Sequence[tuple[str, ...]]) -> _Node:
    root = _Node()
    for index, segments in enumerate(fields):
        node = root
        for segment in segments:
            node = node.children.setdefault(segment, _Node())
        node.ends.append(index)
    return root


def _project(value: JsonValue, node: _Node, matched: set[int], depth: int) -> JsonValue | _Nothing:
    if isinstance(value, list):
        return _project_items(value, node, matched, depth)
    if not isinstance(value, dict):
        return _NOTHING
    kept: dict[str, JsonValue] = {}
    for key, child in value.items():
        below = node.children.get(key)
        if below is None:
            continue
        if below.ends:  # a path ends here: the whole value is wanted, whatever longer paths also name
            matched.update(below.ends)
            if below.children:  # longer paths through it match where they would have on their own
                _project(child, below, matched, depth + 1)
            kept[key] = child
            continue
        inner = _project(child, below, matched, depth + 1)
        if not isinstance(inner, _Nothing):
            kept[key] = inner
    return kept if kept else _NOTHING


def _project_items(items: list[JsonValue], node: _Node, matched: set[int], depth: int) -> JsonValue | _Nothing:
    if not items:
        matched.update(_ends_below(node))
        return []
    if depth >= MAX_PROJECTION_DEPTH:
        return items
    projected = [_project(item, node, matched, depth + 1) for item in items]
    if all(isinstance(item, _Nothing) for item in projected):
        return _NOTHING
    return [None if isinstance(item, _Nothing) else item for item in projected]


def _ends_below(node: _Node) -> list[int]:
    ends: list[int] = []
    stack = [node]
    while stack:
        current = stack.pop()
        ends += current.ends
        stack += current.children.values()
    return ends
