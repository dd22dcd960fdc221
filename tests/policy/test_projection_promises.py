"""The exact promises of field projection (`policy/projection.py`), each one a mutation test found unguarded."""

from __future__ import annotations

import pytest

from parse_mcp.json_types import JsonValue
from parse_mcp.policy.projection import (
    MAX_FIELD_CHARS,
    MAX_FIELDS,
    MAX_PROJECTION_DEPTH,
    MAX_SEGMENTS,
    FieldsError,
    check_fields,
    project,
)


def nested_lists(levels: int, inner: JsonValue) -> JsonValue:
    value = inner
    for _ in range(levels):
        value = [value]
    return value


def innermost(value: JsonValue) -> JsonValue:
    while isinstance(value, list):
        value = value[0]
    return value


def test_a_list_at_the_64th_level_is_projected_and_one_below_it_is_kept_whole() -> None:
    row: JsonValue = {"x": 1, "y": 2}
    projected, unmatched = project(nested_lists(MAX_PROJECTION_DEPTH, row), [("x",)])
    assert innermost(projected) == {"x": 1}
    assert unmatched == []
    whole, unmatched_whole = project(nested_lists(MAX_PROJECTION_DEPTH + 1, row), [("x",)])
    assert innermost(whole) == row
    assert unmatched_whole == [0]


def test_an_object_counts_as_a_level_on_the_way_to_a_deep_list() -> None:
    row: JsonValue = {"x": 1, "y": 2}
    projected, _ = project({"a": nested_lists(MAX_PROJECTION_DEPTH - 1, row)}, [("a", "x")])
    assert isinstance(projected, dict)
    assert innermost(projected["a"]) == {"x": 1}
    whole, _ = project({"a": nested_lists(MAX_PROJECTION_DEPTH, row)}, [("a", "x")])
    assert isinstance(whole, dict)
    assert innermost(whole["a"]) == row


def test_a_longer_path_inside_a_value_kept_whole_matches_only_where_projection_still_reaches() -> None:
    fields = [("a",), ("a", "x")]
    row: JsonValue = {"x": 1}
    reached = {"a": nested_lists(MAX_PROJECTION_DEPTH - 1, row)}
    assert project(reached, fields) == (reached, [])
    too_deep = {"a": nested_lists(MAX_PROJECTION_DEPTH, row)}
    assert project(too_deep, fields) == (too_deep, [1])


def test_every_path_through_an_empty_list_matches() -> None:
    assert project({"a": []}, [("a", "x"), ("a", "y", "z"), ("b",)]) == ({"a": []}, [2])


def test_an_empty_list_of_fields_is_refused_with_what_to_do_instead() -> None:
    with pytest.raises(FieldsError) as caught:
        check_fields([])
    assert str(caught.value) == "fields is empty: leave it out to keep the whole answer, or name at least one path."


def test_exactly_the_most_fields_are_taken_and_one_more_is_refused() -> None:
    assert len(check_fields([f"f{n}" for n in range(MAX_FIELDS)])) == MAX_FIELDS
    with pytest.raises(FieldsError) as caught:
        check_fields([f"f{n}" for n in range(MAX_FIELDS + 1)])
    assert str(caught.value) == f"fields has {MAX_FIELDS + 1} paths; at most {MAX_FIELDS} are taken."


def test_a_path_of_exactly_the_most_characters_is_taken_and_a_longer_one_is_refused_by_its_position() -> None:
    assert check_fields(["a" * MAX_FIELD_CHARS]) == (("a" * MAX_FIELD_CHARS,),)
    with pytest.raises(FieldsError) as caught:
        check_fields(["ok", "a" * (MAX_FIELD_CHARS + 1)])
    assert str(caught.value) == f"fields path 2 is longer than {MAX_FIELD_CHARS} characters."


def test_a_path_of_exactly_the_most_segments_is_taken_and_a_longer_one_is_refused_by_its_position() -> None:
    most = ".".join(["s"] * MAX_SEGMENTS)
    assert check_fields([most]) == (("s",) * MAX_SEGMENTS,)
    with pytest.raises(FieldsError) as caught:
        check_fields([most + ".s"])
    assert str(caught.value) == f"fields path 1 has more than {MAX_SEGMENTS} segments."


def test_the_first_path_is_path_1_in_a_refusal() -> None:
    with pytest.raises(FieldsError) as caught:
        check_fields(["a..b"])
    assert str(caught.value).startswith("fields path 1 has an empty segment")
