"""End to end: `parse-mcp --sandbox` as a subprocess, over stdio and over streamable HTTP."""

from __future__ import annotations

import sys

import anyio
import pytest
from mcp import Client, StdioServerParameters

from parse_mcp.sandbox import BOOKS_API_ID, PARSEBOT_KEY
from tests.processes import drain_stderr, free_port, keyless_env, read_until_listening, sandbox_http_server

pytestmark = pytest.mark.anyio

EXPECTED_TOOLS = {
    "execute_endpoint",
    "list_apis",
    "describe_api",
    "search_marketplace",
    "get_marketplace_api",
    "create_api",
    "list_tasks",
    "get_task",
    "wait_for_task",
    "revise_api",
    "check_updates",
    "preview_update",
    "merge_updates",
    "login",
    "create_parser",
    "get_parser",
    "list_parsers",
    "update_parser",
    "delete_parser",
    "parse_url",
    "wait_for_parser",
    "read_result",
}


async def exercise(client: Client) -> None:
    tools = {tool.name for tool in (await client.list_tools()).tools}
    assert tools == EXPECTED_TOOLS
    listed = await client.call_tool("list_apis", {})
    assert listed.structured_content is not None
    assert listed.structured_content["ok"] is True
    result = await client.call_tool(
        "execute_endpoint",
        {"scraper_id": BOOKS_API_ID, "endpoint": "get_book", "params": {"slug": "a-light-in-the-attic_1000"}},
    )
    assert result.structured_content is not None
    assert result.structured_content["data"]["title"] == "A Light in the Attic"
    missing = await client.call_tool(
        "execute_endpoint", {"scraper_id": BOOKS_API_ID, "endpoint": "get_book", "params": {"slug": "nope_1"}}
    )
    assert missing.structured_content is not None
    assert missing.structured_content["guidance"]["action"] == "change_input"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_server_speaks_stdio_with_nothing_but_protocol_on_stdout(mode: str) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "parse_mcp.cli", "--sandbox", "--log-level", "debug"], env=keyless_env()
    )
    with anyio.fail_after(60):
        async with Client(params, mode=mode) as client:
            await exercise(client)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_server_speaks_streamable_http(mode: str) -> None:
    port = free_port()
    with sandbox_http_server(port) as process:
        await read_until_listening(process)
        logs = drain_stderr(process)
        with anyio.fail_after(60):
            async with Client(f"http://127.0.0.1:{port}/mcp", mode=mode) as client:
                await exercise(client)
        process.terminate()
        logged = logs()
    assert b"POST /scraper/" in logged, "debug logging should have shown the upstream calls"
    assert PARSEBOT_KEY.encode() not in logged
    assert b"Exception in ASGI application" not in logged, "ending a session must not break a request still open"
