"""Creating, reading, listing and deleting parsers, with generation timed by the clock."""

from __future__ import annotations

import re

import pytest

from tests.sandbox.aiparser.support import (
    BOOK,
    GENERATION_SECONDS,
    LISTING,
    OTHER_BOOK,
    START_ISO,
    AiParser,
    detail,
)

pytestmark = pytest.mark.anyio

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
A_LIGHT_IN_THE_ATTIC = {
    "title": "A Light in the Attic",
    "price": 51.77,
    "rating": 3,
    "availability": "In stock (22 available)",
    "upc": "a897fe39b1053632",
    "category": "Poetry",
}


async def test_creating_a_parser_answers_201_with_a_uuid_like_id_and_version_0(ai: AiParser) -> None:
    reply = await ai.create_reply(BOOK)
    assert reply.status_code == 201
    body = reply.json()
    assert set(body) == {"id", "version"}
    assert UUID.fullmatch(body["id"])
    assert body["version"] == 0


async def test_each_parser_gets_its_own_id(ai: AiParser) -> None:
    first, second = await ai.create(BOOK), await ai.create(OTHER_BOOK)
    assert first != second


async def test_a_new_parser_is_generating_with_no_results_yet(ai: AiParser) -> None:
    parser_id = await ai.create(BOOK, scraper_params={"country_code": "us"})
    assert await ai.details(parser_id) == {
        "id": parser_id,
        "name": "Books",
        "version": 0,
        "created_at": START_ISO,
        "generated_at": None,
        "status": "GENERATING",
        "error": None,
        "urls": [ai.url(BOOK)],
        "scraper_params": {"country_code": "us"},
        "fields": [],
        "example_result": [],
        "example_results": [],
    }


async def test_generation_finishes_when_the_clock_reaches_generation_seconds(ai: AiParser) -> None:
    parser_id = await ai.create(BOOK)
    ai.clock.advance(GENERATION_SECONDS - 0.001)
    almost = await ai.details(parser_id)
    ai.clock.advance(0.001)
    done = await ai.details(parser_id)
    assert (almost["status"], almost["generated_at"]) == ("GENERATING", None)
    assert (done["status"], done["generated_at"], done["error"]) == ("FINISHED", "2027-01-15T08:01:00.000Z", None)


async def test_a_finished_product_parser_infers_its_fields_and_shows_example_results(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    details = await ai.details(parser_id)
    assert details["fields"] == [
        {"name": "title", "description": "The book's title", "type": "string"},
        {"name": "price", "description": "Price in pounds as a number, without the currency symbol", "type": "number"},
        {"name": "rating", "description": "Star rating from 1 to 5", "type": "number"},
        {"name": "availability", "description": "Stock status as the page shows it", "type": "string"},
        {"name": "upc", "description": "The book's Universal Product Code", "type": "string"},
        {"name": "category", "description": "The category shown in the breadcrumb", "type": "string"},
    ]
    examples = [{"url": ai.url(BOOK), "result": A_LIGHT_IN_THE_ATTIC}]
    assert details["example_result"] == details["example_results"] == examples


async def test_a_category_parser_infers_a_list_of_books_in_dot_notation(ai: AiParser) -> None:
    parser_id = await ai.create_finished(LISTING)
    details = await ai.details(parser_id)
    assert [field["name"] for field in details["fields"]] == ["books.title", "books.price", "books.rating", "books.url"]
    assert [field["type"] for field in details["fields"]] == ["string", "number", "number", "string"]
    [example] = details["example_result"]
    assert example["result"]["books"][0] == {
        "title": "A Light in the Attic",
        "price": 51.77,
        "rating": 3,
        "url": ai.url(BOOK),
    }
    assert len(example["result"]["books"]) == 5


async def test_custom_fields_are_shown_while_the_parser_is_generating(ai: AiParser) -> None:
    fields = [{"name": "name", "description": "The book's title", "type": "string"}]
    parser_id = await ai.create(BOOK, fields=fields)
    assert (await ai.details(parser_id))["fields"] == fields


async def test_every_example_url_gets_its_own_example_result(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK, OTHER_BOOK)
    examples = (await ai.details(parser_id))["example_result"]
    assert [(e["url"], e["result"]["title"]) for e in examples] == [
        (ai.url(BOOK), "A Light in the Attic"),
        (ai.url(OTHER_BOOK), "Sharp Objects"),
    ]


async def test_listing_parsers_shows_each_parsers_latest_version_and_status(ai: AiParser) -> None:
    assert (await ai.get("/parsers")).json() == []
    finished = await ai.create_finished(BOOK)
    await ai.patch(finished, {"rename_fields": [{"name": "upc", "new_name": "sku"}]})
    generating = await ai.send("POST", "/parsers", {"name": "Listing", "urls": [ai.url(LISTING)]})
    reply = await ai.get("/parsers")
    assert reply.status_code == 200
    assert reply.json() == [
        {
            "id": finished,
            "name": "Books",
            "version": 1,
            "status": "FINISHED",
            "generated_at": "2027-01-15T08:01:00.000Z",
        },
        {"id": generating.json()["id"], "name": "Listing", "version": 0, "status": "GENERATING", "generated_at": None},
    ]


async def test_an_unknown_parser_id_answers_404_and_points_at_the_list(ai: AiParser) -> None:
    reply = await ai.get("/parsers/no-such-parser")
    assert reply.status_code == 404
    assert detail(reply) == "No parser has the id 'no-such-parser'. List your parsers with GET /parsers to find it."


@pytest.mark.parametrize("version", ["1", "abc", "01", "-1"])
async def test_a_version_the_parser_does_not_have_answers_404(ai: AiParser, version: str) -> None:
    parser_id = await ai.create_finished(BOOK)
    reply = await ai.get(f"/parsers/{parser_id}/{version}")
    assert reply.status_code == 404
    assert detail(reply) == f"Parser '{parser_id}' has no version '{version}': its only version is 0."


async def test_deleting_a_parser_answers_204_without_a_body_and_removes_every_version(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    await ai.patch(parser_id, {"remove_fields": ["upc"]})
    keep = await ai.create(OTHER_BOOK)
    deleted = await ai.delete(f"/parsers/{parser_id}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    for path in (f"/parsers/{parser_id}", f"/parsers/{parser_id}/0", f"/parsers/{parser_id}/1"):
        assert (await ai.get(path)).status_code == 404
    assert (await ai.parse(parser_id, BOOK, version=0)).status_code == 404
    assert [row["id"] for row in (await ai.get("/parsers")).json()] == [keep]


async def test_deleting_an_unknown_or_already_deleted_parser_answers_404(ai: AiParser) -> None:
    parser_id = await ai.create(BOOK)
    assert (await ai.delete(f"/parsers/{parser_id}")).status_code == 204
    again = await ai.delete(f"/parsers/{parser_id}")
    assert again.status_code == 404
    assert detail(again) == f"No parser has the id '{parser_id}'. List your parsers with GET /parsers to find it."


async def test_a_single_version_cannot_be_deleted(ai: AiParser) -> None:
    parser_id = await ai.create(BOOK)
    reply = await ai.delete(f"/parsers/{parser_id}/0")
    assert reply.status_code == 405
    assert (await ai.get(f"/parsers/{parser_id}")).status_code == 200


async def test_a_test_only_name_shows_a_status_no_reference_lists_once_generated(ai: AiParser) -> None:
    parser_id = await ai.create(BOOK, name="test-only-unlisted-state: books")
    assert (await ai.details(parser_id))["status"] == "GENERATING"
    ai.clock.advance(GENERATION_SECONDS)
    assert (await ai.details(parser_id))["status"] == "SUSPENDED"
    refused = await ai.get(f"/parse/{parser_id}", {"url": ai.url(BOOK)})
    assert refused.status_code == 400
