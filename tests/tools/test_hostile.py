"""The server against a hostile upstream (a real HTTP server on 127.0.0.1): one test per failure it used to
have, each asserting the exact guidance and that no key leaked.

Time: the budget tests run on the real clock, with a budget of about a second, because what they prove
is that a real trickle or stall is cut; every other test runs on time that jumps by each sleep."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent

from parse_mcp.runtime import REAL_TIME, Runtime
from parse_mcp.server import ParseMCPServer, build_server
from parse_mcp.settings import Settings
from tests.hostile_upstream import (
    KEY_FORMS,
    NOT_FOUND,
    PARSE_KEY,
    SCRAPER_ID,
    SCRAPER_KEY,
    STALL,
    Answer,
    HostileUpstream,
    KeyForm,
    SteppingTime,
    documented_successes,
    echo_key,
    hostile_upstream,
    json_answer,
    key_forms,
    settings_for,
)

pytestmark = pytest.mark.anyio

EXECUTE = {"scraper_id": SCRAPER_ID, "endpoint": "get", "params": {}}
# How long a first call holds the others while the budget is unknown, shorter here than the product's 5 s: the test
# that waits it out waits it in real time.
PROBE_SECONDS = 1.5


def stepping_server(upstream: HostileUpstream, **options: Any) -> tuple[ParseMCPServer, SteppingTime]:
    clock = SteppingTime()
    runtime = Runtime(clock=clock.clock, sleep=clock.sleep, random=lambda: 0.0)
    return build_server(settings_for(upstream), runtime=runtime, **options), clock


@asynccontextmanager
async def upstream_with(plans: dict[str, Any]) -> AsyncIterator[HostileUpstream]:
    async with hostile_upstream({**documented_successes(), **plans}) as upstream:
        yield upstream


def structured(result: CallToolResult) -> dict[str, Any]:
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content


def everything_said(result: CallToolResult) -> str:
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    return "\n".join([*texts, json.dumps(result.structured_content)])


def leaked_forms(said: str) -> list[str]:
    """Every form of either key that appears in what the agent was told."""
    return [
        f"{key[:8]}…/{form}"
        for key in (PARSE_KEY, SCRAPER_KEY)
        for form, spelled in key_forms(key).items()
        if spelled in said or spelled.lower() in said.lower()
    ]


# -- hard deadlines ----------------------------------------------------------------------------------


async def test_an_answer_trickling_a_byte_at_a_time_is_cut_at_the_call_budget() -> None:
    trickle = Answer(
        200, (("Content-Type", "application/json"),), b'{"status": "success", "data": 1}', trickle_seconds=0.2
    )
    async with upstream_with({f"/scraper/{SCRAPER_ID}/": trickle}) as upstream:
        server = build_server(settings_for(upstream), runtime=REAL_TIME, call_budget_seconds=1.0)
        async with Client(server) as client:
            started = time.monotonic()
            with anyio.fail_after(10):
                result = structured(await client.call_tool("execute_endpoint", EXECUTE))
            elapsed = time.monotonic() - started
    assert elapsed < 2.5, "each byte resets a read timeout; only the call's budget ends it"
    assert result["error"]["code"] == "network_read"
    assert result["error"]["kind"] == "deadline"
    assert result["guidance"]["action"] == "retry_later"
    assert result["guidance"]["retryable"] is True
    assert "time budget ran out" in result["summary"]


async def test_a_build_cut_by_the_budget_is_never_repeated_and_points_at_the_task_list() -> None:
    async with upstream_with({"/dispatch": STALL}) as upstream:
        server = build_server(settings_for(upstream), runtime=REAL_TIME, call_budget_seconds=1.0)
        async with Client(server) as client:
            with anyio.fail_after(10):
                result = structured(await client.call_tool("create_api", {"url": "https://example.com/"}))
    assert [seen.path for seen in upstream.seen].count("/dispatch") == 1, "a build that may have started is not resent"
    assert result["error"]["code"] == "network_write"
    assert result["guidance"]["action"] == "do_not_retry"
    assert result["next_call"]["tool"] == "list_tasks"


async def test_slow_gateway_failures_and_their_retries_all_fit_in_one_budget() -> None:
    slow_503 = Answer(503, (("Content-Type", "text/html"),), b"<html>bad gateway</html>", trickle_seconds=0.05)
    async with upstream_with({"/sdk/schemas": slow_503}) as upstream:
        server = build_server(settings_for(upstream), runtime=REAL_TIME, call_budget_seconds=1.5)
        async with Client(server) as client:
            started = time.monotonic()
            with anyio.fail_after(10):
                result = structured(await client.call_tool("list_apis", {}))
            elapsed = time.monotonic() - started
    assert elapsed < 3.0
    assert result["guidance"]["action"] == "retry_later"


# -- a pacer that stays sane ----------------------------------------------------------------------------


async def test_a_retry_after_of_years_on_a_429_does_not_lock_the_server() -> None:
    hostile_429 = json_answer(
        {"error": "Rate limit exceeded", "limit_type": "burst"}, status=429, headers=(("Retry-After", "999999999"),)
    )
    async with upstream_with({f"/scraper/{SCRAPER_ID}/": hostile_429}) as upstream:
        server, clock = stepping_server(upstream)
        async with Client(server) as client:
            first = structured(await client.call_tool("execute_endpoint", EXECUTE))
            upstream.plan(f"/scraper/{SCRAPER_ID}/", json_answer({"status": "success", "data": [1]}))
            clock.now += 5
            second = structured(await client.call_tool("execute_endpoint", EXECUTE))
    assert first["guidance"]["action"] == "retry_later"
    assert (first["guidance"]["retry_after_seconds"] or 0) < 3600
    assert second["ok"] is True, second
    assert second["meta"]["waited_seconds"] < 5


async def test_a_vanishing_refill_rate_does_not_make_a_wait_of_years() -> None:
    headers = (
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Burst", "30"),
        ("X-RateLimit-Refill-Per-Min", "0.000001"),
    )
    answer = json_answer({"status": "success", "data": [1]}, headers=headers)
    async with upstream_with({f"/scraper/{SCRAPER_ID}/": answer}) as upstream:
        server, _clock = stepping_server(upstream)
        async with Client(server) as client:
            results = [structured(await client.call_tool("execute_endpoint", EXECUTE)) for _ in range(3)]
    assert [r["ok"] for r in results] == [True, True, True], results
    assert max(r["meta"]["waited_seconds"] for r in results) <= 15


async def test_a_stalled_first_call_holds_the_others_only_briefly_and_waiting_costs_no_cpu() -> None:
    # A first probe whose connection breaks, then a second one whose upstream never answers: the calls
    # behind it wait for its answer (they used to spin on the first probe's old wake-up).
    broken = Answer(200, (("Content-Type", "application/json"),), b'{"status": "success"}', reset_after_bytes=0)
    async with upstream_with({"/scraper/stalled/": STALL, "/scraper/broken/": broken}) as upstream:
        server = build_server(
            settings_for(upstream), runtime=REAL_TIME, call_budget_seconds=30.0, probe_timeout_seconds=PROBE_SECONDS
        )
        async with Client(server) as client:
            await client.call_tool("describe_api", {"scraper_id": "stalled"})
            first = await client.call_tool(
                "execute_endpoint", {"scraper_id": "broken", "endpoint": "get", "params": {}}
            )
            assert structured(first)["error"]["code"] == "network_read"
            done: list[dict[str, Any]] = []
            all_done = anyio.Event()
            cpu_started, started = time.process_time(), time.monotonic()
            with anyio.fail_after(20):
                async with anyio.create_task_group() as group:
                    stalled = {"scraper_id": "stalled", "endpoint": "get", "params": {}}
                    group.start_soon(client.call_tool, "execute_endpoint", stalled)
                    await anyio.wait_all_tasks_blocked()

                    async def waiting() -> None:
                        done.append(structured(await client.call_tool("execute_endpoint", EXECUTE)))
                        if len(done) == 5:
                            all_done.set()

                    for _ in range(5):
                        group.start_soon(waiting)
                    await all_done.wait()
                    group.cancel_scope.cancel()
            elapsed, cpu = time.monotonic() - started, time.process_time() - cpu_started
    assert [r["ok"] for r in done] == [True] * 5, done
    assert PROBE_SECONDS - 0.1 <= elapsed < PROBE_SECONDS + 3, "held the probe timeout, not the stalled call's budget"
    assert cpu < 0.5 * elapsed, f"{cpu:.2f} CPU-s in {elapsed:.2f} s: waiting must not spin"


# -- redaction on every path out ----------------------------------------------------------------------


@pytest.mark.parametrize("form", KEY_FORMS)
async def test_a_key_echoed_in_any_form_in_headers_error_fields_and_data_never_reaches_the_agent(form: KeyForm) -> None:
    error_body = json.dumps(
        {
            "error": {
                "status": "upstream_error",
                "message": "key={key} was refused",
                "url": "https://site.example/?api_key={key}",
                "kind": "{key}",
                "vendor": "{key}",
                "block_type": "{key}",
                "upstream_status_code": 500,
            }
        }
    ).replace("\\\\", "\\")
    success_body = json.dumps({"status": "success", "data": {"echo": "{key}", "{key}": ["{key}"]}}).replace(
        "\\\\", "\\"
    )
    request_id = (("X-Railway-Request-Id", "req-{key}"), ("Content-Type", "application/json"))
    plans = {
        "/scraper/failing/": echo_key(form, error_body, status=502, headers=request_id),
        f"/scraper/{SCRAPER_ID}/": echo_key(form, success_body, headers=request_id),
        "/parsers": echo_key(form, '{"detail": "bad key {key}"}', status=400, headers=request_id),
    }
    async with upstream_with(plans) as upstream:
        server, _clock = stepping_server(upstream)
        async with Client(server) as client:
            results = [
                await client.call_tool("execute_endpoint", {"scraper_id": "failing", "endpoint": "get", "params": {}}),
                await client.call_tool("execute_endpoint", EXECUTE),
                await client.call_tool("list_parsers", {}),
            ]
    assert [structured(r)["ok"] for r in results] == [False, True, False]
    for result in results:
        assert leaked_forms(everything_said(result)) == []
    assert "[redacted]" in json.dumps(structured(results[1])["data"])


async def test_a_login_endpoint_run_through_execute_endpoint_keeps_its_session_in_the_server() -> None:
    login_answer = json_answer(
        {"data": {"user": "me"}, "session_id": "550e8400-e29b", "encryption_key": "gAAAAABk" + "x" * 40}
    )
    async with upstream_with({f"/scraper/{SCRAPER_ID}/": login_answer}) as upstream:
        server, _clock = stepping_server(upstream)
        async with Client(server) as client:
            result = await client.call_tool("execute_endpoint", EXECUTE)
    content = structured(result)
    assert content["ok"] is True
    assert content["data"]["session"].startswith("sess_")
    assert content["data"]["data"] == {"user": "me"}
    said = everything_said(result)
    assert "550e8400" not in said
    assert "gAAAAABk" not in said


async def test_a_listing_id_from_the_service_that_would_change_the_path_is_the_services_fault() -> None:
    plans = {"/marketplace/apis/": NOT_FOUND, "/marketplace/by-slug/": json_answer({"id": ".."})}
    async with upstream_with(plans) as upstream:
        server, _clock = stepping_server(upstream)
        async with Client(server) as client:
            result = structured(await client.call_tool("get_marketplace_api", {"listing": "weather"}))
    assert result["error"]["code"] == "unexpected_response"
    assert result["guidance"]["action"] == "report_bug"
    assert [seen.path for seen in upstream.seen] == ["/marketplace/apis/weather", "/marketplace/by-slug/weather"]


async def test_a_call_that_hangs_where_no_budget_reaches_is_still_answered_and_echoes_no_credentials() -> None:
    server = build_server(Settings(), runtime=REAL_TIME, call_budget_seconds=0.2)

    async def hangs(credentials: dict[str, str]) -> str:
        """A tool that waits on nothing the budget knows about."""
        await anyio.sleep_forever()
        return str(credentials)

    server.add_tool(hangs)
    server.listed_tools |= {"hangs"}  # listed like any other tool, so guidance may offer to call it again
    async with Client(server) as client:
        with anyio.fail_after(10):
            result = await client.call_tool("hangs", {"credentials": {"password": "hunter2-secret"}})
    content = structured(result)
    assert result.is_error is True
    assert content["error"]["code"] == "network_read"
    assert content["error"]["kind"] == "deadline"
    assert content["guidance"]["action"] == "retry_later"
    assert "hunter2" not in everything_said(result)
