"""Endpoint specs: loose input_params are read forgivingly and params are checked before any call."""

from __future__ import annotations

from parse_mcp.services.specs import check_params, encode_query, parse_api, parse_api_list, parse_endpoint

ENDPOINT = parse_endpoint(
    {
        "name": "list_books",
        "method": "GET",
        "input_params": {
            "page": {"type": "int", "required": False, "default": 1},
            "sort": {"type": "string", "choices": ["title", "price_asc"]},
            "query": {"type": "str", "required": True},
            "tags": {"type": "List[str]"},
            "note": "a bare description",
            "anything": {"type": "weird-label"},
        },
    }
)


def test_loose_type_labels_are_normalised() -> None:
    assert ENDPOINT is not None
    kinds = {p.name: p.type for p in ENDPOINT.params}
    assert kinds == {
        "page": "integer",
        "sort": "string",
        "query": "string",
        "tags": "array",
        "note": "string",
        "anything": "any",
    }


def test_a_missing_method_means_post_and_an_odd_row_is_skipped() -> None:
    endpoint = parse_endpoint({"endpoint_name": "get_book"})
    assert endpoint is not None
    assert endpoint.method == "POST"
    apis = parse_api_list({"apis": [{"id": "a", "endpoints": [{"name": "x"}, "junk"]}, "junk", {"name": "no id"}]})
    assert apis is not None
    assert [a.scraper_id for a in apis] == ["a"]
    assert parse_api_list({"unexpected": True}) is None
    assert parse_api("not a row") is None


def test_valid_params_pass() -> None:
    assert ENDPOINT is not None
    assert (
        check_params(ENDPOINT, {"query": "poetry", "page": 2, "sort": "title", "tags": ["a"], "anything": {"x": 1}})
        == []
    )


def test_each_problem_names_its_field() -> None:
    assert ENDPOINT is not None
    problems = check_params(ENDPOINT, {"page": "2", "sort": "newest", "colour": "red"})
    by_field = {p.field: p.message for p in problems}
    assert set(by_field) == {"colour", "page", "sort", "query"}
    assert by_field["page"] == "page must be an integer, got a string"
    assert by_field["sort"] == 'sort must be one of "title", "price_asc"'
    assert by_field["query"] == "query is required (string)"
    assert "it takes:" in by_field["colour"]


def test_booleans_are_not_numbers() -> None:
    assert ENDPOINT is not None
    assert [p.field for p in check_params(ENDPOINT, {"query": "q", "page": True})] == ["page"]


def test_get_parameters_are_encoded_the_way_the_service_reads_them() -> None:
    encoded = encode_query({"a": True, "b": False, "c": [1, 2], "d": {"k": "v"}, "e": None, "f": 3, "g": "x y"})
    assert encoded == [("a", "true"), ("b", "false"), ("c", "[1,2]"), ("d", '{"k":"v"}'), ("f", "3"), ("g", "x y")]
