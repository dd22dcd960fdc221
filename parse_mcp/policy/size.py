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

import pydantic_core

from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Cut

# Room for a tool result of about 25,000 tokens: the payload appears twice (structured and text), at
# roughly 4 characters a token, with space left for the summary, guidance and meta.
DEFAULT_MAX_DATA_CHARS = 40_000
# Levels of lists and objects a result keeps (the top-level value is level 1). Real API data rarely goes
# past 10; anything deeper is either a mistake or an attack, and costs the agent context for nothing.
MAX_DEPTH = 32
# Levels `loads_bounded` parses; deeper values become `DEPTH_MARKER`. It is the depth pydantic_core's parser
# (jiter, in Rust) accepts, so a normal body is read by it alone, with no scan of ours; a deeper one is read the
# slow way and cut at the same depth. Well under Python's recursion limit (1,000, shared with the server's own
# frames), which the encoders meet, and above `MAX_DEPTH`, so that `fit` is what the agent sees cutting.
READ_MAX_DEPTH = 200
DEPTH_MARKER = f"(nested deeper than {READ_MAX_DEPTH} levels: left out when read)"
_ELLIPSIS = "…"
# A complete JSON string (escapes included), or one bracket. Text between matches is numbers, literals,
# commas, colons and white space, none of which can open or close a level.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_NEITHER_QUOTE_NOR_BRACKET = bytes(byte for byte in range(256) if byte not in b'"[]{}')
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")


def size_of(value: object) -> int:
    """Characters of `value` as compact JSON, as pydantic writes it, which is how the structured content goes
    out (the standard library spells an exponent with a sign and two digits: `1e+16`, at most 2 more)."""
    return _chars(encode(value))


def compact_json(value: object) -> str:
    """`value` as compact JSON text (see `encode`)."""
    return encode(value).decode()


def encode(value: object) -> bytes:
    """`value` as compact JSON in UTF-8. pydantic_core writes it (in Rust, several times faster than the standard
    library, above all for the many small values cutting measures); the standard library takes what it refuses
    (nesting past about 250 levels). The two differ at most in how an exponent is spelled (`1e-7`, `1e-07`)."""
    try:
        return pydantic_core.to_json(value)
    except ValueError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _chars(encoded: bytes) -> int:
    """Characters in UTF-8 text, without decoding it when it is ASCII (one byte a character)."""
    return len(encoded) if encoded.isascii() else len(encoded.decode())


def loads_bounded(body: bytes) -> object:
    """`body` parsed as JSON, with any list or object nested deeper than `READ_MAX_DEPTH` read as `DEPTH_MARKER`.

    Never raises RecursionError, whatever the depth; raises ValueError (UnicodeDecodeError and
    json.JSONDecodeError are ValueErrors) only when the body is not JSON.

    A UTF-8 body of at most `READ_MAX_DEPTH` levels, which is every normal answer, is parsed once, in Rust;
    anything else (deeper, another encoding, a lone surrogate, not JSON at all) is read as before by the
    standard library, which also gives the error.
    """
    try:
        return pydantic_core.from_json(body)
    except ValueError:
        pass
    text = body.decode(json.detect_encoding(body))
    # One pass of ours over the strings and brackets: this way is taken by what the fast parser refused, which
    # for a body deeper than it goes is cheaper to cut than to judge level by level (`deeper_than`).
    if text.count("[") + text.count("{") > READ_MAX_DEPTH:
        text = _without_deep_values(text, READ_MAX_DEPTH)
    try:
        return json.loads(text)
    except RecursionError as exc:  # not expected once cut; kept so that no depth can ever escape as a crash
        raise ValueError("JSON nested too deeply") from exc


def deeper_than(encoded: bytes, levels: int) -> bool:
    """Whether the JSON text `encoded` (UTF-8) nests lists and objects more than `levels` deep, at C speed.

    The two escapes that could hide or fake a quote go first (an escaped backslash, then an escaped quote), then
    every byte but quotes and brackets, then what lies between quotes (a bracket inside a string is text): first
    the many strings that held no bracket, now two adjacent quotes (a pair that closes one string and opens the
    next only joins two strings into one, since nothing but text lay between them), then the rest. Each pass
    after that removes the innermost empty pairs, one level a pass, so a body of depth d takes d passes over its
    brackets alone. Text that is not JSON may be judged deeper (its brackets never pair up), which only sends it
    the slow way to the parser's own error."""
    if b"\\" in encoded:
        encoded = encoded.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = encoded.translate(None, _NEITHER_QUOTE_NOR_BRACKET).replace(b'""', b"")
    brackets = b"".join(structure.split(b'"')[::2])
    for _ in range(levels):
        if not brackets:
            return False
        brackets = _EMPTY_PAIR.sub(b"", brackets)
    return bool(brackets)


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
    """`value` itself when it fits, else a smaller valid value and the list of cuts made; in time linear in
    the value's size: it is serialised once (in Rust) to judge it, and cutting measures runs of items, not each.

    Lists and objects below `max_depth` levels become null (one `levels` cut each, with how many levels there
    were). A value too large is cut to size first, and then its kept part by depth: the depth of what is left
    out does not matter. The whole is judged once, from its one encoding: what is kept of a value is never
    deeper than the value, so a shallow value's kept part needs no judging. Cutting never recurses past
    `max_depth`.
    """
    try:
        encoded = encode(value)
    except RecursionError:  # deeper than the C encoder goes: cut by depth first, without recursion
        value, depth_cuts = _cut_depth(value, max_depth)
        shrunk, size_cuts = _fit_size(value, max_chars, max_depth)
        return shrunk, depth_cuts + size_cuts
    too_deep = deeper_than(encoded, max_depth)
    size = _chars(encoded)
    if size <= max_chars:
        return _cut_depth_within(value, max_chars, max_depth) if too_deep else (value, [])
    shrunk, size_cuts = _fit_size(value, max_chars, max_depth, size)
    if not too_deep:
        return shrunk, size_cuts
    shrunk, depth_cuts = _cut_depth_within(shrunk, max_chars, max_depth)
    return shrunk, size_cuts + depth_cuts


def _cut_depth_within(value: JsonValue, max_chars: int, max_depth: int) -> tuple[JsonValue, list[Cut]]:
    """`value` cut by depth, and then by size again when that made it too large: a null in place of an empty
    list or object is two characters longer."""
    value, cuts = _cut_depth(value, max_depth)
    size = size_of(value)
    if size <= max_chars:
        return value, cuts
    value, size_cuts = _fit_size(value, max_chars, max_depth, size)
    return value, cuts + size_cuts


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


class _Sizes:
    """Each value's size as compact JSON, measured once: the cutting below asks for the same sizes again and
    again, and re-serialising a subtree each time made fitting quadratic in the depth and the retries."""

    def __init__(self, max_depth: int) -> None:
        self._known: dict[int, int] = {}
        self.max_depth = max_depth

    def know(self, value: object, size: int) -> None:
        if isinstance(value, dict | list):
            self._known[id(value)] = size

    def only_child(self, container: dict[str, JsonValue] | list[JsonValue]) -> None:
        """A container of one value knows that value's size without serialising it again: the container's
        less its brackets (and its key): the common envelope `{"data": {"rows": [...]}}` costs one encoding."""
        if len(container) != 1:
            return
        if isinstance(container, dict):
            ((key, child),) = container.items()
            self.know(child, self.of(container) - 2 - size_of(key) - 1)
        else:
            self.know(container[0], self.of(container) - 2)

    def of(self, value: object) -> int:
        if not isinstance(value, dict | list):
            return size_of(value)
        known = self._known.get(id(value))
        if known is None:
            known = self._known[id(value)] = size_of(value)
        return known


def _fit_size(value: JsonValue, max_chars: int, max_depth: int, size: int | None = None) -> tuple[JsonValue, list[Cut]]:
    """What `fit` keeps of a value too large, and its cuts."""
    sizes = _Sizes(max_depth)
    if size is not None:
        sizes.know(value, size)
    if sizes.of(value) <= max_chars:
        return value, []
    cuts: list[Cut] = []
    shrunk = _shrink(value, max_chars, "$", 1, cuts, sizes)
    # Every size above is exact (the kept part's too, known without encoding it again), so this holds unless the
    # budget is smaller than any value (a 2-character one).
    if sizes.of(shrunk) <= max_chars:
        return shrunk, cuts
    return None, [Cut("$", 0, sizes.of(value), "chars")]


def _shrink(value: JsonValue, budget: int, path: str, level: int, cuts: list[Cut], sizes: _Sizes) -> JsonValue:
    if sizes.of(value) <= budget:
        return value
    if isinstance(value, dict | list) and level > sizes.max_depth:
        cuts.append(Cut(path, 0, depth_of(value), "levels"))
        return None
    if isinstance(value, str):
        kept = _cut_string(value, budget)
        cuts.append(Cut(path, len(kept), len(value), "chars"))
        return kept + _ELLIPSIS
    if isinstance(value, list):
        return _shrink_list(value, budget, path, level, cuts, sizes)
    if isinstance(value, dict):
        return _shrink_dict(value, budget, path, level, cuts, sizes)
    # A number (or true/false) too big for its budget: there is nothing smaller to say, but it is said.
    cuts.append(Cut(path, 0, size_of(value), "chars"))
    return None


def _cut_string(value: str, budget: int) -> str:
    """The longest beginning of `value` that, with the ellipsis, encodes in `budget` characters (escapes
    counted exactly), found by bisection: a few encodings of at most `budget` characters each."""
    low, high = 0, min(len(value), budget)
    while low < high:
        middle = (low + high + 1) // 2
        if size_of(value[:middle] + _ELLIPSIS) <= budget:
            low = middle
        else:
            high = middle - 1
    return value[:low]


def _shrink_list(
    items: list[JsonValue], budget: int, path: str, level: int, cuts: list[Cut], sizes: _Sizes
) -> JsonValue:
    sizes.only_child(items)
    room = budget - 2  # less the brackets
    count, used = _fitting_prefix(items, room, sizes)
    kept = items[:count]
    if not kept and items and room > 2:
        kept = [_shrink(items[0], room, f"{path}[0]", level + 1, cuts, sizes)]
        used = sizes.of(kept[0])
    sizes.know(kept, used + 2)  # exact: what is kept is never serialised again to be measured
    cuts.append(Cut(path, len(kept), len(items), "items"))
    return kept


def _fitting_prefix(items: list[JsonValue], room: int, sizes: _Sizes) -> tuple[int, int]:
    """How many of the first `items` fit whole in `room` characters, the commas between them counted, and the
    characters they take.

    Items are measured a run at a time (one encoding of a run costs far less than one per item). The first run
    is sized from the list's average item, each later one from the average of the items kept so far, and a run
    that does not fit is halved: a list of similar rows takes a handful of encodings, and one whose items differ
    wildly at most a few for each run kept. Each size is exact, so the prefix is too.
    """
    count = used = 0
    step = max(1, room * len(items) // max(1, sizes.of(items)))
    while count < len(items) and step > 0:
        run = items[count : count + step]
        cost = size_of(run) - 2 + (1 if count else 0)  # the run's items and commas, and one before it
        if used + cost > room:
            step //= 2
            continue
        count += len(run)
        used += cost
        step = max(1, (room - used) * count // max(1, used))
    return count, used


def _shrink_dict(
    mapping: dict[str, JsonValue], budget: int, path: str, level: int, cuts: list[Cut], sizes: _Sizes
) -> JsonValue:
    sizes.only_child(mapping)
    # Small values are kept whole first (they are usually the identifying fields); big ones share the rest.
    order = sorted(mapping, key=lambda key: sizes.of(mapping[key]))
    chosen: dict[str, JsonValue] = {}
    used = 2
    for position, key in enumerate(order):
        overhead = size_of(key) + 1 + (1 if chosen else 0)
        value = mapping[key]
        cost = overhead + sizes.of(value)
        if used + cost <= budget:
            chosen[key] = value
            used += cost
            continue
        share = (budget - used) // max(1, len(order) - position) - overhead
        if share > 8:
            smaller = _shrink(value, share, f"{path}.{key}", level + 1, cuts, sizes)
            chosen[key] = smaller
            used += overhead + sizes.of(smaller)
    if len(chosen) < len(mapping):
        cuts.append(Cut(path, len(chosen), len(mapping), "keys"))
    kept = {key: chosen[key] for key in mapping if key in chosen}
    sizes.know(kept, used)  # exact, as for a list
    return kept
