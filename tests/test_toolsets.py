"""A safe subset of the tools (`--read-only`, `--toolsets`): what is listed, what an unlisted tool answers,
and that no next_call ever names a tool the server does not list. Real MCP clients against the sandbox."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest
from mcp import Client

from parse_mcp.cli import main
from parse_mcp.errors import ConfigError
from parse_mcp.sandbox import BOOKS_API_ID, FAILURE_LAB_ID
from parse_mcp.server import AIPARSER_TOOLS, COMPANION_TOOLS, PARSEBOT_TOOLS, TOOLSETS, build_server, parse_toolsets
from parse_mcp.settings import Settings
from tests.conftest import Sandbox

pytestmark = pytest.mark.anyio

EVERY_TOOL = frozenset(spec.name for spec in PARSEBOT_TOOLS + AIPARSER_TOOLS + COMPANION_TOOLS)


def server_for(sandbox: Sandbox, *, read_only: bool = False, toolsets: Collection[str] | None = None) -> Any:
    return build_server(
        sandbox.settings(),
        parsebot_transport=sandbox.transport(),
        aiparser_transport=sandbox.transport(),
        runtime=sandbox.runtime,
        read_only=read_only,
        toolsets=toolsets,
    )


async def listed_names(server: Any) -> set[str]:
    async with Client(server) as client:
        return {tool.name for tool in (await client.list_tools()).tools}


async def structured(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content


def test_the_toolsets_cover_every_tool_but_the_companions_once() -> None:
    names = [name for tools in TOOLSETS.values() for name in tools]
    assert sorted(names) == sorted(EVERY_TOOL - {spec.name for spec in COMPANION_TOOLS})
    assert TOOLSETS["parsers"] == frozenset(spec.name for spec in AIPARSER_TOOLS)


async def test_read_only_lists_only_the_tools_hinted_read_only_and_parse_url_is_not_one(sandbox: Sandbox) -> None:
    async with Client(server_for(sandbox, read_only=True)) as client:
        tools = (await client.list_tools()).tools
    names = {tool.name for tool in tools}
    assert all(tool.annotations is not None and tool.annotations.read_only_hint for tool in tools)
    assert names == {
        "list_apis",
        "describe_api",
        "search_marketplace",
        "get_marketplace_api",
        "list_tasks",
        "get_task",
        "wait_for_task",
        "check_updates",
        "get_parser",
        "list_parsers",
        "wait_for_parser",
    }
    assert not names & {"parse_url", "execute_endpoint", "create_api", "create_parser", "delete_parser"}


async def test_without_a_flag_every_tool_is_listed(sandbox: Sandbox) -> None:
    assert await listed_names(server_for(sandbox)) == EVERY_TOOL


async def test_toolsets_list_only_their_tools(sandbox: Sandbox) -> None:
    names = await listed_names(server_for(sandbox, toolsets={"apis", "marketplace"}))
    # read_result comes with execute_endpoint, whose cut answers it reads.
    assert names == TOOLSETS["apis"] | TOOLSETS["marketplace"] | {"read_result"}


async def test_read_result_is_listed_with_a_tool_whose_answers_it_pages_and_only_then(sandbox: Sandbox) -> None:
    assert "read_result" in await listed_names(server_for(sandbox, toolsets={"parsers"}))
    assert "read_result" not in await listed_names(server_for(sandbox, toolsets={"tasks", "marketplace"}))
    assert "read_result" not in await listed_names(server_for(sandbox, read_only=True))


async def test_read_only_and_toolsets_combine(sandbox: Sandbox) -> None:
    names = await listed_names(server_for(sandbox, read_only=True, toolsets={"apis", "parsers"}))
    assert names == {"list_apis", "describe_api", "get_parser", "list_parsers", "wait_for_parser"}


async def test_a_tool_left_out_is_refused_exactly_like_a_tool_that_does_not_exist(sandbox: Sandbox) -> None:
    async with Client(server_for(sandbox, read_only=True)) as client:
        left_out = await client.call_tool("execute_endpoint", {"scraper_id": BOOKS_API_ID, "endpoint": "list_books"})
        missing = await client.call_tool("no_such_tool", {})
    assert left_out.is_error
    assert missing.is_error
    assert left_out.structured_content is not None
    assert missing.structured_content is not None
    refused, unknown = left_out.structured_content, missing.structured_content
    assert refused["summary"].replace("execute_endpoint", "no_such_tool") == unknown["summary"]
    assert refused["guidance"] == unknown["guidance"]
    assert "no tool named 'execute_endpoint'" in refused["error"]["message"]
    assert refused["meta"].get("attempts") is None, "nothing was sent upstream"


async def test_describe_api_offers_a_ready_execution_only_when_execute_endpoint_is_listed(sandbox: Sandbox) -> None:
    async with Client(server_for(sandbox)) as client:
        everything = await structured(client, "describe_api", {"scraper_id": BOOKS_API_ID})
    async with Client(server_for(sandbox, read_only=True)) as client:
        read_only = await structured(client, "describe_api", {"scraper_id": BOOKS_API_ID})
    assert everything["next_call"]["tool"] == "execute_endpoint"
    assert read_only["ok"] is True
    assert read_only["data"] == everything["data"]
    assert read_only["next_call"] is None
    assert read_only["next_step"] is None, "no sentence asks for a tool this client cannot call"


async def test_a_marketplace_listing_does_not_point_to_describe_api_outside_the_apis_toolset(sandbox: Sandbox) -> None:
    listing = {"listing": "city-weather-sandbox"}
    async with Client(server_for(sandbox)) as client:
        everything = await structured(client, "get_marketplace_api", listing)
    async with Client(server_for(sandbox, toolsets={"marketplace"})) as client:
        marketplace_only = await structured(client, "get_marketplace_api", listing)
    assert everything["next_call"]["tool"] == "describe_api"
    assert marketplace_only["ok"] is True
    assert marketplace_only["next_call"] is None


async def test_no_failure_guidance_names_a_tool_left_out(sandbox: Sandbox) -> None:
    # A broken endpoint's guidance is revise_api with a prepared call; without the tasks toolset it has none.
    broken = {"scraper_id": FAILURE_LAB_ID, "endpoint": "fetch_status", "params": {"code": 401}}
    async with Client(server_for(sandbox)) as client:
        everything = await structured(client, "execute_endpoint", broken)
    async with Client(server_for(sandbox, toolsets={"apis"})) as client:
        apis_only = await structured(client, "execute_endpoint", broken)
    assert everything["next_call"]["tool"] == "revise_api"
    assert apis_only["ok"] is False
    assert apis_only["next_call"] is None or apis_only["next_call"]["tool"] in TOOLSETS["apis"]


def test_an_unknown_toolset_is_refused_with_the_names_that_exist() -> None:
    with pytest.raises(ConfigError, match=r"unknown toolset bogus: choose from apis, tasks, marketplace, parsers"):
        parse_toolsets("apis,bogus")
    with pytest.raises(ConfigError, match="names no toolset"):
        parse_toolsets(" , ")
    assert parse_toolsets(" apis , parsers") == frozenset({"apis", "parsers"})
    assert parse_toolsets(None) is None


def test_build_server_refuses_an_unknown_toolset() -> None:
    with pytest.raises(ConfigError, match="unknown toolset shopping"):
        build_server(Settings(), toolsets={"apis", "shopping"})


def test_the_cli_stops_at_an_unknown_toolset_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sandbox", "--toolsets", "apis,shopping"]) == 2
    err = capsys.readouterr().err
    assert "unknown toolset shopping" in err
    assert "apis, tasks, marketplace, parsers" in err


async def test_a_prompt_is_offered_only_when_every_tool_it_walks_through_is_listed(sandbox: Sandbox) -> None:
    async with Client(server_for(sandbox)) as client:
        everything = {prompt.name for prompt in (await client.list_prompts()).prompts}
    async with Client(server_for(sandbox, toolsets={"parsers"})) as client:
        parsers_only = {prompt.name for prompt in (await client.list_prompts()).prompts}
    async with Client(server_for(sandbox, toolsets={"apis", "tasks"})) as client:
        repair = {prompt.name for prompt in (await client.list_prompts()).prompts}
    assert everything == {"recover_from_failed_call", "build_api_for_site", "repair_broken_endpoint"}
    assert parsers_only == set(), "every prompt walks through Parse.bot tools"
    assert "repair_broken_endpoint" in repair
    assert "build_api_for_site" not in repair, "it searches the marketplace, which is not listed"
