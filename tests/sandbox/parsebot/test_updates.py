from __future__ import annotations

from typing import Any

import httpx2
import pytest

from parse_mcp.sandbox import BOOKS_TASK_ID, MEMBERS_TASK_ID, WEATHER_COPY_ID, WEATHER_COPY_TASK_ID
from tests.sandbox.support import base_url, task, weather_copy

pytestmark = pytest.mark.anyio

UPDATES = f"/dispatch/tasks/{WEATHER_COPY_TASK_ID}/updates"
MERGE = f"/dispatch/tasks/{WEATHER_COPY_TASK_ID}/merge-updates"
FORECAST_UPDATE = {
    "endpoint_name": "get_forecast",
    "type": "updated",
    "description": "Release 2: each day now also has humidity (in %).",
    "method": "GET",
    "user_has_called": False,
}
CITIES_UPDATE = {
    "endpoint_name": "list_cities",
    "type": "new",
    "description": "Release 2: new endpoint listing the cities get_forecast knows.",
    "method": "GET",
    "user_has_called": False,
}


def _preview(endpoint: str) -> str:
    return f"/dispatch/tasks/{WEATHER_COPY_TASK_ID}/preview-update/{endpoint}"


async def _updates(client: httpx2.AsyncClient, path: str = UPDATES) -> list[dict[str, Any]]:
    reply = await client.get(path)
    assert reply.status_code == 200
    assert set(reply.json()) == {"updates"}
    updates: list[dict[str, Any]] = reply.json()["updates"]
    return updates


async def test_the_personal_copy_is_behind_its_canonical(client: httpx2.AsyncClient) -> None:
    assert await _updates(client) == [FORECAST_UPDATE, CITIES_UPDATE]
    day = (await client.get(weather_copy("get_forecast"), params={"city": "leeds"})).json()["data"]["days"][0]
    assert "humidity" not in day
    assert (await client.get(weather_copy("list_cities"))).status_code == 404


async def test_updates_say_which_endpoints_the_user_has_called(client: httpx2.AsyncClient) -> None:
    await client.get(weather_copy("get_forecast"), params={"city": "osaka"})
    called = {update["endpoint_name"]: update["user_has_called"] for update in await _updates(client)}
    assert called == {"get_forecast": True, "list_cities": False}


async def test_a_preview_runs_the_canonicals_version_and_gives_sample_inputs(client: httpx2.AsyncClient) -> None:
    reply = await client.post(_preview("get_forecast"), json={"params": {"city": "lisbon", "days": 2}})
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"result", "sample_inputs"}
    assert body["sample_inputs"] == {"city": "leeds", "days": 3}
    assert body["result"]["status"] == "success"
    data = body["result"]["data"]
    assert data["city"] == "Lisbon"
    assert [set(day) for day in data["days"]] == [{"day", "summary", "high_c", "low_c", "humidity"}] * 2


async def test_a_preview_without_params_uses_the_defaults(client: httpx2.AsyncClient) -> None:
    reply = await client.post(_preview("list_cities"))
    assert reply.json()["result"]["data"]["cities"][0] == {"name": "Leeds", "slug": "leeds"}
    assert reply.json()["sample_inputs"] == {}


async def test_a_preview_with_bad_params_answers_like_the_execution_would(client: httpx2.AsyncClient) -> None:
    missing = await client.post(_preview("get_forecast"), json={"params": {}})
    unknown = await client.post(_preview("get_forecast"), json={"params": {"city": "atlantis"}})
    assert (missing.status_code, missing.json()["error"]["message"]) == (422, "city is required")
    assert (unknown.status_code, unknown.json()["error"]["upstream_status_code"]) == (502, 404)


async def test_preview_params_that_are_not_an_object_are_a_fastapi_validation_error(
    client: httpx2.AsyncClient,
) -> None:
    reply = await client.post(_preview("list_cities"), json={"params": ["leeds"]})
    assert (reply.status_code, reply.json()) == (
        422,
        {"detail": [{"loc": ["body", "params"], "msg": "Input should be a valid dictionary", "type": "dict_type"}]},
    )


async def test_a_preview_changes_nothing(client: httpx2.AsyncClient) -> None:
    await client.post(_preview("list_cities"))
    assert await _updates(client) == [FORECAST_UPDATE, CITIES_UPDATE]


async def test_merging_brings_the_updates_into_the_copy(client: httpx2.AsyncClient) -> None:
    reply = await client.post(MERGE, json={"endpoints": ["list_cities", "get_forecast"]})
    assert (reply.status_code, reply.json()) == (
        200,
        {"merged": 2, "endpoints": ["list_cities", "get_forecast"], "code_merged": True},
    )
    assert await _updates(client) == []
    day = (await client.get(weather_copy("get_forecast"), params={"city": "leeds"})).json()["data"]["days"][0]
    assert "humidity" in day
    assert (await client.get(weather_copy("list_cities"))).json()["data"]["count"] == 5
    schema = (await client.get(f"/sdk/schemas/{WEATHER_COPY_ID}")).json()
    assert ([e["name"] for e in schema["endpoints"]], schema["versions"]) == (["get_forecast", "list_cities"], [1, 2])
    generated = (await task(client, WEATHER_COPY_TASK_ID))["generated_api"]
    assert [e["endpoint_name"] for e in generated["endpoints"]] == ["get_forecast", "list_cities"]


async def test_merging_one_endpoint_leaves_the_other_pending(client: httpx2.AsyncClient) -> None:
    reply = await client.post(MERGE, json={"endpoints": ["list_cities"]})
    assert reply.json() == {"merged": 1, "endpoints": ["list_cities"], "code_merged": True}
    assert await _updates(client) == [FORECAST_UPDATE]


async def test_merging_an_endpoint_without_an_update_is_422(client: httpx2.AsyncClient) -> None:
    reply = await client.post(MERGE, json={"endpoints": ["get_forecast", "get_radar"]})
    assert reply.status_code == 422
    assert reply.json() == {
        "error": (
            f"No pending update for endpoint(s) get_radar of task '{WEATHER_COPY_TASK_ID}': the endpoints with "
            "updates are get_forecast, list_cities"
        ),
        "status_code": 422,
    }
    assert len(await _updates(client)) == 2


async def test_merging_twice_is_422_the_second_time(client: httpx2.AsyncClient) -> None:
    await client.post(MERGE, json={"endpoints": ["list_cities"]})
    again = await client.post(MERGE, json={"endpoints": ["list_cities"]})
    assert again.status_code == 422
    assert again.json()["error"].endswith("the endpoints with updates are get_forecast")


async def test_previewing_an_endpoint_without_an_update_is_422(client: httpx2.AsyncClient) -> None:
    reply = await client.post(f"/dispatch/tasks/{BOOKS_TASK_ID}/preview-update/list_books", json={"params": {}})
    assert reply.status_code == 422
    assert reply.json() == {
        "error": f"No pending update for endpoint(s) list_books of task '{BOOKS_TASK_ID}': this task has no updates",
        "status_code": 422,
    }


@pytest.mark.parametrize("task_id", [BOOKS_TASK_ID, MEMBERS_TASK_ID])
async def test_an_api_that_is_not_a_copy_has_no_updates(client: httpx2.AsyncClient, task_id: str) -> None:
    assert await _updates(client, f"/dispatch/tasks/{task_id}/updates") == []


async def test_a_copy_made_today_has_no_updates(client: httpx2.AsyncClient) -> None:
    matched = await client.post("/dispatch", json={"url": f"{base_url(client)}/site/weather/"})
    assert await _updates(client, f"/dispatch/tasks/{matched.json()['task_id']}/updates") == []


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, {"loc": ["body", "endpoints"], "msg": "Field required", "type": "missing"}),
        (
            {"endpoints": "list_cities"},
            {"loc": ["body", "endpoints"], "msg": "Input should be a valid list", "type": "list_type"},
        ),
        (
            {"endpoints": [1]},
            {"loc": ["body", "endpoints", 0], "msg": "Input should be a valid string", "type": "string_type"},
        ),
        (
            {"endpoints": []},
            {
                "loc": ["body", "endpoints"],
                "msg": "List should have at least 1 item after validation, not 0",
                "type": "too_short",
            },
        ),
    ],
)
async def test_a_merge_without_a_list_of_names_is_a_fastapi_validation_error(
    client: httpx2.AsyncClient, body: dict[str, Any], detail: dict[str, Any]
) -> None:
    reply = await client.post(MERGE, json=body)
    assert (reply.status_code, reply.json()) == (422, {"detail": [detail]})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/dispatch/tasks/task-nope/updates"),
        ("POST", "/dispatch/tasks/task-nope/preview-update/get_forecast"),
        ("POST", "/dispatch/tasks/task-nope/merge-updates"),
    ],
)
async def test_the_updates_routes_of_an_unknown_task_are_404(
    client: httpx2.AsyncClient, method: str, path: str
) -> None:
    reply = await client.request(method, path, json={"endpoints": ["get_forecast"]})
    assert (reply.status_code, reply.json()) == (404, {"error": "Task 'task-nope' not found", "status_code": 404})
