"""The exact promises of paging a cut answer (`policy/pages.py`), each one a mutation test found unguarded."""

from __future__ import annotations

from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Cut
from parse_mcp.policy.pages import Paged, page, paged_list, resolve
from parse_mcp.policy.size import MAX_DEPTH


def test_a_cut_inside_an_item_of_a_later_page_names_that_item_in_the_whole_list_and_keeps_its_figures() -> None:
    window: list[JsonValue] = [{"t": "x" * 500}, {"t": "y"}]
    shown = page(window, 3, 10, 100, "$.rows")
    assert shown.cuts == (Cut("$.rows[3].t", 89, 500, "chars"),)
    assert (shown.start, shown.next_start) == (3, 4)


def test_a_page_of_the_answer_itself_writes_its_cuts_from_the_root() -> None:
    shown = page([{"t": "x" * 500}], 5, 10, 100)
    assert [cut.path for cut in shown.cuts] == ["$[5].t"]


def test_a_page_too_small_for_any_list_is_null_and_still_moves_on_by_one_item() -> None:
    shown = page(["x" * 50, "y"], 2, 10, 1)
    assert shown.items is None
    assert (shown.start, shown.next_start, shown.cuts) == (2, 3, ())


def test_the_last_page_says_there_is_no_next_one() -> None:
    assert page(["a", "b"], 8, 10, 1_000).next_start is None
    assert page(["a"], 8, 10, 1_000).next_start == 9


def test_an_index_step_reads_only_a_list_and_a_key_step_only_an_object() -> None:
    assert resolve([[1, 2], [3]], "$[0][1]") == (2, 2)
    assert resolve({"0]": 5, "a": 1}, "$[0]") is None
    assert resolve(["a"], "$.a") is None
    assert resolve([1], "$[1]") is None
    assert resolve([1], "$[x]") is None


def test_a_key_step_takes_the_key_the_path_continues_with_and_not_a_longer_one_it_only_begins_with() -> None:
    value: JsonValue = {"a": {"bc": [1, 2]}, "a.b": 0}
    assert resolve(value, "$.a.bc") == ([1, 2], 2)
    assert resolve({"a": [7, 8]}, "$.a[1]") == (8, 2)
    assert resolve({"ab": 1}, "$.a") is None


def test_paging_follows_the_outermost_cut_list_whatever_the_order_of_the_cuts() -> None:
    value: JsonValue = {"rows": [{"tags": [1, 2, 3]}, 2, 3]}
    inner_first = [Cut("$.rows[0].tags", 1, 3, "items"), Cut("$.rows", 1, 3, "items")]
    assert paged_list(value, inner_first) == Paged("$.rows", 3)


def test_of_two_cut_lists_at_the_same_depth_paging_follows_the_first() -> None:
    value: JsonValue = {"a": [1, 2, 3], "b": [4, 5, 6]}
    cuts = [Cut("$.b", 1, 3, "items"), Cut("$.a", 1, 3, "items")]
    assert paged_list(value, cuts) == Paged("$.b", 3)


def test_a_cut_whose_path_leads_nowhere_or_to_no_list_offers_no_pages() -> None:
    value: JsonValue = {"a": {"x": 1, "y": 2}, "s": "text"}
    assert paged_list(value, [Cut("$.missing", 1, 3, "items")]) is None
    assert paged_list(value, [Cut("$.a", 1, 2, "items")]) is None
    assert paged_list(value, [Cut("$.s", 1, 4, "items")]) is None


def test_a_level_cut_deep_in_a_later_item_of_a_page_names_that_item_in_the_whole_list() -> None:
    deep: JsonValue = []
    for _ in range(MAX_DEPTH + 3):
        deep = [deep]
    shown = page([1, {"a": deep}], 7, 20, 10_000, "$.rows")
    assert [cut.path.split(".a")[0] for cut in shown.cuts] == ["$.rows[8]"]
    assert [cut.unit for cut in shown.cuts] == ["levels"]
