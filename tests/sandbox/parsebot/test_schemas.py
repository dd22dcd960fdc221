from __future__ import annotations

from typing import Any

import httpx2
import pytest

from parse_mcp.sandbox import BOOKS_API_ID, FAILURE_LAB_ID, MEMBERS_API_ID, QUOTES_API_ID, WEATHER_COPY_ID
from tests.sandbox.support import base_url

pytestmark = pytest.mark.anyio

ROW_KEYS = {
    "id",
    "slug",
    "name",
    "description",
    "source_url",
    "pinned_version",
    "versions",
    "endpoints",
    "resources",
    "enums",
    "errors",
    "root_name",
    "sdk_usage_example",
}
ENDPOINT_KEYS = {"name", "method", "description", "input_params", "return_schema", "price"}
PARAM_KEYS = {"type", "description", "required", "default", "choices"}
TYPE_LABELS = {"string", "integer", "number", "boolean", "array", "object"}
FAILURE_LAB_ENDPOINTS = {
    "search_flights": "POST",
    "list_items": "GET",
    "get_job": "POST",
    "fetch_status": "POST",
    "blocked": "POST",
    "scraper_bug": "POST",
    "burst_limit": "POST",
    "daily_limit": "POST",
    "credits_exhausted": "POST",
    "plan_required": "POST",
    "session_expired": "POST",
    "session_required": "POST",
    "proxy_error": "GET",
    "malformed_success": "POST",
    "off_the_reference": "POST",
    "login": "POST",
}


async def _rows(client: httpx2.AsyncClient) -> dict[str, Any]:
    reply = await client.get("/sdk/schemas")
    assert reply.status_code == 200
    assert set(reply.json()) == {"schemas"}
    return {row["id"]: row for row in reply.json()["schemas"]}


def _endpoints(row: dict[str, Any]) -> dict[str, Any]:
    return {endpoint["name"]: endpoint for endpoint in row["endpoints"]}


async def test_the_account_snapshot_lists_the_books_api_and_the_failure_lab(client: httpx2.AsyncClient) -> None:
    rows = await _rows(client)
    assert list(rows) == [BOOKS_API_ID, FAILURE_LAB_ID, QUOTES_API_ID, MEMBERS_API_ID, WEATHER_COPY_ID]
    books, lab = rows[BOOKS_API_ID], rows[FAILURE_LAB_ID]
    assert set(books) == ROW_KEYS == set(lab)
    assert (books["slug"], books["name"]) == ("books-catalogue-sandbox", "Books Catalogue (sandbox)")
    assert (lab["slug"], lab["name"]) == ("failure-lab-sandbox", "Failure Lab (sandbox)")
    assert books["source_url"] == f"{base_url(client)}/site/"
    assert lab["source_url"] == f"{base_url(client)}/site/lab/"
    for row in (books, lab):
        assert row["pinned_version"] is None
        assert row["versions"] == [1, 2]


async def test_the_books_endpoints_declare_their_methods_params_and_price(client: httpx2.AsyncClient) -> None:
    endpoints = _endpoints((await _rows(client))[BOOKS_API_ID])
    assert {name: e["method"] for name, e in endpoints.items()} == {
        "list_books": "GET",
        "get_book": "POST",
        "search_books": "GET",
    }
    list_books = endpoints["list_books"]["input_params"]
    assert list_books["page"] == {
        "type": "integer",
        "description": "Page number, from 1.",
        "required": False,
        "default": 1,
    }
    assert list_books["sort"]["choices"] == ["title", "price_asc", "price_desc", "rating"]
    assert list_books["sort"]["default"] == "title"
    assert endpoints["get_book"]["input_params"]["slug"]["required"] is True
    search = endpoints["search_books"]["input_params"]
    assert {name: spec["type"] for name, spec in search.items()} == {
        "query": "string",
        "max_price": "number",
        "ratings": "array",
        "in_stock_only": "boolean",
    }
    assert all(endpoint["price"] == 1 for endpoint in endpoints.values())


async def test_the_failure_lab_has_one_described_endpoint_per_documented_failure(client: httpx2.AsyncClient) -> None:
    endpoints = _endpoints((await _rows(client))[FAILURE_LAB_ID])
    assert {name: e["method"] for name, e in endpoints.items()} == FAILURE_LAB_ENDPOINTS
    statuses = {
        "search_flights": "422",
        "get_job": "422",
        "fetch_status": "502",
        "blocked": "503",
        "scraper_bug": "500",
        "burst_limit": "429",
        "daily_limit": "429",
        "credits_exhausted": "402",
        "plan_required": "403",
        "session_expired": "401",
        "session_required": "400",
        "proxy_error": "502",
        "malformed_success": "200",
    }
    for name, status in statuses.items():
        assert status in endpoints[name]["description"], name


async def test_search_flights_trip_type_has_no_declared_choices_so_only_the_scraper_rejects_it(
    client: httpx2.AsyncClient,
) -> None:
    params = _endpoints((await _rows(client))[FAILURE_LAB_ID])["search_flights"]["input_params"]
    assert params["trip_type"] == {"type": "string", "description": "one_way or round_trip.", "required": True}
    assert params["date"]["required"] is False


async def test_every_endpoint_uses_only_documented_spec_keys_and_type_labels(client: httpx2.AsyncClient) -> None:
    for row in (await _rows(client)).values():
        for endpoint in row["endpoints"]:
            assert ENDPOINT_KEYS <= set(endpoint) <= ENDPOINT_KEYS | {"depends_on_session", "initiates_session"}
            assert endpoint["description"]
            assert endpoint["return_schema"]["type"] == "object"
            for spec in endpoint["input_params"].values():
                assert set(spec) <= PARAM_KEYS
                assert spec["type"] in TYPE_LABELS
                assert isinstance(spec["required"], bool)
                assert spec["description"]


async def test_one_schema_is_the_same_row_as_in_the_list(client: httpx2.AsyncClient) -> None:
    rows = await _rows(client)
    reply = await client.get(f"/sdk/schemas/{BOOKS_API_ID}")
    assert (reply.status_code, reply.json()) == (200, rows[BOOKS_API_ID])


async def test_a_pinned_version_returns_the_row_with_that_version(client: httpx2.AsyncClient) -> None:
    rows = await _rows(client)
    reply = await client.get(f"/sdk/schemas/{FAILURE_LAB_ID}", params={"version": 2})
    assert (reply.status_code, reply.json()) == (200, {**rows[FAILURE_LAB_ID], "version": 2})


async def test_the_books_api_is_modelled_as_books_that_page_by_number(client: httpx2.AsyncClient) -> None:
    books = (await _rows(client))[BOOKS_API_ID]
    assert books["root_name"] == "Books"
    book = books["resources"]["Book"]
    assert book["keyed_by"] == "slug"
    assert book["fields"]["price"] == "float"
    assert book["operations"]["list"] == {
        "endpoint": "list_books",
        "takes": {"sort": "sort"},
        "returns": "List[Book]",
        "pagination": {
            "scheme": "page",
            "request_param": "page",
            "items_path": "books",
            "page_path": "page",
            "total_pages_path": "pages",
        },
    }
    assert books["errors"]["BookNotFound"]["code"] == "input_not_found"
    assert books["errors"]["BookNotFound"]["carries"] == ["slug"]


async def test_the_failure_lab_declares_one_error_class_per_documented_kind(client: httpx2.AsyncClient) -> None:
    lab = (await _rows(client))[FAILURE_LAB_ID]
    assert sorted(error["code"] for error in lab["errors"].values()) == [
        "antibot_solvable",
        "antibot_unsolvable",
        "input_format_invalid",
        "input_not_found",
        "scraper_bug",
    ]


async def test_an_api_without_a_written_model_gets_one_operation_per_endpoint(client: httpx2.AsyncClient) -> None:
    members = (await _rows(client))[MEMBERS_API_ID]
    operations = members["resources"]["Endpoint"]["operations"]
    assert set(operations) == {endpoint["name"] for endpoint in members["endpoints"]}
    assert operations["login"] == {
        "endpoint": "login",
        "takes": {"username": "username", "password": "password"},
        "returns": "Any",
    }
    # The example calls a public endpoint, never the login: no credential is written into an example.
    assert "client.endpoints.list_plans()" in members["sdk_usage_example"]
    assert "password" not in members["sdk_usage_example"]


@pytest.mark.parametrize(
    ("scraper_id", "params"),
    [("no-such-scraper", {}), (BOOKS_API_ID, {"version": "3"}), (BOOKS_API_ID, {"version": "0"})],
)
async def test_an_unknown_scraper_or_version_is_404_scraper_not_found(
    client: httpx2.AsyncClient, scraper_id: str, params: dict[str, str]
) -> None:
    reply = await client.get(f"/sdk/schemas/{scraper_id}", params=params)
    assert reply.status_code == 404
    assert reply.json() == {"error": f"Scraper with ID '{scraper_id}' not found", "status_code": 404}


async def test_a_version_that_is_not_an_integer_is_a_fastapi_validation_error(client: httpx2.AsyncClient) -> None:
    reply = await client.get(f"/sdk/schemas/{BOOKS_API_ID}", params={"version": "latest"})
    assert reply.status_code == 422
    assert reply.json() == {
        "detail": [
            {
                "loc": ["query", "version"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "type": "int_parsing",
            }
        ]
    }
