"""Fitting says exactly what it cut and keeps exactly what fits: the cuts' figures, the longest string beginning,
the keys and levels kept, characters counted as characters (not bytes), and deep bodies read with their shallow
neighbours whole."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Cut
from parse_mcp.policy.size import DEPTH_MARKER, READ_MAX_DEPTH, fit, loads_bounded, size_of

ELLIPSIS = "…"


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from('ab"\\\né€'), min_size=20, max_size=120),
    budget=st.integers(min_value=12, max_value=100),
)
def test_a_long_string_keeps_the_longest_beginning_that_fits_with_its_ellipsis(text: str, budget: int) -> None:
    value: JsonValue = {"t": text}
    cut, cuts = fit(value, budget + len('{"t":}'))
    if not cuts:
        return
    assert isinstance(cut, dict)
    kept = cut["t"]
    assert isinstance(kept, str)
    assert kept.endswith(ELLIPSIS)
    beginning = kept[: -len(ELLIPSIS)]
    assert text.startswith(beginning)
    assert size_of(kept) <= budget
    if len(beginning) < len(text):  # one character more would not have fitted
        assert size_of(text[: len(beginning) + 1] + ELLIPSIS) > budget
    assert cuts == [Cut("$.t", len(beginning), len(text), "chars")]


def test_an_object_too_large_keeps_its_smallest_values_whole_and_says_how_many_keys_it_kept() -> None:
    value: dict[str, JsonValue] = {
        "id": 7,
        "name": "ok",
        "a": "x" * 500,
        "b": "y" * 500,
        "c": "z" * 500,
        "d": "w" * 500,
    }
    cut, cuts = fit(value, 40)
    assert isinstance(cut, dict)
    assert (cut["id"], cut["name"]) == (7, "ok")
    assert list(cut) == [key for key in value if key in cut], "the kept keys stay in the answer's order"
    assert Cut("$", len(cut), 6, "keys") in cuts
    assert len(cut) == 3
    assert size_of(cut) <= 40


def test_levels_too_deep_inside_a_value_too_large_are_one_levels_cut_each_with_their_depth() -> None:
    # The deep part is itself too large for its share, so it is cut while shrinking, at the depth allowed.
    deep: JsonValue = {"a": {"b": {"c": "x" * 400}}}
    value: JsonValue = {"deep": deep, "pad": "z" * 300}
    cut, cuts = fit(value, 120, max_depth=2)
    assert isinstance(cut, dict)
    assert cut["deep"] == {"a": None}
    assert Cut("$.deep.a", 0, 2, "levels") in cuts


def test_a_string_whose_first_character_alone_does_not_fit_keeps_only_the_ellipsis() -> None:
    controls = "\x01" * 50  # each is written \u0001, six characters
    cut, cuts = fit(controls, 8)
    assert cut == ELLIPSIS
    assert cuts == [Cut("$", 0, 50, "chars")]


def test_a_one_key_object_one_character_too_large_loses_exactly_its_last_item() -> None:
    items: list[JsonValue] = [f"item-{n:03d}" for n in range(40)]
    value: JsonValue = {"rows": items}
    cut, cuts = fit(value, size_of(value) - 1)
    assert cut == {"rows": items[:-1]}
    assert cuts == [Cut("$.rows", 39, 40, "items")]


def test_the_budget_counts_characters_not_the_bytes_of_utf_8() -> None:
    value: JsonValue = {"t": "é" * 30}
    assert size_of(value) == len('{"t":""}') + 30
    assert fit(value, size_of(value)) == (value, [])
    cut, _ = fit({"rows": ["€" * 10] * 10}, 60)
    assert isinstance(cut, dict)
    assert cut["rows"] == ["€" * 10] * 3, "3 items of 12 characters fit in the 50 left (bytes would allow 1)"


def test_levels_beyond_the_depth_become_null_and_everything_shallower_is_kept_as_it_was() -> None:
    value: JsonValue = {"x": 1, "a": {"b": {"c": {"d": 2}}, "e": [1, [2, [3]]]}, "y": "s"}
    cut, cuts = fit(value, 10_000, max_depth=3)
    assert cut == {"x": 1, "a": {"b": {"c": None}, "e": [1, None]}, "y": "s"}
    assert cuts == [Cut("$.a.b.c", 0, 1, "levels"), Cut("$.a.e[1]", 0, 2, "levels")]


def test_a_body_deeper_than_the_reader_goes_keeps_its_shallow_neighbours_whole() -> None:
    deep = "[" * (READ_MAX_DEPTH + 50) + "1" + "]" * (READ_MAX_DEPTH + 50)
    body = (
        f'{{"before": [1, {{"k": "v"}}], "deep": {deep}, "after": "[{{not a bracket}}]", "again": {deep}, "n": 3}}'
    ).encode()
    value = loads_bounded(body)
    assert isinstance(value, dict)
    assert value["before"] == [1, {"k": "v"}]
    assert value["after"] == "[{not a bracket}]"
    assert value["n"] == 3
    assert value["again"] == value["deep"]
    depth, inner = 0, value["deep"]
    while isinstance(inner, list):
        depth, inner = depth + 1, inner[0]
    assert (depth, inner) == (READ_MAX_DEPTH - 1, DEPTH_MARKER), "the object around it is the first level"
    assert json.loads(json.dumps(value)) == value
