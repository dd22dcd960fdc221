"""The login workflow is a service of its own: with the Parse.bot client, a session store and the login cap, it logs
in, keeps the session for one client, and runs protected endpoints with it, against the sandbox and without MCP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from parse_mcp.errors import RejectedLocally
from parse_mcp.sandbox import DEMO_PASSWORD, DEMO_USERNAME, MEMBERS_API_ID
from parse_mcp.services.login import Answered, LoggedIn, LoginWorkflow
from parse_mcp.services.parsebot import ParseBotClient
from parse_mcp.state.logins import MemoryLoginAttempts
from parse_mcp.state.sessions import MemorySessionStore
from tests.conftest import Sandbox

pytestmark = pytest.mark.anyio

CREDENTIALS = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}


@pytest.fixture
async def api(sandbox: Sandbox) -> AsyncIterator[ParseBotClient]:
    settings = sandbox.settings()
    assert settings.parse_api_key is not None
    client = ParseBotClient.from_settings(
        settings, settings.parse_api_key, transport=sandbox.transport(), runtime=sandbox.runtime
    )
    try:
        yield client
    finally:
        await client.aclose()


def workflow(
    api: ParseBotClient,
    sandbox: Sandbox,
    client: str = "alice",
    *,
    sessions: MemorySessionStore | None = None,
    attempts: MemoryLoginAttempts | None = None,
) -> LoginWorkflow:
    return LoginWorkflow(
        api,
        sessions or MemorySessionStore(sandbox.clock.now),
        attempts or MemoryLoginAttempts(),
        sandbox.clock.now,
        client,
    )


async def test_a_login_keeps_the_session_for_its_client_and_the_handle_opens_the_protected_endpoint(
    api: ParseBotClient, sandbox: Sandbox
) -> None:
    sessions = MemorySessionStore(sandbox.clock.now)
    alice = workflow(api, sandbox, "alice", sessions=sessions)
    logged_in = await alice.log_in(MEMBERS_API_ID, "login", CREDENTIALS)
    assert logged_in.handle.startswith("sess_")
    assert logged_in.data["session"] == logged_in.handle
    assert logged_in.protected is not None, "a protected endpoint with nothing required is offered next"
    profile = await alice.run_endpoint(MEMBERS_API_ID, logged_in.protected, {}, session=logged_in.handle)
    assert isinstance(profile, Answered)
    bob = workflow(api, sandbox, "bob", sessions=sessions)
    with pytest.raises(RejectedLocally) as refused:
        await bob.run_endpoint(MEMBERS_API_ID, logged_in.protected, {}, session=logged_in.handle)
    assert refused.value.record.code == "unknown_session", "a handle is worth nothing to another client"


async def test_a_login_endpoint_called_directly_keeps_its_session_as_the_login_does(
    api: ParseBotClient, sandbox: Sandbox
) -> None:
    outcome = await workflow(api, sandbox).run_endpoint(MEMBERS_API_ID, "login", CREDENTIALS)
    assert isinstance(outcome, LoggedIn)
    assert "session_id" not in outcome.data
    assert "encryption_key" not in outcome.data
    assert outcome.protected is None


@pytest.mark.parametrize(
    ("scraper_id", "endpoint", "field"), [("..", "login", "scraper_id"), (MEMBERS_API_ID, "a/b", "endpoint")]
)
async def test_a_name_that_would_change_the_path_is_refused_before_the_cap_is_read_or_an_attempt_counted(
    api: ParseBotClient, sandbox: Sandbox, scraper_id: str, endpoint: str, field: str
) -> None:
    attempts = MemoryLoginAttempts()
    for _ in range(5):
        with pytest.raises(RejectedLocally) as refused:
            await workflow(api, sandbox, attempts=attempts).log_in(scraper_id, endpoint, CREDENTIALS)
        assert refused.value.record.fields == (field,)
    assert await attempts.wait_before_next(MEMBERS_API_ID, sandbox.clock.now()) is None
    assert await attempts.wait_before_next(scraper_id, sandbox.clock.now()) is None


async def test_without_credentials_the_refusal_names_the_declared_fields_and_counts_no_attempt(
    api: ParseBotClient, sandbox: Sandbox
) -> None:
    attempts = MemoryLoginAttempts()
    with pytest.raises(RejectedLocally) as refused:
        await workflow(api, sandbox, attempts=attempts).log_in(MEMBERS_API_ID, "login", None)
    assert refused.value.record.code == "invalid_arguments"
    assert refused.value.record.fields == ("credentials",)
    assert "(username, password)" in refused.value.record.message
    for _ in range(3):
        await attempts.claim(MEMBERS_API_ID, sandbox.clock.now())
    assert await attempts.wait_before_next(MEMBERS_API_ID, sandbox.clock.now()) is not None, "the 3 were all left"


async def test_the_form_is_the_login_endpoints_model_and_none_once_the_hourly_logins_are_spent(
    api: ParseBotClient, sandbox: Sandbox
) -> None:
    attempts = MemoryLoginAttempts()
    flow = workflow(api, sandbox, attempts=attempts)
    form = await flow.form(MEMBERS_API_ID, "login")
    assert form is not None
    login = (await api.api_spec(MEMBERS_API_ID)).endpoint("login")
    assert login is not None
    assert form is login.login_form, "the model kept with the spec, built once"
    assert await flow.form(MEMBERS_API_ID, "..") is None
    assert await flow.form("no-such-api", "login") is None
    for _ in range(3):
        await attempts.claim(MEMBERS_API_ID, sandbox.clock.now())
    assert await flow.form(MEMBERS_API_ID, "login") is None
