"""Exact cuts at the edges of `fit`: which keys and items are kept, how a share is sized, and the cuts reported."""

from __future__ import annotations

from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Cut
from parse_mcp.policy.size import fit


def test_an_empty_list_that_cannot_fit_even_its_brackets_becomes_null_with_a_chars_cut() -> None:
    assert fit([], 1, 2) == (None, [Cut("$", 0, 2, "chars")])


def test_an_object_keeps_its_smallest_value_first_whatever_the_order_of_its_keys() -> None:
    assert fit({"a": 723, "b": []}, 12, 2) == ({"b": []}, [Cut("$", 1, 2, "keys")])


def test_each_key_after_the_first_costs_exactly_one_comma_so_a_shrunk_value_gets_all_the_room_left() -> None:
    assert fit({"a": [], "b": "bcbaabaca"}, 23, 3) == ({"a": [], "b": "bcbaaba…"}, [Cut("$.b", 7, 9, "chars")])


def test_a_key_and_value_that_fill_the_budget_exactly_are_kept() -> None:
    # {"b":9} is exactly 7 characters.
    assert fit({"a": 463, "b": 9}, 7, 3) == ({"b": 9}, [Cut("$", 1, 2, "keys")])


def test_a_value_whose_share_is_exactly_8_characters_is_left_out_rather_than_shrunk() -> None:
    assert fit({"a": [None, 74]}, 14, 3) == ({}, [Cut("$", 0, 1, "keys")])


def test_a_value_whose_share_is_9_characters_is_shrunk_and_kept() -> None:
    assert fit({"a": "bcbbbaaa"}, 15, 32) == ({"a": "bcbbba…"}, [Cut("$.a", 6, 8, "chars")])


def test_a_value_shrunk_inside_an_object_is_one_level_deeper_than_the_object() -> None:
    assert fit({"k": [{"k": []}]}, 15, 1) == ({"k": None}, [Cut("$.k", 0, 3, "levels")])


def test_the_room_an_object_has_used_adds_up_every_value_kept_shrunk_or_whole() -> None:
    value: JsonValue = {"a": [{"a": ["cbaaabaccb", None]}], "b": "ccbcbaacbcacbcacacbacaacaaaabbbababacbaa"}
    assert fit(value, 29, 4) == (
        {"a": [{}], "b": "ccbcbaacbca…"},
        [Cut("$.a[0]", 0, 1, "keys"), Cut("$.a", 1, 1, "items"), Cut("$.b", 11, 40, "chars")],
    )


def test_a_shrunk_object_counts_its_kept_values_by_their_own_size() -> None:
    value: JsonValue = {"a": {"a": "a", "b": "abacccccb"}, "b": [[["bcacccaca", "c"], {"a": 611, "b": True}, []], True]}
    assert fit(value, 28, 32) == ({"a": {"a": "a"}}, [Cut("$.a", 1, 2, "keys"), Cut("$", 1, 2, "keys")])


def test_a_list_with_room_for_only_its_brackets_and_two_characters_keeps_no_item() -> None:
    assert fit([903], 4, 3) == ([], [Cut("$", 0, 1, "items")])


def test_a_list_with_three_characters_of_room_inside_tries_its_first_item_shrunk() -> None:
    assert fit([True], 5, 4) == (None, [Cut("$", 0, 6, "chars")])
    assert fit([[14]], 5, 2) == ([[]], [Cut("$[0]", 0, 1, "items"), Cut("$", 1, 1, "items")])


def test_the_first_item_shrunk_in_a_list_is_one_level_deeper_than_the_list() -> None:
    assert fit([[{}]], 5, 1) == (None, [Cut("$", 0, 6, "chars")])


def test_the_only_value_of_an_object_is_measured_without_its_key_and_colon() -> None:
    assert fit({"a": []}, 7, 1) == ({}, [Cut("$", 0, 1, "keys")])


def test_the_only_item_of_a_list_is_measured_without_the_brackets() -> None:
    assert fit([[{}]], 5, 3) == ([[]], [Cut("$[0]", 0, 1, "items"), Cut("$", 1, 1, "items")])


def test_items_that_fill_a_list_exactly_with_one_comma_between_each_are_all_kept() -> None:
    # "[1,2]" and "[1,2,3,4,5,6]" are exactly 5 and 13 characters: each comma costs one, not more.
    assert fit([1, 2, 3], 5) == ([1, 2], [Cut("$", 2, 3, "items")])
    assert fit([1, 2, 3, 4, 5, 6, 7, 8, 9], 13) == ([1, 2, 3, 4, 5, 6], [Cut("$", 6, 9, "items")])
