"""`parse-mcp demo`: a guided tour for a person, on the embedded sandbox, through a real MCP client.

It shows what an agent sees: a discovery, a successful call, then one failure of each kind with the
guidance the agent receives. Colour only on a terminal, and never when NO_COLOR is set.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from mcp import Client
from mcp.types import CallToolResult, TextContent

from parse_mcp.cli import sandbox_settings
from parse_mcp.sandbox import BOOKS_API_ID, BOOKS_TASK_ID, FAILURE_LAB_ID, create_app, running_sandbox
from parse_mcp.server import build_server

# (what a person should notice, tool arguments) for one failure of each kind an agent meets.
FAILURES: list[tuple[str, dict[str, Any]]] = [
    (
        "The agent sent a parameter the endpoint does not take: refused before any credit is spent.",
        {"scraper_id": BOOKS_API_ID, "endpoint": "get_book", "params": {"title": "Dune"}},
    ),
    (
        "The scraper itself rejected a value: the field to fix is named.",
        {
            "scraper_id": FAILURE_LAB_ID,
            "endpoint": "search_flights",
            "params": {"origin": "LIS", "destination": "OPO", "trip_type": "return"},
        },
    ),
    (
        "The book does not exist: the site's own 404. Retrying the same input is pointless.",
        {"scraper_id": BOOKS_API_ID, "endpoint": "get_book", "params": {"slug": "no-such-book_1"}},
    ),
    (
        "Anti-bot protection, with a time to retry: wait, then the same call.",
        {"scraper_id": FAILURE_LAB_ID, "endpoint": "blocked", "params": {"retry_after": 60}},
    ),
    (
        "Anti-bot protection with no time to retry: stop.",
        {"scraper_id": FAILURE_LAB_ID, "endpoint": "blocked", "params": {}},
    ),
    (
        "The scraper crashed: the API needs a revision, not a retry.",
        {"scraper_id": FAILURE_LAB_ID, "endpoint": "scraper_bug", "params": {}},
    ),
    (
        "A task id used where a scraper id belongs: the server spots it and prepares the right call.",
        {"scraper_id": BOOKS_TASK_ID, "endpoint": "list_books", "params": {}},
    ),
    (
        "A login session expired: log in again.",
        {"scraper_id": FAILURE_LAB_ID, "endpoint": "session_expired", "params": {}},
    ),
    (
        "The account is out of credits: only the person can fix that.",
        {"scraper_id": FAILURE_LAB_ID, "endpoint": "credits_exhausted", "params": {}},
    ),
    (
        "A body the service never documents: a bug to report, not to retry.",
        {"scraper_id": FAILURE_LAB_ID, "endpoint": "malformed_success", "params": {}},
    ),
    (
        # Last: from here on the server holds every call back until midnight, without spending requests.
        "The daily cap is reached: the agent is told when it resets.",
        {"scraper_id": FAILURE_LAB_ID, "endpoint": "daily_limit", "params": {}},
    ),
]


class Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def title(self, text: str) -> str:
        return self._wrap("1", text)

    def good(self, text: str) -> str:
        return self._wrap("32", text)

    def bad(self, text: str) -> str:
        return self._wrap("33", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)


def _style() -> Style:
    return Style(sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb")


async def run_demo() -> int:
    style = _style()
    async with running_sandbox(create_app()) as base_url:
        settings = sandbox_settings(base_url)
        async with Client(build_server(settings)) as client:
            print(style.title("parse-mcp demo") + style.dim(f"  (sandbox at {base_url}, a real MCP client)"))
            await _discovery(client, style)
            await _failures(client, style)
    print()
    print(style.title("Done.") + " Every failure above reached the agent as one action word and a ready next call.")
    return 0


async def _discovery(client: Client, style: Style) -> None:
    _heading(style, "1. Find an API and call it")
    listed = await _call(client, style, "list_apis", {})
    for api in _structured(listed)["data"]["apis"]:
        endpoints = ", ".join(e["name"] for e in api["endpoints"])
        print(f"     {api['name']}  {style.dim(api['scraper_id'])}\n       endpoints: {endpoints}")
    book = await _call(
        client,
        style,
        "execute_endpoint",
        {"scraper_id": BOOKS_API_ID, "endpoint": "get_book", "params": {"slug": "a-light-in-the-attic_1000"}},
    )
    data = _structured(book)["data"]
    print(f"     {data['title']}: £{data['price']}, rated {data['rating']}/5")


async def _failures(client: Client, style: Style) -> None:
    _heading(style, "2. Every kind of failure, as the agent receives it")
    for note, arguments in FAILURES:
        print()
        print(f"   {style.dim(note)}")
        result = await _call(client, style, "execute_endpoint", arguments)
        structured = _structured(result)
        guidance = structured.get("guidance") or {}
        print(f"     {style.bad(_first_line(result))}")
        print(f"     {structured['summary']}")
        facts = f"fault={guidance.get('fault')} retryable={guidance.get('retryable')}"
        if guidance.get("fix_fields"):
            facts += f" fix_fields={guidance['fix_fields']}"
        print(f"     {style.dim(facts)}")
        if structured.get("next_call"):
            print(f"     next_call: {json.dumps(structured['next_call'], ensure_ascii=False)}")


async def _call(client: Client, style: Style, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    shown = json.dumps(arguments, ensure_ascii=False)
    print(f"   → {tool} {style.dim(shown)}")
    result = await client.call_tool(tool, arguments)
    if not result.is_error:
        print(f"     {style.good(_structured(result)['summary'])}")
    return result


def _heading(style: Style, text: str) -> None:
    print()
    print(style.title(text))


def _structured(result: CallToolResult) -> dict[str, Any]:
    return result.structured_content or {}


def _first_line(result: CallToolResult) -> str:
    block = result.content[0] if result.content else None
    return block.text.splitlines()[0] if isinstance(block, TextContent) else ""
