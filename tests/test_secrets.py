"""Keys never reach a tool result, a log line or an exception text, whatever the call meets."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from mcp import Client

from parse_mcp.sandbox import BOOKS_API_ID, FAILURE_LAB_ID, PARSEBOT_KEY
from parse_mcp.server import build_server
from tests.conftest import Sandbox

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
    async with Client(build_server(sandbox.settings(), runtime=sandbox.runtime)) as client:
        seen = await run_calls(client)
    assert len(seen) == 2 * len(CALLS)
    logged = [record.getMessage() for record in caplog.records] + [caplog.text]
    assert caplog.records, "the calls should have logged something to check"
    for text in seen + logged:
        assert PARSEBOT_KEY not in text


async def test_a_refused_key_is_not_echoed_back(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "pmx_not_the_right_key_123"
    async with Client(build_server(sandbox.settings(key=wrong))) as client:
        seen = await run_calls(client)
    for text in [*seen, caplog.text]:
        assert wrong not in text
