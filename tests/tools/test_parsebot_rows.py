"""Every row of the contract's Parse.bot failure table, driven through a real MCP client against the
sandbox, with the exact guidance asserted in both channels."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from parse_mcp.policy.pacing import seconds_to_utc_midnight
from parse_mcp.results import ToolResult
from parse_mcp.runtime import Runtime
from parse_mcp.sandbox import (
    BOOKS_API_ID,
    BOOKS_TASK_ID,
    EXPIRED_PARSEBOT_KEY,
    FAILURE_LAB_ID,
    FAILURE_LAB_TASK_ID,
    ManualClock,
)
from parse_mcp.server import build_server
from parse_mcp.settings import Secret, Settings
from tests.conftest import Sandbox
from tests.hostile_upstream import SteppingTime
from tests.text_channel import read, text_of

pytestmark = pytest.mark.anyio

SAME = object()  # next_call is the same call again


@dataclass(frozen=True)
class Row:
    arguments: dict[str, Any]
    action: str
    fault: str
    retryable: bool
    retry_after_seconds: float | None = None
    fix_fields: list[str] = field(default_factory=list)
    next_call: object = None
    code: str = ""


def lab(endpoint: str, **params: Any) -> dict[str, Any]:
    return {"scraper_id": FAILURE_LAB_ID, "endpoint": endpoint, "params": params}


def books(endpoint: str, **params: Any) -> dict[str, Any]:
    return {"scraper_id": BOOKS_API_ID, "endpoint": endpoint, "params": params}


DESCRIBE_LAB = {"tool": "describe_api", "arguments": {"scraper_id": FAILURE_LAB_ID}}
LOGIN_LAB = {"tool": "login", "arguments": {"scraper_id": FAILURE_LAB_ID}}


def revise_lab(description: str) -> dict[str, Any]:
    return {"tool": "revise_api", "arguments": {"task_id": FAILURE_LAB_TASK_ID, "description": description}}


AUTH_FIX = "Update the stored credentials or request headers so the site accepts the scraper again."

ROWS: dict[str, Row] = {
    "422 stale_input input_format_invalid": Row(
        lab("search_flights", origin="LIS", destination="OPO", trip_type="return"),
        "fix_input",
        "caller",
        False,
        None,
        ["trip_type"],
        DESCRIBE_LAB,
        "input_invalid",
    ),
    "422 stale_input without a kind": Row(
        lab("search_flights", origin="LIS", destination="OPO", trip_type="one_way", date="2026/12/01"),
        "fix_input",
        "caller",
        False,
        None,
        ["date"],
        DESCRIBE_LAB,
        "input_invalid",
    ),
    "422 stale_input input_not_found": Row(
        lab("get_job", job_id="gone-42"), "change_input", "caller", False, code="input_not_found"
    ),
    "422 input_not_found from a withdrawn book": Row(
        books("get_book", slug="the-requiem-red_995"), "change_input", "caller", False, code="input_not_found"
    ),
    "502 upstream 404 from the site's own page": Row(
        books("get_book", slug="no-such-book_1"), "change_input", "target_site", False, code="upstream_not_found"
    ),
    "502 upstream 410": Row(
        lab("fetch_status", code=410), "change_input", "target_site", False, code="upstream_not_found"
    ),
    "502 upstream 401": Row(
        lab("fetch_status", code=401),
        "revise_api",
        "scraper",
        False,
        None,
        [],
        revise_lab(
            'The fetch_status endpoint fails when called with {"code": 401}: the target site refuses the scraper '
            f"with HTTP 401 (upstream_error). {AUTH_FIX}"
        ),
        "upstream_auth",
    ),
    "502 upstream 403": Row(
        lab("fetch_status", code=403),
        "revise_api",
        "scraper",
        False,
        None,
        [],
        revise_lab(
            'The fetch_status endpoint fails when called with {"code": 403}: the target site refuses the scraper '
            f"with HTTP 403 (upstream_error). {AUTH_FIX}"
        ),
        "upstream_auth",
    ),
    "502 upstream 429": Row(
        lab("fetch_status", code=429), "retry_later", "target_site", True, 30, [], SAME, "upstream_transient"
    ),
    "502 upstream 503": Row(
        lab("fetch_status", code=503), "retry_later", "target_site", True, 30, [], SAME, "upstream_transient"
    ),
    # Transient by definition (RFC 9110), though neither reference lists them.
    "502 upstream 408": Row(
        lab("fetch_status", code=408), "retry_later", "target_site", True, 30, [], SAME, "upstream_transient"
    ),
    "502 upstream 425": Row(
        lab("fetch_status", code=425), "retry_later", "target_site", True, 30, [], SAME, "upstream_transient"
    ),
    "502 upstream other": Row(
        lab("fetch_status", code=418), "do_not_retry", "target_site", False, code="upstream_other"
    ),
    "503 blocked with retry_after": Row(
        lab("blocked", retry_after=60), "retry_later", "anti_bot", True, 60, [], SAME, "blocked_transient"
    ),
    "503 blocked without retry_after": Row(
        lab("blocked"),
        "do_not_retry",
        "anti_bot",
        False,
        None,
        [],
        revise_lab(
            "The blocked endpoint fails when called with no parameters: the site's bot protection blocks every "
            "proxy (blocked, antibot_unsolvable). Make the scraper get past the site's protection reliably."
        ),
        "blocked",
    ),
    "500 scraper_bug": Row(
        lab("scraper_bug"),
        "revise_api",
        "scraper",
        False,
        None,
        [],
        revise_lab(
            "The scraper_bug endpoint fails when called with no parameters: it fails with HTTP 500 (scraper_bug). "
            "Fix the endpoint so it returns data for valid input."
        ),
        "scraper_bug",
    ),
    "429 burst": Row(lab("burst_limit"), "retry_later", "rate_limit", True, 5, [], SAME, "rate_limited_burst"),
    "429 daily": Row(
        lab("daily_limit"),
        "ask_user",
        "rate_limit",
        True,
        seconds_to_utc_midnight(ManualClock().now()),
        code="rate_limited_daily",
    ),
    "400 snapshot version": Row(
        {**books("list_books"), "snapshot_version": 0},
        "fix_input",
        "caller",
        False,
        None,
        ["snapshot_version"],
        None,
        "bad_snapshot_version",
    ),
    "400 session pair": Row(lab("session_required"), "login", "caller", False, None, [], LOGIN_LAB, "session_pair"),
    "401 session expired": Row(
        lab("session_expired"), "login", "caller", False, None, [], LOGIN_LAB, "session_expired"
    ),
    "402 credits exhausted": Row(lab("credits_exhausted"), "ask_user", "account", False, code="credits_exhausted"),
    "403 plan": Row(lab("plan_required"), "ask_user", "account", False, code="forbidden"),
    "404 scraper not found": Row(
        {"scraper_id": "no-such-api", "endpoint": "list_books", "params": {}},
        "check_id",
        "caller",
        False,
        None,
        [],
        {"tool": "list_apis", "arguments": {}},
        "id_not_found",
    ),
    "404 with a task id given as a scraper id": Row(
        {"scraper_id": BOOKS_TASK_ID, "endpoint": "list_books", "params": {}},
        "check_id",
        "caller",
        False,
        None,
        [],
        {"tool": "execute_endpoint", "arguments": books("list_books")},
        "id_not_found",
    ),
    "5xx without an envelope": Row(
        lab("proxy_error", code=504), "retry_later", "service", True, 15, [], SAME, "service_unavailable"
    ),
    "2xx body the API does not document": Row(
        lab("malformed_success"), "report_bug", "service", False, code="unexpected_response"
    ),
}


def assert_guidance(result: CallToolResult, arguments: dict[str, Any], row: Row) -> None:
    assert result.is_error is True
    structured = result.structured_content
    assert structured is not None
    ToolResult.model_validate(structured)
    assert structured["ok"] is False
    assert structured["error"]["code"] == row.code
    assert structured["guidance"] == {
        "action": row.action,
        "fault": row.fault,
        "retryable": row.retryable,
        "retry_after_seconds": row.retry_after_seconds,
        "fix_fields": row.fix_fields,
    }
    expected_call = {"tool": "execute_endpoint", "arguments": arguments} if row.next_call is SAME else row.next_call
    assert structured["next_call"] == expected_call
    text = read(result)
    assert text.head == [f"{row.action}: {structured['next_step']}", structured["summary"]]
    assert text.own["guidance"] == structured["guidance"]
    assert text.own["next_call"] == structured["next_call"]
    assert text.merged() == structured


@pytest.mark.parametrize("name", list(ROWS))
async def test_each_documented_failure_reaches_the_agent_as_exact_guidance(client: Client, name: str) -> None:
    row = ROWS[name]
    result = await client.call_tool("execute_endpoint", row.arguments)
    assert_guidance(result, row.arguments, row)


async def test_a_refused_key_asks_the_user_to_fix_it(sandbox: Sandbox) -> None:
    arguments = books("list_books")
    async with Client(sandbox.server(sandbox.settings(key="pmx_wrong"))) as wrong:
        result = await wrong.call_tool("execute_endpoint", arguments)
    assert_guidance(result, arguments, Row(arguments, "ask_user", "account", False, code="unauthorized"))
    assert "PARSE_API_KEY" in str(result.structured_content)


async def test_an_expired_key_asks_the_user_too(sandbox: Sandbox) -> None:
    arguments = books("list_books")
    async with Client(sandbox.server(sandbox.settings(key=EXPIRED_PARSEBOT_KEY))) as expired:
        result = await expired.call_tool("execute_endpoint", arguments)
    assert_guidance(result, arguments, Row(arguments, "ask_user", "account", False, code="unauthorized"))


async def test_a_wrong_base_path_is_a_bug_report_not_a_retry(sandbox: Sandbox) -> None:
    arguments = books("list_books")
    async with Client(sandbox.server(sandbox.settings(base_path="/v1"))) as misrouted:
        result = await misrouted.call_tool("execute_endpoint", arguments)
    assert_guidance(result, arguments, Row(arguments, "report_bug", "client", False, code="path_not_found"))


async def test_a_service_that_cannot_be_reached_is_retry_later_on_the_network() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = Settings(parse_api_key=Secret("pmx_sandbox"), parse_base_url=f"http://127.0.0.1:{closed_port}")
    time = SteppingTime()
    runtime = Runtime(clock=time.clock, sleep=time.sleep, random=lambda: 0.0)
    async with Client(build_server(settings, runtime=runtime)) as unreachable:
        result = await unreachable.call_tool("list_apis", {})
    assert result.structured_content is not None
    assert result.structured_content["guidance"] == {
        "action": "retry_later",
        "fault": "network",
        "retryable": True,
        "retry_after_seconds": 5,
        "fix_fields": [],
    }
    assert result.structured_content["next_call"] == {"tool": "list_apis", "arguments": {}}


async def test_arguments_the_schema_refuses_still_get_the_one_result_shape(client: Client) -> None:
    result = await client.call_tool("execute_endpoint", {"scraper_id": BOOKS_API_ID, "endpoint": 7, "params": []})
    assert result.is_error is True
    structured = result.structured_content
    assert structured is not None
    ToolResult.model_validate(structured)
    assert structured["guidance"]["action"] == "fix_input"
    assert structured["guidance"]["fix_fields"] == ["endpoint", "params"]
    assert text_of(result).startswith("fix_input: Correct endpoint, params and call again.")


async def test_an_unknown_tool_gets_the_one_result_shape(client: Client) -> None:
    result = await client.call_tool("no_such_tool", {})
    assert result.structured_content is not None
    assert result.structured_content["guidance"]["fix_fields"] == ["name"]


async def test_a_crash_inside_a_tool_is_reported_as_a_bug_without_its_details(sandbox: Sandbox) -> None:
    server = sandbox.server()

    def explode() -> str:
        raise RuntimeError("internal detail pmx_sandbox")

    server.add_tool(explode)
    async with Client(server) as crashing:
        result = await crashing.call_tool("explode", {})
    assert result.structured_content is not None
    assert result.structured_content["guidance"]["action"] == "report_bug"
    assert "internal detail" not in text_of(result)


async def test_a_session_handle_this_server_never_issued_asks_for_a_login(client: Client) -> None:
    arguments = {**lab("session_required"), "session": "sess_forged"}
    result = await client.call_tool("execute_endpoint", arguments)
    assert result.structured_content is not None
    assert result.structured_content["error"]["code"] == "unknown_session"
    assert result.structured_content["guidance"]["action"] == "login"
    assert result.structured_content["guidance"]["fix_fields"] == []


async def test_an_endpoint_the_api_does_not_have_lists_the_ones_it_has(client: Client) -> None:
    result = await client.call_tool("execute_endpoint", books("get_books"))
    assert result.structured_content is not None
    assert result.structured_content["guidance"]["fix_fields"] == ["endpoint"]
    assert "list_books, get_book, search_books" in result.structured_content["summary"]
