"""What is a client's stays that client's: login handles and the count of repeated failures, over real
streamable HTTP, told apart by bearer token or, without one, by the legacy era's MCP session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client

from parse_mcp.http_security import HttpSecurity, http_security
from parse_mcp.sandbox import BOOKS_API_ID, DEMO_PASSWORD, DEMO_USERNAME, MEMBERS_API_ID, SandboxConfig
from parse_mcp.settings import Secret
from tests.conftest import Sandbox, started
from tests.test_http_security import bearer, mcp_client, serving

pytestmark = pytest.mark.anyio

TOKENS = [f"tok_client_{n:02d}_" + "q7W2e9R4t6Y1u3I8" for n in range(10)]
CREDENTIALS = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}


def security(*tokens: str) -> HttpSecurity:
    return http_security("127.0.0.1", [Secret(token) for token in tokens])


@asynccontextmanager
async def served(sandbox: Sandbox, guard: HttpSecurity) -> AsyncIterator[str]:
    async with serving(guard, sandbox.server()) as url:
        yield url


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content


async def orders_with(client: Client, handle: str) -> dict[str, Any]:
    arguments = {"scraper_id": MEMBERS_API_ID, "endpoint": "get_profile", "params": {}, "session": handle}
    return await call(client, "execute_endpoint", arguments)


async def log_in(client: Client) -> str:
    logged_in = await call(client, "login", {"scraper_id": MEMBERS_API_ID, "credentials": CREDENTIALS})
    assert logged_in["ok"] is True, logged_in
    handle: str = logged_in["data"]["session"]
    return handle


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_login_handle_works_for_the_token_that_made_it_and_for_no_other(sandbox: Sandbox, mode: str) -> None:
    async with (
        served(sandbox, security(TOKENS[0], TOKENS[1])) as url,
        mcp_client(url, mode, bearer(TOKENS[0])) as owner,
        mcp_client(url, mode, bearer(TOKENS[1])) as other,
    ):
        handle = await log_in(owner)
        stolen = await orders_with(other, handle)
        mine = await orders_with(owner, handle)
        async with mcp_client(url, mode, bearer(TOKENS[0])) as owner_again:
            reconnected = await orders_with(owner_again, handle)
    assert stolen["ok"] is False
    assert stolen["error"]["code"] == "unknown_session"
    assert stolen["guidance"]["action"] == "login"
    assert "another client" in stolen["summary"]
    assert mine["ok"] is True, mine
    assert reconnected["ok"] is True, "the same token is the same client, whatever its MCP session"


async def test_without_a_token_each_legacy_mcp_session_is_its_own_client(sandbox: Sandbox) -> None:
    async with (
        served(sandbox, security()) as url,
        mcp_client(url, "legacy") as owner,
        mcp_client(url, "legacy") as other,
    ):
        handle = await log_in(owner)
        stolen = await orders_with(other, handle)
        mine = await orders_with(owner, handle)
    assert stolen["error"]["code"] == "unknown_session"
    assert mine["ok"] is True, mine


async def test_concurrent_identical_calls_from_many_clients_are_not_repeats() -> None:
    # One token left in the bucket and one a minute after: nearly every call is held back, and only
    # has to wait; none of them is an agent blindly repeating a failure.
    async with (
        started(SandboxConfig(burst=1, refill_per_minute=1.0)) as sandbox,
        served(sandbox, security(*TOKENS)) as url,
    ):
        results: list[dict[str, Any]] = []
        arguments = {"scraper_id": BOOKS_API_ID, "endpoint": "list_books", "params": {}}

        async def one_client(token: str) -> None:
            async with mcp_client(url, "auto", bearer(token)) as client, anyio.create_task_group() as group:
                for _ in range(20):
                    group.start_soon(lambda: _collect(client, arguments, results))

        async with anyio.create_task_group() as group:
            for token in TOKENS:
                group.start_soon(one_client, token)
    held_back = [r for r in results if r.get("error", {}).get("code") == "rate_limited_burst"]
    assert len(results) == 200
    assert len(held_back) >= 190
    assert [r for r in results if "times in a row" in r["summary"]] == []
    assert {r["guidance"]["action"] for r in held_back} == {"retry_later"}


async def test_a_client_repeating_a_failing_call_in_turn_is_told_to_stop_and_another_client_is_not(
    sandbox: Sandbox,
) -> None:
    arguments = {"scraper_id": MEMBERS_API_ID, "endpoint": "get_profile", "params": {}, "session": "sess_unknown"}
    async with (
        served(sandbox, security(TOKENS[0], TOKENS[1])) as url,
        mcp_client(url, "auto", bearer(TOKENS[0])) as repeating,
        mcp_client(url, "auto", bearer(TOKENS[1])) as other,
    ):
        streak = []
        for _ in range(3):
            streak.append(await call(repeating, "execute_endpoint", arguments))
            sandbox.clock.advance(2)  # the agent reads the answer before it calls again
        first_of_other = await call(other, "execute_endpoint", arguments)
    assert [r["guidance"]["action"] for r in streak] == ["login", "login", "ask_user"]
    assert first_of_other["guidance"]["action"] == "login"


async def _collect(client: Client, arguments: dict[str, Any], into: list[dict[str, Any]]) -> None:
    into.append(await call(client, "execute_endpoint", arguments))
