from __future__ import annotations

import httpx2
import pytest

from tests.sandbox.support import base_url, books

pytestmark = pytest.mark.anyio

LIGHT = {
    "title": "A Light in the Attic",
    "slug": "a-light-in-the-attic_1000",
    "price": 51.77,
    "rating": 3,
    "availability": "In stock",
}
TITLE_ORDER = [
    "A Light in the Attic",
    "Rip it Up and Start Again",
    "Sapiens: A Brief History of Humankind",
    "Scott Pilgrim's Precious Little Life (Scott Pilgrim #1)",
    "Set Me Free",
    "Shakespeare's Sonnets",
    "Sharp Objects",
    "Soumission",
    "Starving Hearts (Triangular Trade Trilogy, #1)",
    "The Black Maria",
    "The Dirty Little Secrets of Getting Your Dream Job",
    "Tipping the Velvet",
]


def _stale(message: str) -> dict[str, object]:
    return {"error": {"status": "stale_input", "kind": "input_format_invalid", "message": message}, "status_code": 422}


async def test_the_first_page_lists_five_books_in_title_order(client: httpx2.AsyncClient) -> None:
    reply = await client.get(books("list_books"))
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"status", "data"}
    assert body["status"] == "success"
    assert (body["data"]["page"], body["data"]["pages"]) == (1, 3)
    assert body["data"]["books"][0] == LIGHT
    assert [book["title"] for book in body["data"]["books"]] == TITLE_ORDER[:5]


async def test_paging_walks_every_listed_book_once_and_leaves_the_withdrawn_one_out(client: httpx2.AsyncClient) -> None:
    pages = [(await client.get(books("list_books"), params={"page": n})).json()["data"] for n in (1, 2, 3)]
    titles = [book["title"] for page in pages for book in page["books"]]
    assert titles == TITLE_ORDER
    assert [len(page["books"]) for page in pages] == [5, 5, 2]
    assert "The Requiem Red" not in titles


@pytest.mark.parametrize(
    ("sort", "first"),
    [
        ("price_asc", ("Starving Hearts (Triangular Trade Trilogy, #1)", 13.99)),
        ("price_desc", ("Sapiens: A Brief History of Humankind", 54.23)),
        ("rating", ("Rip it Up and Start Again", 35.02)),
    ],
)
async def test_sorting_orders_the_whole_catalogue(
    client: httpx2.AsyncClient, sort: str, first: tuple[str, float]
) -> None:
    data = (await client.get(books("list_books"), params={"sort": sort})).json()["data"]
    assert (data["books"][0]["title"], data["books"][0]["price"]) == first
    if sort == "rating":
        assert [book["rating"] for book in data["books"]] == [5, 5, 5, 5, 4]


async def test_a_page_past_the_end_is_an_upstream_404_with_the_sites_own_body(client: httpx2.AsyncClient) -> None:
    reply = await client.get(books("list_books"), params={"page": 4})
    site_page = await client.get("/site/catalogue/page-4.html")
    assert site_page.status_code == 404
    assert reply.status_code == 502
    assert reply.json() == {
        "error": {
            "status": "upstream_error",
            "upstream_status_code": 404,
            "message": "The target site returned HTTP 404. See `snippet` for the upstream response body.",
            "snippet": site_page.text[:500],
            "url": f"{base_url(client)}/site/catalogue/page-4.html",
        },
        "status_code": 502,
    }
    assert "Page 4 does not exist" in reply.json()["error"]["snippet"]


async def test_the_upstream_url_keeps_the_sort_the_scraper_asked_for(client: httpx2.AsyncClient) -> None:
    reply = await client.get(books("list_books"), params={"page": 9, "sort": "rating"})
    assert reply.json()["error"]["url"] == f"{base_url(client)}/site/catalogue/page-9.html?sort=rating"


@pytest.mark.parametrize("page", ["abc", "0", "-2", "1.5"])
async def test_a_page_that_is_not_a_positive_integer_is_stale_input(client: httpx2.AsyncClient, page: str) -> None:
    reply = await client.get(books("list_books"), params={"page": page})
    assert (reply.status_code, reply.json()) == (422, _stale("page must be a positive integer"))


async def test_an_unknown_sort_is_stale_input(client: httpx2.AsyncClient) -> None:
    reply = await client.get(books("list_books"), params={"sort": "newest"})
    assert (reply.status_code, reply.json()) == (
        422,
        _stale("sort must be one of: title, price_asc, price_desc, rating"),
    )


async def test_get_book_reads_the_detail_page(client: httpx2.AsyncClient) -> None:
    reply = await client.post(books("get_book"), json={"slug": "a-light-in-the-attic_1000"})
    assert reply.status_code == 200
    assert reply.json() == {
        "status": "success",
        "data": {
            "title": "A Light in the Attic",
            "slug": "a-light-in-the-attic_1000",
            "price": 51.77,
            "rating": 3,
            "upc": "a897fe39b1053632",
            "availability": "In stock (22 available)",
            "category": "Poetry",
            "description": "Poems and drawings for children of every age, some silly and some quietly wise.",
        },
    }


async def test_every_listed_slug_opens_with_get_book(client: httpx2.AsyncClient) -> None:
    listed = [
        book
        for n in (1, 2, 3)
        for book in (await client.get(books("list_books"), params={"page": n})).json()["data"]["books"]
    ]
    for book in listed:
        detail = (await client.post(books("get_book"), json={"slug": book["slug"]})).json()["data"]
        assert (detail["title"], detail["price"], detail["rating"]) == (book["title"], book["price"], book["rating"])


async def test_an_unknown_slug_is_an_upstream_404_from_the_sites_not_found_page(client: httpx2.AsyncClient) -> None:
    reply = await client.post(books("get_book"), json={"slug": "no-such-book_1"})
    site_page = await client.get("/site/catalogue/no-such-book_1/index.html")
    assert reply.status_code == 502
    assert reply.json() == {
        "error": {
            "status": "upstream_error",
            "upstream_status_code": 404,
            "message": "The target site returned HTTP 404. See `snippet` for the upstream response body.",
            "snippet": site_page.text[:500],
            "url": f"{base_url(client)}/site/catalogue/no-such-book_1/index.html",
        },
        "status_code": 502,
    }
    assert "Product not found" in reply.json()["error"]["snippet"]


async def test_a_withdrawn_book_is_stale_input_not_found_with_the_sites_410(client: httpx2.AsyncClient) -> None:
    reply = await client.post(books("get_book"), json={"slug": "the-requiem-red_995"})
    assert reply.status_code == 422
    assert reply.json() == {
        "error": {
            "status": "stale_input",
            "kind": "input_not_found",
            "message": (
                "The book 'the-requiem-red_995' is gone (the site answered 410): it was withdrawn from the catalogue."
            ),
            "upstream_status_code": 410,
            "url": f"{base_url(client)}/site/catalogue/the-requiem-red_995/index.html",
        },
        "status_code": 422,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [({}, "slug is required"), ({"slug": None}, "slug is required"), ({"slug": 1000}, "slug must be a string")],
)
async def test_get_book_without_a_string_slug_is_stale_input(
    client: httpx2.AsyncClient, body: dict[str, object], message: str
) -> None:
    reply = await client.post(books("get_book"), json=body)
    assert (reply.status_code, reply.json()) == (422, _stale(message))


async def test_search_finds_titles_case_insensitively(client: httpx2.AsyncClient) -> None:
    reply = await client.get(books("search_books"), params={"query": "THE"})
    data = reply.json()["data"]
    assert data["query"] == "THE"
    assert [book["title"] for book in data["books"]] == [
        "A Light in the Attic",
        "The Black Maria",
        "The Dirty Little Secrets of Getting Your Dream Job",
        "Tipping the Velvet",
    ]
    assert data["count"] == 4


async def test_search_decodes_a_json_encoded_list_and_true_false_booleans(client: httpx2.AsyncClient) -> None:
    in_stock = await client.get(books("search_books"), params={"query": "", "ratings": "[5]", "in_stock_only": "true"})
    any_stock = await client.get(
        books("search_books"), params={"query": "", "ratings": "[5]", "in_stock_only": "false"}
    )
    assert [b["title"] for b in in_stock.json()["data"]["books"]] == [
        "Rip it Up and Start Again",
        "Sapiens: A Brief History of Humankind",
        "Set Me Free",
    ]
    assert [b["title"] for b in any_stock.json()["data"]["books"]] == [
        "Rip it Up and Start Again",
        "Sapiens: A Brief History of Humankind",
        "Scott Pilgrim's Precious Little Life (Scott Pilgrim #1)",
        "Set Me Free",
    ]


async def test_search_decodes_a_number_from_the_query_string(client: httpx2.AsyncClient) -> None:
    data = (await client.get(books("search_books"), params={"query": "s", "max_price": "20.66"})).json()["data"]
    assert [(b["title"], b["price"]) for b in data["books"]] == [
        ("Set Me Free", 17.46),
        ("Shakespeare's Sonnets", 20.66),
        ("Starving Hearts (Triangular Trade Trilogy, #1)", 13.99),
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"query": "a", "max_price": "cheap"}, "max_price must be a number"),
        ({"query": "a", "max_price": "nan"}, "max_price must be a number"),
        ({"query": "a", "ratings": "5"}, "ratings must be a JSON array of integers from 1 to 5"),
        ({"query": "a", "ratings": "[0, 6]"}, "ratings must be a JSON array of integers from 1 to 5"),
        ({"query": "a", "ratings": '["five"]'}, "ratings must be a JSON array of integers from 1 to 5"),
        ({"query": "a", "in_stock_only": "yes"}, "in_stock_only must be true or false"),
        ({"max_price": "10"}, "query is required"),
    ],
)
async def test_search_rejects_malformed_parameters_as_stale_input(
    client: httpx2.AsyncClient, params: dict[str, str], message: str
) -> None:
    reply = await client.get(books("search_books"), params=params)
    assert (reply.status_code, reply.json()) == (422, _stale(message))
