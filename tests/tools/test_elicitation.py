"""`login` asks the user for the credentials itself when the client can show a form (elicitation), through a real
in-memory MCP client in both protocol eras: the password goes from the user to this server, never through the
model's arguments or any result; a form closed without an answer sends nothing and spends no login attempt."""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult, ErrorData

from parse_mcp.sandbox import DEMO_PASSWORD, DEMO_USERNAME, MEMBERS_API_ID
from tests.conftest import Sandbox
from tests.hostile_upstream import SCRAPER_ID, documented_successes, hostile_upstream, json_answer, server_for

pytestmark = pytest.mark.anyio

Mode = Literal["auto", "legacy"]
MODES: list[Mode] = ["auto", "legacy"]  # auto negotiates 2026-07-28 (input_required); legacy is 2025-11-25 (push)


class User:
    """The person behind the client: answers each login form the same way, and remembers what it was shown."""

    def __init__(self, action: Literal["accept", "decline", "cancel"], content: dict[str, Any] | None = None) -> None:
        self.action = action
        self.content = content
        self.forms: list[ElicitRequestFormParams] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        assert isinstance(params, ElicitRequestFormParams)
        self.forms.append(params)
        return ElicitResult(action=self.action, content=self.content if self.action == "accept" else None)


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> tuple[dict[str, Any], str]:
    result = await client.call_tool(tool, arguments)
    assert result.structured_content is not None
    assert result.is_error is (not result.structured_content["ok"])
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    return result.structured_content, text


@pytest.mark.parametrize("mode", MODES)
async def test_a_client_with_forms_gets_a_login_form_and_the_password_reaches_no_result_or_log(
    sandbox: Sandbox, mode: Mode, caplog: pytest.LogCaptureFixture
) -> None:
    user = User("accept", {"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
    caplog.set_level(logging.DEBUG)
    async with Client(sandbox.server(), mode=mode, elicitation_callback=user) as client:
        logged_in, text = await call(client, "login", {"scraper_id": MEMBERS_API_ID})
        assert logged_in["ok"] is True, logged_in
        assert logged_in["data"]["session"].startswith("sess_")
        profile, _ = await call(
            client,
            "execute_endpoint",
            {"scraper_id": MEMBERS_API_ID, "endpoint": "get_profile", "session": logged_in["data"]["session"]},
        )
        assert profile["ok"] is True, "the session the form's credentials opened works"
    [form] = user.forms
    schema = form.requested_schema
    assert set(schema["properties"]) == {"username", "password"}, "the login endpoint's declared fields"
    assert set(schema["required"]) == {"username", "password"}
    assert schema["properties"]["password"].get("writeOnly") is True, "marked secret, for clients that mask"
    assert "writeOnly" not in schema["properties"]["username"]
    assert MEMBERS_API_ID in form.message
    assert DEMO_PASSWORD not in json.dumps(logged_in) + text
    assert DEMO_PASSWORD not in caplog.text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_a_closed_form_asks_the_user_sends_nothing_and_spends_no_login(
    sandbox: Sandbox, mode: Mode, action: Literal["decline", "cancel"]
) -> None:
    user = User(action)
    async with Client(sandbox.server(), mode=mode, elicitation_callback=user) as client:
        # More than the 3 logins an hour: none of them counts, here or at the service.
        results = [(await call(client, "login", {"scraper_id": MEMBERS_API_ID}))[0] for _ in range(4)]
        user.action, user.content = "accept", {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
        logged_in, _ = await call(client, "login", {"scraper_id": MEMBERS_API_ID})
    assert logged_in["ok"] is True, "no attempt was spent by the closed forms"
    assert len(user.forms) == 5
    for result in results:
        assert result["error"]["code"] == "login_declined"
        assert result["guidance"]["action"] == "ask_user"
        assert result["guidance"]["retryable"] is False
        assert result["next_call"] is None
        assert "nothing was sent" in result["summary"]
    assert results[0]["error"]["kind"] == ("declined" if action == "decline" else "cancelled")


async def test_credentials_given_as_an_argument_are_used_without_a_form(sandbox: Sandbox) -> None:
    user = User("decline")
    credentials = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
    async with Client(sandbox.server(), elicitation_callback=user) as client:
        logged_in, _ = await call(client, "login", {"scraper_id": MEMBERS_API_ID, "credentials": credentials})
    assert logged_in["ok"] is True
    assert user.forms == []


async def test_a_client_without_forms_is_told_to_pass_the_declared_fields(client: Client) -> None:
    needed, _ = await call(client, "login", {"scraper_id": MEMBERS_API_ID})
    assert needed["error"]["code"] == "invalid_arguments"
    assert needed["guidance"]["fix_fields"] == ["credentials"]
    assert "(username, password)" in needed["summary"]


async def test_without_forms_a_wrong_api_id_is_reported_before_the_missing_credentials(client: Client) -> None:
    unknown, _ = await call(client, "login", {"scraper_id": "no-such-api"})
    assert unknown["error"]["code"] == "id_not_found"


@pytest.mark.parametrize("mode", MODES)
async def test_no_form_is_shown_once_the_hourly_logins_are_spent(sandbox: Sandbox, mode: Mode) -> None:
    wrong = {"username": DEMO_USERNAME, "password": "not-it"}
    user = User("accept", {"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
    async with Client(sandbox.server(), mode=mode, elicitation_callback=user) as client:
        for _ in range(3):
            await call(client, "login", {"scraper_id": MEMBERS_API_ID, "credentials": wrong})
        limited, _ = await call(client, "login", {"scraper_id": MEMBERS_API_ID})
    assert limited["error"]["code"] == "login_limited"
    assert user.forms == [], "the user is not asked for a password that could not be used"


async def test_a_login_form_asks_for_fields_no_python_name_could_hold_and_sends_them_under_their_own_names() -> None:
    # The login endpoint's fields: a dash, a keyword, and BaseModel's own attribute. The form is built from the
    # endpoint's spec with aliased fields, so each is asked and sent as the spec names it.
    declared = {
        "user-name": {"type": "str", "required": True},
        "class": {"type": "int"},
        "model_config": {"type": "str", "required": True, "description": "the password"},
    }
    endpoints = [{"name": "login", "method": "POST", "description": "d", "input_params": declared}]
    api = {"id": SCRAPER_ID, "name": "n", "slug": "n", "description": "d", "endpoints": endpoints}
    user = User("accept", {"user-name": "ada", "class": 7, "model_config": "pw"})
    plans = {**documented_successes(), "/sdk/schemas/": json_answer(api)}
    async with hostile_upstream(plans) as upstream, Client(server_for(upstream), elicitation_callback=user) as client:
        logged_in, _ = await call(client, "login", {"scraper_id": SCRAPER_ID})
        sent = [json.loads(seen.body) for seen in upstream.seen if seen.path == f"/scraper/{SCRAPER_ID}/login"]
    assert logged_in["ok"] is True, logged_in["summary"]
    [form] = user.forms
    assert list(form.requested_schema["properties"]) == ["user-name", "class", "model_config"]
    assert form.requested_schema["required"] == ["user-name", "model_config"]
    assert sent == [{"user-name": "ada", "class": 7, "model_config": "pw"}]
