"""Progress everywhere a call waits: the transport's pacing and retry waits reach a client that asked for
progress, through a real MCP client against the sandbox on virtual time; and the values never go back."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from parse_mcp.policy.progress import CallProgress, announce, reporting_progress
from parse_mcp.sandbox import BOOKS_API_ID, FAILURE_LAB_ID, SandboxConfig
from tests.conftest import Sandbox, started

pytestmark = pytest.mark.anyio

LIST_BOOKS = {"scraper_id": BOOKS_API_ID, "endpoint": "list_books", "params": {}}


class Heard:
    """What a client's progress callback received, in order."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.messages: list[str | None] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.values.append(progress)
        self.messages.append(message)


async def call(client: Client, tool: str, arguments: dict[str, Any], heard: Heard | None = None) -> dict[str, Any]:
    with anyio.fail_after(10):
        result = await client.call_tool(tool, arguments, progress_callback=heard)
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content


async def test_a_retried_429_tells_the_client_each_wait_before_it_is_taken(sandbox: Sandbox, client: Client) -> None:
    heard = Heard()
    result = await call(
        client, "execute_endpoint", {"scraper_id": FAILURE_LAB_ID, "endpoint": "burst_limit", "params": {}}, heard
    )
    assert result["meta"]["waited_seconds"] == 10.0
    assert sandbox.slept == [5, 5]
    assert heard.messages == ["retrying in 5 s", "retrying in 5 s"]
    assert heard.values == sorted(set(heard.values)), "each value exceeds the one before"


async def test_a_call_held_back_for_the_rate_limit_says_how_long_it_waits() -> None:
    async with started(SandboxConfig(burst=1, refill_per_minute=6.0)) as sandbox, Client(sandbox.server()) as client:
        await call(client, "describe_api", {"scraper_id": BOOKS_API_ID})
        first = await call(client, "execute_endpoint", LIST_BOOKS)
        heard = Heard()
        second = await call(client, "execute_endpoint", LIST_BOOKS, heard)
    assert first["ok"] is True
    assert second["ok"] is True
    assert second["meta"]["waited_seconds"] > 0
    assert heard.messages == [f"waiting {second['meta']['waited_seconds']:.0f} s for the rate limit"]


async def test_a_call_that_does_not_wait_sends_no_progress(client: Client) -> None:
    heard = Heard()
    await call(client, "describe_api", {"scraper_id": BOOKS_API_ID})
    result = await call(client, "execute_endpoint", LIST_BOOKS, heard)
    assert result["ok"] is True
    assert heard.messages == []


async def test_a_client_that_asked_for_no_progress_still_gets_its_answer_after_the_waits(
    sandbox: Sandbox, client: Client
) -> None:
    result = await call(client, "execute_endpoint", {"scraper_id": FAILURE_LAB_ID, "endpoint": "burst_limit"})
    assert result["guidance"]["action"] == "retry_later"
    assert result["meta"]["attempts"] == 3


async def test_progress_values_keep_increasing_when_a_report_would_go_back() -> None:
    now = [100.0]
    sent: list[tuple[float, float | None, str]] = []

    async def sink(progress: float, total: float | None, message: str) -> None:
        sent.append((progress, total, message))

    progress = CallProgress(sink, lambda: now[0])
    now[0] = 107.0
    await progress.note("retrying in 5 s")
    await progress.report(3.0, 30.0, "task t1: running")
    await progress.report(9.0, 30.0, "task t1: completed")
    assert [value for value, _, _ in sent] == [7.0, pytest.approx(7.001), 9.0]
    assert sent[0][1] is None, "a transport wait has no known end"
    assert sent[1][1] == 30.0


async def test_a_progress_notification_that_cannot_be_sent_does_not_fail_the_call() -> None:
    async def gone(progress: float, total: float | None, message: str) -> None:
        raise ConnectionResetError("the client went away")

    with reporting_progress(CallProgress(gone, lambda: 0.0)):
        await announce("waiting 3 s for the rate limit")  # raises nothing


async def test_outside_a_tool_call_an_announcement_goes_nowhere() -> None:
    sent: list[str] = []

    async def sink(progress: float, total: float | None, message: str) -> None:
        sent.append(message)

    await announce("retrying in 1 s")
    with reporting_progress(CallProgress(sink, lambda: 0.0)):
        await announce("retrying in 2 s")
    await announce("retrying in 3 s")
    assert sent == ["retrying in 2 s"]
