"""Agents never spend more than the user allowed: through real MCP clients against the sandbox, daily credit limits
hold for concurrent calls, for each client, across servers sharing a ledger and after a restart; a big spend asks
the user first where the client can show a form; and a ledger that cannot be written costs a warning, not an
answer."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.session import ClientRequestContext
from mcp.types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult, ErrorData

from parse_mcp.guidance.table import ROWS
from parse_mcp.meta import Meta
from parse_mcp.sandbox import FAILURE_LAB_ID, PARSEBOT_KEY
from parse_mcp.services.spend import MOST_CREDITS_BELIEVED, Charge
from parse_mcp.settings import Secret, Settings
from parse_mcp.state.ledger import Limits, open_ledger
from tests.conftest import Sandbox
from tests.counting import Counted
from tests.processes import keyless_env
from tests.redis_server import RedisServer
from tests.state.conftest import SESSION_SECRET, fresh_prefix
from tests.test_http_security import bearer, mcp_client, serving
from tests.tools.test_isolation import TOKENS, security

pytestmark = pytest.mark.anyio

PRICE = 3  # what the Failure Lab's list_items costs a call
ITEMS_PATH = f"/scraper/{FAILURE_LAB_ID}/list_items"
ITEMS = {"scraper_id": FAILURE_LAB_ID, "endpoint": "list_items", "params": {"count": 2}}
BOOK_PAGE = "/site/catalogue/a-light-in-the-attic_1000/index.html"


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content


def limited(sandbox: Sandbox, **limits: Any) -> Settings:
    return replace(sandbox.settings(), **limits)


def counted_server(sandbox: Sandbox, settings: Settings) -> tuple[Any, Counted]:
    assert sandbox.app is not None
    counted = Counted(sandbox.app, ITEMS_PATH)
    return sandbox.server(settings, parsebot_transport=httpx2.ASGITransport(app=counted)), counted


async def at_once(client: Client, calls: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []

    async def one() -> None:
        results.append(await call(client, "execute_endpoint", ITEMS))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for _ in range(calls):
                group.start_soon(one)
    return results


async def test_twelve_calls_at_once_of_three_credits_under_a_limit_of_ten_spend_at_most_thirteen(
    sandbox: Sandbox,
) -> None:
    server, counted = counted_server(sandbox, limited(sandbox, daily_credits=10))
    async with Client(server) as client:
        results = await at_once(client, 12)
    charged = counted.count * PRICE
    refused = [r for r in results if not r["ok"]]
    assert charged <= 10 + PRICE, "at most one call's underestimate past the limit"
    assert charged == 9, "the first charge taught the price: three calls fit, a fourth would pass 10"
    assert len(refused) == 12 - counted.count, "a refused call sent nothing"
    for result in refused:
        assert result["error"]["code"] == "spend_limit_reached"
        assert result["guidance"]["action"] == "ask_user"
        assert result["guidance"]["fault"] == "account"
        assert result["meta"].get("attempts") in (None, 0)
    assert all(0 <= r["meta"]["credits_left_today"] <= 10 for r in results)


async def test_a_refusal_names_the_limit_what_is_used_and_the_variable_and_waits_until_utc_midnight(
    sandbox: Sandbox,
) -> None:
    server, _ = counted_server(sandbox, limited(sandbox, daily_credits=5))
    async with Client(server) as client:
        first = await call(client, "execute_endpoint", ITEMS)
        second = await call(client, "execute_endpoint", ITEMS)
    assert first["ok"] is True
    assert first["meta"]["credits_left_today"] == 2
    assert second["error"]["code"] == "spend_limit_reached"
    assert "the account's limit of 5 Parse.bot credits a day (PARSE_MCP_DAILY_CREDITS)" in second["summary"]
    assert "3 are spent or held today" in second["summary"]
    assert "this call is expected to cost 3" in second["summary"]
    assert second["guidance"]["retry_after_seconds"] is not None
    assert 0 < second["guidance"]["retry_after_seconds"] <= 86_400
    assert second["meta"]["credits_left_today"] == 2


async def test_without_a_limit_nothing_is_refused_and_meta_says_nothing_about_what_is_left(client: Client) -> None:
    for _ in range(4):
        result = await call(client, "execute_endpoint", ITEMS)
        assert result["ok"] is True
        assert "credits_left_today" not in result["meta"]


async def test_a_clients_limit_holds_for_its_token_while_another_token_still_spends(sandbox: Sandbox) -> None:
    server, counted = counted_server(sandbox, limited(sandbox, client_daily_credits=6))
    async with (
        serving(security(TOKENS[0], TOKENS[1]), server) as url,
        mcp_client(url, "auto", bearer(TOKENS[0])) as first,
        mcp_client(url, "auto", bearer(TOKENS[1])) as second,
    ):
        mine = [await call(first, "execute_endpoint", ITEMS) for _ in range(3)]
        theirs = [await call(second, "execute_endpoint", ITEMS) for _ in range(2)]
    assert [r["ok"] for r in mine] == [True, True, False]
    assert mine[2]["error"]["code"] == "spend_limit_reached"
    assert "this client's limit of 6 Parse.bot credits a day (PARSE_MCP_CLIENT_DAILY_CREDITS)" in mine[2]["summary"]
    assert [r["ok"] for r in theirs] == [True, True]
    assert counted.count == 4


async def test_servers_on_one_sqlite_ledger_share_the_limit_and_a_restart_still_sees_todays_spend(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = limited(sandbox, daily_credits=10, state_dir=tmp_path)
    first, counted_first = counted_server(sandbox, settings)
    second, counted_second = counted_server(sandbox, settings)
    async with Client(first) as a, Client(second) as b:
        spent = [await call(a, "execute_endpoint", ITEMS), await call(b, "execute_endpoint", ITEMS)]
    restarted, counted_after = counted_server(sandbox, settings)
    async with Client(restarted) as c:
        after = [await call(c, "execute_endpoint", ITEMS) for _ in range(2)]
    assert [r["ok"] for r in spent] == [True, True]
    assert [r["ok"] for r in after] == [True, False], "6 were spent before the restart: one more call of 3 fits"
    assert counted_first.count + counted_second.count + counted_after.count == 3
    assert (tmp_path / "ledger.sqlite3").exists()


async def test_two_servers_on_one_redis_share_the_limit(sandbox: Sandbox, redis_server: RedisServer) -> None:
    settings = limited(
        sandbox,
        daily_credits=7,
        redis_url=Secret(redis_server.url),
        redis_prefix=fresh_prefix(),
        session_secrets=(Secret(SESSION_SECRET),),
    )
    first, counted_first = counted_server(sandbox, settings)
    second, counted_second = counted_server(sandbox, settings)
    async with Client(first) as a, Client(second) as b:
        results = [await call(client, "execute_endpoint", ITEMS) for client in (a, b, a, b)]
    assert [r["ok"] for r in results] == [True, True, False, False]
    assert counted_first.count + counted_second.count == 2


async def test_a_ledger_that_cannot_be_written_costs_one_warning_and_no_answer(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    server, counted = counted_server(sandbox, limited(sandbox, daily_credits=100, state_dir=blocker / "state"))
    caplog.set_level(logging.WARNING)
    async with Client(server) as client:
        results = [await call(client, "execute_endpoint", ITEMS) for _ in range(3)]
    assert [r["ok"] for r in results] == [True, True, True]
    assert counted.count == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "ledger" in r.getMessage().lower()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    assert str(blocker) not in warnings[0].getMessage()


# -- asking the user first --------------------------------------------------------------------------------


class User:
    """The person behind the client: answers each form the same way, and remembers what it was shown."""

    def __init__(self, action: Literal["accept", "decline", "cancel"], go_ahead: bool = True) -> None:
        self.action = action
        self.go_ahead = go_ahead
        self.forms: list[ElicitRequestFormParams] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        assert isinstance(params, ElicitRequestFormParams)
        self.forms.append(params)
        content = {"go_ahead": self.go_ahead} if self.action == "accept" else None
        return ElicitResult(action=self.action, content=content)


def create_parser_arguments(sandbox: Sandbox) -> dict[str, Any]:
    return {"name": "Books", "urls": [sandbox.url + BOOK_PAGE]}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_creating_a_parser_asks_the_user_first_and_goes_ahead_when_they_agree(
    sandbox: Sandbox, mode: Literal["auto", "legacy"]
) -> None:
    user = User("accept")
    settings = limited(sandbox, scraperapi_daily_credits=100_000)
    async with Client(sandbox.server(settings), mode=mode, elicitation_callback=user) as client:
        created = await call(client, "create_parser", create_parser_arguments(sandbox))
    assert created["ok"] is True, created
    [form] = user.forms
    assert form.message == "create_parser will spend about 30,000 ScraperAPI credits (100,000 left today). Go ahead?"
    assert set(form.requested_schema["properties"]) == {"go_ahead"}
    assert created["meta"]["credits_left_today"] == 70_000


@pytest.mark.parametrize(("action", "go_ahead"), [("decline", True), ("cancel", True), ("accept", False)])
async def test_a_spend_the_user_does_not_agree_to_sends_nothing_and_reserves_nothing(
    sandbox: Sandbox, action: Literal["accept", "decline", "cancel"], go_ahead: bool
) -> None:
    user = User(action, go_ahead)
    settings = limited(sandbox, scraperapi_daily_credits=100_000)
    async with Client(sandbox.server(settings), elicitation_callback=user) as client:
        refused = await call(client, "create_parser", create_parser_arguments(sandbox))
        listed = await call(client, "list_parsers", {})
    assert refused["error"]["code"] == "spend_declined"
    assert refused["guidance"]["action"] == "ask_user"
    assert refused["next_call"] is None
    assert refused["summary"] == ROWS["spend_declined"].summary
    assert listed["data"] in ([], {"parsers": []}) or not listed["data"], "no parser was created"
    assert refused["meta"]["credits_left_today"] == 100_000, "nothing was reserved"


async def test_a_client_without_forms_is_governed_by_the_limits_alone(sandbox: Sandbox) -> None:
    settings = limited(sandbox, scraperapi_daily_credits=40_000)
    async with Client(sandbox.server(settings)) as client:
        first = await call(client, "create_parser", create_parser_arguments(sandbox))
        second = await call(client, "create_parser", create_parser_arguments(sandbox))
    assert first["ok"] is True
    assert second["error"]["code"] == "spend_limit_reached"
    assert "(PARSE_MCP_SCRAPERAPI_DAILY_CREDITS)" in second["summary"]


async def test_a_cheap_call_never_asks(sandbox: Sandbox) -> None:
    user = User("decline")
    async with Client(sandbox.server(), elicitation_callback=user) as client:
        result = await call(client, "execute_endpoint", ITEMS)
    assert result["ok"] is True
    assert user.forms == []


@pytest.mark.parametrize(("threshold", "asked"), [(PRICE, True), (PRICE + 1, False)])
async def test_the_threshold_is_the_users_an_endpoints_listed_price_asks_when_it_reaches_it(
    sandbox: Sandbox, threshold: int, asked: bool
) -> None:
    # The sandbox lists list_items at 3 credits in its schema: before any charge, that is the expected cost.
    user = User("decline")
    async with Client(sandbox.server(limited(sandbox, confirm_credits=threshold)), elicitation_callback=user) as client:
        result = await call(client, "execute_endpoint", ITEMS)
    assert (result["ok"], len(user.forms)) == (not asked, int(asked))
    if asked:
        assert result["error"]["code"] == "spend_declined"
        assert user.forms[0].message == "execute_endpoint (list_items) will spend about 3 Parse.bot credits. Go ahead?"


async def test_two_stdio_processes_on_one_sqlite_ledger_share_the_limit_and_a_restarted_one_sees_the_spend(
    served_sandbox: Sandbox, tmp_path: Path
) -> None:
    env = {
        **keyless_env(),
        "PARSE_API_KEY": PARSEBOT_KEY,
        "PARSE_API_BASE_URL": served_sandbox.url,
        "PARSE_MCP_STATE_DIR": str(tmp_path),
        "PARSE_MCP_DAILY_CREDITS": "10",
    }

    def process() -> Client:
        return Client(StdioServerParameters(command=sys.executable, args=["-m", "parse_mcp.cli"], env=env))

    with anyio.fail_after(60):
        async with process() as first, process() as second:
            together = [await call(client, "execute_endpoint", ITEMS) for client in (first, second, first, second)]
        async with process() as restarted:
            after = await call(restarted, "execute_endpoint", ITEMS)
    assert [r["ok"] for r in together] == [True, True, True, False]
    assert together[3]["error"]["code"] == "spend_limit_reached"
    assert after["error"]["code"] == "spend_limit_reached", "the restarted process sees the day's 9 credits"
    assert after["meta"]["credits_left_today"] == 1


async def test_without_a_limit_every_charge_is_still_recorded_in_the_ledger(sandbox: Sandbox, tmp_path: Path) -> None:
    server, counted = counted_server(sandbox, limited(sandbox, state_dir=tmp_path))
    async with Client(server) as client:
        for _ in range(3):
            assert (await call(client, "execute_endpoint", ITEMS))["ok"] is True
    ledger = open_ledger(Limits(), sandbox.clock.now, state_dir=tmp_path)
    try:
        [today] = await ledger.usage(1)
    finally:
        await ledger.aclose()
    assert today.credits == counted.count * PRICE == 9
    assert today.by_endpoint == {("parsebot", FAILURE_LAB_ID, "list_items"): 9}


def test_a_charge_figure_past_belief_is_recorded_as_the_most_believed_not_as_sent() -> None:
    charge = Charge("parsebot", "api", "rows")
    for told in (1e300, 2**70, 1_000_000_001):
        assert charge.counted(Meta(credits_charged=told), ok=True) == MOST_CREDITS_BELIEVED
    assert charge.counted(Meta(credits_charged=2.5), ok=True) == 3
    assert charge.counted(Meta(), ok=False) == 0
