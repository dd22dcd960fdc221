"""PATCH makes versions: renames and removals at once (200), additions and changes by generation (202)."""

from __future__ import annotations

import pytest

from tests.sandbox.aiparser.support import BOOK, GENERATION_SECONDS, LISTING, OTHER_BOOK, AiParser, detail

pytestmark = pytest.mark.anyio


async def test_renaming_and_removing_answers_200_with_a_new_version_finished_at_once(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    reply = await ai.patch(
        parser_id, {"rename_fields": [{"name": "title", "new_name": "name"}], "remove_fields": ["upc", "category"]}
    )
    assert (reply.status_code, reply.json()) == (200, {"id": parser_id, "version": 1})
    details = await ai.details(parser_id)
    assert (details["version"], details["status"]) == (1, "FINISHED")
    assert details["created_at"] == details["generated_at"] == "2027-01-15T08:01:00.000Z"
    assert [field["name"] for field in details["fields"]] == ["name", "price", "rating", "availability"]
    assert details["example_result"][0]["result"] == {
        "name": "A Light in the Attic",
        "price": 51.77,
        "rating": 3,
        "availability": "In stock (22 available)",
    }
    parsed = await ai.parse(parser_id, OTHER_BOOK)
    assert parsed.json()["version"] == 1
    assert parsed.json()["result"]["name"] == "Sharp Objects"


async def test_adding_or_modifying_answers_202_and_the_new_version_generates_on_the_clock(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    reply = await ai.patch(
        parser_id,
        {
            "add_fields": [{"name": "description", "description": "The book's blurb", "type": "string"}],
            "modify_fields": [{"name": "availability", "description": "Copies in stock", "type": "number"}],
        },
    )
    assert (reply.status_code, reply.json()) == (202, {"id": parser_id, "version": 1})
    generating = await ai.details(parser_id)
    ai.clock.advance(GENERATION_SECONDS)
    finished = await ai.details(parser_id)
    assert (generating["status"], generating["generated_at"], generating["example_result"]) == ("GENERATING", None, [])
    assert generating["fields"][3] == {"name": "availability", "description": "Copies in stock", "type": "number"}
    assert (finished["status"], finished["generated_at"]) == ("FINISHED", "2027-01-15T08:02:00.000Z")
    result = finished["example_result"][0]["result"]
    assert (result["availability"], result["description"][:18]) == (22, "Poems and drawings")


async def test_the_latest_version_generating_blocks_unpinned_parses_but_older_versions_still_parse(
    ai: AiParser,
) -> None:
    parser_id = await ai.create_finished(BOOK)
    await ai.patch(parser_id, {"add_fields": [{"name": "summary", "description": "Blurb"}]})
    unpinned = await ai.parse(parser_id, BOOK)
    pinned = await ai.parse(parser_id, BOOK, version=0)
    assert unpinned.status_code == 400
    assert f"Parser '{parser_id}' version 1 is still generating" in detail(unpinned)
    assert (pinned.status_code, pinned.json()["version"]) == (200, 0)
    assert "summary" not in pinned.json()["result"]


async def test_older_versions_stay_readable_as_snapshots(ai: AiParser) -> None:
    parser_id = await ai.create_finished(LISTING)
    await ai.patch(parser_id, {"remove_fields": ["books.url"]})
    await ai.patch(parser_id, {"rename_fields": [{"name": "books.title", "new_name": "books.name"}]})
    versions = [await ai.details(parser_id, version) for version in (0, 1, 2)]
    assert [[f["name"] for f in v["fields"]] for v in versions] == [
        ["books.title", "books.price", "books.rating", "books.url"],
        ["books.title", "books.price", "books.rating"],
        ["books.name", "books.price", "books.rating"],
    ]
    assert [v["version"] for v in versions] == [0, 1, 2]
    assert (await ai.details(parser_id))["version"] == 2
    old = (await ai.parse(parser_id, LISTING, version=0)).json()["result"]["books"][0]
    new = (await ai.parse(parser_id, LISTING, version=2)).json()["result"]["books"][0]
    assert set(old) == {"title", "price", "rating", "url"}
    assert set(new) == {"name", "price", "rating"}


async def test_an_update_of_a_pinned_version_builds_on_that_version_and_numbers_after_the_latest(
    ai: AiParser,
) -> None:
    parser_id = await ai.create_finished(BOOK)
    await ai.patch(parser_id, {"remove_fields": ["upc"]})
    reply = await ai.patch(parser_id, {"remove_fields": ["category"]}, version=0)
    assert (reply.status_code, reply.json()["version"]) == (200, 2)
    names = [field["name"] for field in (await ai.details(parser_id, 2))["fields"]]
    assert names == ["title", "price", "rating", "availability", "upc"]


async def test_operations_apply_in_order_removals_renames_changes_then_additions(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    reply = await ai.patch(
        parser_id,
        {
            "remove_fields": ["upc"],
            "rename_fields": [{"name": "category", "new_name": "upc"}],
            "modify_fields": [{"name": "upc", "type": "array"}],
            "add_fields": [{"name": "category", "description": "Genre of the book"}],
        },
    )
    assert reply.status_code == 202
    fields = (await ai.details(parser_id))["fields"]
    assert fields[-2:] == [
        {"name": "upc", "description": "The category shown in the breadcrumb", "type": "array"},
        {"name": "category", "description": "Genre of the book", "type": "string"},
    ]


async def test_updating_an_unknown_parser_or_version_answers_404(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    unknown = await ai.patch("nope", {"remove_fields": ["upc"]})
    no_version = await ai.patch(parser_id, {"remove_fields": ["upc"]}, version=4)
    assert unknown.status_code == no_version.status_code == 404
    assert detail(no_version) == f"Parser '{parser_id}' has no version '4': its only version is 0."


async def test_a_404_for_a_version_names_the_range_of_versions(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    await ai.patch(parser_id, {"remove_fields": ["upc"]})
    reply = await ai.parse(parser_id, BOOK, version=9)
    assert (reply.status_code, detail(reply)) == (
        404,
        f"Parser '{parser_id}' has no version '9': its versions are 0 to 1.",
    )
