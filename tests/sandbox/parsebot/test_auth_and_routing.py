from __future__ import annotations

import httpx2
import pytest

from parse_mcp.sandbox import BOOKS_TASK_ID, EXPIRED_PARSEBOT_KEY, PARSEBOT_KEY
from tests.sandbox.support import BUDGET_HEADERS, books, lab, sandbox_client

pytestmark = pytest.mark.anyio

MISSING = {"error": "Missing X-API-Key header", "status_code": 401}
INVALID = {"error": "Invalid API key", "status_code": 401}
KEYED_ROUTES = (
    "/sdk/schemas",
    "/dispatch/tasks",
    books("list_books"),
    f"/dispatch/tasks/{BOOKS_TASK_ID}",
    f"/dispatch/tasks/{BOOKS_TASK_ID}/updates",
)


@pytest.mark.parametrize("path", KEYED_ROUTES)
async def test_a_request_without_a_key_is_401_missing_key(path: str) -> None:
    async with sandbox_client(headers={}) as client:
        reply = await client.get(path)
    assert (reply.status_code, reply.json()) == (401, MISSING)


@pytest.mark.parametrize("path", KEYED_ROUTES)
async def test_a_wrong_key_is_401_invalid_key(path: str) -> None:
    async with sandbox_client(headers={"X-API-Key": "pmx_someone_else"}) as client:
        reply = await client.get(path)
    assert (reply.status_code, reply.json()) == (401, INVALID)


async def test_the_key_value_is_case_sensitive() -> None:
    async with sandbox_client(headers={"X-API-Key": PARSEBOT_KEY.upper()}) as client:
        reply = await client.get("/sdk/schemas")
    assert (reply.status_code, reply.json()) == (401, INVALID)


async def test_an_empty_key_counts_as_missing() -> None:
    async with sandbox_client(headers={"X-API-Key": ""}) as client:
        reply = await client.get("/sdk/schemas")
    assert (reply.status_code, reply.json()) == (401, MISSING)


async def test_a_bearer_token_is_not_an_api_key() -> None:
    async with sandbox_client(headers={"Authorization": f"Bearer {PARSEBOT_KEY}"}) as client:
        reply = await client.get("/sdk/schemas")
    assert (reply.status_code, reply.json()) == (401, MISSING)


async def test_the_expired_sandbox_key_is_401_api_key_expired() -> None:
    async with sandbox_client(headers={"X-API-Key": EXPIRED_PARSEBOT_KEY}) as client:
        reply = await client.get(books("list_books"))
    assert (reply.status_code, reply.json()) == (401, {"error": "API key expired", "status_code": 401})


@pytest.mark.parametrize("header_name", ["x-api-key", "X-API-KEY", "X-Api-Key"])
async def test_the_key_header_name_is_case_insensitive(header_name: str) -> None:
    async with sandbox_client(headers={header_name: PARSEBOT_KEY}) as client:
        reply = await client.get("/sdk/schemas")
    assert reply.status_code == 200


async def test_a_401_on_execution_spends_no_budget_and_carries_no_budget_headers() -> None:
    async with sandbox_client(headers={}) as client:
        rejected = await client.get(books("list_books"))
        accepted = await client.get(books("list_books"), headers={"X-API-Key": PARSEBOT_KEY})
    assert not any(name in rejected.headers for name in BUDGET_HEADERS)
    assert accepted.headers["X-RateLimit-Remaining"] == "29"


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": PARSEBOT_KEY}])
async def test_an_unknown_path_is_the_bare_fastapi_404(headers: dict[str, str]) -> None:
    async with sandbox_client(headers=headers) as client:
        replies = [await client.get(path) for path in ("/no/such/path", "/scraper/only-one-segment", "/v1/apis")]
    for reply in replies:
        assert (reply.status_code, reply.json()) == (404, {"detail": "Not Found"})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/sdk/schemas"),
        ("DELETE", "/dispatch/tasks"),
        ("PUT", lab("scraper_bug")),
        ("POST", "/site/"),
        ("GET", "/dispatch"),
        ("GET", f"/dispatch/tasks/{BOOKS_TASK_ID}/revise"),
        ("POST", "/marketplace/apis"),
    ],
)
async def test_a_method_a_path_does_not_take_is_the_bare_fastapi_405(
    client: httpx2.AsyncClient, method: str, path: str
) -> None:
    reply = await client.request(method, path)
    assert (reply.status_code, reply.json()) == (405, {"detail": "Method Not Allowed"})


async def test_every_response_carries_its_own_railway_request_id(client: httpx2.AsyncClient) -> None:
    replies = [
        await client.get("/sdk/schemas"),
        await client.get(books("list_books")),
        await client.post(lab("scraper_bug")),
        await client.get(lab("proxy_error")),
        await client.get("/no/such/path"),
        await client.post("/sdk/schemas"),
        await client.get("/site/"),
        await client.get("/sdk/schemas", headers={"X-API-Key": "wrong"}),
    ]
    ids = [reply.headers["X-Railway-Request-Id"] for reply in replies]
    assert ids == [f"sbx-req-{n:08d}" for n in range(1, len(replies) + 1)]


async def test_the_target_site_needs_no_key() -> None:
    async with sandbox_client(headers={}) as client:
        reply = await client.get("/site/catalogue/page-1.html")
    assert reply.status_code == 200
