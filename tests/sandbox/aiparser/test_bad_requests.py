"""400 answers: malformed bodies and missing or invalid fields, each with a message a person can act on."""

from __future__ import annotations

import pytest

from parse_mcp.sandbox.aiparser import AIPARSER_KEY
from tests.sandbox.aiparser.support import BOOK, GENERATION_SECONDS, LISTING, AiParser, detail

pytestmark = pytest.mark.anyio

NOTHING_TO_UPDATE = "Nothing to update: send at least one of add_fields, modify_fields, rename_fields or remove_fields."


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "The request body is empty: send a JSON object that includes api_key."),
        (b'{"name": "Books",', "The request body is not valid JSON."),
        (b'["Books"]', "The request body must be a JSON object."),
    ],
)
async def test_a_body_that_is_not_a_json_object_answers_400(ai: AiParser, raw: bytes, message: str) -> None:
    reply = await ai.http.post("/parsers", content=raw, headers={"Content-Type": "application/json"})
    assert (reply.status_code, detail(reply)) == (400, message)


def _urls(ai: AiParser, count: int) -> list[str]:
    return [ai.url(f"/site/catalogue/page-{n}.html") for n in range(1, count + 1)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"urls": ["BOOK"]}, "name is required: give the parser a non-empty name."),
        ({"name": "  ", "urls": ["BOOK"]}, "name is required: give the parser a non-empty name."),
        ({"name": "Books"}, "urls is required: a list of 1 to 3 example URLs of the same page type."),
        (
            {"name": "Books", "urls": "BOOK"},
            "urls must be a list of 1 to 3 example URLs, not a single value.",
        ),
        (
            {"name": "Books", "urls": []},
            "urls is empty: send at least 1 example URL (1 to 3 of the same page type).",
        ),
        (
            {"name": "Books", "urls": "FOUR"},
            "urls holds 4 URLs: send at most 3 example URLs of the same page type.",
        ),
        ({"name": "Books", "urls": ["catalogue/page-1.html"]}, "urls[0] is not an absolute http or https URL."),
        ({"name": "Books", "urls": ["BOOK", 7]}, "urls[1] is not an absolute http or https URL."),
        (
            {"name": "Books", "urls": ["BOOK"], "fields": {"name": "title"}},
            "fields must be a list of {name, description, type} objects.",
        ),
        (
            {"name": "Books", "urls": ["BOOK"], "fields": ["title"]},
            "fields[0] must be an object with a name and a description.",
        ),
        (
            {"name": "Books", "urls": ["BOOK"], "fields": [{"description": "The title"}]},
            "fields[0].name is required: a non-empty field name (dot notation for nesting, e.g. books.title).",
        ),
        (
            {"name": "Books", "urls": ["BOOK"], "fields": [{"name": "title"}]},
            "fields[0] ('title') needs a description: say in words what the field holds.",
        ),
        (
            {"name": "Books", "urls": ["BOOK"], "fields": [{"name": "price", "description": "Price", "type": "float"}]},
            "fields[0] ('price') has type \"float\"; the type must be string, number or array.",
        ),
        (
            {"name": "Books", "urls": ["BOOK"], "fields": [{"name": "books..title", "description": "Title"}]},
            "fields[0].name 'books..title' has an empty part: write nested names like books.title.",
        ),
        (
            {
                "name": "Books",
                "urls": ["BOOK"],
                "fields": [{"name": "title", "description": "Title"}, {"name": "title", "description": "Name"}],
            },
            "The field 'title' appears twice: field names must be unique.",
        ),
        (
            {
                "name": "Books",
                "urls": ["BOOK"],
                "fields": [{"name": "books.title", "description": "Title"}, {"name": "books", "description": "All"}],
            },
            "The fields 'books' and 'books.title' clash: 'books' cannot be both a value and a list of objects. "
            "Rename one of them.",
        ),
        (
            {
                "name": "Books",
                "urls": ["BOOK"],
                "fields": [{"name": "title", "description": "Title"}, {"name": " ", "description": "Price"}],
            },
            "fields[1].name is required: a non-empty field name (dot notation for nesting, e.g. books.title).",
        ),
        (
            {"name": "Books", "urls": ["BOOK"], "fields": [{"name": "title", "description": 7}]},
            "fields[0] ('title') needs a description: say in words what the field holds.",
        ),
        ({"name": "", "urls": []}, "name is required: give the parser a non-empty name."),
        (
            {"name": "Books", "urls": ["BOOK"], "scraper_params": {"session_number": True}},
            "scraper_params.session_number must be a whole number of at least 1.",
        ),
        (
            {"name": "Books", "urls": ["BOOK"], "scraper_params": {"render": 1}},
            "scraper_params.render must be true or false.",
        ),
        (
            {"name": "Books", "urls": ["BOOK"], "scraper_params": ["render"]},
            'scraper_params must be an object, e.g. {"render": true}.',
        ),
        (
            {"name": "Books", "urls": ["BOOK"], "scraper_params": {"render": "true"}},
            "scraper_params.render must be true or false.",
        ),
        (
            {"name": "Books", "urls": ["BOOK"], "scraper_params": {"session_number": 0}},
            "scraper_params.session_number must be a whole number of at least 1.",
        ),
        (
            {"name": "Books", "urls": ["BOOK"], "scraper_params": {"country_code": "usa"}},
            "scraper_params.country_code must be a two-letter country code, e.g. us.",
        ),
        (
            {"name": "Books", "urls": ["BOOK"], "scraper_params": {"device_type": "tablet"}},
            "scraper_params.device_type must be desktop or mobile.",
        ),
        (
            {"name": "Books", "urls": ["BOOK"], "scraper_params": {"premium": True, "ultra_premium": True}},
            "premium and ultra_premium cannot be used together: choose one.",
        ),
        (
            {"name": "Books", "urls": ["BOOK"], "scraper_params": {"wait": 5}},
            "scraper_params has an unknown key 'wait'; the supported keys are render, premium, ultra_premium, "
            "keep_headers, follow_redirect, retry_404, country_code, session_number, device_type.",
        ),
    ],
)
async def test_creating_with_a_missing_or_invalid_field_answers_400(
    ai: AiParser, body: dict[str, object], message: str
) -> None:
    urls = body.get("urls")
    if urls == "FOUR":
        body = {**body, "urls": _urls(ai, 4)}
    elif isinstance(urls, list):
        body = {**body, "urls": [ai.url(BOOK) if url == "BOOK" else url for url in urls]}
    reply = await ai.send("POST", "/parsers", body)
    assert (reply.status_code, detail(reply)) == (400, message)
    assert (await ai.get("/parsers")).json() == [], "a refused create leaves no parser behind"


async def test_optional_keys_sent_as_null_read_as_absent(ai: AiParser) -> None:
    reply = await ai.create_reply(BOOK, fields=None, scraper_params=None)
    assert reply.status_code == 201
    ai.clock.advance(GENERATION_SECONDS)
    details = await ai.details(reply.json()["id"])
    assert (len(details["fields"]), details["scraper_params"]) == (6, {})


async def test_scraper_params_are_kept_as_sent_with_the_country_code_in_lower_case(ai: AiParser) -> None:
    params = {"render": False, "country_code": "GB", "session_number": 3, "device_type": "mobile"}
    reply = await ai.create_reply(BOOK, scraper_params=params)
    assert reply.status_code == 201
    details = await ai.details(reply.json()["id"])
    assert details["scraper_params"] == {**params, "country_code": "gb"}


async def test_an_empty_fields_list_lets_generation_infer_the_fields(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK, fields=[])
    assert len((await ai.details(parser_id))["fields"]) == 6


async def test_an_update_without_any_of_the_four_operations_answers_400(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    bodies: list[dict[str, object]] = [{}, {"add_fields": [], "remove_fields": []}]
    for body in bodies:
        reply = await ai.patch(parser_id, body)
        assert (reply.status_code, detail(reply)) == (400, NOTHING_TO_UPDATE)


ALL_FIELDS = "title, price, rating, availability, upc, category"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"rename_fields": [{"name": "author", "new_name": "writer"}]},
            f"rename_fields: the parser has no field 'author'. Its fields are: {ALL_FIELDS}.",
        ),
        (
            {"rename_fields": [{"name": "upc", "new_name": "title"}]},
            "rename_fields: there is already a field named 'title'.",
        ),
        (
            {"rename_fields": [{"name": "upc"}]},
            "rename_fields[0].new_name is required: a non-empty field name "
            "(dot notation for nesting, e.g. books.title).",
        ),
        (
            {"remove_fields": ["author"]},
            f"remove_fields: the parser has no field 'author'. Its fields are: {ALL_FIELDS}.",
        ),
        (
            {"remove_fields": ["upc", "upc"]},
            "remove_fields: the parser has no field 'upc'. Its fields are: title, price, rating, availability, "
            "category.",
        ),
        (
            {"modify_fields": [{"name": "author", "description": "Who wrote it"}]},
            f"modify_fields: the parser has no field 'author'. Its fields are: {ALL_FIELDS}.",
        ),
        (
            {"modify_fields": [{"name": "price"}]},
            "modify_fields[0] ('price') changes nothing: give a new description, a new type, or both.",
        ),
        (
            {"add_fields": [{"name": "price", "description": "Price", "type": "number"}]},
            "add_fields: the field 'price' already exists; use modify_fields to change it.",
        ),
        (
            {"add_fields": [{"name": "title.short", "description": "Short title"}]},
            "The fields 'title' and 'title.short' clash: 'title' cannot be both a value and a list of objects. "
            "Rename one of them.",
        ),
        ({"add_fields": {"name": "x"}}, "add_fields must be a list."),
        ({"remove_fields": "upc"}, "remove_fields must be a list."),
        (
            {"add_fields": [{"name": "books..title", "description": "Title"}]},
            "add_fields[0].name 'books..title' has an empty part: write nested names like books.title.",
        ),
        (
            {"modify_fields": [{"name": "price", "description": " "}]},
            "modify_fields[0] ('price') has an empty description.",
        ),
        (
            {"modify_fields": [{"name": "price", "type": "float"}]},
            "modify_fields[0] ('price') has type \"float\"; the type must be string, number or array.",
        ),
        (
            {"modify_fields": ["price"]},
            "modify_fields[0] must be an object with a name and a new description or type.",
        ),
        ({"rename_fields": ["upc"]}, "rename_fields[0] must be an object with name and new_name."),
        (
            {"remove_fields": ["upc", ""]},
            "remove_fields[1] is required: a non-empty field name (dot notation for nesting, e.g. books.title).",
        ),
        (
            {"remove_fields": ["title", "price", "rating", "availability", "upc", "category"]},
            "This update would remove every field: a parser needs at least one field.",
        ),
    ],
)
async def test_an_update_naming_fields_that_do_not_fit_answers_400_and_makes_no_version(
    ai: AiParser, body: dict[str, object], message: str
) -> None:
    parser_id = await ai.create_finished(BOOK)
    reply = await ai.patch(parser_id, body)
    assert (reply.status_code, detail(reply)) == (400, message)
    assert (await ai.details(parser_id))["version"] == 0


async def test_parsing_without_a_url_answers_400(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    for params in ({}, {"url": " "}):
        reply = await ai.get(f"/parse/{parser_id}", params)
        assert (reply.status_code, detail(reply)) == (
            400,
            "url is required: the address of the page to parse, as a query parameter.",
        )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"render": "yes"}, "render must be true or false."),
        ({"render": "1"}, "render must be true or false."),
        ({"session_number": "true"}, "session_number must be a whole number of at least 1."),
        (
            {"premium": "true", "ultra_premium": "TRUE"},
            "premium and ultra_premium cannot be used together: choose one.",
        ),
        ({"session_number": "0"}, "session_number must be a whole number of at least 1."),
        ({"country_code": "gbr"}, "country_code must be a two-letter country code, e.g. us."),
        ({"device_type": "watch"}, "device_type must be desktop or mobile."),
    ],
)
async def test_parsing_with_an_invalid_scraper_param_answers_400(
    ai: AiParser, params: dict[str, str], message: str
) -> None:
    parser_id = await ai.create_finished(BOOK)
    reply = await ai.get(f"/parse/{parser_id}", {"url": ai.url(BOOK), **params})
    assert (reply.status_code, detail(reply)) == (400, message)


async def test_parsing_accepts_every_documented_scraper_param_and_ignores_unknown_ones(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    params = {
        "render": "false",
        "country_code": "US",
        "premium": "true",
        "ultra_premium": "false",
        "session_number": "7",
        "keep_headers": "true",
        "device_type": "mobile",
        "follow_redirect": "false",
        "retry_404": "true",
        "wait_for_selector": ".product_main",
    }
    reply = await ai.get(f"/parse/{parser_id}", {"url": ai.url(BOOK), **params})
    assert reply.status_code == 200


async def test_parsing_with_a_parser_still_generating_answers_400_and_says_to_poll(ai: AiParser) -> None:
    parser_id = await ai.create(BOOK)
    ai.clock.advance(GENERATION_SECONDS - 15.5)
    reply = await ai.parse(parser_id, BOOK)
    assert (reply.status_code, detail(reply)) == (
        400,
        f"Parser '{parser_id}' version 0 is still generating and cannot be used to parse yet (about 16 s left). "
        f"Poll GET /parsers/{parser_id} until its status is FINISHED.",
    )


async def test_updating_a_parser_still_generating_answers_400(ai: AiParser) -> None:
    parser_id = await ai.create(LISTING)
    reply = await ai.patch(parser_id, {"remove_fields": ["books.url"]})
    assert reply.status_code == 400
    assert detail(reply).startswith(f"Parser '{parser_id}' version 0 is still generating and cannot be updated yet")


async def test_the_key_is_never_echoed_in_an_error_message(ai: AiParser) -> None:
    replies = [
        await ai.send("POST", "/parsers", {"name": "", "urls": []}),
        await ai.get("/parsers/x", key="not-the-key"),
        await ai.get("/parse/x"),
    ]
    assert all(AIPARSER_KEY not in detail(reply) for reply in replies)
