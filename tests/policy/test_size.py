"""Cutting a payload keeps valid JSON within the budget of size and depth and says what was left out; any body reads."""

from __future__ import annotations

import json
from typing import cast

import anyio
import httpx2
import pydantic_core
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Cut
from parse_mcp.policy.size import (
    DEFAULT_MAX_DATA_CHARS,
    DEPTH_MARKER,
    MAX_DEPTH,
    READ_MAX_DEPTH,
    deeper_than,
    depth_of,
    encode,
    fit,
    loads_bounded,
    size_of,
)
from parse_mcp.results import ToolResult, limit_size, render
from parse_mcp.server import build_server
from parse_mcp.settings import Secret, Settings
from tests.conftest import IN_PROCESS_URL
from tests.text_channel import read


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
    # Up to about 20 KB of JSON, against budgets of 40 to 3,000 characters: most values are cut, in every way.
    max_leaves=100,
)


@settings(max_examples=300, deadline=None)
@given(value=json_values, budget=st.integers(min_value=40, max_value=3_000))
def test_any_payload_comes_back_as_valid_json_within_the_budget(value: JsonValue, budget: int) -> None:
    cut, cuts = fit(value, budget)
    # Measured as it goes out: pydantic writes the structured content (its exponents are `1e16`, `5e-8`).
    text = pydantic_core.to_json(cut).decode()
    assert len(text) <= budget
    assert json.loads(text) == cut
    assert (cuts == []) == (cut == value)


@settings(max_examples=300, deadline=None)
@given(value=json_values, budget=st.integers(min_value=4, max_value=3_000), levels=st.integers(1, 6))
@example(value=[[]], budget=4, levels=1)  # [null] is longer than [[]]: cutting by depth alone overran the budget
@example(value={"a": [], "b": "x" * 40}, budget=9, levels=1)  # the same, after a cut by size
def test_any_payload_comes_back_within_both_the_size_and_the_depth_budget(
    value: JsonValue, budget: int, levels: int
) -> None:
    cut, _ = fit(value, budget, levels)
    assert len(pydantic_core.to_json(cut).decode()) <= budget
    assert depth_of(cut) <= levels


def test_a_value_that_a_cut_by_depth_makes_too_long_is_cut_again_by_size_and_every_cut_is_listed() -> None:
    # Both fit their budget as they are, or once cut by size, until their empty lists become nulls.
    assert fit([[]], 4, 1) == ([], [Cut("$[0]", 0, 1, "levels"), Cut("$", 0, 1, "items")])
    assert fit({"a": [], "b": "x" * 40}, 9, 1) == (
        {},
        [Cut("$", 1, 2, "keys"), Cut("$.a", 0, 1, "levels"), Cut("$", 0, 1, "keys")],
    )


# Strings made of the characters that could fool a judge of depth reading the text: quotes, backslashes, brackets.
tricky_text = st.text(alphabet='"\\[]{}au\n', max_size=12)
tricky_values = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(tricky_text, children, max_size=4),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(value=tricky_values, levels=st.integers(min_value=0, max_value=8))
def test_depth_judged_from_the_text_agrees_with_the_depth_of_the_value(value: JsonValue, levels: int) -> None:
    assert deeper_than(encode(value), levels) == (depth_of(value) > levels)


@settings(max_examples=300, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=120),
    budget=st.integers(min_value=40, max_value=6_000),
)
def test_a_list_too_long_keeps_exactly_the_longest_beginning_that_fits(lengths: list[int], budget: int) -> None:
    items: list[JsonValue] = ["x" * length for length in lengths]
    cut, _ = fit({"rows": items}, budget)
    room = budget - len('{"rows":[]}')
    longest, used = 0, -1
    for length in lengths:  # one item at a time, the obvious way
        used += length + 3  # its quotes and a comma
        if used > room:
            break
        longest += 1
    assert isinstance(cut, dict)
    if longest or room <= 2:
        assert cut["rows"] == items[:longest]
    else:  # nothing fits whole: the first item is kept, shortened
        assert isinstance(cut["rows"], list)
        assert len(cut["rows"]) == 1


DEPTHS = (10, 300, 900, 5_000, 1_000_000)


def nested_body(depth: int, leaf: str = '"a]\\"[{"') -> bytes:
    """A list `depth` levels deep around a string full of brackets (which must not count as levels)."""
    return ("[" * depth + leaf + "]" * depth).encode()


def parsed(body: bytes) -> JsonValue:
    return cast(JsonValue, loads_bounded(body))


def test_a_body_of_any_depth_is_read_without_recursion_error_and_deep_levels_become_the_marker() -> None:
    for depth in DEPTHS:
        value = parsed(nested_body(depth))
        assert depth_of(value) == min(depth, READ_MAX_DEPTH)
        innermost = value
        while isinstance(innermost, list):
            (innermost,) = innermost
        assert innermost == ('a]"[{' if depth <= READ_MAX_DEPTH else DEPTH_MARKER)


def test_objects_and_strings_with_brackets_and_escapes_read_as_json_does() -> None:
    body = b'{"a": "[[[{{{\\\\", "b\\"[": [1, {"c": "]]]}}}"}], "d": true}'
    assert loads_bounded(body) == json.loads(body)
    deep = ('{"k": ' * 500 + '"x"' + "}" * 500).encode()
    value = parsed(deep)
    assert depth_of(value) == READ_MAX_DEPTH


def test_a_body_that_is_not_json_raises_value_error_whatever_its_depth() -> None:
    for body in (b"[[[", b"]]]" + b"[" * 5_000, b'"open', b"[1]]]]" + b"[" * 5_000, b"\xff\xfe\xfa", b"<html>"):
        with pytest.raises(ValueError, match=r"."):
            loads_bounded(body)


def test_too_deep_is_cut_like_too_large_with_the_path_and_the_levels_left_out() -> None:
    for depth in DEPTHS:
        value = parsed(nested_body(depth))
        cut, cuts = fit(value, DEFAULT_MAX_DATA_CHARS)
        if depth <= MAX_DEPTH:
            assert (cut, cuts) == (value, [])
            continue
        assert depth_of(cut) == MAX_DEPTH
        assert cuts == [Cut("$" + "[0]" * MAX_DEPTH, 0, min(depth, READ_MAX_DEPTH) - MAX_DEPTH, "levels")]


def test_a_deep_and_large_value_is_cut_by_both_and_stays_valid_json() -> None:
    value: JsonValue = {"rows": ["x" * 100] * 1_000, "tree": json.loads(nested_body(200))}
    cut, cuts = fit(value, 2_000)
    assert size_of(cut) <= 2_000
    assert depth_of(cut) <= MAX_DEPTH
    assert {c.unit for c in cuts} >= {"levels", "items"}


def test_a_deep_answer_renders_as_the_standard_result_saying_what_was_cut() -> None:
    for depth in DEPTHS:
        outcome = limit_size(ToolResult.success("e returned data.", parsed(nested_body(depth))), 40_000)
        result = render(outcome)
        assert result.structured_content is not None
        ToolResult.model_validate(result.structured_content)
        assert result.structured_content["ok"] is True
        assert result.structured_content["meta"].get("truncated") is (True if depth > MAX_DEPTH else None)
        text = read(result)
        assert text.merged() == result.structured_content
        if depth > MAX_DEPTH:
            assert "32 levels of nesting" in result.structured_content["summary"]
            assert result.structured_content["meta"]["omitted"][0]["unit"] == "levels"


def deep_upstream() -> Starlette:
    """A Parse.bot stand-in with one GET endpoint whose data is a list nested `depth` levels deep."""
    schema = {
        "id": "deep",
        "name": "Deep",
        "endpoints": [{"name": "nest", "method": "GET", "input_params": {"depth": {"type": "int", "required": True}}}],
    }

    async def describe(_request: Request) -> Response:
        return JSONResponse(schema)

    async def nest(request: Request) -> Response:
        depth = int(request.query_params["depth"])
        return Response(b'{"status": "success", "data": ' + nested_body(depth) + b"}", media_type="application/json")

    return Starlette(routes=[Route("/sdk/schemas/deep", describe), Route("/scraper/deep/nest", nest)])


@pytest.mark.anyio
async def test_a_deep_answer_reaches_a_real_client_as_the_standard_result() -> None:
    settings = Settings(parse_api_key=Secret("pmx_deep_test_key"), parse_base_url=IN_PROCESS_URL)
    server = build_server(settings, parsebot_transport=httpx2.ASGITransport(app=deep_upstream()))
    async with Client(server) as client:
        for depth in DEPTHS:
            with anyio.fail_after(30):
                result = await client.call_tool(
                    "execute_endpoint", {"scraper_id": "deep", "endpoint": "nest", "params": {"depth": depth}}
                )
            structured = result.structured_content
            assert structured is not None
            ToolResult.model_validate(structured)
            assert (depth, structured["ok"]) == (depth, True)
            assert depth_of(structured["data"]) == min(depth, MAX_DEPTH)
            assert read(result).merged() == structured


def test_a_number_too_long_for_its_share_is_cut_and_the_cut_is_said() -> None:
    value: JsonValue = {"": None, "nnnnnnnn": 1.7126972312463646e46}
    cut, cuts = fit(value, 40)
    assert cut == {"": None, "nnnnnnnn": None}
    assert [(c.path, c.kept, c.total, c.unit) for c in cuts] == [("$.nnnnnnnn", 0, 22, "chars")]
