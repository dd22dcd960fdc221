"""Cutting a payload keeps valid JSON within the budget and says what was left out."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from parse_mcp.json_types import JsonValue
from parse_mcp.policy.size import Cut, fit, size_of


def test_a_payload_that_fits_is_untouched() -> None:
    value: JsonValue = {"a": [1, 2, 3]}
    assert fit(value, 100) == (value, [])


def test_a_long_list_keeps_its_first_items_and_counts_the_rest() -> None:
    books: JsonValue = {"page": 1, "books": [{"title": f"Book {n}", "price": n} for n in range(500)]}
    cut, cuts = fit(books, 2_000)
    assert size_of(cut) <= 2_000
    assert isinstance(cut, dict)
    assert cut["page"] == 1
    kept = cut["books"]
    assert isinstance(kept, list)
    assert 0 < len(kept) < 500
    assert kept[0] == {"title": "Book 0", "price": 0}
    assert cuts == [Cut("$.books", len(kept), 500, "items")]


def test_a_long_string_keeps_its_beginning() -> None:
    cut, cuts = fit({"html": "x" * 10_000}, 1_000)
    assert isinstance(cut, dict)
    assert isinstance(cut["html"], str)
    assert cut["html"].startswith("xxx")
    assert cut["html"].endswith("…")
    assert cuts[0].path == "$.html"
    assert cuts[0].unit == "chars"
    assert cuts[0].total == 10_000


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=200),
    lambda children: st.lists(children, max_size=30) | st.dictionaries(st.text(max_size=10), children, max_size=10),
    max_leaves=200,
)


@settings(max_examples=300, deadline=None)
@given(value=json_values, budget=st.integers(min_value=40, max_value=3_000))
def test_any_payload_comes_back_as_valid_json_within_the_budget(value: JsonValue, budget: int) -> None:
    cut, cuts = fit(value, budget)
    text = json.dumps(cut, ensure_ascii=False, separators=(",", ":"))
    assert len(text) <= budget
    assert json.loads(text) == cut
    assert (cuts == []) == (cut == value)
