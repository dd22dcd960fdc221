from __future__ import annotations

from typing import Any

import httpx2
import pytest

from parse_mcp.sandbox import (
    BOOKS_API_ID,
    BOOKS_TASK_ID,
    FAILURE_LAB_ID,
    FAILURE_LAB_TASK_ID,
    QUOTES_API_ID,
    QUOTES_TASK_ID,
    ManualClock,
)
from tests.sandbox.support import base_url, quotes, task

pytestmark = pytest.mark.anyio

REVISION_SECONDS = 2 + 20  # the default queue_seconds + revision_seconds
TWAIN = {"slug": "mark-twain"}


async def _revise(client: httpx2.AsyncClient, task_id: str, description: str) -> dict[str, Any]:
    reply = await client.post(f"/dispatch/tasks/{task_id}/revise", json={"description": description})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


async def test_the_quotes_api_has_a_crashing_endpoint_until_revised(client: httpx2.AsyncClient) -> None:
    reply = await client.post(quotes("get_author"), json=TWAIN)
    assert reply.status_code == 500
    assert reply.json()["error"]["kind"] == "scraper_bug"
    assert reply.headers["X-Credits-Charged"] == "0"


async def test_the_quotes_api_has_an_endpoint_whose_site_answers_403_until_revised(
    client: httpx2.AsyncClient,
) -> None:
    reply = await client.get(quotes("top_quotes"))
    assert reply.status_code == 502
    error = reply.json()["error"]
    assert (error["status"], error["upstream_status_code"]) == ("upstream_error", 403)
    assert "the access token sent has expired" in error["snippet"]
    # The stored token is a credential: the envelope's url leaves the query out.
    assert error["url"] == f"{base_url(client)}/site/quotes/top"


async def test_the_working_quotes_endpoints_read_the_site(client: httpx2.AsyncClient) -> None:
    listed = (await client.get(quotes("list_quotes"), params={"page": 3})).json()["data"]
    tagged = (await client.get(quotes("quotes_by_tag"), params={"tag": "books"})).json()["data"]
    assert (listed["page"], listed["pages"], len(listed["quotes"])) == (3, 3, 2)
    assert tagged["count"] == 2
    assert all("books" in quote["tags"] for quote in tagged["quotes"])


@pytest.mark.parametrize(
    ("endpoint", "params", "message"),
    [
        ("list_quotes", {"page": "0"}, "page must be a positive integer"),
        ("quotes_by_tag", {"tag": "a/b"}, "tag must be a single word, e.g. 'life'"),
    ],
)
async def test_the_quotes_endpoints_refuse_malformed_input(
    client: httpx2.AsyncClient, endpoint: str, params: dict[str, str], message: str
) -> None:
    reply = await client.get(quotes(endpoint), params=params)
    assert (reply.status_code, reply.json()["error"]["message"]) == (422, message)


async def test_a_revision_is_a_task_of_its_own_polled_like_a_build(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    revision = await _revise(client, QUOTES_TASK_ID, "the get_author endpoint 500s on valid slugs")
    assert revision["task_id"] == revision["id"] != QUOTES_TASK_ID
    assert (revision["status"], revision["revision_of"]) == ("queued", QUOTES_TASK_ID)
    assert (revision["result_scraper_id"], revision["task"]) == (
        QUOTES_API_ID,
        "the get_author endpoint 500s on valid slugs",
    )
    assert revision["url"] == f"{base_url(client)}/site/quotes/"
    statuses = []
    for seconds in (2, 19.9, 0.1):
        clock.advance(seconds)
        statuses.append((await task(client, revision["id"]))["status"])
    assert statuses == ["running", "running", "completed"]
    record = await task(client, revision["id"])
    assert record["generated_api"]["scraper_id"] == QUOTES_API_ID
    assert record["error"] is None


async def test_a_completed_revision_fixes_the_named_endpoint_for_the_same_call(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    before = await client.post(quotes("get_author"), json=TWAIN)
    await _revise(client, QUOTES_TASK_ID, "Please fix get_author: it crashes on every author")
    clock.advance(REVISION_SECONDS - 1)
    during = await client.post(quotes("get_author"), json=TWAIN)
    clock.advance(1)
    after = await client.post(quotes("get_author"), json=TWAIN)
    still_broken = await client.get(quotes("top_quotes"))
    assert [reply.status_code for reply in (before, during, after, still_broken)] == [500, 500, 200, 502]
    assert after.json()["data"] == {
        "name": "Mark Twain",
        "slug": "mark-twain",
        "born_date": "November 30, 1835",
        "born_place": "Florida, Missouri, United States",
        "bio": "A writer and humorist, author of Adventures of Huckleberry Finn.",
    }


async def test_a_revision_naming_both_endpoints_fixes_the_403_too(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    await _revise(client, QUOTES_TASK_ID, "GET_AUTHOR crashes and top_quotes gets a 403 from the site")
    clock.advance(REVISION_SECONDS)
    author = await client.post(quotes("get_author"), json=TWAIN)
    top = await client.get(quotes("top_quotes"))
    assert (author.status_code, top.status_code) == (200, 200)
    assert [quote["likes"] for quote in top.json()["data"]["quotes"]] == [501, 412, 356]


async def test_a_revision_bumps_the_version_and_keeps_the_old_release_pinnable(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    before = (await client.get(f"/sdk/schemas/{QUOTES_API_ID}")).json()
    await _revise(client, QUOTES_TASK_ID, "get_author is broken")
    clock.advance(REVISION_SECONDS)
    after = (await client.get(f"/sdk/schemas/{QUOTES_API_ID}")).json()
    pinned = (await client.get(f"/sdk/schemas/{QUOTES_API_ID}", params={"version": 1})).json()
    old_call = await client.post(quotes("get_author"), json=TWAIN, headers={"API-Snapshot-Version": "1"})
    assert (before["versions"], after["versions"]) == ([1], [1, 2])
    describe = {row["name"]: row["description"] for row in after["endpoints"]}
    assert describe["get_author"].startswith("Get an author's name")
    assert describe["top_quotes"].startswith("BROKEN until revised")
    assert pinned["endpoints"] == before["endpoints"]
    assert old_call.status_code == 500


async def test_the_task_list_maps_a_revised_scraper_to_its_latest_task(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    revision = await _revise(client, QUOTES_TASK_ID, "fix top_quotes")
    clock.advance(REVISION_SECONDS)
    tasks = (await client.get("/dispatch/tasks")).json()["tasks"]
    latest = next(t for t in tasks if t["result_scraper_id"] == QUOTES_API_ID)
    assert (latest["id"], latest["status"]) == (revision["id"], "completed")


async def test_a_revision_can_itself_be_revised(client: httpx2.AsyncClient, clock: ManualClock) -> None:
    first = await _revise(client, QUOTES_TASK_ID, "fix get_author")
    clock.advance(REVISION_SECONDS)
    second = await _revise(client, first["id"], "and now fix top_quotes")
    clock.advance(REVISION_SECONDS)
    assert (await task(client, second["id"]))["revision_of"] == first["id"]
    assert (await client.get(quotes("top_quotes"))).status_code == 200
    assert (await client.get(f"/sdk/schemas/{QUOTES_API_ID}")).json()["versions"] == [1, 2, 3]


async def test_a_description_naming_no_endpoint_fails_the_revision(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    revision = await _revise(client, QUOTES_TASK_ID, "the author endpoint is broken, get_authors too")
    clock.advance(REVISION_SECONDS)
    record = await task(client, revision["id"])
    assert record["status"] == "failed"
    assert record["error"] == (
        "The description names no endpoint of Quotes (sandbox): name the endpoint(s) to fix, one of list_quotes, "
        "quotes_by_tag, get_author, top_quotes (e.g. 'the list_quotes endpoint fails on valid input')."
    )
    assert (await client.post(quotes("get_author"), json=TWAIN)).status_code == 500
    assert (await client.get(f"/sdk/schemas/{QUOTES_API_ID}")).json()["versions"] == [1]


async def test_revising_the_failure_lab_fails_because_its_failures_are_deliberate(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    revision = await _revise(client, FAILURE_LAB_TASK_ID, "scraper_bug crashes every time")
    clock.advance(REVISION_SECONDS)
    record = await task(client, revision["id"])
    assert (record["status"], record["result_scraper_id"]) == ("failed", FAILURE_LAB_ID)
    assert record["error"] == (
        "The Failure Lab (sandbox) cannot be revised: its failures are deliberate, so there is nothing to fix."
    )


async def test_a_revision_of_an_api_without_a_fix_still_adds_a_release(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    await _revise(client, BOOKS_TASK_ID, "make list_books faster")
    clock.advance(REVISION_SECONDS)
    assert (await client.get(f"/sdk/schemas/{BOOKS_API_ID}")).json()["versions"] == [1, 2, 3]
    assert (await client.get(f"/scraper/{BOOKS_API_ID}/list_books")).status_code == 200


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, {"loc": ["body", "description"], "msg": "Field required", "type": "missing"}),
        (
            {"description": ""},
            {
                "loc": ["body", "description"],
                "msg": "String should have at least 1 character",
                "type": "string_too_short",
            },
        ),
        (
            {"description": "   "},
            {
                "loc": ["body", "description"],
                "msg": "String should have at least 1 character",
                "type": "string_too_short",
            },
        ),
        (
            {"description": 7},
            {"loc": ["body", "description"], "msg": "Input should be a valid string", "type": "string_type"},
        ),
    ],
)
async def test_a_revision_without_a_description_is_a_fastapi_validation_error(
    client: httpx2.AsyncClient, body: dict[str, Any], detail: dict[str, Any]
) -> None:
    reply = await client.post(f"/dispatch/tasks/{QUOTES_TASK_ID}/revise", json=body)
    assert (reply.status_code, reply.json()) == (422, {"detail": [detail]})


async def test_revising_an_unknown_task_is_404(client: httpx2.AsyncClient) -> None:
    reply = await client.post("/dispatch/tasks/task-nope/revise", json={"description": "fix get_author"})
    assert (reply.status_code, reply.json()) == (404, {"error": "Task 'task-nope' not found", "status_code": 404})


async def test_revising_a_build_that_has_not_completed_is_409(client: httpx2.AsyncClient) -> None:
    created = await client.post("/dispatch", json={"url": f"{base_url(client)}/site/"})
    task_id = created.json()["task_id"]
    reply = await client.post(f"/dispatch/tasks/{task_id}/revise", json={"description": "fix list_books"})
    assert reply.status_code == 409
    assert reply.json() == {
        "error": f"Task '{task_id}' has no API to revise (status: queued): revise a task that completed",
        "status_code": 409,
    }


async def test_a_revision_costs_no_credits(client: httpx2.AsyncClient, clock: ManualClock) -> None:
    await _revise(client, QUOTES_TASK_ID, "fix get_author")
    clock.advance(REVISION_SECONDS)
    reply = await client.post(quotes("get_author"), json=TWAIN)
    assert reply.headers["X-Credits-Remaining"] == "9999"
