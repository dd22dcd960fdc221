"""AI Parser tools through a real MCP client against the sandbox, on virtual time: the whole cycle,
every status code of the reference, the FAILED status, and the guidance each one gets."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from parse_mcp.sandbox import SandboxConfig
from parse_mcp.sandbox.aiparser import AiParserConfig
from tests.conftest import Sandbox, started

pytestmark = pytest.mark.anyio

BOOK = "/site/catalogue/a-light-in-the-attic_1000/index.html"
OTHER_BOOK = "/site/catalogue/tipping-the-velvet_999/index.html"
LISTING = "/site/catalogue/page-1.html"
JS_BOOK = "/site/ai/js/book/a-light-in-the-attic_1000.html"


async def call(client: Client, tool: str, arguments: dict[str, Any], **options: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments, **options)
    assert result.structured_content is not None
    assert result.is_error is (not result.structured_content["ok"])
    content: dict[str, Any] = result.structured_content
    return content


async def create(client: Client, sandbox: Sandbox, *paths: str, **extra: Any) -> str:
    created = await call(client, "create_parser", {"name": "Books", "urls": [sandbox.url + p for p in paths], **extra})
    assert created["ok"] is True, created
    parser_id: str = created["data"]["id"]
    return parser_id


async def wait(client: Client, parser_id: str, **extra: Any) -> dict[str, Any]:
    """Wait until settled, following next_call while the parser is still generating."""
    arguments: dict[str, Any] = {"parser_id": parser_id, **extra}
    for _ in range(5):
        result = await call(client, "wait_for_parser", arguments)
        next_call = result["next_call"]
        if not (next_call and next_call["tool"] == "wait_for_parser"):
            return result
        arguments = next_call["arguments"]
    raise AssertionError("the parser never settled")


async def test_the_whole_cycle_create_wait_parse_update_wait_parse_delete(sandbox: Sandbox, client: Client) -> None:
    parser_id = await create(client, sandbox, BOOK, OTHER_BOOK)
    progress: list[str | None] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    first = await call(client, "wait_for_parser", {"parser_id": parser_id}, progress_callback=on_progress)
    assert first["next_call"] == {
        "tool": "wait_for_parser",
        "arguments": {"parser_id": parser_id, "timeout_seconds": 30},
    }
    assert progress == [f"parser {parser_id}: GENERATING"], "one notification per status, not per poll"
    finished = await wait(client, parser_id)
    assert finished["data"]["status"] == "FINISHED"
    assert finished["next_call"] is None, "the page to parse is the agent's choice, not upstream text"
    assert "parse_url" in finished["next_step"]

    parsed = await call(client, "parse_url", {"parser_id": parser_id, "url": sandbox.url + BOOK})
    assert parsed["data"]["result"]["title"] == "A Light in the Attic"
    assert "summary" not in parsed["data"]["result"]

    updated = await call(
        client,
        "update_parser",
        {"parser_id": parser_id, "add_fields": [{"name": "summary", "description": "The book's description"}]},
    )
    assert updated["data"]["version"] == 1
    assert updated["next_call"] == {"tool": "wait_for_parser", "arguments": {"parser_id": parser_id, "version": 1}}
    assert (await wait(client, parser_id, version=1))["data"]["status"] == "FINISHED"

    again = await call(client, "parse_url", {"parser_id": parser_id, "url": sandbox.url + BOOK})
    assert again["data"]["version"] == 1
    assert "Poems and drawings" in again["data"]["result"]["summary"]

    deleted = await call(client, "delete_parser", {"parser_id": parser_id})
    assert deleted["ok"] is True
    gone = await call(client, "get_parser", {"parser_id": parser_id})
    assert gone["guidance"]["action"] == "check_id"


async def test_rename_and_remove_apply_at_once(sandbox: Sandbox, client: Client) -> None:
    parser_id = await create(client, sandbox, BOOK)
    await wait(client, parser_id)
    renamed = await call(
        client,
        "update_parser",
        {"parser_id": parser_id, "rename_fields": [{"name": "title", "new_name": "book_title"}]},
    )
    assert renamed["next_call"] is None
    parsed = await call(client, "parse_url", {"parser_id": parser_id, "url": sandbox.url + BOOK})
    assert parsed["data"]["result"]["book_title"] == "A Light in the Attic"


@pytest.mark.parametrize(
    ("paths", "extra", "cause"),
    [
        ([JS_BOOK], {}, "JavaScript rendering"),
        (["/site/ai/blocked/shop.html"], {}, "inaccessible or blocked"),
        ([BOOK, LISTING], {}, "different page types"),
    ],
)
async def test_a_failed_generation_is_an_observation_that_names_the_cause(
    sandbox: Sandbox, client: Client, paths: list[str], extra: dict[str, Any], cause: str
) -> None:
    parser_id = await create(client, sandbox, *paths, **extra)
    result = await wait(client, parser_id)
    assert result["ok"] is True
    assert result["data"]["status"] == "FAILED"
    assert "FAILED to generate; data.error has the service's words." in result["summary"]
    assert cause in result["next_step"]
    assert result["next_call"] is None, "a new parser costs 30,000 credits: never a ready call"


async def test_a_js_site_generates_with_render(sandbox: Sandbox, client: Client) -> None:
    parser_id = await create(client, sandbox, JS_BOOK, scraper_params={"render": True})
    assert (await wait(client, parser_id))["data"]["status"] == "FINISHED"


async def test_parsing_a_generating_parser_says_to_wait_for_it(sandbox: Sandbox, client: Client) -> None:
    parser_id = await create(client, sandbox, BOOK)
    result = await call(client, "parse_url", {"parser_id": parser_id, "url": sandbox.url + BOOK})
    assert result["error"]["code"] == "parser_generating"
    assert result["guidance"]["action"] == "wait_for_completion"
    assert result["next_call"] == {"tool": "wait_for_parser", "arguments": {"parser_id": parser_id}}


async def test_parsing_with_a_failed_parser_says_to_recreate_it(sandbox: Sandbox, client: Client) -> None:
    parser_id = await create(client, sandbox, JS_BOOK)
    await wait(client, parser_id)
    result = await call(client, "parse_url", {"parser_id": parser_id, "url": sandbox.url + JS_BOOK})
    assert (result["error"]["code"], result["guidance"]["action"]) == ("parser_failed", "recreate_parser")
    assert result["next_call"] is None
    status = await call(client, "get_parser", {"parser_id": parser_id})
    reason = status["data"]["error"]
    assert reason
    assert result["error"]["message"] == reason, "the status document's error, in error"
    assert reason not in result["summary"]
    assert reason not in result["next_step"]


async def test_a_refused_update_of_a_version_still_generating_waits_for_that_version(
    sandbox: Sandbox, client: Client
) -> None:
    parser_id = await create(client, sandbox, BOOK)
    await wait(client, parser_id)
    change = {"add_fields": [{"name": "summary", "description": "The book's description"}]}
    assert (await call(client, "update_parser", {"parser_id": parser_id, **change}))["data"]["version"] == 1
    again = await call(client, "update_parser", {"parser_id": parser_id, "version": 1, **change})
    assert again["error"]["http_status"] == 400
    assert (again["error"]["code"], again["guidance"]["action"]) == ("parser_generating", "wait_for_completion")
    assert again["guidance"]["fix_fields"] == []
    assert again["next_call"] == {"tool": "wait_for_parser", "arguments": {"parser_id": parser_id, "version": 1}}
    finished = await call(client, "update_parser", {"parser_id": parser_id, "version": 0, **change})
    assert finished["ok"] is True, "version 0 is FINISHED: the same change is accepted there"


async def test_an_extraction_failure_suggests_render_when_it_was_not_set(sandbox: Sandbox, client: Client) -> None:
    parser_id = await create(client, sandbox, BOOK)
    await wait(client, parser_id)
    arguments = {"parser_id": parser_id, "url": sandbox.url + JS_BOOK}
    result = await call(client, "parse_url", arguments)
    assert result["error"]["http_status"] == 500
    assert result["guidance"] == {
        "action": "retry_later",
        "fault": "target_site",
        "retryable": True,
        "retry_after_seconds": 30,
        "fix_fields": ["scraper_params.render"],
    }
    assert result["next_call"] == {"tool": "parse_url", "arguments": {**arguments, "scraper_params": {"render": True}}}
    blocked = await call(
        client,
        "parse_url",
        {"parser_id": parser_id, "url": sandbox.url + "/site/ai/blocked/shop.html", "scraper_params": {"render": True}},
    )
    assert blocked["guidance"]["fix_fields"] == []


async def test_a_request_the_service_refuses_names_the_field(sandbox: Sandbox, client: Client) -> None:
    parser_id = await create(client, sandbox, BOOK)
    await wait(client, parser_id)
    result = await call(client, "update_parser", {"parser_id": parser_id, "remove_fields": ["no_such_field"]})
    assert result["error"]["http_status"] == 400
    assert result["guidance"]["action"] == "fix_input"
    assert result["guidance"]["fix_fields"] == ["remove_fields"]


async def test_an_unknown_parser_points_at_the_listing(client: Client) -> None:
    result = await call(client, "get_parser", {"parser_id": "no-such-parser"})
    assert result["error"]["http_status"] == 404
    assert result["guidance"]["action"] == "check_id"
    assert result["next_call"] == {"tool": "list_parsers", "arguments": {}}


async def test_a_wrong_key_asks_the_user_about_the_scraperapi_variable(sandbox: Sandbox) -> None:
    from dataclasses import replace

    from parse_mcp.settings import Secret

    settings = replace(sandbox.settings(), scraperapi_key=Secret("not-the-key"))
    async with Client(sandbox.server(settings)) as wrong:
        result = await call(wrong, "list_parsers", {})
    assert result["error"]["http_status"] == 401
    assert result["guidance"]["action"] == "ask_user"
    assert "SCRAPERAPI_API_KEY" in result["next_step"]
    assert "not-the-key" not in str(result)


async def test_exhausted_credits_ask_the_user() -> None:
    async with (
        started(SandboxConfig(aiparser=AiParserConfig(credits=100))) as sandbox,
        Client(sandbox.server()) as client,
    ):
        result = await call(client, "create_parser", {"name": "x", "urls": [sandbox.url + BOOK]})
    assert result["error"]["http_status"] == 402
    assert result["guidance"]["action"] == "ask_user"
    assert result["meta"]["attempts"] == 1


async def test_a_rate_limit_longer_than_the_call_may_wait_is_retry_later() -> None:
    async with (
        started(SandboxConfig(aiparser=AiParserConfig(requests_per_minute=1))) as sandbox,
        Client(sandbox.server()) as client,
    ):
        parser_id = await create(client, sandbox, BOOK)
        await wait(client, parser_id)
        url = sandbox.url + BOOK
        assert (await call(client, "parse_url", {"parser_id": parser_id, "url": url}))["ok"] is True
        limited = await call(client, "parse_url", {"parser_id": parser_id, "url": url})
    assert limited["error"]["http_status"] == 429
    assert limited["guidance"]["action"] == "retry_later"
    assert limited["guidance"]["retry_after_seconds"] is not None
    assert limited["guidance"]["retry_after_seconds"] > 15


@pytest.mark.parametrize(
    ("arguments", "fields"),
    [
        ({"name": "x", "urls": []}, ["urls"]),
        ({"name": "x", "urls": ["a", "b", "c", "d"]}, ["urls"]),
        ({"name": "x", "urls": ["https://a.example/1", "https://b.example/2"]}, ["urls"]),
        (
            {
                "name": "x",
                "urls": ["https://a.example/1"],
                "fields": [{"name": "p", "description": "d", "type": "int"}],
            },
            ["fields.0.type"],
        ),
        (
            {"name": "x", "urls": ["https://a.example/1"], "scraper_params": {"country_code": "usa"}},
            ["scraper_params.country_code"],
        ),
        (
            {"name": "x", "urls": ["https://a.example/1"], "scraper_params": {"premium": True, "ultra_premium": True}},
            ["scraper_params"],
        ),
    ],
)
async def test_bad_input_is_refused_before_any_call_with_the_fields_named(
    client: Client, arguments: dict[str, Any], fields: list[str]
) -> None:
    result = await call(client, "create_parser", arguments)
    assert result["guidance"]["action"] == "fix_input"
    assert result["guidance"]["fix_fields"] == fields
    assert "attempts" not in result["meta"]


async def test_an_update_with_no_operation_is_refused_locally(client: Client) -> None:
    result = await call(client, "update_parser", {"parser_id": "p"})
    assert result["guidance"]["action"] == "fix_input"
    assert "at least one of add_fields" in result["summary"]


async def test_delete_is_the_only_destructive_tool_and_never_a_next_call(client: Client) -> None:
    tools = (await client.list_tools()).tools
    destructive = [t.name for t in tools if t.annotations and t.annotations.destructive_hint]
    assert destructive == ["delete_parser"]
    assert "30,000" in next(t.description or "" for t in tools if t.name == "create_parser")
