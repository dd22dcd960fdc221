"""`parse://usage/today` through real MCP clients: today's spend by service and endpoint, the reader's own spend
beside the account's total (never another client's name), what is left under each limit, and the time to UTC
midnight."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.types import TextResourceContents

from parse_mcp.http_security import principal_for
from parse_mcp.sandbox import FAILURE_LAB_ID
from parse_mcp.settings import Secret
from parse_mcp.state.ledger import utc_day
from parse_mcp.tools.usage import USAGE_URI
from tests.conftest import Sandbox
from tests.test_http_security import bearer, mcp_client, serving
from tests.tools.test_isolation import TOKENS, security

pytestmark = pytest.mark.anyio

ITEMS = {"scraper_id": FAILURE_LAB_ID, "endpoint": "list_items", "params": {"count": 2}}


async def today(client: Client) -> dict[str, Any]:
    read = await client.read_resource(USAGE_URI)
    content = read.contents[0]
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == "application/json"
    picture: dict[str, Any] = json.loads(content.text)
    return picture


async def test_the_resource_gives_todays_spend_what_is_left_under_each_limit_and_the_time_to_midnight(
    sandbox: Sandbox,
) -> None:
    server = sandbox.server(replace(sandbox.settings(), daily_credits=10, client_daily_credits=8))
    async with Client(server) as client:
        listed = {resource.uri for resource in (await client.list_resources()).resources}
        for _ in range(2):
            assert (await client.call_tool("execute_endpoint", ITEMS)).is_error is False
        picture = await today(client)
    assert USAGE_URI in listed
    now = sandbox.clock.now()
    assert picture["day"] == utc_day(now)
    assert picture["seconds_to_midnight"] == int(86_400 - now % 86_400)
    assert picture["by_service"] == {"parsebot": 6, "scraperapi": 0}
    assert picture["by_endpoint"] == [
        {"service": "parsebot", "api": FAILURE_LAB_ID, "endpoint": "list_items", "credits": 6}
    ]
    assert picture["by_client"] == {"this_client": 6, "all_clients": 6}
    assert picture["failures"] == {}
    assert picture["limits"] == [
        {
            "limit": "daily",
            "variable": "PARSE_MCP_DAILY_CREDITS",
            "credits_a_day": 10,
            "spent": 6,
            "reserved": 0,
            "left": 4,
        },
        {
            "limit": "client_daily",
            "variable": "PARSE_MCP_CLIENT_DAILY_CREDITS",
            "credits_a_day": 8,
            "spent": 6,
            "reserved": 0,
            "left": 2,
        },
    ]


async def test_without_a_limit_nothing_is_left_to_say_and_nothing_spent_reads_as_zero(client: Client) -> None:
    picture = await today(client)
    assert picture["limits"] == []
    assert picture["by_service"] == {"parsebot": 0, "scraperapi": 0}
    assert picture["by_client"] == {"this_client": 0, "all_clients": 0}


async def test_over_http_a_client_sees_its_own_spend_and_the_total_but_never_another_clients_name(
    sandbox: Sandbox,
) -> None:
    server = sandbox.server(replace(sandbox.settings(), client_daily_credits=100))
    async with (
        serving(security(TOKENS[0], TOKENS[1]), server) as url,
        mcp_client(url, "auto", bearer(TOKENS[0])) as mine,
        mcp_client(url, "legacy", bearer(TOKENS[1])) as theirs,
    ):
        for _ in range(2):
            await mine.call_tool("execute_endpoint", ITEMS)
        await theirs.call_tool("execute_endpoint", ITEMS)
        read = await mine.read_resource(USAGE_URI)
        their_picture = await today(theirs)
    content = read.contents[0]
    assert isinstance(content, TextResourceContents)
    picture = json.loads(content.text)
    assert picture["by_client"] == {"this_client": 6, "all_clients": 9}
    assert their_picture["by_client"] == {"this_client": 3, "all_clients": 9}
    assert picture["limits"][0]["left"] == 94, "the reader's own client limit"
    assert their_picture["limits"][0]["left"] == 97
    for name in (principal_for(Secret(TOKENS[1])), TOKENS[1], TOKENS[0]):
        assert name not in content.text


async def test_over_http_a_kept_answers_resource_is_read_as_the_client_whose_answer_it_is(sandbox: Sandbox) -> None:
    # resources/read is scoped to its client like a tool call (server.CallScope): the token's own kept answers.
    server = sandbox.server(replace(sandbox.settings(), max_data_chars=2_000))
    many = {**ITEMS, "params": {"count": 400}}
    async with (
        serving(security(TOKENS[0], TOKENS[1]), server) as url,
        mcp_client(url, "auto", bearer(TOKENS[0])) as mine,
        mcp_client(url, "auto", bearer(TOKENS[1])) as theirs,
    ):
        cut = await mine.call_tool("execute_endpoint", many)
        assert cut.structured_content is not None
        result_id = cut.structured_content["meta"]["result_id"]
        read = await mine.read_resource(f"parse://results/{result_id}")
        with pytest.raises(MCPError):
            await theirs.read_resource(f"parse://results/{result_id}")
    content = read.contents[0]
    assert isinstance(content, TextResourceContents)
    assert json.loads(content.text)["meta"]["result_id"] == result_id
