"""Size limits: cut a payload to fit a budget of characters, keeping valid JSON and saying what was left out.

Lists keep their first items, long strings their beginning, objects all the keys that fit (small
values whole, big ones shrunk in turn). Every cut is reported with its JSON path, what was kept and
what there was, so the agent can ask for less (a page, a filter) instead of guessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from parse_mcp.json_types import JsonValue

# Room for a tool result of about 25,000 tokens: the payload appears twice (structured and text), at
# roughly 4 characters a token, with space left for the summary, guidance and meta.
DEFAULT_MAX_DATA_CHARS = 40_000
_ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Cut:
    path: str
    kept: int
    total: int
    unit: Literal["items", "chars", "keys"]

    def as_dict(self) -> dict[str, JsonValue]:
        return {"path": self.path, "kept": self.kept, "total": self.total, "unit": self.unit}


def size_of(value: JsonValue) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def fit(value: JsonValue, max_chars: int) -> tuple[JsonValue, list[Cut]]:
    """`value` itself when it fits, else a smaller valid value and the list of cuts made."""
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
    return None  # a number too big for its budget: there is nothing smaller to say


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
