"""Big answers are paged, never paid for twice: through a real MCP client against the sandbox, a cut answer is
kept for its client and read by pages (no request, no credit), fields cut it to what is wanted, and another
client's or an expired result is refused in words that say what to do."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx2
import pytest
from mcp import Client

from parse_mcp.guidance.table import ROWS
from parse_mcp.sandbox import FAILURE_LAB_ID
from parse_mcp.settings import Secret
from parse_mcp.state.results import ORIGIN_TTL_SECONDS, RESULT_TTL_SECONDS
from tests.conftest import Sandbox
from tests.counting import Counted
from tests.redis_server import RedisServer
from tests.state.conftest import SESSION_SECRET, fresh_prefix
from tests.test_http_security import bearer, mcp_client
from tests.tools.test_isolation import TOKENS, security, served

pytestmark = pytest.mark.anyio

ITEMS_PATH = f"/scraper/{FAILURE_LAB_ID}/list_items"


def items(count: int, **more: Any) -> dict[str, Any]:
    return {"scraper_id": FAILURE_LAB_ID, "endpoint": "list_items", "params": {"count": count}, **more}


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content


async def read_all(client: Client, first: dict[str, Any]) -> tuple[list[Any], list[dict[str, Any]]]:
    """The first answer's items, then every page's, following next_call to the end; and the pages read."""
    seen = list(first["data"]["items"])
    pages: list[dict[str, Any]] = []
    following = first["next_call"]
    while following is not None:
        assert following["tool"] == "read_result"
        current = await call(client, "read_result", following["arguments"])
        assert current["ok"] is True, current
        pages.append(current)
        seen += current["data"]
        following = current["next_call"]
    return seen, pages


async def test_paging_5000_rows_gives_each_exactly_once_in_order_for_one_request_and_one_charge(
    sandbox: Sandbox,
) -> None:
    assert sandbox.app is not None
    counted = Counted(sandbox.app, ITEMS_PATH)
    async with Client(sandbox.server(parsebot_transport=httpx2.ASGITransport(app=counted))) as client:
        first = await call(client, "execute_endpoint", items(5_000))
        seen, pages = await read_all(client, first)
    assert first["meta"]["truncated"] is True
    assert first["meta"]["page_total"] == 5_000
    assert first["next_call"]["arguments"]["cursor"] == first["meta"]["next_cursor"]
    assert [row["id"] for row in seen] == list(range(1, 5_001))
    assert len(pages) > 5
    assert counted.count == 1, "the pages come from this server, not from the service"
    assert first["meta"]["credits_charged"] == 3
    assert all("credits_charged" not in page["meta"] for page in pages)
    assert pages[-1]["next_step"] == "This was the last page."
    before = len(first["data"]["items"])
    for page in pages:  # each page says where it starts: after every item shown before it
        assert page["meta"]["page_start"] == before
        before += len(page["data"])


async def test_fields_keep_only_what_is_named_so_a_big_answer_fits_without_a_cut(client: Client) -> None:
    whole = await call(client, "execute_endpoint", items(6_500))
    counted = await call(client, "execute_endpoint", items(6_500, fields=["count", "nowhere.at_all"]))
    ids = await call(client, "execute_endpoint", items(3_000, fields=["items.id"]))
    assert whole["meta"]["truncated"] is True
    assert counted["data"] == {"count": 6_500}
    assert "truncated" not in counted["meta"]
    assert counted["meta"]["unmatched_fields"] == ["nowhere.at_all"]
    assert "truncated" not in ids["meta"], "3,000 ids fit where 3,000 whole items (about 200 KB) would not"
    assert ids["data"]["items"][:2] == [{"id": 1}, {"id": 2}]


async def test_fields_that_cannot_be_walked_are_refused_before_anything_is_sent(sandbox: Sandbox) -> None:
    assert sandbox.app is not None
    counted = Counted(sandbox.app, ITEMS_PATH)
    async with Client(sandbox.server(parsebot_transport=httpx2.ASGITransport(app=counted))) as client:
        refused = await call(client, "execute_endpoint", items(10, fields=["items..id"]))
    assert refused["error"]["code"] == "invalid_arguments"
    assert refused["guidance"]["fix_fields"] == ["fields"]
    assert counted.count == 0


async def test_read_result_pages_can_keep_fewer_fields_of_each_item(client: Client) -> None:
    first = await call(client, "execute_endpoint", items(2_000))
    page = await call(client, "read_result", {**first["next_call"]["arguments"], "fields": ["items.title"]})
    cursor = int(first["meta"]["next_cursor"])
    assert page["ok"] is True
    assert page["data"][0] == {"title": f"Lab item {cursor + 1}"}


@pytest.mark.parametrize("cursor", ["-1", "abc", "99999", "1e3"])
async def test_a_cursor_that_is_not_a_place_in_the_list_is_fix_input_naming_cursor(client: Client, cursor: str) -> None:
    first = await call(client, "execute_endpoint", items(2_000))
    refused = await call(client, "read_result", {"result_id": first["meta"]["result_id"], "cursor": cursor})
    assert refused["error"]["code"] == "invalid_arguments"
    assert refused["guidance"]["fix_fields"] == ["cursor"]


async def test_an_id_this_client_was_never_given_is_unknown_result(client: Client) -> None:
    refused = await call(client, "read_result", {"result_id": "res_" + "A" * 40, "cursor": "1"})
    assert refused["error"]["code"] == "unknown_result"
    assert refused["guidance"]["action"] == "check_id"
    assert refused["guidance"]["fix_fields"] == ["result_id"]
    assert refused["next_call"] is None


async def test_a_kept_answer_past_its_time_is_result_expired_and_says_rerunning_costs_credits(
    sandbox: Sandbox, client: Client
) -> None:
    first = await call(client, "execute_endpoint", items(2_000))
    sandbox.clock.set(sandbox.clock.now() + RESULT_TTL_SECONDS + 1)
    gone = await call(client, "read_result", first["next_call"]["arguments"])
    assert gone["error"]["code"] == "result_expired"
    assert gone["guidance"]["action"] == "change_input"
    # The store still knows where the answer came from, and the ledger what that call last cost.
    assert "running it again costs about 3 credits" in gone["next_step"]
    # The row's words name the time the store keeps an answer.
    assert f"{RESULT_TTL_SECONDS // 60} minutes" in ROWS["result_expired"].summary


async def test_another_clients_result_id_is_refused_as_unknown_never_data(sandbox: Sandbox) -> None:
    async with (
        served(sandbox, security(TOKENS[0], TOKENS[1])) as url,
        mcp_client(url, "auto", bearer(TOKENS[0])) as owner,
        mcp_client(url, "auto", bearer(TOKENS[1])) as other,
    ):
        first = await call(owner, "execute_endpoint", items(2_000))
        stolen = await call(other, "read_result", first["next_call"]["arguments"])
        mine = await call(owner, "read_result", first["next_call"]["arguments"])
    assert stolen["ok"] is False
    assert stolen["error"]["code"] == "unknown_result"
    assert "data" not in stolen
    assert mine["ok"] is True


async def test_the_resource_view_gives_the_first_page_of_a_kept_answer_to_its_client(client: Client) -> None:
    first = await call(client, "execute_endpoint", items(2_000))
    read = await client.read_resource(f"parse://results/{first['meta']['result_id']}")
    text = read.contents[0].text  # type: ignore[union-attr]
    assert '"id":1,' in text
    assert '"page_total":2000' in text


async def test_page_one_through_one_replica_and_page_two_through_another_on_redis(
    sandbox: Sandbox, redis_server: RedisServer
) -> None:
    settings = replace(
        sandbox.settings(),
        redis_url=Secret(redis_server.url),
        redis_prefix=fresh_prefix(),
        session_secrets=(Secret(SESSION_SECRET),),
    )
    first_replica = sandbox.server(settings)
    second_replica = sandbox.server(settings)
    async with Client(first_replica) as a, Client(second_replica) as b:
        first = await call(a, "execute_endpoint", items(3_000))
        second = await call(b, "read_result", first["next_call"]["arguments"])
        third = await call(a, "read_result", second["next_call"]["arguments"])
    assert second["ok"] is True, second
    assert second["data"][0]["id"] == int(first["meta"]["next_cursor"]) + 1
    assert third["data"][0]["id"] == int(second["meta"]["next_cursor"]) + 1


async def test_an_answer_gone_for_longer_than_a_day_no_longer_names_a_cost(sandbox: Sandbox, client: Client) -> None:
    first = await call(client, "execute_endpoint", items(2_000))
    sandbox.clock.set(sandbox.clock.now() + ORIGIN_TTL_SECONDS + 1)
    gone = await call(client, "read_result", first["next_call"]["arguments"])
    assert gone["error"]["code"] == "result_expired"
    assert "it costs its credits again" in gone["next_step"]
