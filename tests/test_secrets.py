"""Keys never reach a tool result, a log line or an exception text, whatever the call meets."""

from __future__ import annotations

import logging
from typing import Any

import httpx2
import pytest
from mcp import Client

from parse_mcp.sandbox import BOOKS_API_ID, FAILURE_LAB_ID, PARSEBOT_KEY, ManualClock, SandboxConfig, create_app
from parse_mcp.sandbox.aiparser import AIPARSER_KEY
from parse_mcp.server import build_server
from parse_mcp.settings import Secret, Settings
from tests.conftest import IN_PROCESS_URL, Sandbox

pytestmark = pytest.mark.anyio

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_apis", {}),
    ("describe_api", {"scraper_id": BOOKS_API_ID}),
    ("describe_api", {"scraper_id": "missing"}),
    ("execute_endpoint", {"scraper_id": BOOKS_API_ID, "endpoint": "list_books", "params": {"page": 1}}),
    ("execute_endpoint", {"scraper_id": BOOKS_API_ID, "endpoint": "get_book", "params": {"slug": "nope_1"}}),
    ("execute_endpoint", {"scraper_id": BOOKS_API_ID, "endpoint": "list_books", "params": {"page": "x"}}),
    ("execute_endpoint", {"scraper_id": FAILURE_LAB_ID, "endpoint": "blocked", "params": {}}),
    ("execute_endpoint", {"scraper_id": FAILURE_LAB_ID, "endpoint": "credits_exhausted", "params": {}}),
    ("execute_endpoint", {"scraper_id": FAILURE_LAB_ID, "endpoint": "proxy_error", "params": {"code": 502}}),
    ("execute_endpoint", {"scraper_id": BOOKS_API_ID, "endpoint": "nope", "params": {}}),
    ("execute_endpoint", {"scraper_id": BOOKS_API_ID, "endpoint": "list_books", "session": "sess_forged"}),
]


async def run_calls(client: Client) -> list[str]:
    seen: list[str] = []
    for name, arguments in CALLS:
        result = await client.call_tool(name, arguments)
        seen.append(repr(result.structured_content))
        seen.extend(getattr(block, "text", "") for block in result.content)
    return seen


async def test_the_key_appears_in_no_result_and_no_log_line(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with Client(sandbox.server()) as client:
        seen = await run_calls(client)
    assert len(seen) == 2 * len(CALLS)
    logged = [record.getMessage() for record in caplog.records] + [caplog.text]
    assert caplog.records, "the calls should have logged something to check"
    for text in seen + logged:
        assert PARSEBOT_KEY not in text


async def test_a_refused_key_is_not_echoed_back(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "pmx_not_the_right_key_123"
    async with Client(sandbox.server(sandbox.settings(key=wrong))) as client:
        seen = await run_calls(client)
    for text in [*seen, caplog.text]:
        assert wrong not in text


class Recorder:
    """ASGI middleware keeping what each request carried: where each key went is then checked."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, dict[str, str], str, bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def replay() -> Any:
            message = await receive()
            chunks.append(message.get("body", b""))
            return message

        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        try:
            await self.app(scope, replay, send)
        finally:
            self.seen.append((scope["path"], headers, scope["query_string"].decode(), b"".join(chunks)))


async def test_neither_key_is_sent_to_the_other_service_nor_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = ManualClock()
    recorder = Recorder(create_app(SandboxConfig(), clock))
    url = IN_PROCESS_URL
    settings = Settings(
        parse_api_key=Secret(PARSEBOT_KEY),
        parse_base_url=url,
        scraperapi_key=Secret(AIPARSER_KEY),
        aiparser_base_url=url,
    )
    recording = httpx2.ASGITransport(app=recorder)
    async with Client(build_server(settings, parsebot_transport=recording, aiparser_transport=recording)) as client:
        seen = await run_calls(client)
        parser_calls: list[tuple[str, dict[str, Any]]] = [
            ("list_parsers", {}),
            ("create_parser", {"name": "x", "urls": [url + "/site/catalogue/page-1.html"]}),
            ("get_parser", {"parser_id": "missing"}),
            ("parse_url", {"parser_id": "missing", "url": url + "/site/", "scraper_params": {"render": True}}),
            ("delete_parser", {"parser_id": "missing"}),
            ("update_parser", {"parser_id": "missing", "remove_fields": ["x"]}),
        ]
        for name, arguments in parser_calls:
            result = await client.call_tool(name, arguments)
            seen.append(repr(result.structured_content))
    parser_paths = ("/parsers", "/parse/")
    assert {path.startswith(parser_paths) for path, *_ in recorder.seen} == {True, False}
    for path, headers, query, body in recorder.seen:
        if path.startswith(parser_paths):
            assert "x-api-key" not in headers, path
            in_query, in_body = f"api_key={AIPARSER_KEY}" in query, f'"api_key":"{AIPARSER_KEY}"' in body.decode()
            assert in_query != in_body, path  # exactly one place, by method
        else:
            assert headers.get("x-api-key") == PARSEBOT_KEY, path
            assert "api_key" not in query, path
            assert b"api_key" not in body, path
    for text in [*seen, caplog.text]:
        assert PARSEBOT_KEY not in text
        assert f"api_key={AIPARSER_KEY}" not in text
        assert f'"api_key": "{AIPARSER_KEY}"' not in text
