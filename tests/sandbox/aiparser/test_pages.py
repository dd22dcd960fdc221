"""The /site/ai/ practice pages: a shop that needs JavaScript and a shop behind a bot wall."""

from __future__ import annotations

import json
import re

import httpx2
import pytest

from parse_mcp.sandbox.aiparser import render_page
from parse_mcp.sandbox.aiparser.pages import run_javascript
from parse_mcp.sandbox.site.dom import parse_html
from tests.sandbox.aiparser.support import BLOCKED, BOOK, JS_BOOK, AiParser

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("path", ["/site/", BOOK, "/site/aiparser/", "/site/lab/", "/parsers"])
def test_paths_outside_site_ai_are_left_to_the_main_site(path: str) -> None:
    assert render_page(path, {}) is None


@pytest.mark.parametrize("path", ["/site/ai/", "/site/ai"])
def test_the_index_links_to_both_families(path: str) -> None:
    page = render_page(path, {})
    assert page is not None
    assert page.status == 200
    assert 'href="/site/ai/js/book/a-light-in-the-attic_1000.html"' in page.html
    assert 'href="/site/ai/blocked/book/a-light-in-the-attic_1000.html"' in page.html
    assert "the-requiem-red" not in page.html, "withdrawn books are not in the JavaScript shop"


def test_a_javascript_book_page_is_an_empty_shell_until_its_script_runs() -> None:
    page = render_page(JS_BOOK, {})
    assert page is not None
    assert page.status == 200
    shell = parse_html(page.html)
    app = shell.find(id_="app")
    assert app is not None
    assert app.elements() == []
    assert app.text() == ""
    assert shell.find("h1") is None


def test_running_the_script_fills_the_app_with_the_book() -> None:
    page = render_page(JS_BOOK, {})
    assert page is not None
    rendered = parse_html(run_javascript(page.html))
    main = rendered.find("div", cls="product_main")
    assert main is not None
    assert [element.text() for element in main.elements()[:3]] == [
        "A Light in the Attic",
        "£51.77",
        "In stock (22 available)",
    ]


def test_the_embedded_data_cannot_break_out_of_its_script_element() -> None:
    page = render_page("/site/ai/js/book/shakespeares-sonnets_991.html", {})
    assert page is not None
    data = re.search(r'id="app-data">(.*?)</script>', page.html)
    assert data is not None
    assert "<" not in data.group(1)
    assert "<h1>Shakespeare&#x27;s Sonnets</h1>" in json.loads(data.group(1))["html"]


def test_run_javascript_leaves_a_page_without_a_shell_unchanged() -> None:
    page = render_page("/site/ai/", {})
    assert page is not None
    assert run_javascript(page.html) == page.html


@pytest.mark.parametrize(
    "path", ["/site/ai/js/book/no-such-book_1.html", "/site/ai/js/book/the-requiem-red_995.html", "/site/ai/other"]
)
def test_unknown_practice_pages_answer_404(path: str) -> None:
    page = render_page(path, {})
    assert page is not None
    assert page.status == 404


@pytest.mark.parametrize("path", [BLOCKED, "/site/ai/blocked/", "/site/ai/blocked/catalogue/page-1.html"])
def test_every_page_under_blocked_is_a_bot_wall_answering_403(path: str) -> None:
    page = render_page(path, {})
    assert page is not None
    assert page.status == 403
    assert parse_html(page.html).find(id_="bot-wall") is not None


async def test_a_person_can_open_the_practice_pages_over_http(ai: AiParser) -> None:
    replies: list[httpx2.Response] = [await ai.http.get(path) for path in ("/site/ai/", JS_BOOK, BLOCKED)]
    assert [reply.status_code for reply in replies] == [200, 200, 403]
    assert "innerHTML" in replies[1].text
