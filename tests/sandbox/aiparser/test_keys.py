"""401 answers: the key is required on every route, and only where the service reads it."""

from __future__ import annotations

import pytest

from parse_mcp.sandbox.aiparser import AIPARSER_KEY
from tests.sandbox.aiparser.support import BOOK, AiParser, detail

pytestmark = pytest.mark.anyio

INVALID = "Invalid api_key. Check the key in your ScraperAPI dashboard."
MISSING_IN_QUERY = "The api_key is missing. On GET and DELETE requests send it as a query parameter."
MISSING_IN_BODY = "The api_key is missing. On POST and PATCH requests send it in the JSON body."
MISPLACED_IN_QUERY = (
    "The api_key is missing. On POST and PATCH requests send it in the JSON body (not the query string)."
)


async def _query_routes(ai: AiParser) -> list[tuple[str, str]]:
    parser_id = await ai.create_finished(BOOK)
    return [
        ("GET", "/parsers"),
        ("GET", f"/parsers/{parser_id}"),
        ("GET", f"/parsers/{parser_id}/0"),
        ("GET", f"/parse/{parser_id}?url={ai.url(BOOK)}"),
        ("GET", f"/parse/{parser_id}/0?url={ai.url(BOOK)}"),
        ("DELETE", f"/parsers/{parser_id}"),
    ]


async def test_every_get_and_delete_route_answers_401_without_a_key(ai: AiParser) -> None:
    for method, path in await _query_routes(ai):
        reply = await ai.http.request(method, path)
        assert (reply.status_code, detail(reply)) == (401, MISSING_IN_QUERY), path


async def test_every_get_and_delete_route_answers_401_for_a_wrong_key(ai: AiParser) -> None:
    for method, path in await _query_routes(ai):
        separator = "&" if "?" in path else "?"
        reply = await ai.http.request(method, f"{path}{separator}api_key=wrong")
        assert (reply.status_code, detail(reply)) == (401, INVALID), path


async def test_a_key_in_a_get_body_is_not_read(ai: AiParser) -> None:
    reply = await ai.http.request("GET", "/parsers", json={"api_key": AIPARSER_KEY})
    assert (reply.status_code, detail(reply)) == (401, MISSING_IN_QUERY)


async def test_creating_answers_401_without_a_key_or_with_a_wrong_one(ai: AiParser) -> None:
    body = {"name": "Books", "urls": [ai.url(BOOK)]}
    missing = await ai.send("POST", "/parsers", body, key=None)
    wrong = await ai.send("POST", "/parsers", body, key="wrong")
    assert (missing.status_code, detail(missing)) == (401, MISSING_IN_BODY)
    assert (wrong.status_code, detail(wrong)) == (401, INVALID)


async def test_a_key_in_the_query_string_of_a_post_or_patch_counts_as_missing(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    created = await ai.http.post(
        "/parsers", params={"api_key": AIPARSER_KEY}, json={"name": "Books", "urls": [ai.url(BOOK)]}
    )
    updated = await ai.http.patch(
        f"/parsers/{parser_id}", params={"api_key": AIPARSER_KEY}, json={"remove_fields": ["upc"]}
    )
    assert (created.status_code, detail(created)) == (401, MISPLACED_IN_QUERY)
    assert (updated.status_code, detail(updated)) == (401, MISPLACED_IN_QUERY)


async def test_updating_answers_401_for_a_wrong_key_before_looking_the_parser_up(ai: AiParser) -> None:
    for path in ("/parsers/unknown", "/parsers/unknown/3"):
        reply = await ai.send("PATCH", path, {"remove_fields": ["upc"]}, key="wrong")
        assert (reply.status_code, detail(reply)) == (401, INVALID)


async def test_a_key_that_is_not_a_string_is_invalid(ai: AiParser) -> None:
    reply = await ai.http.post("/parsers", json={"api_key": 1234, "name": "Books", "urls": [ai.url(BOOK)]})
    assert (reply.status_code, detail(reply)) == (401, INVALID)


async def test_a_malformed_body_answers_400_because_the_key_inside_it_cannot_be_read(ai: AiParser) -> None:
    reply = await ai.http.post("/parsers", content=b"api_key=sandbox", headers={"Content-Type": "application/json"})
    assert reply.status_code == 400


async def test_the_correct_key_reaches_every_route(ai: AiParser) -> None:
    for method, path in await _query_routes(ai):
        separator = "&" if "?" in path else "?"
        reply = await ai.http.request(method, f"{path}{separator}api_key={AIPARSER_KEY}")
        assert reply.status_code in {200, 204}, path
