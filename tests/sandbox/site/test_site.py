from __future__ import annotations

import httpx2
import pytest

from parse_mcp.sandbox.scenarios.books import pages as books_pages
from parse_mcp.sandbox.site.router import render as render_site

pytestmark = pytest.mark.anyio


async def test_the_home_page_links_to_the_catalogue(client: httpx2.AsyncClient) -> None:
    reply = await client.get("/site/")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert 'href="catalogue/page-1.html"' in reply.text


async def test_site_without_a_trailing_slash_redirects_to_the_home_page(client: httpx2.AsyncClient) -> None:
    reply = await client.get("/site")
    assert reply.status_code in {307, 308}
    assert reply.headers["Location"].endswith("/site/")


async def test_listing_pages_link_to_their_neighbours_and_keep_the_sort(client: httpx2.AsyncClient) -> None:
    first = (await client.get("/site/catalogue/page-1.html")).text
    middle = (await client.get("/site/catalogue/page-2.html", params={"sort": "price_asc"})).text
    last = (await client.get("/site/catalogue/page-3.html")).text
    assert 'href="page-2.html"' in first
    assert "previous" not in first
    assert 'href="page-1.html?sort=price_asc"' in middle
    assert 'href="page-3.html?sort=price_asc"' in middle
    assert "Page 3 of 3" in last
    assert "next" not in last


async def test_a_detail_page_shows_the_books_facts(client: httpx2.AsyncClient) -> None:
    page = (await client.get("/site/catalogue/a-light-in-the-attic_1000/index.html")).text
    for fact in ("A Light in the Attic", "£51.77", "star-rating Three", "a897fe39b1053632", "Poetry"):
        assert fact in page


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/site/catalogue/page-4.html", 404, "Page 4 does not exist: the catalogue has 3 pages."),
        ("/site/catalogue/page-0.html", 404, "There is no page at /site/catalogue/page-0.html."),
        ("/site/catalogue/no-such-book_1/index.html", 404, "Product not found"),
        ("/site/catalogue/the-requiem-red_995/index.html", 410, "has been withdrawn from the catalogue"),
        ("/site/lab/status/418", 418, "418 I&#x27;m a Teapot"),
        ("/site/lab/status/302", 404, "No status page for 302."),
        ("/site/lab/jobs/gone-1", 410, "was removed by the employer"),
        ("/site/lab/nothing-here", 404, "There is no page at /site/lab/nothing-here."),
    ],
)
async def test_the_site_answers_with_real_statuses_and_readable_pages(
    client: httpx2.AsyncClient, path: str, status: int, text: str
) -> None:
    reply = await client.get(path)
    assert reply.status_code == status
    assert text in reply.text


async def test_a_bodyless_status_page_is_served_without_a_body(client: httpx2.AsyncClient) -> None:
    reply = await client.get("/site/lab/status/204")
    assert (reply.status_code, reply.content) == (204, b"")


async def test_the_lab_index_and_flight_search_are_browsable(client: httpx2.AsyncClient) -> None:
    index = await client.get("/site/lab/")
    flights = await client.get(
        "/site/lab/flights/search", params={"origin": "LHR", "destination": "JFK", "trip_type": "one_way"}
    )
    refused = await client.get("/site/lab/flights/search", params={"trip_type": "one_way"})
    redesigned = await client.get("/site/lab/redesigned.html")
    assert index.status_code == flights.status_code == redesigned.status_code == 200
    assert flights.text.count('class="flight"') == 3
    assert (refused.status_code, "origin and destination are required" in refused.text) == (400, True)


async def test_the_app_serves_exactly_what_the_scrapers_read(client: httpx2.AsyncClient) -> None:
    for path in ("/site/", "/site/catalogue/page-2.html", "/site/catalogue/sharp-objects_997/index.html"):
        page = render_site(path, {})
        reply = await client.get(path)
        assert (reply.status_code, reply.text) == (page.status, page.html)


def test_the_catalogue_has_about_twelve_books_with_unique_slugs_and_one_withdrawn() -> None:
    slugs = [book.slug for book in books_pages.BOOKS]
    assert len(set(slugs)) == len(slugs) == 13
    assert [book.title for book in books_pages.BOOKS if book.withdrawn] == ["The Requiem Red"]
    assert books_pages.page_count() == 3
