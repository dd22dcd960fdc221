"""Size limits: cut a payload to fit a budget of characters and of nesting, keeping valid JSON and saying what was
left out; and read any JSON body, however deep, without running out of stack.

Lists keep their first items, long strings their beginning, objects all the keys that fit (small
values whole, big ones shrunk in turn); a list or object nested deeper than `MAX_DEPTH` becomes null.
Every cut is reported with its JSON path, what was kept and what there was, so the agent can ask for
less (a page, a filter) instead of guessing.

Nesting is handled without recursion wherever a value may be arbitrarily deep: Python's json parser,
its encoder and pydantic all recurse, and a body nested a few hundred levels deep would otherwise end
a call in RecursionError instead of a result.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from parse_mcp.json_types import JsonValue

# Room for a tool result of about 25,000 tokens: the payload appears twice (structured and text), at
# roughly 4 characters a token, with space left for the summary, guidance and meta.
DEFAULT_MAX_DATA_CHARS = 40_000
# Levels of lists and objects a result keeps (the top-level value is level 1). Real API data rarely goes
# past 10; anything deeper is either a mistake or an attack, and costs the agent context for nothing.
MAX_DEPTH = 32
# Levels `loads_bounded` parses; deeper values become `DEPTH_MARKER`. Well under Python's recursion limit
# (1,000, shared with the frames of the server itself), and above `MAX_DEPTH`, so that `fit` is what the
# agent sees cutting, with its path in `meta.omitted`.
READ_MAX_DEPTH = 100
DEPTH_MARKER = f"(nested deeper than {READ_MAX_DEPTH} levels: left out when read)"
_ELLIPSIS = "…"
# A complete JSON string (escapes included), or one bracket. Text between matches is numbers, literals,
# commas, colons and white space, none of which can open or close a level.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


@dataclass(frozen=True, slots=True)
class Cut:
    """One cut: at `path`, `kept` of `total` items, characters, keys, or levels of nesting.

    For levels, `total` counts what was read: a body is read to at most `READ_MAX_DEPTH` levels.
    """

    path: str
    kept: int
    total: int
    unit: Literal["items", "chars", "keys", "levels"]


def size_of(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def loads_bounded(body: bytes) -> object:
    """`body` parsed as JSON, with any list or object nested deeper than `READ_MAX_DEPTH` read as `DEPTH_MARKER`.

    Never raises RecursionError, whatever the depth; raises ValueError (UnicodeDecodeError and
    json.JSONDecodeError are ValueErrors) only when the body is not JSON.
    """
    text = body.decode(json.detect_encoding(body))
    if text.count("[") + text.count("{") > READ_MAX_DEPTH:
        text = _without_deep_values(text, READ_MAX_DEPTH)
    try:
        return json.loads(text)
    except RecursionError as exc:  # not expected once cut; kept so that no depth can ever escape as a crash
        raise ValueError("JSON nested too deeply") from exc


def _without_deep_values(text: str, max_depth: int) -> str:
    """`text` with every bracketed value that opens below `max_depth` levels replaced by `DEPTH_MARKER`.

    One pass over strings and brackets, no recursion. On valid JSON its idea of depth is the parser's; on
    invalid JSON the parser stops at the first error, which it reaches within levels counted the same way.
    """
    marker = json.dumps(DEPTH_MARKER)
    pieces: list[str] = []
    copied_to = 0
    depth = 0
    skip_from: int | None = None
    for match in _STRING_OR_BRACKET.finditer(text):
        found = match.group()
        if found[0] == '"':
            continue
        if found in "[{":
            depth += 1
            if depth > max_depth and skip_from is None:
                skip_from = match.start()
            continue
        if skip_from is not None and depth == max_depth + 1:
            pieces += [text[copied_to:skip_from], marker]
            copied_to, skip_from = match.end(), None
        depth = max(0, depth - 1)
    pieces.append(text[copied_to:])
    return "".join(pieces)


def fit(value: JsonValue, max_chars: int, max_depth: int = MAX_DEPTH) -> tuple[JsonValue, list[Cut]]:
    """`value` itself when it fits, else a smaller valid value and the list of cuts made.

    Lists and objects below `max_depth` levels become null first (one `levels` cut each, with how many
    levels there were), so that what follows, including the encoders, only meets shallow values.
    """
    depth_cuts: list[Cut] = []
    if depth_of(value) > max_depth:
        value, depth_cuts = _cut_depth(value, max_depth)
    shrunk, size_cuts = _fit_size(value, max_chars)
    return shrunk, depth_cuts + size_cuts


def depth_of(value: object) -> int:
    """Levels of lists and objects in `value` (0 for a scalar), counted without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = _children(item)
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def _children(item: object) -> list[object] | None:
    if isinstance(item, dict):
        return list(item.values())
    if isinstance(item, list):
        return item
    return None


def _cut_depth(value: JsonValue, max_depth: int) -> tuple[JsonValue, list[Cut]]:
    """A copy of `value` in which each list or object at level `max_depth + 1` is null; without recursion."""
    cuts: list[Cut] = []
    root: list[JsonValue] = [None]
    # (container the copy goes into, its key or index there, the original, JSON path, level)
    stack: list[tuple[list[JsonValue] | dict[str, JsonValue], int | str, JsonValue, str, int]] = [
        (root, 0, value, "$", 1)
    ]
    while stack:
        parent, slot, item, path, level = stack.pop()
        if _children(item) is not None and level > max_depth:
            cuts.append(Cut(path, 0, depth_of(item), "levels"))
            _put(parent, slot, None)
            continue
        copy: JsonValue
        pending: list[tuple[int | str, JsonValue, str]]
        if isinstance(item, dict):
            copy = dict.fromkeys(item)  # the keys in their order now; the values as they are copied
            pending = [(key, child, f"{path}.{key}") for key, child in item.items()]
        elif isinstance(item, list):
            copy = [None] * len(item)
            pending = [(index, child, f"{path}[{index}]") for index, child in enumerate(item)]
        else:
            _put(parent, slot, item)
            continue
        _put(parent, slot, copy)
        # Reversed, so that the children are visited (and their cuts listed) in document order.
        stack.extend((copy, key, child, child_path, level + 1) for key, child, child_path in reversed(pending))
    return root[0], cuts


def _put(parent: list[JsonValue] | dict[str, JsonValue], slot: int | str, item: JsonValue) -> None:
    if isinstance(parent, dict):
        parent[str(slot)] = item
    else:
        parent[int(slot)] = item


def _fit_size(value: JsonValue, max_chars: int) -> tuple[JsonValue, list[Cut]]:
    if size_of(value) <= max_chars:
        return value, []
    budget = max_chars
    for _ in range(20):
        cuts: list[Cut] = []
        shrunk = _shrink(value, budget, "$", cuts)
        if size_of(shrunk) <= max_chars:
            return shrunk, cuts
        # Separators and escapes make the first estimate a little generous: aim lower and try again.
        budget = int(budget * 0.9)
    return None, [Cut("$", 0, size_of(value), "chars")]


def _shrink(value: JsonValue, budget: int, path: str, cuts: list[Cut]) -> JsonValue:
    if size_of(value) <= budget:
        return value
    if isinstance(value, str):
        keep = max(0, budget - 2 - len(_ELLIPSIS) - value.count('"') - value.count("\\"))
        cuts.append(Cut(path, keep, len(value), "chars"))
        return value[:keep] + _ELLIPSIS
    if isinstance(value, list):
        return _shrink_list(value, budget, path, cuts)
    if isinstance(value, dict):
        return _shrink_dict(value, budget, path, cuts)
    # A number (or true/false) too big for its budget: there is nothing smaller to say, but it is said.
    cuts.append(Cut(path, 0, size_of(value), "chars"))
    return None


def _shrink_list(items: list[JsonValue], budget: int, path: str, cuts: list[Cut]) -> JsonValue:
    kept: list[JsonValue] = []
    used = 2  # the brackets
    for index, item in enumerate(items):
        cost = size_of(item) + (1 if kept else 0)
        if used + cost <= budget:
            kept.append(item)
            used += cost
            continue
        if not kept and budget - used > 2:
            kept.append(_shrink(item, budget - used, f"{path}[{index}]", cuts))
        break
    cuts.append(Cut(path, len(kept), len(items), "items"))
    return kept


def _shrink_dict(mapping: dict[str, JsonValue], budget: int, path: str, cuts: list[Cut]) -> JsonValue:
    # Small values are kept whole first (they are usually the identifying fields); big ones share the rest.
    order = sorted(mapping, key=lambda key: size_of(mapping[key]))
    chosen: dict[str, JsonValue] = {}
    used = 2
    for position, key in enumerate(order):
        overhead = size_of(key) + 1 + (1 if chosen else 0)
        value = mapping[key]
        cost = overhead + size_of(value)
        if used + cost <= budget:
            chosen[key] = value
            used += cost
            continue
        share = (budget - used) // max(1, len(order) - position) - overhead
        if share > 8:
            smaller = _shrink(value, share, f"{path}.{key}", cuts)
            chosen[key] = smaller
            used += overhead + size_of(smaller)
    if len(chosen) < len(mapping):
        cuts.append(Cut(path, len(chosen), len(mapping), "keys"))
    return {key: chosen[key] for key in mapping if key in chosen}
