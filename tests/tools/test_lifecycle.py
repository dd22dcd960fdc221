"""The Parse.bot lifecycle through a real MCP client against the sandbox, on virtual time: the repair
loop, builds, waits with progress, marketplace and updates, and logins with their cap."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from mcp import Client

from parse_mcp.sandbox import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FAILURE_LAB_TASK_ID,
    MEMBERS_API_ID,
    QUOTES_API_ID,
    QUOTES_TASK_ID,
    WEATHER_CANONICAL_ID,
    WEATHER_COPY_TASK_ID,
    WEATHER_LISTING_ID,
)
from tests.conftest import Sandbox

pytestmark = pytest.mark.anyio


async def call(client: Client, tool: str, arguments: dict[str, Any], **options: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments, **options)
    assert result.structured_content is not None
    assert result.is_error is (not result.structured_content["ok"])
    content: dict[str, Any] = result.structured_content
    return content


async def follow_waits(client: Client, result: dict[str, Any]) -> dict[str, Any]:
    """Make the prepared wait_for_task calls until the task settles."""
    for _ in range(10):
        next_call = result["next_call"]
        if not (next_call and next_call["tool"] == "wait_for_task"):
            return result
        result = await call(client, "wait_for_task", next_call["arguments"])
    raise AssertionError("the task never settled")


@pytest.mark.parametrize(("endpoint", "code"), [("get_author", "scraper_bug"), ("top_quotes", "upstream_auth")])
async def test_the_repair_loop_turns_a_broken_endpoint_into_a_working_one(
    client: Client, endpoint: str, code: str
) -> None:
    failing = {"scraper_id": QUOTES_API_ID, "endpoint": endpoint, "params": _quote_params(endpoint)}
    broken = await call(client, "execute_endpoint", failing)
    assert broken["error"]["code"] == code
    revise = broken["next_call"]
    assert revise["tool"] == "revise_api"
    assert revise["arguments"]["task_id"] == QUOTES_TASK_ID
    assert endpoint in revise["arguments"]["description"]

    queued = await call(client, "revise_api", revise["arguments"])
    assert queued["next_call"]["tool"] == "wait_for_task"
    settled = await follow_waits(client, queued)
    assert settled["data"]["status"] == "completed", settled

    # The loop ends where it began: the call offered is the one that failed, made again by following next_call.
    assert settled["next_call"] == {"tool": "execute_endpoint", "arguments": failing}
    fixed = await call(client, settled["next_call"]["tool"], settled["next_call"]["arguments"])
    assert fixed["ok"] is True, fixed


async def test_a_failed_revision_leads_to_another_revision_of_the_same_task_never_to_a_new_build(
    client: Client,
) -> None:
    # The Failure Lab's failures are deliberate: the sandbox fails every revision of it.
    queued = await call(client, "revise_api", {"task_id": FAILURE_LAB_TASK_ID, "description": "Fix get_job."})
    settled = await follow_waits(client, queued)
    assert settled["data"]["status"] == "failed", settled
    assert settled["data"]["revision_of"] == FAILURE_LAB_TASK_ID
    again = settled["next_call"]
    assert again["tool"] == "revise_api"
    assert again["arguments"]["task_id"] == FAILURE_LAB_TASK_ID
    assert "do not call create_api" in settled["next_step"]
    # The prepared call is one the service takes: it queues another revision of the same API.
    requeued = await call(client, "revise_api", again["arguments"])
    assert requeued["ok"] is True, requeued


async def test_a_build_from_a_url_ends_with_a_ready_call_and_reports_progress(sandbox: Sandbox, client: Client) -> None:
    created = await call(client, "create_api", {"url": sandbox.url + "/site/catalogue/", "task": "books and prices"})
    assert created["data"]["matched"] is False
    assert created["next_call"]["tool"] == "wait_for_task"
    statuses: list[str | None] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        statuses.append(message)

    task_id = created["data"]["task_id"]
    first = await call(
        client, "wait_for_task", {"task_id": task_id, "timeout_seconds": 45}, progress_callback=on_progress
    )
    assert first["data"]["status"] == "completed"
    assert statuses == [f"task {task_id}: queued", f"task {task_id}: running", f"task {task_id}: completed"]
    ready = first["next_call"]
    assert ready["tool"] == "execute_endpoint"
    assert ready["arguments"]["scraper_id"] == first["data"]["result_scraper_id"]
    executed = await call(client, "execute_endpoint", ready["arguments"])
    assert executed["ok"] is True, executed


async def test_a_wait_that_runs_out_returns_a_call_to_keep_waiting(sandbox: Sandbox, client: Client) -> None:
    created = await call(client, "create_api", {"url": sandbox.url + "/site/catalogue/"})
    task_id = created["data"]["task_id"]
    waited = await call(client, "wait_for_task", {"task_id": task_id, "timeout_seconds": 5})
    assert waited["ok"] is True
    assert waited["data"]["status"] in ("queued", "running")
    assert waited["next_call"] == {"tool": "wait_for_task", "arguments": {"task_id": task_id, "timeout_seconds": 5}}


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/site/members/login", "failed", "dashboard"),
        ("/site/needs-input/", "needs_input", "Ask the user"),
        ("/site/catalogue/no-such-page.html", "failed", "clearer task description"),
    ],
)
async def test_a_build_that_cannot_complete_is_an_observation_with_one_next_step(
    sandbox: Sandbox, client: Client, path: str, status: str, words: str
) -> None:
    created = await call(client, "create_api", {"url": sandbox.url + path})
    settled = await follow_waits(client, created)
    assert settled["ok"] is True
    assert settled["data"]["status"] == status
    assert words in settled["next_step"]


async def test_a_build_that_timed_out_is_never_repeated_blindly(sandbox: Sandbox) -> None:
    def slow(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("no answer", request=request)

    server = sandbox.server(parsebot_transport=httpx2.MockTransport(slow))
    async with Client(server) as client:
        result = await call(client, "create_api", {"url": sandbox.url + "/site/catalogue/"})
    assert result["guidance"]["action"] == "do_not_retry"
    assert result["guidance"]["fault"] == "network"
    assert result["next_call"] == {"tool": "list_tasks", "arguments": {}}
    assert result["meta"]["attempts"] == 1


async def test_the_marketplace_leads_to_a_pinned_call(client: Client) -> None:
    found = await call(client, "search_marketplace", {"query": "weather"})
    assert found["next_call"] == {"tool": "get_marketplace_api", "arguments": {"listing": WEATHER_LISTING_ID}}
    by_slug = await call(client, "get_marketplace_api", {"listing": "city-weather-sandbox"})
    assert by_slug["data"]["canonical_scraper_id"] == WEATHER_CANONICAL_ID
    describe = by_slug["next_call"]
    assert describe == {"tool": "describe_api", "arguments": {"scraper_id": WEATHER_CANONICAL_ID, "version": 2}}
    described = await call(client, "describe_api", describe["arguments"])
    assert "list_cities" in described["summary"]


async def test_an_unknown_listing_points_at_the_search(client: Client) -> None:
    missing = await call(client, "get_marketplace_api", {"listing": "no-such-listing"})
    assert missing["error"]["code"] == "listing_not_found"
    assert missing["guidance"]["action"] == "check_id"
    assert missing["next_call"] == {"tool": "search_marketplace", "arguments": {}}


async def test_updates_are_listed_previewed_and_merged(client: Client) -> None:
    updates = await call(client, "check_updates", {"task_id": WEATHER_COPY_TASK_ID})
    names = [u["endpoint_name"] for u in updates["data"]["updates"]]
    assert "list_cities" in names
    preview = await call(client, "preview_update", {"task_id": WEATHER_COPY_TASK_ID, "endpoint": "list_cities"})
    assert preview["next_call"] == {
        "tool": "merge_updates",
        "arguments": {"task_id": WEATHER_COPY_TASK_ID, "endpoints": ["list_cities"]},
    }
    merged = await call(client, "merge_updates", preview["next_call"]["arguments"])
    assert merged["data"]["merged"] == 1
    after = await call(client, "check_updates", {"task_id": WEATHER_COPY_TASK_ID})
    assert "list_cities" not in [u["endpoint_name"] for u in after["data"]["updates"]]


async def test_a_login_gives_a_handle_that_opens_the_protected_endpoints(client: Client) -> None:
    credentials = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
    logged_in = await call(client, "login", {"scraper_id": MEMBERS_API_ID, "credentials": credentials})
    handle = logged_in["data"]["session"]
    assert handle.startswith("sess_")
    text = str(logged_in)
    assert "gAAAA" not in text, "the session's encryption key stays in the server"
    assert DEMO_PASSWORD not in text
    ready = logged_in["next_call"]
    assert ready["tool"] == "execute_endpoint"
    assert ready["arguments"]["session"] == handle
    orders = await call(client, "execute_endpoint", ready["arguments"])
    assert orders["ok"] is True, orders
    without = await call(client, "execute_endpoint", {**ready["arguments"], "session": None})
    assert without["guidance"]["action"] == "login"


async def test_an_expired_session_asks_for_a_new_login(sandbox: Sandbox, client: Client) -> None:
    credentials = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
    logged_in = await call(client, "login", {"scraper_id": MEMBERS_API_ID, "credentials": credentials})
    sandbox.clock.advance(1801)
    expired = await call(client, "execute_endpoint", logged_in["next_call"]["arguments"])
    assert expired["error"]["code"] == "session_expired"
    assert expired["next_call"] == {"tool": "login", "arguments": {"scraper_id": MEMBERS_API_ID}}


async def test_a_login_with_an_id_that_would_change_the_path_spends_none_of_the_hourly_attempts(client: Client) -> None:
    credentials = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
    refused = [await call(client, "login", {"scraper_id": "..", "credentials": credentials}) for _ in range(4)]
    assert {r["guidance"]["action"] for r in refused} == {"fix_input"}
    assert refused[0]["guidance"]["fix_fields"] == ["scraper_id"]
    hostile_endpoint = {"scraper_id": MEMBERS_API_ID, "endpoint": "../login", "credentials": credentials}
    assert (await call(client, "login", hostile_endpoint))["guidance"]["fix_fields"] == ["endpoint"]
    logged_in = await call(client, "login", {"scraper_id": MEMBERS_API_ID, "credentials": credentials})
    assert logged_in["ok"] is True, logged_in


async def test_wrong_credentials_ask_the_user_and_the_fourth_attempt_is_refused_here(client: Client) -> None:
    wrong = {"username": DEMO_USERNAME, "password": "not-it"}
    attempts = [await call(client, "login", {"scraper_id": MEMBERS_API_ID, "credentials": wrong}) for _ in range(3)]
    assert [a["guidance"]["action"] for a in attempts] == ["ask_user", "ask_user", "ask_user"]
    assert attempts[0]["error"]["code"] == "login_refused"
    assert "not-it" not in str(attempts)
    fourth = await call(client, "login", {"scraper_id": MEMBERS_API_ID, "credentials": wrong})
    assert fourth["error"]["code"] == "login_limited"
    assert fourth["guidance"]["action"] == "retry_later"
    assert 3500 < fourth["guidance"]["retry_after_seconds"] <= 3600
    assert "attempts" not in fourth["meta"], "refused without a request"


def _quote_params(endpoint: str) -> dict[str, Any]:
    return {"slug": "albert-einstein"} if endpoint == "get_author" else {}


async def test_tasks_are_listed_and_shown_with_the_id_execute_endpoint_takes(client: Client) -> None:
    listed = await call(client, "list_tasks", {"status": "completed", "limit": 50})
    ids = {t["id"]: t.get("result_scraper_id") for t in listed["data"]["tasks"]}
    assert ids[QUOTES_TASK_ID] == QUOTES_API_ID
    shown = await call(client, "get_task", {"task_id": QUOTES_TASK_ID})
    assert shown["data"]["status"] == "completed"
    assert shown["next_call"]["tool"] == "execute_endpoint"
    assert shown["next_call"]["arguments"]["scraper_id"] == QUOTES_API_ID


async def test_a_count_in_a_summary_takes_the_singular_for_one(client: Client) -> None:
    one = await call(client, "list_tasks", {"limit": 1})
    two = await call(client, "list_tasks", {"limit": 2})
    assert (one["summary"], two["summary"]) == ("1 task.", "2 tasks.")


async def test_an_unknown_task_points_at_the_task_list(client: Client) -> None:
    for tool in ("get_task", "wait_for_task", "check_updates"):
        missing = await call(client, tool, {"task_id": "task-nope"})
        assert missing["error"]["code"] == "task_not_found", tool
        assert missing["guidance"]["action"] == "check_id"
        assert missing["next_call"] == {"tool": "list_tasks", "arguments": {}}


async def test_revising_a_build_that_is_still_running_says_to_wait_for_it(sandbox: Sandbox, client: Client) -> None:
    created = await call(client, "create_api", {"url": sandbox.url + "/site/catalogue/"})
    task_id = created["data"]["task_id"]
    early = await call(client, "revise_api", {"task_id": task_id, "description": "Fix list_books"})
    assert early["error"]["http_status"] == 409
    assert early["guidance"]["action"] == "wait_for_completion"
    assert early["next_call"] == {"tool": "wait_for_task", "arguments": {"task_id": task_id}}


async def test_a_copy_with_every_update_says_so(client: Client) -> None:
    await call(client, "merge_updates", {"task_id": WEATHER_COPY_TASK_ID, "endpoints": ["list_cities", "get_forecast"]})
    none_left = await call(client, "check_updates", {"task_id": WEATHER_COPY_TASK_ID})
    assert none_left["summary"] == "Your copy has every update."
