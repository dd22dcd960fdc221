from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from parse_mcp.sandbox import SandboxConfig
from parse_mcp.sandbox.parsebot.params import decode_query
from parse_mcp.sandbox.site import router
from parse_mcp.sandbox.site.dom import parse_html
from parse_mcp.sandbox.site.page import SitePage, html_page
from tests.sandbox.support import books, lab, sandbox_client

SCRAPER_BUG = {
    "error": {
        "status": "error",
        "kind": "scraper_bug",
        "message": (
            "The scraper crashed during execution. This could be due to bad input, broken scraper code, "
            "or a website update."
        ),
    },
    "status_code": 500,
}


@pytest.mark.parametrize(
    "changes",
    [
        {"burst": 0},
        {"refill_per_minute": 0.0},
        {"daily_limit": -1},
        {"credits": -5},
        {"credits_limit": -1},
        {"queue_seconds": -1},
        {"build_seconds": -0.5},
        {"revision_seconds": -2},
        {"build_price": -75},
        {"session_ttl_seconds": 0},
        {"login_attempts_per_hour": 0},
    ],
)
def test_a_config_that_cannot_work_is_refused_at_construction(changes: Mapping[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must|cannot"):
        SandboxConfig(**changes)


def test_the_default_config_is_a_generous_account() -> None:
    assert SandboxConfig() == SandboxConfig(
        burst=30, refill_per_minute=60.0, daily_limit=1000, credits=10_000, credits_limit=10_000
    )


def test_the_default_config_builds_in_half_a_minute_and_caps_logins_at_three_an_hour() -> None:
    config = SandboxConfig()
    assert (config.queue_seconds, config.build_seconds, config.revision_seconds) == (2.0, 30.0, 20.0)
    assert (config.build_price, config.session_ttl_seconds, config.login_attempts_per_hour) == (75, 1800.0, 3)


def test_query_values_decode_by_declared_type_and_stay_text_when_they_do_not_parse() -> None:
    types = {"n": "integer", "x": "number", "flag": "boolean", "tags": "array", "opts": "object", "name": "string"}
    assert decode_query(
        [("n", "7"), ("x", "2.5"), ("flag", "False"), ("tags", '["a", 1]'), ("opts", '{"k": true}'), ("name", "7")],
        types,
    ) == {"n": 7, "x": 2.5, "flag": False, "tags": ["a", 1], "opts": {"k": True}, "name": "7"}
    assert decode_query(
        [("n", "seven"), ("x", "lots"), ("flag", "1"), ("tags", "a,b"), ("opts", "[1]"), ("extra", "[1]")], types
    ) == {"n": "seven", "x": "lots", "flag": "1", "tags": "a,b", "opts": "[1]", "extra": "[1]"}


def test_the_element_tree_tolerates_void_and_stray_tags() -> None:
    document = parse_html('<div class="a b"><br><img src="x"/><p>one &amp; <b>two</b></p></span>  three</div>')
    div = document.find("div", cls="b")
    assert div is not None
    assert [child.tag for child in div.elements()] == ["br", "img", "p"]
    assert div.text() == "one & two three"
    assert document.find("p", id_="missing") is None


@pytest.mark.anyio
async def test_a_site_redesign_turns_the_books_scraper_into_a_scraper_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    def redesigned(path: str, query: Mapping[str, str]) -> SitePage:
        return SitePage(200, html_page("New look", '<div class="grid"><h2>A Light in the Attic</h2></div>'))

    monkeypatch.setattr(router, "render", redesigned)
    async with sandbox_client() as client:
        listing = await client.get(books("list_books"))
        detail = await client.post(books("get_book"), json={"slug": "a-light-in-the-attic_1000"})
    assert (listing.status_code, listing.json()) == (500, SCRAPER_BUG)
    assert (detail.status_code, detail.json()) == (500, SCRAPER_BUG)
    assert detail.headers["X-Credits-Charged"] == "0"


@pytest.mark.anyio
async def test_an_unexpected_crash_inside_a_scraper_answers_scraper_bug(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def crashing(path: str, query: Mapping[str, str]) -> SitePage:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(router, "render", crashing)
    async with sandbox_client() as client:
        reply = await client.post(lab("get_job"), json={"job_id": "job-1"})
    assert (reply.status_code, reply.json()) == (500, SCRAPER_BUG)
    assert "sandbox scraper get_job crashed" in caplog.text
