"""Spending the budget well, through a real MCP client against the sandbox on virtual time:
pacing, the retries that are safe, the repeated-failure breaker, and size limits."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import anyio
import pytest
from mcp import Client
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from parse_mcp.sandbox import BOOKS_API_ID, FAILURE_LAB_ID, SandboxConfig
from parse_mcp.server import build_server
from tests.conftest import Sandbox, started

pytestmark = pytest.mark.anyio

LIST_BOOKS = {"scraper_id": BOOKS_API_ID, "endpoint": "list_books", "params": {}}


def lab(endpoint: str, **params: Any) -> dict[str, Any]:
    return {"scraper_id": FAILURE_LAB_ID, "endpoint": endpoint, "params": params}


async def structured(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content


async def test_concurrent_calls_share_the_bucket_and_no_429_reaches_the_agent() -> None:
    async with started(SandboxConfig(burst=3, refill_per_minute=60.0)) as sandbox:
        server = sandbox.server()
        results: list[dict[str, Any]] = []
        async with Client(server) as client:
            await structured(client, "describe_api", {"scraper_id": BOOKS_API_ID})  # the schema, cached once

            async def one() -> None:
                results.append(await structured(client, "execute_endpoint", LIST_BOOKS))

            with anyio.fail_after(10):
                async with anyio.create_task_group() as group:
                    for _ in range(12):
                        group.start_soon(one)
    assert [r.get("error", {}).get("code") for r in results] == [None] * 12
    assert {r["meta"]["attempts"] for r in results} == {1}, "no call was answered 429 and retried"
    assert max(r["meta"]["waited_seconds"] for r in results) > 0, "some calls were held back to wait their turn"


async def test_a_wait_longer_than_the_call_may_wait_is_answered_at_once_without_a_request() -> None:
    async with (
        started(SandboxConfig(burst=1, refill_per_minute=1.0)) as sandbox,
        Client(sandbox.server()) as client,
    ):
        first = await structured(client, "execute_endpoint", LIST_BOOKS)
        second = await structured(client, "execute_endpoint", LIST_BOOKS)
    assert first["ok"] is True
    assert first["meta"]["rate_limit_remaining"] == 0
    assert second["error"]["code"] == "rate_limited_burst"
    assert second["guidance"]["action"] == "retry_later"
    assert second["guidance"]["retry_after_seconds"] == 61
    assert second["meta"]["attempts"] == 0
    assert sandbox.slept == []


async def test_a_429_whose_wait_fits_is_retried_and_reported_in_meta(sandbox: Sandbox, client: Client) -> None:
    result = await structured(client, "execute_endpoint", lab("burst_limit"))
    assert result["guidance"]["action"] == "retry_later"
    assert result["meta"]["attempts"] == 3
    assert result["meta"]["waited_seconds"] == 10.0
    assert sandbox.slept == [5, 5]


async def test_a_gateway_failure_on_a_get_is_retried_with_backoff(sandbox: Sandbox, client: Client) -> None:
    result = await structured(client, "execute_endpoint", lab("proxy_error", code=503))
    assert result["guidance"]["action"] == "retry_later"
    assert result["meta"]["attempts"] == 3
    assert sandbox.slept == [0.5, 1.0]


@pytest.mark.parametrize(
    "arguments",
    [lab("scraper_bug"), lab("blocked", retry_after=1), lab("fetch_status", code=503), lab("malformed_success")],
)
async def test_a_post_that_may_have_run_is_never_retried(
    sandbox: Sandbox, client: Client, arguments: dict[str, Any]
) -> None:
    result = await structured(client, "execute_endpoint", arguments)
    assert result["ok"] is False
    assert result["meta"]["attempts"] == 1
    assert sandbox.slept == []


class GatewayOutage:
    """The service's edge proxy failing in front of one path: 503 with its own HTML page, no JSON envelope
    and no account headers, whatever the method. The request may or may not have reached the service."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self._app = app
        self._path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self._path:
            page = HTMLResponse("<html><body><h1>503 Service Unavailable</h1></body></html>", status_code=503)
            await page(scope, receive, send)
            return
        await self._app(scope, receive, send)


@pytest.mark.parametrize(("endpoint", "attempts", "slept"), [("proxy_error", 3, [0.5, 1.0]), ("scraper_bug", 1, [])])
async def test_a_gateway_503_is_retried_on_a_get_and_never_on_a_post_that_may_have_run(
    sandbox: Sandbox, endpoint: str, attempts: int, slept: list[float]
) -> None:
    # proxy_error is a GET endpoint of the lab, scraper_bug a POST one: the same answer, two rules.
    assert sandbox.app is not None
    behind_outage = replace(sandbox, app=GatewayOutage(sandbox.app, f"/scraper/{FAILURE_LAB_ID}/{endpoint}"))
    async with Client(behind_outage.server()) as client:
        result = await structured(client, "execute_endpoint", lab(endpoint))
    assert result["guidance"]["action"] == "retry_later"
    assert result["meta"]["attempts"] == attempts
    assert sandbox.slept == slept


async def test_the_third_identical_failure_tells_the_agent_to_stop_and_ask(sandbox: Sandbox, client: Client) -> None:
    results = []
    for _ in range(3):
        results.append(await structured(client, "execute_endpoint", lab("blocked")))
        sandbox.clock.advance(2)  # the agent reads the answer before it calls again
    assert [r["guidance"]["action"] for r in results] == ["do_not_retry", "do_not_retry", "ask_user"]
    assert results[2]["summary"].startswith("This call has now failed 3 times in a row the same way (blocked).")
    assert results[2]["next_call"] is None
    assert results[2]["guidance"]["retryable"] is False
    other = await structured(client, "execute_endpoint", lab("blocked", retry_after=60))
    assert other["guidance"]["action"] == "retry_later", "other arguments are another call"


async def test_a_quiet_quarter_of_an_hour_starts_the_count_again(sandbox: Sandbox, client: Client) -> None:
    bad = {"scraper_id": BOOKS_API_ID, "endpoint": "list_books", "params": {"page": 99}}
    for _ in range(2):
        await structured(client, "execute_endpoint", bad)
    sandbox.clock.advance(16 * 60)
    again = await structured(client, "execute_endpoint", bad)
    assert again["guidance"]["action"] == "change_input"


async def test_a_large_payload_is_cut_to_valid_json_and_says_what_was_left_out(sandbox: Sandbox) -> None:
    settings = replace(sandbox.settings(), max_data_chars=400)
    async with Client(sandbox.server(settings)) as client:
        result = await structured(client, "execute_endpoint", LIST_BOOKS)
    assert result["ok"] is True
    assert result["meta"]["truncated"] is True
    assert result["meta"]["omitted"] == [
        {"path": "$.books", "kept": len(result["data"]["books"]), "total": 5, "unit": "items"}
    ]
    assert result["data"]["page"] == 1
    # The rest is kept here and read by pages, not paid for again.
    assert "read_result" in result["next_step"]
    assert result["next_call"] == {
        "tool": "read_result",
        "arguments": {"result_id": result["meta"]["result_id"], "cursor": str(len(result["data"]["books"]))},
    }


async def test_failure_texts_stay_well_under_ten_thousand_characters(client: Client) -> None:
    for arguments in (lab("fetch_status", code=404), lab("blocked"), lab("credits_exhausted")):
        result = await client.call_tool("execute_endpoint", arguments)
        text = result.content[0].text  # type: ignore[union-attr]
        assert len(text) < 4_000


@pytest.mark.parametrize(("budget", "slept"), [(8.0, [5]), (12.0, [5, 5]), (5.5, [])])
async def test_retries_of_a_429_wait_only_while_the_call_has_budget_left_for_one_more_request(
    budget: float, slept: list[float]
) -> None:
    # The lab's burst limit answers 429 with a 5 s wait each time: a wait is taken only when a request
    # (at least 1 s) still fits after it, so the budget decides how many, exactly.
    async with started(SandboxConfig()) as sandbox:
        server = build_server(
            sandbox.settings(),
            parsebot_transport=sandbox.transport(),
            runtime=sandbox.runtime,
            call_budget_seconds=budget,
        )
        async with Client(server) as client:
            result = await structured(client, "execute_endpoint", lab("burst_limit"))
    assert sandbox.slept == slept
    assert sum(sandbox.slept) + 1.0 <= budget
    assert result["error"]["code"] == "rate_limited_burst"
    assert result["guidance"]["action"] == "retry_later"
    assert result["meta"]["attempts"] == len(slept) + 1


@pytest.mark.parametrize(("budget", "slept", "attempts"), [(8.0, [], 0), (20.0, [10.0], 1)])
async def test_a_turn_is_waited_for_only_when_a_request_still_fits_in_the_budget_after_it(
    budget: float, slept: list[float], attempts: int
) -> None:
    # One token, refilled every 10 s: the second call must wait 10 s for its turn.
    async with started(SandboxConfig(burst=1, refill_per_minute=6.0)) as sandbox:
        server = build_server(
            sandbox.settings(),
            parsebot_transport=sandbox.transport(),
            runtime=sandbox.runtime,
            call_budget_seconds=budget,
        )
        async with Client(server) as client:
            await structured(client, "describe_api", {"scraper_id": BOOKS_API_ID})
            first = await structured(client, "execute_endpoint", LIST_BOOKS)
            second = await structured(client, "execute_endpoint", LIST_BOOKS)
    assert first["ok"] is True
    assert sandbox.slept == pytest.approx(slept, abs=0.1)  # the pacer keeps a small margin
    assert second["meta"]["attempts"] == attempts
    assert second["ok"] is (attempts == 1)


async def test_a_429_of_a_limit_no_reference_lists_holds_the_next_call_back_without_a_request(sandbox: Sandbox) -> None:
    # The lab answers 429 with limit_type 'concurrency' and a 20 s wait: the pacer believes the wait for every
    # call, whichever limit the service names, so the next call is refused here instead of meeting a 429.
    async with Client(sandbox.server()) as client:
        first = await structured(client, "execute_endpoint", lab("off_the_reference", answer="unlisted_limit"))
        second = await structured(client, "execute_endpoint", LIST_BOOKS)
    assert first["error"]["code"] == "rate_limited_unlisted"
    assert second["error"]["code"] == "rate_limited_burst"
    assert second["meta"]["attempts"] == 0
    assert 19 <= second["guidance"]["retry_after_seconds"] <= 21
