"""The Quotes (sandbox) API: an API of this account that needs a revision, and the scrapers a revision installs.

`get_author` was written for the author pages' old layout and crashes on the new one (500 scraper_bug);
`top_quotes` sends a member access token the site has rotated away from (502 upstream_error, 403). A
completed revision whose description names the endpoint swaps in the `revised` scraper.
"""

from __future__ import annotations

from parse_mcp.sandbox.parsebot.apis import ScraperApi, ScraperEndpoint, ScraperParam
from parse_mcp.sandbox.parsebot.envelopes import JsonObject, input_format_invalid
from parse_mcp.sandbox.parsebot.execution import Call, fetch_document, require
from parse_mcp.sandbox.parsebot.json_schema import INTEGER, STRING, array_of, obj
from parse_mcp.sandbox.scenarios.quotes.pages import ACCESS_TOKEN, EXPIRED_ACCESS_TOKEN
from parse_mcp.sandbox.site.dom import Element

QUOTES_API_ID = "7f3c2a91-4b8e-4d2a-9c61-9007e5000003"
QUOTES_TASK_ID = "task-7f3c2a91-quotes"
PAGE_MESSAGE = "page must be a positive integer"

_QUOTE = obj(text=STRING, author=STRING, author_slug=STRING, tags=array_of(STRING), likes=INTEGER)
_AUTHOR = obj(name=STRING, slug=STRING, born_date=STRING, born_place=STRING, bio=STRING)
_REVISE_HINT = (
    "Revise the API to fix it: POST /dispatch/tasks/{task}/revise with a description naming {name}; "
    "once that revision task is completed (about 22 s on the sandbox clock by default) the same call succeeds."
)


def list_quotes(call: Call) -> JsonObject:
    page = call.params.integer("page", PAGE_MESSAGE)
    if page is None or page < 1:
        raise input_format_invalid(PAGE_MESSAGE)
    path = "/site/quotes/" if page == 1 else f"/site/quotes/page/{page}/"
    document = fetch_document(call, path)
    words = require(document.find("li", cls="current")).text().split()
    return {"page": page, "pages": int(words[-1]), "quotes": _quotes(document)}


def quotes_by_tag(call: Call) -> JsonObject:
    tag = call.params.required_text("tag").strip().lower()
    if not tag or "/" in tag:
        raise input_format_invalid("tag must be a single word, e.g. 'life'")
    quotes = _quotes(fetch_document(call, f"/site/quotes/tag/{tag}/"))
    return {"tag": tag, "count": len(quotes), "quotes": quotes}


def get_author_before_revision(call: Call) -> JsonObject:
    # Written for <div class="author-details"><h3 class="author-title">: the redesign removed both.
    slug = call.params.required_text("slug")
    document = fetch_document(call, f"/site/quotes/author/{slug}/")
    details = require(document.find("div", cls="author-details"))
    return {"name": require(details.find("h3", cls="author-title")).text(), "slug": slug}


def get_author(call: Call) -> JsonObject:
    slug = call.params.required_text("slug")
    card = require(fetch_document(call, f"/site/quotes/author/{slug}/").find("section", cls="author-card"))
    return {
        "name": require(card.find("h2", cls="author-name")).text(),
        "slug": slug,
        "born_date": require(card.find("span", cls="born-date")).text(),
        "born_place": require(card.find("span", cls="born-place")).text(),
        "bio": require(card.find("div", cls="bio")).text(),
    }


def top_quotes_before_revision(call: Call) -> JsonObject:
    # The token stored when the API was built; the site has since rotated it, so it answers 403.
    return _top_quotes(call, EXPIRED_ACCESS_TOKEN)


def top_quotes(call: Call) -> JsonObject:
    return _top_quotes(call, ACCESS_TOKEN)


def _top_quotes(call: Call, token: str) -> JsonObject:
    quotes = _quotes(fetch_document(call, "/site/quotes/top", {"token": token}, query_is_secret=True))
    return {"count": len(quotes), "quotes": quotes}


def _quotes(document: Element) -> list[JsonObject]:
    return [_quote(block) for block in document.find_all("div", cls="quote")]


def _quote(block: Element) -> JsonObject:
    about = require(block.find("a"))
    return {
        "text": require(block.find("span", cls="text")).text(),
        "author": require(block.find("small", cls="author")).text(),
        "author_slug": [part for part in about.attrs.get("href", "").split("/") if part][-1],
        "tags": [tag.text() for tag in block.find_all("a", cls="tag")],
        "likes": int(block.attrs.get("data-likes", "0")),
    }


_AUTHOR_PARAMS = {
    "slug": ScraperParam("string", "The author's slug, as author_slug in a quote, e.g. 'mark-twain'.", True)
}
_AUTHOR_SAMPLE = {"slug": "albert-einstein"}
GET_AUTHOR = ScraperEndpoint(
    name="get_author",
    method="POST",
    description=(
        "Get an author's name, birth date, birth place and short biography by slug (author_slug in a quote). "
        "Revised: reads the redesigned author cards. An unknown slug fails with 502 upstream_error, "
        "upstream_status_code 404."
    ),
    handler=get_author,
    params=_AUTHOR_PARAMS,
    return_schema=_AUTHOR,
    sample_params=_AUTHOR_SAMPLE,
)
TOP_QUOTES = ScraperEndpoint(
    name="top_quotes",
    method="GET",
    description=(
        "The three most liked quotes, from the members-only top page. Revised: sends the site's current "
        "member access token."
    ),
    handler=top_quotes,
    return_schema=obj(count=INTEGER, quotes=array_of(_QUOTE)),
)
LIST_QUOTES = ScraperEndpoint(
    name="list_quotes",
    method="GET",
    description=(
        "List one page of quotes (4 a page): text, author, author_slug, tags and likes, with the page number "
        "and the number of pages. A page past the last fails with 502 upstream_error, upstream_status_code "
        "404; a page that is not a positive integer fails with 422 stale_input, kind input_format_invalid."
    ),
    handler=list_quotes,
    params={"page": ScraperParam("integer", "Page number, from 1.", default=1)},
    return_schema=obj(page=INTEGER, pages=INTEGER, quotes=array_of(_QUOTE)),
    sample_params={"page": 1},
)
QUOTES_BY_TAG = ScraperEndpoint(
    name="quotes_by_tag",
    method="GET",
    description="Every quote with a tag (e.g. life, books, science); a tag no quote has gives count 0.",
    handler=quotes_by_tag,
    params={"tag": ScraperParam("string", "One tag, e.g. 'life'.", required=True)},
    return_schema=obj(tag=STRING, count=INTEGER, quotes=array_of(_QUOTE)),
    sample_params={"tag": "life"},
)

QUOTES_API = ScraperApi(
    id=QUOTES_API_ID,
    slug="quotes-sandbox",
    name="Quotes (sandbox)",
    description=(
        "Reads the sandbox's quotes pages (/site/quotes/, 10 quotes by 4 authors). Two endpoints are broken "
        "on purpose until the API is revised, to rehearse the revision workflow: get_author answers 500 "
        "scraper_bug (the author pages were redesigned) and top_quotes answers 502 upstream_error with "
        f"upstream_status_code 403 (the stored member token expired). Revise task {QUOTES_TASK_ID} with a "
        "description naming the endpoint(s); a description naming none of them fails."
    ),
    site_path="/site/quotes/",
    task_id=QUOTES_TASK_ID,
    task="list quotes with their authors and tags, author details, and the members' top quotes",
    versions=(1,),
    endpoints=(
        LIST_QUOTES,
        QUOTES_BY_TAG,
        ScraperEndpoint(
            name="get_author",
            method="POST",
            description=(
                "BROKEN until revised: always 500 error, kind scraper_bug, because the author pages were "
                "redesigned after this scraper was written. "
                + _REVISE_HINT.format(task=QUOTES_TASK_ID, name="get_author")
            ),
            handler=get_author_before_revision,
            params=_AUTHOR_PARAMS,
            return_schema=_AUTHOR,
            sample_params=_AUTHOR_SAMPLE,
            revised=GET_AUTHOR,
        ),
        ScraperEndpoint(
            name="top_quotes",
            method="GET",
            description=(
                "BROKEN until revised: always 502 upstream_error with upstream_status_code 403, because the "
                "member access token stored in the API has expired. "
                + _REVISE_HINT.format(task=QUOTES_TASK_ID, name="top_quotes")
            ),
            handler=top_quotes_before_revision,
            return_schema=obj(count=INTEGER, quotes=array_of(_QUOTE)),
            revised=TOP_QUOTES,
        ),
    ),
)
