from __future__ import annotations

import httpx2
import pytest

from parse_mcp.sandbox import BOOKS_API_ID
from tests.sandbox.support import books, lab

pytestmark = pytest.mark.anyio

SNAPSHOT_400 = {"error": "Invalid API-Snapshot-Version header: expected a positive integer", "status_code": 400}
SESSION_400 = {"error": "session_id and encryption_key must be sent together", "status_code": 400}
LIGHT = {"slug": "a-light-in-the-attic_1000"}


async def test_an_unknown_scraper_is_404_scraper_not_found(client: httpx2.AsyncClient) -> None:
    reply = await client.post("/scraper/00000000-dead-beef/get_book", json=LIGHT)
    assert reply.status_code == 404
    assert reply.json() == {"error": "Scraper with ID '00000000-dead-beef' not found", "status_code": 404}


async def test_an_unknown_endpoint_of_a_known_scraper_is_the_bare_404(client: httpx2.AsyncClient) -> None:
    reply = await client.post(books("get_books"), json={})
    assert (reply.status_code, reply.json()) == (404, {"detail": "Not Found"})


@pytest.mark.parametrize(
    ("method", "path"), [("GET", books("get_book")), ("POST", books("list_books")), ("POST", lab("proxy_error"))]
)
async def test_the_method_the_spec_does_not_declare_is_405(client: httpx2.AsyncClient, method: str, path: str) -> None:
    reply = await client.request(method, path)
    assert (reply.status_code, reply.json()) == (405, {"detail": "Method Not Allowed"})


@pytest.mark.parametrize("value", ["latest", "0", "-1", "1.5", ""])
async def test_a_snapshot_version_that_is_not_a_positive_integer_is_400(client: httpx2.AsyncClient, value: str) -> None:
    reply = await client.post(books("get_book"), json=LIGHT, headers={"API-Snapshot-Version": value})
    assert (reply.status_code, reply.json()) == (400, SNAPSHOT_400)


async def test_a_snapshot_version_the_scraper_has_is_served(client: httpx2.AsyncClient) -> None:
    reply = await client.post(books("get_book"), json=LIGHT, headers={"API-Snapshot-Version": "2"})
    assert reply.status_code == 200


async def test_a_snapshot_version_the_scraper_lacks_is_404_scraper_not_found(client: httpx2.AsyncClient) -> None:
    reply = await client.post(books("get_book"), json=LIGHT, headers={"api-snapshot-version": "7"})
    assert reply.status_code == 404
    assert reply.json() == {"error": f"Scraper with ID '{BOOKS_API_ID}' not found", "status_code": 404}


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"X-Session-ID": "550e8400"}, LIGHT),
        ({"X-Encryption-Key": "gAAAAABk"}, LIGHT),
        ({}, {**LIGHT, "session_id": "550e8400"}),
        ({}, {**LIGHT, "encryption_key": "gAAAAABk"}),
    ],
)
async def test_half_a_session_pair_is_400(
    client: httpx2.AsyncClient, headers: dict[str, str], body: dict[str, object]
) -> None:
    reply = await client.post(books("get_book"), json=body, headers=headers)
    assert (reply.status_code, reply.json()) == (400, SESSION_400)


async def test_half_a_session_pair_on_a_get_is_400(client: httpx2.AsyncClient) -> None:
    reply = await client.get(books("list_books"), headers={"X-Session-ID": "550e8400"})
    assert (reply.status_code, reply.json()) == (400, SESSION_400)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"X-Session-ID": "550e8400", "X-Encryption-Key": "gAAAAABk"}, LIGHT),
        ({}, {**LIGHT, "session_id": "550e8400", "encryption_key": "gAAAAABk"}),
        ({"X-Session-ID": "550e8400"}, {**LIGHT, "encryption_key": "gAAAAABk"}),
    ],
)
async def test_a_whole_session_pair_is_accepted_and_not_passed_to_the_scraper(
    client: httpx2.AsyncClient, headers: dict[str, str], body: dict[str, object]
) -> None:
    reply = await client.post(books("get_book"), json=body, headers=headers)
    assert reply.status_code == 200
    assert reply.json()["data"]["title"] == "A Light in the Attic"


async def test_a_body_that_is_not_json_is_a_fastapi_validation_error(client: httpx2.AsyncClient) -> None:
    reply = await client.post(books("get_book"), content=b"{slug:", headers={"Content-Type": "application/json"})
    assert reply.status_code == 422
    assert reply.json() == {"detail": [{"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid"}]}


@pytest.mark.parametrize("body", [b"[1, 2]", b'"slug"', b"3", b"null"])
async def test_a_json_body_that_is_not_an_object_is_a_fastapi_validation_error(
    client: httpx2.AsyncClient, body: bytes
) -> None:
    reply = await client.post(books("get_book"), content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 422
    assert reply.json() == {
        "detail": [{"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}]
    }


async def test_an_empty_post_body_means_no_parameters(client: httpx2.AsyncClient) -> None:
    reply = await client.post(books("get_book"))
    assert reply.status_code == 422
    assert reply.json()["error"]["message"] == "slug is required"


async def test_parameters_the_endpoint_does_not_declare_are_ignored(client: httpx2.AsyncClient) -> None:
    reply = await client.post(books("get_book"), json={**LIGHT, "verbose": True})
    assert reply.status_code == 200


async def test_declared_defaults_apply_when_a_parameter_is_left_out(client: httpx2.AsyncClient) -> None:
    implicit = await client.get(books("list_books"))
    explicit = await client.get(books("list_books"), params={"page": "1", "sort": "title"})
    assert implicit.json() == explicit.json()


async def test_head_on_a_get_endpoint_runs_it_without_a_body(client: httpx2.AsyncClient) -> None:
    reply = await client.head(books("list_books"))
    assert (reply.status_code, reply.content) == (200, b"")
    assert reply.headers["X-Credits-Charged"] == "1"
