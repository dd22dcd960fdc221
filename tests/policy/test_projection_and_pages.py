"""Field projection and result pages, as pure functions: what an agent asks for is what it gets, and paging a cut
answer gives every item of the cut list exactly once, in order."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parse_mcp.json_types import JsonValue
from parse_mcp.policy.kept import Kept, item_fields, pack
from parse_mcp.policy.pages import Paged, page, paged_list, parse_cursor, resolve
from parse_mcp.policy.projection import MAX_FIELDS, FieldsError, check_fields, project
from parse_mcp.policy.size import fit, size_of

ROWS: dict[str, JsonValue] = {
    "total": 3,
    "rows": [
        {"title": "a", "price": 1, "url": "https://example.com/a"},
        {"title": "b", "url": "https://example.com/b"},
        "not an object",
    ],
}


def test_a_path_through_a_list_keeps_that_field_of_every_item_in_place() -> None:
    projected, unmatched = project(ROWS, check_fields(["rows.title", "rows.price"]))
    assert projected == {"rows": [{"title": "a", "price": 1}, {"title": "b"}, None]}
    assert unmatched == []


def test_a_path_that_matches_nothing_is_reported_and_the_rest_is_kept() -> None:
    projected, unmatched = project(ROWS, check_fields(["total", "rows.colour", "nowhere"]))
    assert projected == {"total": 3}
    assert unmatched == [1, 2]


def test_when_nothing_matches_the_data_is_null_and_every_path_is_reported() -> None:
    assert project(ROWS, check_fields(["x", "y.z"])) == (None, [0, 1])


def test_a_path_through_an_empty_list_matches() -> None:
    assert project({"rows": []}, check_fields(["rows.title"])) == ({"rows": []}, [])


def test_a_shorter_path_keeps_the_whole_value_and_a_longer_one_beside_it_still_counts_as_matched() -> None:
    projected, unmatched = project(ROWS, check_fields(["rows", "rows.title"]))
    assert projected == {"rows": ROWS["rows"]}
    assert unmatched == []


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ([], "is empty"),
        (["a"] * (MAX_FIELDS + 1), f"at most {MAX_FIELDS}"),
        (["zebra" * 41], "longer than 200"),
        (["zebra..title"], "empty segment"),
        ([".zebra"], "empty segment"),
        (["a." * 33 + "a"], "more than 32 segments"),
    ],
)
def test_fields_that_cannot_be_walked_are_refused_in_our_words_without_repeating_them(
    fields: list[str], words: str
) -> None:
    with pytest.raises(FieldsError) as refused:
        check_fields(fields)
    assert words in str(refused.value)
    assert "zebra" not in str(refused.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.sampled_from("abc.d"), children, max_size=4),
    max_leaves=40,
)
paths = st.lists(st.lists(st.sampled_from("abcd"), min_size=1, max_size=4).map(".".join), min_size=1, max_size=6)


def _within(part: JsonValue, whole: JsonValue) -> bool:
    """Whether every value kept in `part` sits at the same place in `whole` (null standing for a dropped item)."""
    if part is None or part == whole:
        return True
    if isinstance(part, dict) and isinstance(whole, dict):
        return all(key in whole and _within(value, whole[key]) for key, value in part.items())
    if isinstance(part, list) and isinstance(whole, list):
        return len(part) == len(whole) and all(_within(a, b) for a, b in zip(part, whole, strict=True))
    return False


@settings(max_examples=400, deadline=None)
@given(value=json_values, fields=paths)
def test_projection_only_ever_keeps_what_the_answer_holds_where_it_holds_it(
    value: JsonValue, fields: list[str]
) -> None:
    projected, unmatched = project(value, check_fields(fields))
    assert _within(projected, value)
    assert set(unmatched) <= set(range(len(fields)))
    assert (projected is None) == (len(unmatched) == len(fields))


def test_projection_of_a_list_nested_far_deeper_than_any_path_does_not_recurse_without_end() -> None:
    deep: JsonValue = [{"a": 1}]
    for _ in range(5_000):
        deep = [deep]
    projected, _ = project({"rows": deep}, check_fields(["rows.a"]))
    assert isinstance(projected, dict)


def rows(count: int) -> dict[str, JsonValue]:
    return {
        "count": count,
        "rows": [{"id": n, "title": f"Item number {n}", "url": f"https://e.com/{n}"} for n in range(count)],
    }


def _all_pages(value: JsonValue, max_chars: int) -> tuple[list[JsonValue], int]:
    """The first answer's items and then every page's, read by cursor to the end, and the number of pages."""
    first, cuts = fit(value, max_chars)
    paged = paged_list(value, cuts)
    assert paged is not None
    listed = resolve(value, paged.path)
    first_list = resolve(first, paged.path)
    assert listed is not None
    assert first_list is not None
    assert isinstance(listed[0], list)
    assert isinstance(first_list[0], list)
    seen = list(first_list[0])
    start: int | None = len(seen)
    pages = 0
    while start is not None:
        current = page(listed[0][start:], start, len(listed[0]), max_chars, paged.path)
        assert size_of(current.items) <= max_chars
        assert isinstance(current.items, list)
        seen += current.items
        start, pages = current.next_start, pages + 1
    return seen, pages


def test_paging_a_cut_list_of_5000_rows_gives_every_row_exactly_once_in_order() -> None:
    value = rows(5_000)
    seen, pages = _all_pages(value, 40_000)
    assert seen == value["rows"]
    assert pages > 5


@settings(max_examples=100, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=0, max_value=300), min_size=2, max_size=80),
    budget=st.integers(min_value=200, max_value=3_000),
)
def test_pages_of_items_of_any_sizes_give_each_item_once_shortening_only_an_item_too_big_for_a_page(
    lengths: list[int], budget: int
) -> None:
    items: list[JsonValue] = ["x" * length for length in lengths]
    value: JsonValue = {"rows": items}
    if size_of(value) <= budget:
        return
    first, cuts = fit(value, budget)
    paged = paged_list(value, cuts)
    assert paged == Paged("$.rows", len(items))
    assert isinstance(first, dict)
    kept = first["rows"]
    assert isinstance(kept, list)
    start: int | None = len(kept)
    position = len(kept)
    while start is not None:
        current = page(items[start:], start, len(items), budget, paged.path)
        assert isinstance(current.items, list)
        for offset, item in enumerate(current.items):
            original = items[start + offset]
            assert isinstance(item, str)
            assert isinstance(original, str)
            assert item == original or (len(current.items) == 1 and original.startswith(item.rstrip("…")))
        position += len(current.items)
        start = current.next_start
    assert position == len(items)


def test_a_nested_cut_is_paged_where_it_is_and_its_cuts_say_where_in_the_whole_list() -> None:
    value: JsonValue = {
        "shop": {"name": "s", "items": [{"id": n, "text": "y" * (5_000 if n == 7 else 10)} for n in range(200)]}
    }
    _, cuts = fit(value, 2_000)
    paged = paged_list(value, cuts)
    assert paged == Paged("$.shop.items", 200)
    listed = resolve(value, paged.path)
    assert listed is not None
    assert isinstance(listed[0], list)
    current = page(listed[0][7:], 7, 200, 2_000, paged.path)
    assert current.start == 7
    assert [cut.path for cut in current.cuts] == ["$.shop.items[7].text"]


def test_a_key_holding_a_dot_is_found_again_by_its_path() -> None:
    value: JsonValue = {"a": {"x": 1}, "a.b": [1, 2, 3]}
    assert resolve(value, "$.a.b") == ([1, 2, 3], 1)
    assert resolve(value, "$.a.x") == (1, 2)
    assert resolve(value, "$.nowhere") is None
    assert resolve(value, "$.a.b[3]") is None


@pytest.mark.parametrize("cursor", ["", "-1", "1.5", "٣", "1e3", "9" * 10, " 1", "1\n", "2001"])
def test_a_cursor_that_is_not_an_index_of_this_list_names_nothing(cursor: str) -> None:
    assert parse_cursor(cursor, 2_000) is None


def test_a_cursor_reads_back_as_the_index_it_was_made_from() -> None:
    assert parse_cursor("0", 10) == 0
    assert parse_cursor("10", 10) == 10


def test_the_text_of_a_page_is_valid_json() -> None:
    listed = rows(1_000)["rows"]
    assert isinstance(listed, list)
    current = page(listed[100:], 100, len(listed), 5_000)
    assert json.loads(json.dumps(current.items)) == current.items


@settings(max_examples=100, deadline=None)
@given(items=st.lists(json_values, max_size=40), start=st.integers(min_value=0, max_value=40))
def test_kept_items_read_back_by_any_slice_are_the_items(items: list[JsonValue], start: int) -> None:
    kept = Kept.opened(pack(items))
    assert kept is not None
    assert kept.count == len(items)
    end = min(len(items), start + 7)
    assert kept.items(min(start, end), end) == items[min(start, end) : end]
    if start < len(items):
        window = kept.window(start, 200)
        assert window == items[start : start + len(window)]
        assert window, "a window holds at least one item"


@settings(max_examples=100, deadline=None)
@given(
    items=st.lists(json_values, max_size=60),
    start=st.integers(min_value=0, max_value=60),
    run_items=st.integers(min_value=1, max_value=5),
    run_bytes=st.integers(min_value=1, max_value=80),
)
def test_items_kept_in_runs_of_any_size_read_back_by_any_slice_and_window_are_the_items(
    items: list[JsonValue], start: int, run_items: int, run_bytes: int
) -> None:
    kept = Kept.opened(pack(items, run_items=run_items, run_bytes=run_bytes))
    assert kept is not None
    assert kept.count == len(items)
    end = min(len(items), start + 9)
    assert kept.items(min(start, end), end) == items[min(start, end) : end]
    assert kept.items(0, len(items)) == items
    if start < len(items):
        window = kept.window(start, 30)
        assert window, "a window holds at least one item"
        assert window == items[start : start + len(window)]


def test_a_run_holds_at_most_its_items_and_about_its_bytes_and_one_large_item_is_a_run_alone() -> None:
    small: list[JsonValue] = [{"id": n} for n in range(10)]
    large: JsonValue = {"text": "x" * 500}
    kept = Kept.opened(pack([*small, large, *small], run_items=4, run_bytes=100))
    assert kept is not None
    runs = [kept.body[kept.offsets[run] : kept.offsets[run + 1]] for run in range(len(kept.offsets) - 1)]
    assert all(len(json.loads(run)) <= 4 for run in runs)
    assert [len(json.loads(run)) for run in runs if len(run) > 100] == [1], "only the large item is over the bytes"
    assert json.loads(runs[[len(run) > 100 for run in runs].index(True)]) == [large]


def test_a_window_reads_the_runs_within_about_twice_its_characters_and_no_more() -> None:
    items: list[JsonValue] = [{"id": n, "title": f"row {n:04}"} for n in range(2_000)]  # about 30 characters each
    kept = Kept.opened(pack(items))
    assert kept is not None
    window = kept.window(100, 3_000)
    assert window == items[100 : 100 + len(window)]
    # The run holding item 100 (64 items), and the runs whose end is within 6,000 bytes of that run's end.
    assert 6_000 - 64 * 31 <= size_of(window) <= 64 * 31 + 6_000


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"x",
        b"\xff" * 7,
        b"\x00" * 8 + b"\x01" + b"\x00" * 7,
        pack([1, 2])[:-1],
        b"[1]" + b"\x05" * 8,
        # The layout kept before runs: the items joined, their offsets and their count, with no mark.
        b"1,2," + bytes(8) + (2).to_bytes(8, "little") + (4).to_bytes(8, "little") + (2).to_bytes(8, "little"),
        # Marked, but its one run is said to end past where the index begins.
        b"[1]"
        + bytes(8)
        + (4).to_bytes(8, "little")
        + bytes(8)
        + (1).to_bytes(8, "little")
        + (1).to_bytes(8, "little")
        + b"kept:runs:1",
    ],
)
def test_a_body_this_server_did_not_write_opens_as_nothing(body: bytes) -> None:
    assert Kept.opened(body) is None


@pytest.mark.parametrize(
    ("fields", "list_path", "inside", "elsewhere"),
    [
        (["items.title", "count"], "$.items", ["title"], [1]),
        (["shops.items.title"], "$.shops[0].items", ["title"], []),
        (["title", "id"], "$", ["title", "id"], []),
        (["items"], "$.items", None, []),
    ],
)
def test_fields_from_the_datas_root_are_read_inside_each_kept_item(
    fields: list[str], list_path: str, inside: list[str] | None, elsewhere: list[int]
) -> None:
    assert item_fields(fields, list_path) == (inside, elsewhere)
