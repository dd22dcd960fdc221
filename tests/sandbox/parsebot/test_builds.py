from __future__ import annotations

from typing import Any

import httpx2
import pytest

from parse_mcp.sandbox import BOOKS_TASK_ID, WEATHER_LISTING_ID, ManualClock, SandboxConfig
from tests.sandbox.support import base_url, sandbox_client, task

pytestmark = pytest.mark.anyio

DISPATCH_KEYS = {"task_id", "matched", "test_inputs", "may_require_auth"}


async def _dispatch(client: httpx2.AsyncClient, path_or_url: str, **fields: Any) -> dict[str, Any]:
    url = path_or_url if "://" in path_or_url else base_url(client) + path_or_url
    reply = await client.post("/dispatch", json={"url": url, **fields})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    assert set(body) == DISPATCH_KEYS
    return body


async def _finished(client: httpx2.AsyncClient, clock: ManualClock, task_id: str) -> dict[str, Any]:
    clock.advance(2 + 30)  # the default queue_seconds + build_seconds
    return await task(client, task_id)


async def test_a_build_is_queued_then_running_then_completed_on_the_clock(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    created = await _dispatch(client, "/site/catalogue/page-1.html", task="book titles and prices")
    assert (created["matched"], created["test_inputs"], created["may_require_auth"]) == (False, None, False)
    seen = []
    for seconds in (0, 1.9, 0.1, 29.9, 0.1):
        clock.advance(seconds)
        record = await task(client, created["task_id"])
        seen.append((record["status"], record["result_scraper_id"] is None, record["generated_api"] is None))
    assert seen == [
        ("queued", True, True),
        ("queued", True, True),
        ("running", True, True),
        ("running", True, True),
        ("completed", False, False),
    ]
    assert record["task"] == "book titles and prices"
    assert (record["created_at"], record["updated_at"]) == ("2027-01-15T08:00:00Z", "2027-01-15T08:00:32Z")


async def test_a_completed_build_really_reads_the_site(client: httpx2.AsyncClient, clock: ManualClock) -> None:
    created = await _dispatch(client, "/site/catalogue/")
    record = await _finished(client, clock, created["task_id"])
    generated = record["generated_api"]
    assert generated["scraper_id"] == record["result_scraper_id"]
    assert [e["endpoint_name"] for e in generated["endpoints"]] == ["list_books", "get_book", "search_books"]
    reply = await client.get(f"{generated['execution_base_url']}/list_books", params={"page": 2})
    assert reply.status_code == 200
    assert reply.json()["data"]["page"] == 2


async def test_a_built_api_joins_the_schemas_only_when_its_build_completes(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    created = await _dispatch(client, "/site/quotes/")
    clock.advance(31)
    before = [api["id"] for api in (await client.get("/sdk/schemas")).json()["schemas"]]
    clock.advance(1)
    after = [api["id"] for api in (await client.get("/sdk/schemas")).json()["schemas"]]
    scraper_id = (await task(client, created["task_id"]))["result_scraper_id"]
    assert scraper_id not in before
    assert after == [*before, scraper_id]


@pytest.mark.parametrize(
    ("path", "endpoints"),
    [
        ("/site/", ["list_books", "get_book", "search_books"]),
        ("/site/quotes/page/2/", ["list_quotes", "quotes_by_tag", "get_author", "top_quotes"]),
        ("/site/weather/osaka.html", ["get_forecast", "list_cities"]),
        ("/site/lab/", ["read_page"]),
    ],
)
async def test_each_part_of_the_site_builds_its_own_endpoints(
    client: httpx2.AsyncClient, clock: ManualClock, path: str, endpoints: list[str]
) -> None:
    record = await _finished(client, clock, (await _dispatch(client, path))["task_id"])
    assert [e["endpoint_name"] for e in record["generated_api"]["endpoints"]] == endpoints


async def test_a_freshly_built_quotes_api_works_without_a_revision(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    record = await _finished(client, clock, (await _dispatch(client, "/site/quotes/"))["task_id"])
    execution = record["generated_api"]["execution_base_url"]
    author = await client.post(f"{execution}/get_author", json={"slug": "mark-twain"})
    top = await client.get(f"{execution}/top_quotes")
    assert (author.status_code, top.status_code) == (200, 200)


async def test_the_page_reader_returns_the_pages_title_headings_and_links(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    record = await _finished(client, clock, (await _dispatch(client, "/site/lab/"))["task_id"])
    reply = await client.get(f"{record['generated_api']['execution_base_url']}/read_page")
    data = reply.json()["data"]
    assert (data["url"], data["title"], data["headings"]) == (
        f"{base_url(client)}/site/lab/",
        "Failure Lab",
        ["Failure Lab target site"],
    )
    assert {"text": "redesigned.html", "href": "redesigned.html"} in data["links"]


async def test_a_path_with_needs_input_waits_for_an_answer_with_a_question(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    created = await _dispatch(client, "/site/needs-input/listing")
    clock.advance(3)
    assert (await task(client, created["task_id"]))["status"] == "running"
    record = await _finished(client, clock, created["task_id"])
    assert record["status"] == "needs_input"
    assert record["question"].startswith(f"The page {base_url(client)}/site/needs-input/listing shows")
    assert (record["error"], record["result_scraper_id"], record["generated_api"]) == (None, None, None)


@pytest.mark.parametrize("path", ["/site/members/", "/site/login", "/site/my-account/orders"])
async def test_a_login_page_may_require_auth_and_its_build_fails_toward_the_dashboard(
    client: httpx2.AsyncClient, clock: ManualClock, path: str
) -> None:
    created = await _dispatch(client, path)
    assert created["may_require_auth"] is True
    record = await _finished(client, clock, created["task_id"])
    assert (record["status"], record["may_require_auth"], record["result_scraper_id"]) == ("failed", True, None)
    assert record["error"] == (
        "This site needs a login. Authenticated APIs are built in the dashboard (parse.bot), not through the API: "
        "build it there as an Authenticated API."
    )


async def test_the_authenticated_listing_is_never_matched(client: httpx2.AsyncClient) -> None:
    created = await _dispatch(client, "/site/members/")
    assert (created["matched"], created["may_require_auth"]) == (False, True)


@pytest.mark.parametrize(
    ("path", "status"),
    [("/site/no-such-page.html", 404), ("/site/catalogue/page-9.html", 404), ("/sdk/schemas", 404)],
)
async def test_a_page_the_site_does_not_serve_fails_the_build(
    client: httpx2.AsyncClient, clock: ManualClock, path: str, status: int
) -> None:
    url = base_url(client) + path
    record = await _finished(client, clock, (await _dispatch(client, url))["task_id"])
    assert record["status"] == "failed"
    assert record["error"] == (
        f"The page {url} answered HTTP {status}, so there is nothing to build an API from. Check the URL."
    )
    assert record["generated_api"] is None


async def test_a_url_on_another_host_fails_the_build(client: httpx2.AsyncClient, clock: ManualClock) -> None:
    record = await _finished(client, clock, (await _dispatch(client, "https://books.toscrape.com/"))["task_id"])
    assert record["status"] == "failed"
    assert record["error"].startswith("The sandbox only builds APIs for its own site: https://books.toscrape.com/")
    assert f"{base_url(client)}/site/" in record["error"]


async def test_a_listed_url_is_matched_as_a_completed_personal_copy(client: httpx2.AsyncClient) -> None:
    created = await _dispatch(client, "/site/weather", task="forecasts")
    assert (created["matched"], created["may_require_auth"]) == (True, False)
    assert created["test_inputs"] == [
        {"endpoint_name": "get_forecast", "method": "GET", "params": {"city": "leeds", "days": 3}},
        {"endpoint_name": "list_cities", "method": "GET", "params": {}},
    ]
    record = await task(client, created["task_id"])
    assert (record["status"], record["result_marketplace_id"]) == ("completed", WEATHER_LISTING_ID)
    scraper_id = record["result_scraper_id"]
    assert record["generated_api"]["marketplace_id"] == WEATHER_LISTING_ID
    reply = await client.get(f"/scraper/{scraper_id}/list_cities")
    assert reply.json()["data"]["count"] == 5
    assert scraper_id in [api["id"] for api in (await client.get("/sdk/schemas")).json()["schemas"]]


async def test_each_matched_copy_is_a_new_scraper(client: httpx2.AsyncClient) -> None:
    first = await task(client, (await _dispatch(client, "/site/weather/"))["task_id"])
    second = await task(client, (await _dispatch(client, "/site/weather/"))["task_id"])
    assert first["id"] != second["id"]
    assert first["result_scraper_id"] != second["result_scraper_id"]


async def test_force_new_builds_a_listed_url_from_scratch(client: httpx2.AsyncClient, clock: ManualClock) -> None:
    created = await _dispatch(client, "/site/weather/", force_new=True)
    assert (created["matched"], created["test_inputs"]) == (False, None)
    record = await _finished(client, clock, created["task_id"])
    assert (record["status"], record["result_marketplace_id"]) == ("completed", None)


async def test_a_build_costs_75_credits_when_queued_and_a_match_is_free() -> None:
    async with sandbox_client(SandboxConfig(credits=200, credits_limit=200)) as client:
        build = await client.post("/dispatch", json={"url": f"{base_url(client)}/site/"})
        matched = await client.post("/dispatch", json={"url": f"{base_url(client)}/site/weather/"})
        call = await client.get(f"/scraper/{(await task(client, BOOKS_TASK_ID))['result_scraper_id']}/list_books")
    assert (build.headers["X-Credits-Charged"], build.headers["X-Credits-Remaining"]) == ("75", "125")
    assert "X-Credits-Charged" not in matched.headers
    assert call.headers["X-Credits-Remaining"] == "124"


async def test_a_build_the_balance_cannot_pay_for_is_402_and_creates_no_task() -> None:
    async with sandbox_client(SandboxConfig(credits=100, build_price=75)) as client:
        first = await client.post("/dispatch", json={"url": f"{base_url(client)}/site/"})
        second = await client.post("/dispatch", json={"url": f"{base_url(client)}/site/"})
        tasks = (await client.get("/dispatch/tasks")).json()["tasks"]
    assert first.status_code == 200
    assert (second.status_code, second.headers["X-Credits-Remaining"]) == (402, "25")
    assert second.json() == {
        "error": {
            "message": "You have run out of credits.",
            "next_tier": {"display_name": "Hobby", "credits": 1000, "price": 30},
        },
        "status_code": 402,
    }
    assert len(tasks) == 6  # five built-in tasks and the first build


async def test_a_failed_build_keeps_its_charge() -> None:
    async with sandbox_client(SandboxConfig(credits=100)) as client:
        reply = await client.post("/dispatch", json={"url": "https://example.com/"})
    assert reply.headers["X-Credits-Remaining"] == "25"


async def test_build_times_come_from_the_config() -> None:
    clock = ManualClock()
    config = SandboxConfig(queue_seconds=0, build_seconds=5)
    async with sandbox_client(config, clock) as client:
        task_id = (await client.post("/dispatch", json={"url": f"{base_url(client)}/site/"})).json()["task_id"]
        running = (await task(client, task_id))["status"]
        clock.advance(5)
        completed = (await task(client, task_id))["status"]
    assert (running, completed) == ("running", "completed")


async def test_new_tasks_are_listed_newest_first_before_the_built_in_ones(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    first = (await _dispatch(client, "/site/"))["task_id"]
    clock.advance(1)
    second = (await _dispatch(client, "/site/weather/"))["task_id"]
    listed = [t["id"] for t in (await client.get("/dispatch/tasks")).json()["tasks"]]
    assert listed[:3] == [second, first, BOOKS_TASK_ID]
    queued = [t["id"] for t in (await client.get("/dispatch/tasks", params={"status": "queued"})).json()["tasks"]]
    assert queued == [first]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, {"loc": ["body", "url"], "msg": "Field required", "type": "missing"}),
        ({"url": 42}, {"loc": ["body", "url"], "msg": "Input should be a valid string", "type": "string_type"}),
        (
            {"url": "books.toscrape.com"},
            {
                "loc": ["body", "url"],
                "msg": "Input should be a valid URL, relative URL without a base",
                "type": "url_parsing",
            },
        ),
        (
            {"url": "ftp://example.com/"},
            {"loc": ["body", "url"], "msg": "URL scheme should be 'http' or 'https'", "type": "url_scheme"},
        ),
        (
            {"url": "https://example.com/", "task": ["x"]},
            {"loc": ["body", "task"], "msg": "Input should be a valid string", "type": "string_type"},
        ),
        (
            {"url": "https://example.com/", "force_new": "maybe"},
            {
                "loc": ["body", "force_new"],
                "msg": "Input should be a valid boolean, unable to interpret input",
                "type": "bool_parsing",
            },
        ),
        (
            {"url": "https://example.com/", "force_new": ["yes"]},
            {"loc": ["body", "force_new"], "msg": "Input should be a valid boolean", "type": "bool_type"},
        ),
    ],
)
async def test_a_dispatch_without_a_valid_url_is_a_fastapi_validation_error(
    client: httpx2.AsyncClient, body: dict[str, Any], detail: dict[str, Any]
) -> None:
    reply = await client.post("/dispatch", json=body)
    assert (reply.status_code, reply.json()) == (422, {"detail": [detail]})
    assert reply.headers["X-Railway-Request-Id"]


async def test_a_dispatch_reads_force_new_as_fastapi_does_in_lax_mode(client: httpx2.AsyncClient) -> None:
    # FastAPI validates bodies in pydantic's lax mode, so the text "true" is a boolean, not a 422.
    reply = await client.post("/dispatch", json={"url": f"{base_url(client)}/site/weather/", "force_new": "true"})
    assert reply.status_code == 200
    assert reply.json()["matched"] is False


async def test_a_dispatch_body_with_several_faults_lists_each_of_them(client: httpx2.AsyncClient) -> None:
    reply = await client.post("/dispatch", json={"task": 7, "force_new": []})
    assert reply.status_code == 422
    assert [entry["loc"] for entry in reply.json()["detail"]] == [
        ["body", "url"],
        ["body", "task"],
        ["body", "force_new"],
    ]


async def test_dispatch_needs_the_key() -> None:
    async with sandbox_client(headers={}) as client:
        reply = await client.post("/dispatch", json={"url": "https://example.com/"})
    assert (reply.status_code, reply.json()) == (401, {"error": "Missing X-API-Key header", "status_code": 401})


async def test_a_test_only_path_leaves_the_task_in_a_status_no_reference_lists(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    created = await _dispatch(client, "/site/test-only-unlisted-status/")
    record = await _finished(client, clock, created["task_id"])
    clock.advance(3600)
    assert (await task(client, created["task_id"]))["status"] == record["status"] == "on_hold"
    assert (record["error"], record["result_scraper_id"], record["generated_api"]) == (None, None, None)
