"""FAILED generations: each documented cause, reached deterministically, with an error that names it."""

from __future__ import annotations

import pytest

from tests.sandbox.aiparser.support import (
    BLOCKED,
    BOOK,
    GENERATION_SECONDS,
    JS_BOOK,
    LISTING,
    MISSING_BOOK,
    OFF_HOST,
    OTHER_JS_BOOK,
    AiParser,
    detail,
)

pytestmark = pytest.mark.anyio


async def _failed(ai: AiParser, urls: list[str], **extra: object) -> dict[str, object]:
    """Create from absolute URLs, let generation run its course, and return the details."""
    reply = await ai.send("POST", "/parsers", {"name": "Books", "urls": urls, **extra})
    assert reply.status_code == 201, "a failing generation is still accepted and charged at creation"
    parser_id = reply.json()["id"]
    before = await ai.details(parser_id)
    ai.clock.advance(GENERATION_SECONDS)
    details = await ai.details(parser_id)
    assert before["status"] == "GENERATING", "failure shows only when generation ends"
    assert details["status"] == "FAILED"
    assert details["generated_at"] == "2027-01-15T08:01:00.000Z"
    assert details["example_result"] == details["example_results"] == []
    return details


async def test_an_example_url_on_another_host_fails_as_inaccessible(ai: AiParser) -> None:
    details = await _failed(ai, [OFF_HOST])
    assert details["error"] == (
        f"Example URL {OFF_HOST} was inaccessible: it is not on this server, which can only fetch its own site "
        f"under {ai.base_url}/site/."
    )


async def test_an_example_url_the_site_answers_404_for_fails_as_inaccessible(ai: AiParser) -> None:
    details = await _failed(ai, [ai.url(BOOK), ai.url(MISSING_BOOK)])
    assert details["error"] == f"Example URL {ai.url(MISSING_BOOK)} was inaccessible: the site answered HTTP 404."


async def test_an_example_url_behind_a_bot_wall_fails_as_blocked(ai: AiParser) -> None:
    details = await _failed(ai, [ai.url(BLOCKED)])
    assert details["error"] == (
        f"Example URL {ai.url(BLOCKED)} was blocked: the site answered HTTP 403 with a bot-protection challenge."
    )


async def test_example_urls_of_different_page_types_fail_and_name_both_types(ai: AiParser) -> None:
    details = await _failed(ai, [ai.url(BOOK), ai.url(LISTING)])
    assert details["error"] == (
        f"Example URLs are from different URL types: {ai.url(BOOK)} is a product page but {ai.url(LISTING)} is "
        "a category page. Use 1 to 3 URLs of the same page type."
    )


async def test_a_page_that_needs_javascript_fails_without_render(ai: AiParser) -> None:
    details = await _failed(ai, [ai.url(JS_BOOK)], scraper_params={"render": False})
    assert details["error"] == (
        f"The domain requires JS rendering: {ai.url(JS_BOOK)} is an empty page until its JavaScript runs, "
        "and render=true was not set inside scraper_params."
    )


async def test_an_unreadable_url_is_reported_before_one_that_needs_javascript(ai: AiParser) -> None:
    details = await _failed(ai, [ai.url(JS_BOOK), ai.url(BLOCKED)])
    assert str(details["error"]).startswith(f"Example URL {ai.url(BLOCKED)} was blocked")


async def test_the_same_javascript_pages_generate_with_render_true(ai: AiParser) -> None:
    parser_id = await ai.create_finished(JS_BOOK, OTHER_JS_BOOK, scraper_params={"render": True})
    details = await ai.details(parser_id)
    assert (details["status"], details["error"]) == ("FINISHED", None)
    assert details["scraper_params"] == {"render": True}
    assert [e["result"]["title"] for e in details["example_result"]] == ["A Light in the Attic", "Sharp Objects"]


async def test_a_failed_parser_keeps_its_custom_fields_for_inspection(ai: AiParser) -> None:
    fields = [{"name": "title", "description": "Title", "type": "string"}]
    details = await _failed(ai, [ai.url(BLOCKED)], fields=fields)
    assert details["fields"] == fields


async def test_a_failed_parser_cannot_parse_and_says_why(ai: AiParser) -> None:
    details = await _failed(ai, [ai.url(BLOCKED)])
    reply = await ai.parse(str(details["id"]), BOOK)
    assert (reply.status_code, detail(reply)) == (
        400,
        f"Parser '{details['id']}' version 0 failed to generate and cannot be used to parse: {details['error']} "
        "Create a new parser.",
    )


async def test_a_failed_parser_cannot_be_updated(ai: AiParser) -> None:
    details = await _failed(ai, [ai.url(JS_BOOK)])
    reply = await ai.patch(str(details["id"]), {"add_fields": [{"name": "upc", "description": "UPC"}]})
    assert reply.status_code == 400
    assert "failed to generate and cannot be updated" in detail(reply)


async def test_a_failed_parser_is_listed_as_failed(ai: AiParser) -> None:
    details = await _failed(ai, [OFF_HOST])
    [row] = (await ai.get("/parsers")).json()
    assert (row["id"], row["status"]) == (details["id"], "FAILED")
