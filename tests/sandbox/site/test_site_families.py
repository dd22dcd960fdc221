from __future__ import annotations

import httpx2
import pytest

from parse_mcp.sandbox import DEMO_PASSWORD, DEMO_USERNAME
from parse_mcp.sandbox.site.router import render as render_site

pytestmark = pytest.mark.anyio


async def test_the_home_page_links_to_every_part_of_the_site(client: httpx2.AsyncClient) -> None:
    page = (await client.get("/site/")).text
    for link in ('href="quotes/"', 'href="weather/"', 'href="members/"', 'href="lab/"'):
        assert link in page


async def test_the_catalogue_address_shows_its_first_page(client: httpx2.AsyncClient) -> None:
    reply = await client.get("/site/catalogue/")
    assert reply.status_code == 200
    assert "Page 1 of 3" in reply.text


@pytest.mark.parametrize(
    ("path", "params", "status", "text"),
    [
        ("/site/quotes/", {}, 200, "Page 1 of 3"),
        ("/site/quotes/page/3/", {}, 200, "Page 3 of 3"),
        ("/site/quotes/page/4/", {}, 404, "Page 4 does not exist: there are 3 pages of quotes."),
        ("/site/quotes/tag/science/", {}, 200, "Imagination is more important than knowledge."),
        ("/site/quotes/tag/nothing/", {}, 200, "Quotes tagged"),
        ("/site/quotes/author/jane-austen/", {}, 200, 'class="author-card"'),
        ("/site/quotes/author/nobody/", {}, 404, "No author has the address nobody."),
        ("/site/quotes/top", {}, 403, "no access token was sent"),
        ("/site/quotes/top", {"token": "qt-2025-autumn"}, 403, "the access token sent has expired"),
        ("/site/quotes/top", {"token": "qt-2027-spring"}, 200, "Top quotes"),
        ("/site/weather/", {}, 200, 'href="nairobi.html"'),
        ("/site/weather/denver.html", {}, 200, 'class="humidity"'),
        ("/site/weather/atlantis.html", {}, 404, "No forecast for a city called atlantis."),
        ("/site/weather/radar", {}, 404, "There is no page at /site/weather/radar."),
        ("/site/quotes/nothing", {}, 404, "There is no page at /site/quotes/nothing."),
        ("/site/members/", {}, 200, 'class="login"'),
        ("/site/members/plans", {}, 200, "Collector"),
        ("/site/members/login", {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}, 200, "member-token"),
        ("/site/members/login", {"username": DEMO_USERNAME, "password": "nope"}, 401, "Invalid username or password."),
        ("/site/members/profile", {}, 401, "Please log in: this page is for members only."),
        ("/site/members/orders", {"token": "mbr-forged"}, 401, "Please log in"),
        ("/site/members/nothing", {}, 404, "There is no page at /site/members/nothing."),
    ],
)
async def test_the_new_pages_answer_with_real_statuses(
    client: httpx2.AsyncClient, path: str, params: dict[str, str], status: int, text: str
) -> None:
    reply = await client.get(path, params=params)
    assert reply.status_code == status
    assert text in reply.text


async def test_the_members_pages_never_show_the_password(client: httpx2.AsyncClient) -> None:
    for password in (DEMO_PASSWORD, "a-wrong-password"):
        reply = await client.get("/site/members/login", params={"username": DEMO_USERNAME, "password": password})
        assert password not in reply.text


async def test_a_members_token_opens_the_members_pages(client: httpx2.AsyncClient) -> None:
    welcome = (
        await client.get("/site/members/login", params={"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
    ).text
    token = welcome.split('class="member-token">')[1].split("<")[0]
    orders = await client.get("/site/members/orders", params={"token": token})
    assert (orders.status_code, orders.text.count('class="order"')) == (200, 3)


async def test_the_same_city_has_the_same_forecast_every_time(client: httpx2.AsyncClient) -> None:
    first = (await client.get("/site/weather/osaka.html")).text
    again = (await client.get("/site/weather/osaka.html")).text
    assert first == again
    assert first.count('class="day"') == 5


async def test_the_app_serves_the_new_pages_exactly_as_the_scrapers_read_them(client: httpx2.AsyncClient) -> None:
    for path in ("/site/quotes/", "/site/weather/leeds.html", "/site/members/plans"):
        page = render_site(path, {})
        reply = await client.get(path)
        assert (reply.status_code, reply.text) == (page.status, page.html)
