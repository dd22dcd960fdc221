from __future__ import annotations

from typing import Any

import httpx2
import pytest

from parse_mcp.sandbox import (
    MEMBERS_API_ID,
    MEMBERS_LISTING_ID,
    MEMBERS_TASK_ID,
    WEATHER_CANONICAL_ID,
    WEATHER_LISTING_ID,
    ManualClock,
)
from tests.sandbox.support import BUDGET_HEADERS, base_url, canonical, sandbox_client

pytestmark = pytest.mark.anyio

ITEM_KEYS = {"id", "slug", "name", "source_url", "endpoint_count", "is_authenticated"}
DETAIL_KEYS = {
    "id",
    "slug",
    "name",
    "description",
    "canonical_scraper_id",
    "latest_version",
    "source_url",
    "is_authenticated",
    "endpoints",
}


async def _search(client: httpx2.AsyncClient, **params: str) -> list[dict[str, Any]]:
    reply = await client.get("/marketplace/apis", params=params)
    assert reply.status_code == 200
    assert set(reply.json()) == {"items"}
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


async def test_the_marketplace_lists_the_weather_and_members_apis(client: httpx2.AsyncClient) -> None:
    items = await _search(client)
    assert items == [
        {
            "id": WEATHER_LISTING_ID,
            "slug": "city-weather-sandbox",
            "name": "City Weather (sandbox)",
            "source_url": f"{base_url(client)}/site/weather/",
            "endpoint_count": 2,
            "is_authenticated": False,
        },
        {
            "id": MEMBERS_LISTING_ID,
            "slug": "members-area-sandbox",
            "name": "Members Area (sandbox)",
            "source_url": f"{base_url(client)}/site/members/",
            "endpoint_count": 4,
            "is_authenticated": True,
        },
    ]


@pytest.mark.parametrize(
    ("query", "slugs"),
    [
        ("weather", ["city-weather-sandbox"]),
        ("FORECAST city", ["city-weather-sandbox"]),
        ("login", ["members-area-sandbox"]),
        ("sandbox", ["city-weather-sandbox", "members-area-sandbox"]),
        ("flights", []),
    ],
)
async def test_a_search_matches_every_word_of_the_query(
    client: httpx2.AsyncClient, query: str, slugs: list[str]
) -> None:
    assert [item["slug"] for item in await _search(client, q=query)] == slugs


async def test_a_search_honours_its_limit(client: httpx2.AsyncClient) -> None:
    assert [item["id"] for item in await _search(client, limit="1")] == [WEATHER_LISTING_ID]


@pytest.mark.parametrize(
    ("limit", "msg", "error_type"),
    [
        ("0", "Input should be greater than or equal to 1", "greater_than_equal"),
        ("51", "Input should be less than or equal to 50", "less_than_equal"),
        ("many", "Input should be a valid integer, unable to parse string as an integer", "int_parsing"),
    ],
)
async def test_a_limit_outside_1_to_50_is_a_fastapi_validation_error(
    client: httpx2.AsyncClient, limit: str, msg: str, error_type: str
) -> None:
    reply = await client.get("/marketplace/apis", params={"limit": limit})
    assert (reply.status_code, reply.json()) == (
        422,
        {"detail": [{"loc": ["query", "limit"], "msg": msg, "type": error_type}]},
    )


async def test_a_listing_names_its_canonical_latest_release_and_endpoint_health(client: httpx2.AsyncClient) -> None:
    reply = await client.get(f"/marketplace/apis/{WEATHER_LISTING_ID}")
    assert reply.status_code == 200
    detail = reply.json()
    assert set(detail) == DETAIL_KEYS
    assert (detail["canonical_scraper_id"], detail["latest_version"]) == (WEATHER_CANONICAL_ID, 2)
    assert (detail["slug"], detail["is_authenticated"]) == ("city-weather-sandbox", False)
    assert [(e["name"], e["method"], e["price"], e["health"]) for e in detail["endpoints"]] == [
        ("get_forecast", "GET", 1, "healthy"),
        ("list_cities", "GET", 1, "healthy"),
    ]
    # ManualClock() starts at 2027-01-15T08:00:00Z; the health checks ran six hours earlier.
    assert {e["last_verified"] for e in detail["endpoints"]} == {"2027-01-15T02:00:00Z"}


async def test_the_authenticated_listing_shows_its_login_and_protected_endpoints(client: httpx2.AsyncClient) -> None:
    detail = (await client.get(f"/marketplace/apis/{MEMBERS_LISTING_ID}")).json()
    assert (detail["canonical_scraper_id"], detail["is_authenticated"]) == (MEMBERS_API_ID, True)
    assert [e["name"] for e in detail["endpoints"]] == ["login", "get_profile", "list_orders", "list_plans"]
    assert "demo@example.com" in detail["description"]
    assert "sandbox-password" in detail["description"]
    task = (await client.get(f"/dispatch/tasks/{MEMBERS_TASK_ID}")).json()
    assert task["result_marketplace_id"] == MEMBERS_LISTING_ID


async def test_a_slug_finds_the_listing_in_its_search_shape(client: httpx2.AsyncClient) -> None:
    reply = await client.get("/marketplace/by-slug/members-area-sandbox")
    assert reply.status_code == 200
    assert set(reply.json()) == ITEM_KEYS
    assert reply.json()["id"] == MEMBERS_LISTING_ID


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/marketplace/apis/no-such-listing", "no-such-listing"),
        ("/marketplace/by-slug/city_weather_sandbox", "city_weather_sandbox"),
        (f"/marketplace/apis/{WEATHER_CANONICAL_ID}", WEATHER_CANONICAL_ID),
    ],
)
async def test_a_missing_listing_is_404_listing_not_found(client: httpx2.AsyncClient, path: str, name: str) -> None:
    reply = await client.get(path)
    assert (reply.status_code, reply.json()) == (404, {"error": f"Listing '{name}' not found", "status_code": 404})


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "pmx_not_a_real_key"}, {"X-API-Key": "pmx_sandbox_expired"}])
async def test_the_marketplace_needs_no_key_and_ignores_a_wrong_one(headers: dict[str, str]) -> None:
    async with sandbox_client(headers=headers) as client:
        replies = [
            await client.get("/marketplace/apis"),
            await client.get(f"/marketplace/apis/{WEATHER_LISTING_ID}"),
            await client.get("/marketplace/by-slug/city-weather-sandbox"),
        ]
    assert [reply.status_code for reply in replies] == [200, 200, 200]
    assert all(reply.headers["X-Railway-Request-Id"] for reply in replies)
    assert not any(name in reply.headers for reply in replies for name in BUDGET_HEADERS)


async def test_the_canonical_serves_the_pinned_release(client: httpx2.AsyncClient) -> None:
    latest = await client.get(canonical("get_forecast"), params={"city": "leeds", "days": 1})
    pinned = await client.get(
        canonical("get_forecast"), params={"city": "leeds", "days": 1}, headers={"API-Snapshot-Version": "1"}
    )
    assert (latest.status_code, pinned.status_code) == (200, 200)
    assert set(latest.json()["data"]["days"][0]) - set(pinned.json()["data"]["days"][0]) == {"humidity"}
    assert all(name in pinned.headers for name in BUDGET_HEADERS)


async def test_an_endpoint_added_in_a_later_release_is_absent_from_an_earlier_one(client: httpx2.AsyncClient) -> None:
    latest = await client.get(canonical("list_cities"))
    pinned = await client.get(canonical("list_cities"), headers={"API-Snapshot-Version": "1"})
    missing = await client.get(canonical("list_cities"), headers={"API-Snapshot-Version": "3"})
    assert latest.status_code == 200
    assert (pinned.status_code, pinned.json()) == (404, {"detail": "Not Found"})
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": f"Scraper with ID '{WEATHER_CANONICAL_ID}' not found", "status_code": 404},
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"city": "leeds", "days": "9"}, "days must be an integer from 1 to 5"),
        ({"city": "new-york"}, "city must be a city slug such as 'leeds' (list_cities lists them)"),
    ],
)
async def test_the_forecast_refuses_malformed_input(
    client: httpx2.AsyncClient, params: dict[str, str], message: str
) -> None:
    reply = await client.get(canonical("get_forecast"), params=params)
    assert (reply.status_code, reply.json()["error"]["message"]) == (422, message)


async def test_the_canonicals_schema_can_be_read_at_each_release(client: httpx2.AsyncClient) -> None:
    latest = (await client.get(f"/sdk/schemas/{WEATHER_CANONICAL_ID}")).json()
    first = (await client.get(f"/sdk/schemas/{WEATHER_CANONICAL_ID}", params={"version": 1})).json()
    assert (latest["versions"], first["version"]) == ([1, 2], 1)
    assert [e["name"] for e in latest["endpoints"]] == ["get_forecast", "list_cities"]
    assert [e["name"] for e in first["endpoints"]] == ["get_forecast"]
    days_schema = first["endpoints"][0]["return_schema"]["properties"]["days"]["items"]["properties"]
    assert "humidity" not in days_schema


async def test_the_canonical_is_callable_but_not_one_of_the_accounts_apis(client: httpx2.AsyncClient) -> None:
    ids = [api["id"] for api in (await client.get("/sdk/schemas")).json()["schemas"]]
    assert WEATHER_CANONICAL_ID not in ids


async def test_the_listing_timestamps_follow_the_clock_the_sandbox_started_on() -> None:
    async with sandbox_client(clock=ManualClock(start=1_900_000_000.0)) as client:
        detail = (await client.get(f"/marketplace/apis/{WEATHER_LISTING_ID}")).json()
    assert detail["endpoints"][0]["last_verified"] == "2030-03-17T11:46:40Z"
