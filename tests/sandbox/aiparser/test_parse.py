"""Parsing real pages of the sandbox site: inferred and custom fields, dot notation, numbers, and 500s."""

from __future__ import annotations

import pytest

from tests.sandbox.aiparser.support import (
    BLOCKED,
    BOOK,
    JS_BOOK,
    LISTING,
    MISSING_BOOK,
    OTHER_BOOK,
    OTHER_JS_BOOK,
    OUT_OF_STOCK_BOOK,
    SECOND_LISTING,
    AiParser,
    detail,
)

pytestmark = pytest.mark.anyio


def _field(name: str, description: str, kind: str = "string") -> dict[str, str]:
    return {"name": name, "description": description, "type": kind}


async def test_a_product_parser_reads_another_product_page(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    reply = await ai.parse(parser_id, OTHER_BOOK)
    assert reply.status_code == 200
    assert reply.json() == {
        "parser": parser_id,
        "version": 0,
        "result": {
            "title": "Sharp Objects",
            "price": 47.82,
            "rating": 4,
            "availability": "In stock (20 available)",
            "upc": "e00eb4fd7b871a48",
            "category": "Mystery",
        },
    }


async def test_a_category_parser_reads_every_book_of_another_listing_page(ai: AiParser) -> None:
    parser_id = await ai.create_finished(LISTING)
    result = (await ai.parse(parser_id, SECOND_LISTING)).json()["result"]
    assert [book["title"] for book in result["books"]] == [
        "Shakespeare's Sonnets",
        "Sharp Objects",
        "Soumission",
        "Starving Hearts (Triangular Trade Trilogy, #1)",
        "The Black Maria",
    ]
    assert result["books"][1] == {
        "title": "Sharp Objects",
        "price": 47.82,
        "rating": 4,
        "url": ai.url(OTHER_BOOK),
    }


async def test_custom_fields_are_matched_by_keywords_in_their_names(ai: AiParser) -> None:
    fields = [
        _field("productName", "What the shop calls it"),
        _field("cost", "In pounds", "number"),
        _field("stars", "How many", "number"),
        _field("in_stock", "How many copies", "number"),
        _field("sku", "Identifier"),
        _field("genre", "Shelf"),
        _field("summary", "Blurb on the page"),
        _field("link", "Address"),
    ]
    parser_id = await ai.create_finished(BOOK, fields=fields)
    result = (await ai.parse(parser_id, OTHER_BOOK)).json()["result"]
    assert result == {
        "productName": "Sharp Objects",
        "cost": 47.82,
        "stars": 4,
        "in_stock": 20,
        "sku": "e00eb4fd7b871a48",
        "genre": "Mystery",
        "summary": "A reporter returns to her small home town to cover the murders of two girls.",
        "link": ai.url(OTHER_BOOK),
    }


async def test_custom_fields_without_a_keyword_in_the_name_are_matched_by_their_description(ai: AiParser) -> None:
    fields = [
        _field("amount", "Price in USD as a number, no currency symbol", "number"),
        _field("headline", "The book title as printed"),
        _field("score", "Star rating of the book", "number"),
    ]
    parser_id = await ai.create_finished(BOOK, fields=fields)
    result = (await ai.parse(parser_id, BOOK)).json()["result"]
    assert result == {"amount": 51.77, "headline": "A Light in the Attic", "score": 3}


async def test_fields_that_match_nothing_on_the_page_extract_null(ai: AiParser) -> None:
    fields = [
        _field("author", "The author's name"),
        _field("isbn", "ISBN-13"),
        _field("weight", "Shipping weight", "number"),
        _field("title", "Title"),
    ]
    parser_id = await ai.create_finished(BOOK, fields=fields)
    result = (await ai.parse(parser_id, BOOK)).json()["result"]
    assert result == {"author": None, "isbn": None, "weight": None, "title": "A Light in the Attic"}


async def test_number_fields_come_out_as_numbers_and_string_fields_as_the_page_shows_them(ai: AiParser) -> None:
    fields = [
        _field("price", "Price", "number"),
        _field("price_text", "Price as shown"),
        _field("rating", "Stars", "number"),
        _field("rating_text", "Rating word"),
        _field("availability", "Copies left", "number"),
        _field("title_number", "Title", "number"),
    ]
    parser_id = await ai.create_finished(BOOK, fields=fields)
    in_stock = (await ai.parse(parser_id, BOOK)).json()["result"]
    sold_out = (await ai.parse(parser_id, OUT_OF_STOCK_BOOK)).json()["result"]
    assert in_stock == {
        "price": 51.77,
        "price_text": "£51.77",
        "rating": 3,
        "rating_text": "Three",
        "availability": 22,
        "title_number": None,
    }
    assert (sold_out["availability"], sold_out["rating"]) == (0, 1)


async def test_dot_notation_builds_a_list_of_objects_with_nested_parts(ai: AiParser) -> None:
    fields = [
        _field("books.name", "Title of each book"),
        _field("books.price.amount", "Price as a number", "number"),
        _field("books.price.shown", "Price as printed"),
        _field("books.links", "Link to the book", "array"),
        _field("heading", "The page heading"),
        _field("titles", "Every book title on the page", "array"),
    ]
    parser_id = await ai.create_finished(LISTING, fields=fields)
    result = (await ai.parse(parser_id, LISTING)).json()["result"]
    assert list(result) == ["books", "heading", "titles"]
    assert result["books"][0] == {
        "name": "A Light in the Attic",
        "price": {"amount": 51.77, "shown": "£51.77"},
        "links": [ai.url(BOOK)],
    }
    assert result["heading"] == "All products"
    assert result["titles"] == [book["name"] for book in result["books"]]


async def test_a_dotted_field_on_a_product_page_is_a_list_of_that_one_product(ai: AiParser) -> None:
    fields = [_field("book.title", "Title"), _field("book.price", "Price", "number")]
    parser_id = await ai.create_finished(BOOK, fields=fields)
    result = (await ai.parse(parser_id, BOOK)).json()["result"]
    assert result == {"book": [{"title": "A Light in the Attic", "price": 51.77}]}


async def test_a_javascript_page_parses_with_render_true(ai: AiParser) -> None:
    parser_id = await ai.create_finished(JS_BOOK, scraper_params={"render": True})
    reply = await ai.parse(parser_id, OTHER_JS_BOOK, render="true")
    assert reply.status_code == 200
    assert reply.json()["result"]["title"] == "Sharp Objects"


async def test_a_javascript_page_fails_extraction_without_render_even_for_a_render_parser(ai: AiParser) -> None:
    parser_id = await ai.create_finished(JS_BOOK, scraper_params={"render": True})
    reply = await ai.parse(parser_id, OTHER_JS_BOOK)
    assert (reply.status_code, detail(reply)) == (
        500,
        f"Extraction failed: {ai.url(OTHER_JS_BOOK)} needs JS rendering; it is an empty page until its "
        "JavaScript runs. Add render=true to the parse request.",
    )


async def test_a_plain_page_parses_the_same_with_render_true(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    plain = await ai.parse(parser_id, OTHER_BOOK)
    rendered = await ai.parse(parser_id, OTHER_BOOK, render="true")
    assert plain.json() == rendered.json()


async def test_a_product_parser_reads_the_javascript_shop_once_rendered(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    reply = await ai.parse(parser_id, JS_BOOK, render="true")
    assert reply.json()["result"]["upc"] == "a897fe39b1053632"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (MISSING_BOOK, "was inaccessible: the site answered HTTP 404"),
        ("/site/catalogue/the-requiem-red_995/index.html", "was inaccessible: the site answered HTTP 410"),
        ("/site/lab/status/503", "was inaccessible: the site answered HTTP 503"),
        (BLOCKED, "was blocked: the site answered HTTP 403 with a bot-protection challenge"),
        ("/site/lab/status/403", "was blocked: the site answered HTTP 403 with a bot-protection challenge"),
    ],
)
async def test_a_page_the_site_refuses_answers_500_extraction_failed(ai: AiParser, path: str, reason: str) -> None:
    parser_id = await ai.create_finished(BOOK)
    reply = await ai.parse(parser_id, path)
    assert (reply.status_code, detail(reply)) == (500, f"Extraction failed: {ai.url(path)} {reason}.")


@pytest.mark.parametrize(
    "url",
    [
        "https://books.example.com/catalogue/page-1.html",
        "ftp://127.0.0.1/site/",
        "http://127.0.0.1:1/site/catalogue/page-1.html",
        "not a url",
    ],
)
async def test_a_url_not_on_the_sandbox_host_answers_500_extraction_failed(ai: AiParser, url: str) -> None:
    parser_id = await ai.create_finished(BOOK)
    reply = await ai.get(f"/parse/{parser_id}", {"url": url})
    assert (reply.status_code, detail(reply)) == (
        500,
        f"Extraction failed: {url} was inaccessible: it is not on this server, which can only fetch its own site "
        f"under {ai.base_url}/site/.",
    )


async def test_localhost_and_127_0_0_1_name_the_same_server(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    url = ai.url(OTHER_BOOK).replace("127.0.0.1", "localhost")
    reply = await ai.get(f"/parse/{parser_id}", {"url": url})
    assert reply.json()["result"]["title"] == "Sharp Objects"


async def test_a_page_of_another_type_than_the_parser_was_generated_from_answers_500(ai: AiParser) -> None:
    parser_id = await ai.create_finished(BOOK)
    reply = await ai.parse(parser_id, LISTING)
    assert (reply.status_code, detail(reply)) == (
        500,
        f"Extraction failed: {ai.url(LISTING)} is a category page, but this parser was generated from a product "
        "page. Create a parser from pages like this one.",
    )


async def test_pages_that_are_neither_products_nor_listings_parse_their_heading(ai: AiParser) -> None:
    parser_id = await ai.create_finished("/site/", "/site/lab/jobs/job-42")
    result = (await ai.parse(parser_id, "/site/ai/")).json()["result"]
    assert result == {"title": "AI Parser practice pages"}
