"""`parse-mcp demo`: a guided tour for a person, on the embedded sandbox, through a real MCP client.

It shows what an agent sees: a discovery, a successful call, then one failure of each kind with the
guidance the agent receives. Colour only on a terminal, and never when NO_COLOR is set.

`sandbox_settings` is the one place the product points itself at the embedded sandbox; `parse-mcp --sandbox`
borrows it, so the cli imports this module (lazily, when asked for the sandbox) and this module never the cli.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from mcp import Client
from mcp.shared.dispatcher import ProgressFnT
from mcp.types import CallToolResult, TextContent

from parse_mcp.runtime import REAL_TIME, Runtime
from parse_mcp.sandbox import (
    BOOKS_API_ID,
    BOOKS_TASK_ID,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FAILURE_LAB_ID,
    MEMBERS_API_ID,
    PARSEBOT_KEY,
    QUOTES_API_ID,
    Clock,
    SandboxConfig,
    create_app,
    running_sandbox,
)
from parse_mcp.sandbox.aiparser import AIPARSER_KEY, AiParserConfig
from parse_mcp.server import build_server
from parse_mcp.settings import Secret, Settings

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
]

# Shown last: from then on the server holds every call back until midnight, without spending requests.
DAILY_CAP = (
    "The daily cap is reached: the agent is told when it resets, and the server holds further calls back.",
    {"scraper_id": FAILURE_LAB_ID, "endpoint": "daily_limit", "params": {}},
)

# Short build, revision and generation times, so that a person watches the whole tour in seconds. A wait polls
# after 1 s and then 2 s (tools.waiting): a build is seen queued, then running, then completed; a parser seen
# generating, then finished.
DEMO_CONFIG = SandboxConfig(
    queue_seconds=0.2, build_seconds=1.2, revision_seconds=1.2, aiparser=AiParserConfig(generation_seconds=0.8)
)


def sandbox_settings(base_url: str) -> Settings:
    """Both services pointed at one sandbox, with the keys it accepts (the demo's, and `parse-mcp --sandbox`'s)."""
    return Settings(
        parse_api_key=Secret(PARSEBOT_KEY),
        parse_base_url=base_url,
        scraperapi_key=Secret(AIPARSER_KEY),
        aiparser_base_url=base_url,
        sandbox=True,
    )


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


async def run_demo(*, clock: Clock | None = None, runtime: Runtime = REAL_TIME) -> int:
    """The tour, on real time by default; tests pass one clock for the sandbox and the server and run it on
    virtual time, so its builds and waits cost no real seconds."""
    style = _style()
    async with running_sandbox(create_app(DEMO_CONFIG, clock)) as base_url:
        settings = sandbox_settings(base_url)
        async with Client(build_server(settings, runtime=runtime)) as client:
            print(style.title("parse-mcp demo") + style.dim(f"  (sandbox at {base_url}, a real MCP client)"))
            await _discovery(client, style)
            await _failures(client, style)
            await _repair(client, style)
            await _build(client, style, base_url)
            await _login(client, style)
            await _parsers(client, style, base_url)
            _heading(style, "7. The last failure of the day")
            await _failure(client, style, *DAILY_CAP)
    print()
    print(
        style.title("Done.") + " Every failure reached the agent as one action word and, where one helps, a ready call."
    )
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
        await _failure(client, style, note, arguments)


async def _failure(client: Client, style: Style, note: str, arguments: dict[str, Any]) -> dict[str, Any]:
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
        print(f"     next_call: {_short(structured['next_call'])}")
    return structured


async def _repair(client: Client, style: Style) -> None:
    _heading(style, "3. The repair loop: a broken endpoint, revised, then working")
    failing = {"scraper_id": QUOTES_API_ID, "endpoint": "get_author", "params": {"slug": "albert-einstein"}}
    broken = await _failure(client, style, "The Quotes API's get_author crashes on every input.", failing)
    revised = await _follow(client, style, broken["next_call"])
    completed = await _follow(client, style, revised["next_call"], until_settled=True)
    # The completed revision's next_call is the call that failed: the loop ends where it began.
    fixed = await _follow(client, style, completed["next_call"])
    print(f"     {style.dim(_short(fixed['data'], 110))}")


async def _build(client: Client, style: Style, base_url: str) -> None:
    _heading(style, "4. Build an API from a URL, wait for it, call it")
    created = _structured(
        await _call(client, style, "create_api", {"url": base_url + "/site/catalogue/", "task": "book prices"})
    )
    done = await _follow(client, style, created["next_call"], until_settled=True)
    await _follow(client, style, done["next_call"])


async def _login(client: Client, style: Style) -> None:
    _heading(style, "5. Log in to an authenticated API")
    wrong = {"scraper_id": MEMBERS_API_ID, "credentials": {"username": DEMO_USERNAME, "password": "guess"}}
    refused = _structured(await _call(client, style, "login", wrong))
    print(f"     {style.bad(refused['guidance']['action'] + ': ' + refused['next_step'])}")
    right = {"scraper_id": MEMBERS_API_ID, "credentials": {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}}
    logged_in = _structured(await _call(client, style, "login", right))
    await _follow(client, style, logged_in["next_call"])


async def _parsers(client: Client, style: Style, base_url: str) -> None:
    _heading(style, "6. ScraperAPI AI Parser: create, wait, parse, add a field, parse again, delete")
    book = base_url + "/site/catalogue/a-light-in-the-attic_1000/index.html"
    created = _structured(await _call(client, style, "create_parser", {"name": "Books", "urls": [book]}))
    await _follow(client, style, created["next_call"], until_settled=True)
    parser_id = created["data"]["id"]
    # The example URLs are the service's text, so the answer names them in data, not in a ready call.
    parsed = _structured(await _call(client, style, "parse_url", {"parser_id": parser_id, "url": book}))
    print(f"     {style.dim(json.dumps(parsed['data']['result'], ensure_ascii=False)[:110])}")
    field = {"name": "summary", "description": "The book's description"}
    updated = _structured(await _call(client, style, "update_parser", {"parser_id": parser_id, "add_fields": [field]}))
    await _follow(client, style, updated["next_call"], until_settled=True)
    again = _structured(await _call(client, style, "parse_url", {"parser_id": parser_id, "url": book}))
    print(f"     summary: {style.dim(str(again['data']['result'].get('summary'))[:90])}")
    await _call(client, style, "delete_parser", {"parser_id": parser_id})
    js_page = base_url + "/site/ai/js/book/a-light-in-the-attic_1000.html"
    failed = _structured(await _call(client, style, "create_parser", {"name": "JS shop", "urls": [js_page]}))
    observed = await _follow(client, style, failed["next_call"], until_settled=True)
    print(f"     {style.bad('next_step: ' + observed['next_step'])}")


async def _follow(
    client: Client, style: Style, next_call: dict[str, Any], *, until_settled: bool = False
) -> dict[str, Any]:
    """Make the call the server prepared, as an agent would; for waits, keep waiting until settled."""

    # The parameter names are fixed by the SDK's ProgressFnT protocol.
    async def progress(progress: float, total: float | None, message: str | None) -> None:  # noqa: ARG001
        print(f"       {style.dim('progress: ' + (message or ''))}")

    while True:
        result = _structured(await _call(client, style, next_call["tool"], next_call["arguments"], progress))
        following = result.get("next_call")
        if not (until_settled and following and following["tool"] == next_call["tool"]):
            return result
        next_call = following


async def _call(
    client: Client, style: Style, tool: str, arguments: dict[str, Any], progress: ProgressFnT | None = None
) -> CallToolResult:
    print(f"   → {tool} {style.dim(_short(arguments))}")
    result = await client.call_tool(tool, arguments, progress_callback=progress)
    if not result.is_error:
        print(f"     {style.good(_structured(result)['summary'])}")
    return result


def _short(value: object, limit: int = 150) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _heading(style: Style, text: str) -> None:
    print()
    print(style.title(text))


def _structured(result: CallToolResult) -> dict[str, Any]:
    return result.structured_content or {}


def _first_line(result: CallToolResult) -> str:
    block = result.content[0] if result.content else None
    return block.text.splitlines()[0] if isinstance(block, TextContent) else ""
