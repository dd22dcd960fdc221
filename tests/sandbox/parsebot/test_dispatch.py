from __future__ import annotations

import httpx2
import pytest

from parse_mcp.sandbox import (
    BOOKS_API_ID,
    BOOKS_TASK_ID,
    FAILURE_LAB_ID,
    FAILURE_LAB_TASK_ID,
    MEMBERS_API_ID,
    MEMBERS_LISTING_ID,
    MEMBERS_TASK_ID,
    QUOTES_API_ID,
    QUOTES_TASK_ID,
    WEATHER_COPY_ID,
    WEATHER_COPY_TASK_ID,
    WEATHER_LISTING_ID,
)
from tests.sandbox.support import base_url

pytestmark = pytest.mark.anyio

TASK_KEYS = {
    "id",
    "url",
    "task",
    "status",
    "error",
    "result_scraper_id",
    "result_marketplace_id",
    "may_require_auth",
    "generated_api",
    "created_at",
    "updated_at",
}
BUILT_IN_TASKS = [BOOKS_TASK_ID, FAILURE_LAB_TASK_ID, QUOTES_TASK_ID, MEMBERS_TASK_ID, WEATHER_COPY_TASK_ID]
GENERATED_API_KEYS = {"marketplace_id", "scraper_id", "name", "source_url", "execution_base_url", "endpoints"}
TASK_ENDPOINT_KEYS = {"endpoint_name", "method", "description", "input_params", "return_schema"}


async def test_the_task_list_holds_the_built_in_completed_builds(client: httpx2.AsyncClient) -> None:
    reply = await client.get("/dispatch/tasks")
    assert reply.status_code == 200
    tasks = reply.json()["tasks"]
    assert [task["id"] for task in tasks] == BUILT_IN_TASKS
    assert [task["result_scraper_id"] for task in tasks] == [
        BOOKS_API_ID,
        FAILURE_LAB_ID,
        QUOTES_API_ID,
        MEMBERS_API_ID,
        WEATHER_COPY_ID,
    ]
    assert [task["result_marketplace_id"] for task in tasks] == [
        None,
        None,
        None,
        MEMBERS_LISTING_ID,
        WEATHER_LISTING_ID,
    ]
    # The lab and the members area have login endpoints, so building them needs credentials.
    assert [task["may_require_auth"] for task in tasks] == [False, True, False, True, False]
    for task in tasks:
        assert set(task) == TASK_KEYS
        assert (task["status"], task["error"]) == ("completed", None)
        assert task["created_at"] == task["updated_at"]


async def test_a_task_describes_the_api_it_generated(client: httpx2.AsyncClient) -> None:
    reply = await client.get(f"/dispatch/tasks/{BOOKS_TASK_ID}")
    assert reply.status_code == 200
    task = reply.json()
    assert task["url"] == f"{base_url(client)}/site/"
    assert task["task"] == "get book titles, prices, ratings and details, and search books by title"
    generated = task["generated_api"]
    assert set(generated) == GENERATED_API_KEYS
    assert generated["scraper_id"] == BOOKS_API_ID
    assert generated["name"] == "Books Catalogue (sandbox)"
    assert generated["source_url"] == f"{base_url(client)}/site/"
    assert generated["execution_base_url"] == f"{base_url(client)}/scraper/{BOOKS_API_ID}"
    assert [e["endpoint_name"] for e in generated["endpoints"]] == ["list_books", "get_book", "search_books"]
    assert all(set(e) == TASK_ENDPOINT_KEYS for e in generated["endpoints"])


async def test_the_tasks_endpoints_match_the_schemas_endpoints(client: httpx2.AsyncClient) -> None:
    schema = (await client.get(f"/sdk/schemas/{FAILURE_LAB_ID}")).json()
    generated = (await client.get(f"/dispatch/tasks/{FAILURE_LAB_TASK_ID}")).json()["generated_api"]
    from_schema = [(e["name"], e["method"], e["input_params"]) for e in schema["endpoints"]]
    from_task = [(e["endpoint_name"], e["method"], e["input_params"]) for e in generated["endpoints"]]
    assert from_task == from_schema


async def test_the_execution_base_url_really_executes(client: httpx2.AsyncClient) -> None:
    task = (await client.get(f"/dispatch/tasks/{BOOKS_TASK_ID}")).json()
    reply = await client.get(f"{task['generated_api']['execution_base_url']}/list_books")
    assert reply.status_code == 200
    assert reply.json()["status"] == "success"


async def test_a_task_id_is_not_a_scraper_id(client: httpx2.AsyncClient) -> None:
    reply = await client.get(f"/scraper/{BOOKS_TASK_ID}/list_books")
    assert reply.status_code == 404
    assert reply.json() == {"error": f"Scraper with ID '{BOOKS_TASK_ID}' not found", "status_code": 404}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"limit": "1"}, [BOOKS_TASK_ID]),
        ({"limit": "100", "status": "completed"}, BUILT_IN_TASKS),
        ({"status": "running"}, []),
    ],
)
async def test_the_task_list_honours_limit_and_status(
    client: httpx2.AsyncClient, params: dict[str, str], expected: list[str]
) -> None:
    reply = await client.get("/dispatch/tasks", params=params)
    assert [task["id"] for task in reply.json()["tasks"]] == expected


@pytest.mark.parametrize(
    ("limit", "msg", "error_type"),
    [
        ("ten", "Input should be a valid integer, unable to parse string as an integer", "int_parsing"),
        ("0", "Input should be greater than or equal to 1", "greater_than_equal"),
    ],
)
async def test_a_bad_limit_is_a_fastapi_validation_error(
    client: httpx2.AsyncClient, limit: str, msg: str, error_type: str
) -> None:
    reply = await client.get("/dispatch/tasks", params={"limit": limit})
    assert reply.status_code == 422
    assert reply.json() == {"detail": [{"loc": ["query", "limit"], "msg": msg, "type": error_type}]}


async def test_an_unknown_task_is_404_task_not_found(client: httpx2.AsyncClient) -> None:
    reply = await client.get("/dispatch/tasks/task-nope")
    assert (reply.status_code, reply.json()) == (404, {"error": "Task 'task-nope' not found", "status_code": 404})
