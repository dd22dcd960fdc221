from __future__ import annotations

import base64

import httpx2
import pytest

from parse_mcp.sandbox import DEMO_PASSWORD, DEMO_USERNAME, MEMBERS_API_ID, ManualClock, SandboxConfig
from tests.sandbox.support import BUDGET_HEADERS, base_url, lab, members, sandbox_client

pytestmark = pytest.mark.anyio

DEMO = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
WRONG = {"username": DEMO_USERNAME, "password": "not-the-password"}
SESSION_REQUIRED = {
    "error": "This endpoint needs a login session: send session_id and encryption_key (log in first)",
    "status_code": 400,
}
SESSION_EXPIRED = {"error": "Session expired: log in again to get a new session", "status_code": 401}


async def _login(client: httpx2.AsyncClient, path: str = members("login")) -> dict[str, str]:
    reply = await client.post(path, json=DEMO)
    assert reply.status_code == 200, reply.text
    return {"X-Session-ID": reply.json()["session_id"], "X-Encryption-Key": reply.json()["encryption_key"]}


def _login_limited(seconds: int) -> dict[str, object]:
    return {
        "error": {
            "error": "Rate limit exceeded",
            "message": f"Too many login attempts: 3 an hour for this API. Retry in {seconds}s.",
            "limit_type": "login",
            "retry_after": seconds,
        },
        "status_code": 429,
    }


async def test_a_login_returns_data_a_session_id_and_a_fernet_like_key(client: httpx2.AsyncClient) -> None:
    reply = await client.post(members("login"), json=DEMO)
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"data", "session_id", "encryption_key"}
    assert body["data"] == {"member": "Demo Member", "email": DEMO_USERNAME}
    assert len(body["session_id"]) == 36
    assert body["encryption_key"].startswith("gAAAAAB")
    assert base64.urlsafe_b64decode(body["encryption_key"])[0] == 0x80
    assert (reply.headers["X-Credits-Charged"], reply.headers["X-RateLimit-Remaining"]) == ("1", "29")


async def test_the_login_endpoint_and_the_protected_ones_are_tagged_in_the_schema(client: httpx2.AsyncClient) -> None:
    schema = (await client.get(f"/sdk/schemas/{MEMBERS_API_ID}")).json()
    tags = {e["name"]: (e.get("initiates_session"), e.get("depends_on_session")) for e in schema["endpoints"]}
    assert tags == {
        "login": (True, None),
        "get_profile": (None, "login"),
        "list_orders": (None, "login"),
        "list_plans": (None, None),
    }
    assert set(schema["endpoints"][0]["input_params"]) == {"username", "password"}


async def test_a_live_session_opens_the_protected_endpoints(client: httpx2.AsyncClient) -> None:
    session = await _login(client)
    profile = await client.post(members("get_profile"), headers=session)
    orders = await client.post(members("list_orders"), headers=session)
    assert (profile.status_code, profile.json()["data"]) == (
        200,
        {"name": "Demo Member", "email": DEMO_USERNAME, "member_since": "2024-03-01", "plan": "Collector"},
    )
    assert orders.json()["data"]["count"] == 3
    assert orders.headers["X-Credits-Charged"] == "1"


async def test_the_session_may_also_travel_in_the_body(client: httpx2.AsyncClient) -> None:
    session = await _login(client)
    body = {"session_id": session["X-Session-ID"], "encryption_key": session["X-Encryption-Key"]}
    reply = await client.post(members("get_profile"), json=body)
    assert reply.status_code == 200


async def test_a_public_endpoint_needs_no_session(client: httpx2.AsyncClient) -> None:
    reply = await client.get(members("list_plans"))
    assert reply.json()["data"]["plans"][0] == {"name": "Reader", "monthly_price": 5}


async def test_a_protected_endpoint_without_a_session_is_400(client: httpx2.AsyncClient) -> None:
    reply = await client.post(members("get_profile"))
    assert (reply.status_code, reply.json()) == (400, SESSION_REQUIRED)
    assert all(name in reply.headers for name in BUDGET_HEADERS)


async def test_half_a_session_pair_is_400(client: httpx2.AsyncClient) -> None:
    session = await _login(client)
    reply = await client.post(members("get_profile"), headers={"X-Session-ID": session["X-Session-ID"]})
    assert (reply.status_code, reply.json()["error"]) == (400, "session_id and encryption_key must be sent together")


async def test_an_unknown_session_is_401_session_expired(client: httpx2.AsyncClient) -> None:
    headers = {"X-Session-ID": "550e8400-e29b-41d4-a716-446655440000", "X-Encryption-Key": "gAAAAABk-forged"}
    reply = await client.post(members("get_profile"), headers=headers)
    assert (reply.status_code, reply.json()) == (401, SESSION_EXPIRED)


async def test_a_session_with_the_wrong_key_is_401_session_expired(client: httpx2.AsyncClient) -> None:
    session = await _login(client)
    other = await _login(client)
    mixed = {"X-Session-ID": session["X-Session-ID"], "X-Encryption-Key": other["X-Encryption-Key"]}
    reply = await client.post(members("get_profile"), headers=mixed)
    assert (reply.status_code, reply.json()) == (401, SESSION_EXPIRED)


async def test_a_session_belongs_to_the_api_that_issued_it(client: httpx2.AsyncClient) -> None:
    from_lab = await _login(client, lab("login"))
    from_members = await _login(client)
    on_members = await client.post(members("get_profile"), headers=from_lab)
    on_lab = await client.post(lab("session_required"), headers=from_members)
    assert (on_members.status_code, on_lab.status_code) == (401, 401)


async def test_a_session_expires_after_its_lifetime(client: httpx2.AsyncClient, clock: ManualClock) -> None:
    session = await _login(client)
    clock.advance(1799)
    alive = await client.post(members("get_profile"), headers=session)
    clock.advance(1)
    expired = await client.post(members("get_profile"), headers=session)
    assert alive.status_code == 200
    assert (expired.status_code, expired.json()) == (401, SESSION_EXPIRED)
    assert expired.headers["X-Credits-Charged"] == "0"


async def test_the_session_lifetime_comes_from_the_config() -> None:
    clock = ManualClock()
    async with sandbox_client(SandboxConfig(session_ttl_seconds=60), clock) as client:
        session = await _login(client)
        clock.advance(60)
        reply = await client.post(members("get_profile"), headers=session)
    assert reply.status_code == 401


async def test_wrong_credentials_are_the_sites_401_as_an_upstream_error(client: httpx2.AsyncClient) -> None:
    reply = await client.post(members("login"), json=WRONG)
    page = await client.get("/site/members/login", params=WRONG)
    assert reply.status_code == 502
    assert reply.json() == {
        "error": {
            "status": "upstream_error",
            "upstream_status_code": 401,
            "message": "The target site returned HTTP 401. See `snippet` for the upstream response body.",
            "snippet": page.text[:500],
            # The query carried the password, so the url leaves it out.
            "url": f"{base_url(client)}/site/members/login",
        },
        "status_code": 502,
    }
    assert "not-the-password" not in reply.text
    assert reply.headers["X-Credits-Charged"] == "0"


async def test_a_login_without_a_password_is_stale_input(client: httpx2.AsyncClient) -> None:
    reply = await client.post(members("login"), json={"username": DEMO_USERNAME})
    assert reply.status_code == 422
    assert reply.json()["error"]["message"] == "password is required"


async def test_the_fourth_login_attempt_in_an_hour_is_429_login(client: httpx2.AsyncClient, clock: ManualClock) -> None:
    await client.post(members("login"), json=WRONG)
    clock.advance(600)
    await client.post(members("login"), json=WRONG)
    clock.advance(600)
    await client.post(members("login"), json=DEMO)
    clock.advance(600)
    refused = await client.post(members("login"), json=DEMO)
    assert (refused.status_code, refused.json()) == (429, _login_limited(1800))
    assert refused.headers["Retry-After"] == "1800"
    assert refused.headers["X-Credits-Charged"] == "0"


async def test_the_login_cap_slides_with_the_clock(client: httpx2.AsyncClient, clock: ManualClock) -> None:
    for _ in range(3):
        await client.post(members("login"), json=WRONG)
        clock.advance(100)
    clock.advance(3600 - 300 - 1)
    still = await client.post(members("login"), json=DEMO)
    clock.advance(1)
    freed = await client.post(members("login"), json=DEMO)
    again = await client.post(members("login"), json=DEMO)
    assert (still.status_code, still.json()) == (429, _login_limited(1))
    assert (freed.status_code, again.status_code) == (200, 429)
    assert again.json() == _login_limited(100)


async def test_the_login_cap_counts_each_api_on_its_own(client: httpx2.AsyncClient) -> None:
    for _ in range(3):
        await client.post(members("login"), json=WRONG)
    capped = await client.post(members("login"), json=DEMO)
    other_api = await client.post(lab("login"), json=DEMO)
    assert (capped.status_code, other_api.status_code) == (429, 200)


async def test_the_login_cap_comes_from_the_config() -> None:
    async with sandbox_client(SandboxConfig(login_attempts_per_hour=1)) as client:
        first = await client.post(members("login"), json=DEMO)
        second = await client.post(members("login"), json=DEMO)
    assert (first.status_code, second.status_code) == (200, 429)
    assert second.json()["error"]["message"] == "Too many login attempts: 1 an hour for this API. Retry in 3600s."


async def test_a_malformed_login_does_not_count_as_an_attempt(client: httpx2.AsyncClient) -> None:
    for _ in range(3):
        await client.post(members("login"), json={"username": DEMO_USERNAME})
    assert (await client.post(members("login"), json=DEMO)).status_code == 200


async def test_a_new_login_ends_the_apis_previous_session(client: httpx2.AsyncClient) -> None:
    first = await _login(client)
    second = await _login(client)
    lab_session = await _login(client, lab("login"))
    old = await client.post(members("get_profile"), headers=first)
    assert (old.status_code, old.json()) == (401, SESSION_EXPIRED)
    assert (await client.post(members("get_profile"), headers=second)).status_code == 200
    assert (await client.post(lab("session_required"), headers=lab_session)).status_code == 200
