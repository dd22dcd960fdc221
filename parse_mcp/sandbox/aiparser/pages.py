"""The target-site pages that only the AI Parser emulator needs, under /site/ai/.

Two families reach the documented generation failures on purpose: a bookshop that is an empty shell until
its JavaScript runs, and pages behind a bot wall. `run_javascript` is the emulator's headless browser:
it does exactly what the shell's inline script does in a real browser, so `render=true` sees the same page
a person sees.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from html import escape

from parse_mcp.sandbox.scenarios.books.pages import BOOKS_BY_SLUG, Book, book_markup, listed_books
from parse_mcp.sandbox.site.page import SitePage, html_page

PREFIX = "/site/ai/"
# The id of the bot wall's challenge box: the fetcher recognises a block by it, as a scraping API
# recognises a vendor's challenge page, whatever status code came with it.
BOT_WALL_ID = "bot-wall"
APP_ID = "app"

_JS_BOOK = re.compile(r"/site/ai/js/book/([^/]+)\.html")
_EMPTY_APP = f'<div id="{APP_ID}"></div>'
_APP_DATA = re.compile(r'<script type="application/json" id="app-data">(.*?)</script>', re.DOTALL)
# The shell's whole program: put the server-rendered fragment into the app root. run_javascript mirrors it.
_BOOT_SCRIPT = (
    "<script>document.getElementById('app').innerHTML ="
    " JSON.parse(document.getElementById('app-data').textContent).html;</script>"
)


def js_book_path(book: Book) -> str:
    return f"/site/ai/js/book/{book.slug}.html"


def render_page(path: str, query: Mapping[str, str]) -> SitePage | None:
    """The page at `path` when it is under /site/ai/ (an unknown one is a 404 page); None for any other path."""
    del query  # no /site/ai/ page reads its query string; the parameter keeps the site's render signature
    if path != PREFIX.rstrip("/") and not path.startswith(PREFIX):
        return None
    if path in {PREFIX, PREFIX.rstrip("/")}:
        return _index()
    if path.startswith(PREFIX + "blocked/"):
        return _bot_wall()
    if match := _JS_BOOK.fullmatch(path):
        return _js_book(match.group(1))
    return _not_found(f"There is no page at {escape(path)}.")


def run_javascript(html: str) -> str:
    """The page after its scripts ran: a JavaScript shell gets its content, any other page stays as it is."""
    data = _APP_DATA.search(html)
    if data is None or _EMPTY_APP not in html:
        return html
    fragment = json.loads(data.group(1)).get("html", "")
    return html.replace(_EMPTY_APP, f'<div id="{APP_ID}">{fragment}</div>', 1)


def _index() -> SitePage:
    books = "".join(f'<li><a href="{js_book_path(book)}">{escape(book.title)}</a></li>' for book in listed_books())
    body = (
        "<h1>AI Parser practice pages</h1>"
        "<p>Pages that make an AI Parser fail the way the real service documents it.</p>"
        "<h2>A shop that needs JavaScript</h2>"
        "<p>Each book page is an empty shell until its script runs: create the parser with "
        "<code>scraper_params.render = true</code> and parse with <code>render=true</code>.</p>"
        f'<ul class="js-books">{books}</ul>'
        "<h2>A shop behind a bot wall</h2>"
        '<p>Every page under <a href="/site/ai/blocked/book/a-light-in-the-attic_1000.html">/site/ai/blocked/</a> '
        "answers HTTP 403 with a challenge, so its URLs are blocked.</p>"
    )
    return SitePage(200, html_page("AI Parser practice pages", body))


def _js_book(slug: str) -> SitePage:
    book = BOOKS_BY_SLUG.get(slug)
    if book is None or book.withdrawn:
        return _not_found(f"No book in the JavaScript shop has the address {escape(slug)}.")
    # Escaped so the fragment can never close its script element, nor read as markup to an HTML parser.
    data = json.dumps({"html": _book_fragment(book)})
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    body = (
        f"{_EMPTY_APP}"
        "<noscript><p>This shop needs JavaScript to show its books. Turn JavaScript on and reload.</p></noscript>"
        f'<script type="application/json" id="app-data">{data}</script>'
        f"{_BOOT_SCRIPT}"
    )
    return SitePage(200, html_page("Bookshop", body))


def _book_fragment(book: Book) -> str:
    """The rendered book: the catalogue's book markup, so one reader serves both shops."""
    return book_markup(book, home=PREFIX, listing=PREFIX)


def _bot_wall() -> SitePage:
    body = (
        f'<div id="{BOT_WALL_ID}" class="challenge"><h1>Checking your browser</h1>'
        "<p>This site is protected against automated access. Prove you are human to continue.</p>"
        '<form class="captcha"><label><input type="checkbox" name="human"> I am not a robot</label></form></div>'
    )
    return SitePage(403, html_page("Just a moment...", body))


def _not_found(detail: str) -> SitePage:
    body = f'<h1>Page not found</h1><p>{detail}</p><p><a href="/site/ai/">Back to the practice pages</a></p>'
    return SitePage(404, html_page("404 Not Found", body))
