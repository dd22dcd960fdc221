"""What a build from a URL ends as, decided deterministically from the URL and the sandbox site.

The rules, checked in this order (they are also in `dispatch.py`'s docstring):

1. a URL whose host is not the sandbox's own (host and port) -> `failed`: the sandbox only builds for its site;
2. a path containing `login`, `account` or `members` -> `may_require_auth: true`, then `failed`: authenticated
   APIs are built in the dashboard, never through the API;
3. a path containing `needs-input` -> `needs_input`, with the build's `question`;
   TEST-ONLY, not in the references: a path containing `test-only-unlisted-status` -> `on_hold`, a status no
   reference lists, which the task keeps (to rehearse a client's reading of a status it does not know);
4. a page the site does not answer with 2xx (404 for a page that does not exist) -> `failed`;
5. otherwise `completed`, with an API that really reads the site: the book scrapers for `/site/` and
   `/site/catalogue/...`, the quotes scrapers for `/site/quotes/...`, the weather scrapers for
   `/site/weather/...`, and for any other page one `read_page` endpoint returning its title, headings and links.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from parse_mcp.sandbox.parsebot.apis import ScraperApi, ScraperEndpoint
from parse_mcp.sandbox.parsebot.envelopes import JsonObject
from parse_mcp.sandbox.parsebot.execution import Call, Handler, fetch_document, site_url
from parse_mcp.sandbox.parsebot.json_schema import STRING, array_of, obj
from parse_mcp.sandbox.scenarios.books.api import BOOKS_API
from parse_mcp.sandbox.scenarios.quotes.api import QUOTES_API
from parse_mcp.sandbox.scenarios.weather.api import WEATHER_CANONICAL
from parse_mcp.sandbox.site.router import render as render_site

AUTH_WORDS = ("login", "account", "members")
NEEDS_INPUT_WORD = "needs-input"
UNLISTED_STATUS_WORD = "test-only-unlisted-status"
UNLISTED_TASK_STATUS = "on_hold"
OFF_HOST_ERROR = (
    "The sandbox only builds APIs for its own site: {url} is not on {netloc}. Use a page under {base}/site/."
)
AUTH_ERROR = (
    "This site needs a login. Authenticated APIs are built in the dashboard (parse.bot), not through the API: "
    "build it there as an Authenticated API."
)
PAGE_ERROR = "The page {url} answered HTTP {status}, so there is nothing to build an API from. Check the URL."
NEEDS_INPUT_QUESTION = (
    "The page {url} shows several kinds of records (listings, reviews and prices). Which of them should the "
    "API return, and which inputs should its endpoints take?"
)


@dataclass(frozen=True)
class BuildPlan:
    """How a build ends: `completed` (with the API it adds), `failed` (with `error`) or `needs_input`."""

    outcome: str
    may_require_auth: bool = False
    error: str | None = None
    question: str | None = None
    api: ScraperApi | None = None


@dataclass(frozen=True)
class BuildTarget:
    url: str
    task: str | None
    scraper_id: str
    task_id: str


def may_require_auth(url: str) -> bool:
    return any(word in unquote(urlsplit(url).path).lower() for word in AUTH_WORDS)


def plan_build(target: BuildTarget, base_url: str) -> BuildPlan:
    """The outcome of building `target.url` on the sandbox reached at `base_url`."""
    parts = urlsplit(target.url)
    sandbox_netloc = urlsplit(base_url).netloc
    if parts.netloc.lower() != sandbox_netloc.lower():
        error = OFF_HOST_ERROR.format(url=target.url, netloc=sandbox_netloc, base=base_url)
        return BuildPlan("failed", error=error)
    if may_require_auth(target.url):
        return BuildPlan("failed", may_require_auth=True, error=AUTH_ERROR)
    path = unquote(parts.path) or "/"
    if NEEDS_INPUT_WORD in path.lower():
        return BuildPlan("needs_input", question=NEEDS_INPUT_QUESTION.format(url=target.url))
    if UNLISTED_STATUS_WORD in path.lower():
        return BuildPlan(UNLISTED_TASK_STATUS)
    path = "/site/" if path == "/site" else path
    query = dict(parse_qsl(parts.query))
    # Only the site's pages can be scraped; the API's own routes are not a website.
    status = render_site(path, query).status if path.startswith("/site/") else 404
    if not 200 <= status < 300:
        return BuildPlan("failed", error=PAGE_ERROR.format(url=target.url, status=status))
    return BuildPlan("completed", api=_generated_api(target, path, query))


def _generated_api(target: BuildTarget, path: str, query: Mapping[str, str]) -> ScraperApi:
    name, slug, description, endpoints = _family(path, query)
    return ScraperApi(
        id=target.scraper_id,
        slug=f"{slug}-{target.scraper_id[-4:]}",
        name=name,
        description=f"{description} Built by task {target.task_id} from {target.url}.",
        site_path=path,
        task_id=target.task_id,
        task=target.task or "",
        endpoints=endpoints,
        versions=(1,),
    )


def _family(path: str, query: Mapping[str, str]) -> tuple[str, str, str, tuple[ScraperEndpoint, ...]]:
    """Name, slug stem, description and endpoints of the API a page of this part of the site yields."""
    if path == "/site/" or path.startswith("/site/catalogue/"):
        description = "Reads the sandbox's book shop: list a page of the catalogue, get one book, search titles."
        return "Books to Scrape (built)", "books-to-scrape-built", description, BOOKS_API.endpoints
    if path.startswith("/site/quotes/"):
        # A fresh build reads today's site, so it gets the scrapers a revision would install.
        endpoints = tuple(endpoint.revised or endpoint for endpoint in QUOTES_API.endpoints)
        description = "Reads the sandbox's quotes pages: quotes by page or tag, author details, top quotes."
        return "Quotes to Scrape (built)", "quotes-built", description, endpoints
    if path.startswith("/site/weather/"):
        description = "Five-day forecasts by city, from the sandbox's weather pages."
        return "City Weather (built)", "city-weather-built", description, WEATHER_CANONICAL.endpoints
    description = "Reads the one page it was built from: its title, headings and links."
    return f"Page reader ({path})", "page-reader", description, (_read_page(path, query),)


def _read_page(path: str, query: Mapping[str, str]) -> ScraperEndpoint:
    def read_page(call: Call) -> JsonObject:
        document = fetch_document(call, path, query)
        title = document.find("title")
        return {
            "url": site_url(call.base_url, path, query),
            "title": title.text() if title is not None else "",
            "headings": [el.text() for el in document.descendants() if el.tag in {"h1", "h2", "h3"}],
            "links": [{"text": a.text(), "href": a.attrs.get("href", "")} for a in document.find_all("a")],
        }

    handler: Handler = read_page
    return ScraperEndpoint(
        name="read_page",
        method="GET",
        description=(
            "Read the page this API was built from, as it is now: its title, its h1-h3 headings and its links. "
            "If the page stops answering 2xx, 502 upstream_error with the site's status."
        ),
        handler=handler,
        return_schema=obj(
            url=STRING, title=STRING, headings=array_of(STRING), links=array_of(obj(text=STRING, href=STRING))
        ),
    )
