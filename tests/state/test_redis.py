"""What only the Redis store promises: one state for several processes and replicas, nothing readable at
rest, accounts kept apart, and a Redis that goes away and comes back costs calls a clear retry, not a hang."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
from mcp import Client

from parse_mcp.meta import RateSnapshot
from parse_mcp.runtime import Runtime
from parse_mcp.sandbox import BOOKS_API_ID, DEMO_PASSWORD, DEMO_USERNAME, MEMBERS_API_ID
from parse_mcp.settings import Secret, Settings
from parse_mcp.state import opened_stores
from parse_mcp.state.logins import LOGIN_ATTEMPTS
from parse_mcp.state.pacing import pacing_store
from parse_mcp.state.sessions import SessionCredentials
from tests.conftest import Sandbox
from tests.redis_server import RedisServer
from tests.state.conftest import SESSION_SECRET, Clock, fresh_prefix, redis_settings
from tests.test_http_security import bearer, mcp_client, serving
from tests.tools.test_isolation import TOKENS, security

pytestmark = pytest.mark.anyio

CREDENTIALS = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
PROFILE = {"scraper_id": MEMBERS_API_ID, "endpoint": "get_profile", "params": {}}


def raw_contents(server: RedisServer, prefix: str) -> list[bytes]:
    """Every key under the prefix, and every value it holds, exactly as Redis stores them."""
    found: list[bytes] = []
    with redis.Redis(host="127.0.0.1", port=server.port) as client:
        for key in client.scan_iter(match=f"{prefix}:*"):
            found.append(key)
            kind = client.type(key)
            if kind == b"string":
                found.append(client.get(key) or b"")
            elif kind == b"zset":
                found.extend(member for member, _ in client.zrange(key, 0, -1, withscores=True))
    return found


async def test_redis_holds_no_session_id_encryption_key_handle_or_upstream_key_in_clear(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    settings = redis_settings(redis_server.url, prefix, key="pmx_secret_account_key")
    credentials = SessionCredentials("sid-plain-4Rt7", Secret("enc-plain-8Yu2"))
    async with opened_stores(settings, clock) as stores:
        handle = await stores.sessions.add("client-a", MEMBERS_API_ID, credentials, None)
        assert await stores.logins.claim(MEMBERS_API_ID, clock.now) is None

    stored = b"\n".join(raw_contents(redis_server, prefix))

    assert stored.count(b"\n") >= 2  # a session, and the login count (its key and its member)
    for secret in ("sid-plain-4Rt7", "enc-plain-8Yu2", handle, "pmx_secret_account_key", "client-a", SESSION_SECRET):
        assert secret.encode() not in stored


async def test_two_processes_on_one_redis_share_sessions_and_the_login_cap(
    redis_server: RedisServer, clock: Clock
) -> None:
    settings = redis_settings(redis_server.url, fresh_prefix())
    credentials = SessionCredentials("sid-1", Secret("enc-1"))
    async with opened_stores(settings, clock) as first, opened_stores(settings, clock) as second:
        handle = await first.sessions.add("client-a", "api-1", credentials, None)
        for stores in (first, second, first):
            assert await stores.logins.claim("api-1", clock.now) is None

        assert await second.sessions.get("client-a", handle, "api-1") == credentials
        assert await second.sessions.get("client-b", handle, "api-1") is None
        assert await second.logins.claim("api-1", clock.now) is not None
        assert await first.logins.claim("api-1", clock.now) is not None


async def test_a_repair_remembered_through_one_replica_is_offered_through_another_and_kept_sealed(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    settings = redis_settings(redis_server.url, prefix)
    failed: dict[str, Any] = {"tool": "execute_endpoint", "arguments": {"params": {"q": "plain-query-5Tg1"}}}
    async with opened_stores(settings, clock) as first, opened_stores(settings, clock) as second:
        await first.repairs.remember("client-a", "task-1", failed)
        await second.repairs.follow("client-a", "task-1", "rev-1")
        assert b"plain-query-5Tg1" not in b"\n".join(raw_contents(redis_server, prefix))
        assert await first.repairs.take("client-a", "rev-1") == failed
        assert await second.repairs.take("client-a", "rev-1") is None


async def test_accounts_sharing_one_redis_never_see_each_others_state(redis_server: RedisServer, clock: Clock) -> None:
    prefix = fresh_prefix()
    one = redis_settings(redis_server.url, prefix, key="pmx_account_one")
    two = redis_settings(redis_server.url, prefix, key="pmx_account_two")
    async with opened_stores(one, clock) as first, opened_stores(two, clock) as second:
        handle = await first.sessions.add("client-a", "api-1", SessionCredentials("sid", Secret("enc")), None)
        for _ in range(LOGIN_ATTEMPTS):
            assert await first.logins.claim("api-1", clock.now) is None

        assert await second.sessions.get("client-a", handle, "api-1") is None
        assert await second.logins.claim("api-1", clock.now) is None


async def test_sessions_sealed_under_another_secret_are_not_found(redis_server: RedisServer, clock: Clock) -> None:
    settings = redis_settings(redis_server.url, fresh_prefix())
    rotated = dataclasses.replace(settings, session_secrets=(Secret("another-secret-" + "x" * 32),))
    async with opened_stores(settings, clock) as first, opened_stores(rotated, clock) as second:
        handle = await first.sessions.add("client-a", "api-1", SessionCredentials("sid", Secret("enc")), None)

        assert await second.sessions.get("client-a", handle, "api-1") is None


def shared(sandbox: Sandbox, url: str, prefix: str) -> Settings:
    base = sandbox.settings()
    return dataclasses.replace(
        base, redis_url=Secret(url), redis_prefix=prefix, session_secrets=(Secret(SESSION_SECRET),)
    )


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    with anyio.fail_after(15):
        result = await client.call_tool(tool, arguments)
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content


async def test_a_login_through_one_replica_works_through_another_for_the_same_client_and_for_no_other(
    sandbox: Sandbox, redis_server: RedisServer
) -> None:
    settings = shared(sandbox, redis_server.url, fresh_prefix())
    guard = security(TOKENS[0], TOKENS[1])
    async with (
        serving(guard, sandbox.server(settings)) as replica_a,
        serving(guard, sandbox.server(settings)) as replica_b,
        mcp_client(replica_a, "auto", bearer(TOKENS[0])) as owner_on_a,
        mcp_client(replica_b, "auto", bearer(TOKENS[0])) as owner_on_b,
        mcp_client(replica_b, "auto", bearer(TOKENS[1])) as other_on_b,
    ):
        logged_in = await call(owner_on_a, "login", {"scraper_id": MEMBERS_API_ID, "credentials": CREDENTIALS})
        assert logged_in["ok"] is True, logged_in
        handle = logged_in["data"]["session"]

        used = await call(owner_on_b, "execute_endpoint", {**PROFILE, "session": handle})
        stolen = await call(other_on_b, "execute_endpoint", {**PROFILE, "session": handle})

    assert used["ok"] is True, used
    assert stolen["error"]["code"] == "unknown_session"


async def test_the_login_cap_is_one_for_two_server_instances(sandbox: Sandbox, redis_server: RedisServer) -> None:
    settings = shared(sandbox, redis_server.url, fresh_prefix())
    wrong = {"username": DEMO_USERNAME, "password": "not-the-password"}
    async with Client(sandbox.server(settings)) as first, Client(sandbox.server(settings)) as second:
        for client in (first, second, first):
            refused = await call(client, "login", {"scraper_id": MEMBERS_API_ID, "credentials": wrong})
            assert refused["error"]["code"] != "login_limited", refused

        limited = await call(second, "login", {"scraper_id": MEMBERS_API_ID, "credentials": CREDENTIALS})

    assert limited["error"]["code"] == "login_limited"
    assert limited["guidance"]["action"] == "retry_later"


async def test_redis_stopped_mid_run_answers_retry_later_and_restarted_serves_again_without_a_new_server(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    with RedisServer(tmp_path) as own_redis:
        settings = shared(sandbox, own_redis.url, fresh_prefix())
        async with Client(sandbox.server(settings)) as client:
            logged_in = await call(client, "login", {"scraper_id": MEMBERS_API_ID, "credentials": CREDENTIALS})
            handle = logged_in["data"]["session"]

            own_redis.stop()
            during = await call(client, "execute_endpoint", {**PROFILE, "session": handle})
            own_redis.start()
            relogged = await call(client, "login", {"scraper_id": MEMBERS_API_ID, "credentials": CREDENTIALS})
            after = await call(client, "execute_endpoint", {**PROFILE, "session": relogged["data"]["session"]})

    assert during["error"]["code"] == "state_unavailable"
    assert during["guidance"]["action"] == "retry_later"
    assert during["guidance"]["fault"] == "service"
    assert during["guidance"]["retryable"] is True
    assert after["ok"] is True, after


def spoil_breaker_streaks(server: RedisServer, prefix: str) -> int:
    """Overwrite every streak the breaker keeps under `prefix` with bytes that are not JSON; how many."""
    with redis.Redis(host="127.0.0.1", port=server.port) as client:
        streaks = [key for key in client.scan_iter(match=f"{prefix}:*:breaker:*") if not key.endswith(b":marks")]
        for key in streaks:
            client.set(key, b"\xff{not json")
    return len(streaks)


async def test_a_breaker_streak_in_redis_that_is_not_json_fails_open_with_one_warning(
    sandbox: Sandbox, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = fresh_prefix()
    failing = {"scraper_id": BOOKS_API_ID, "endpoint": "list_books", "params": {"no_such_param": 1}}
    caplog.set_level(logging.WARNING, logger="parse_mcp.state.redis_stores")
    async with Client(sandbox.server(shared(sandbox, redis_server.url, prefix))) as client:
        first = await call(client, "execute_endpoint", failing)
        answers = []
        for _ in range(2):
            assert spoil_breaker_streaks(redis_server, prefix) == 1
            sandbox.clock.advance(1)
            answers.append(await call(client, "execute_endpoint", failing))

    assert first["error"]["code"] == "invalid_arguments"
    for answer in answers:
        assert answer["error"]["code"] == "invalid_arguments", answer
        assert answer["guidance"] == first["guidance"], "the failure's own guidance, counted from zero"
    unreadable = [record for record in caplog.records if "breaker streak in Redis is not readable" in record.message]
    assert len(unreadable) == 1


async def test_every_key_of_every_kind_of_state_expires_in_redis(redis_server: RedisServer, clock: Clock) -> None:
    # Expiry read back from the stored `expires_at` alone would pass a store that forgot the TTL: Redis must
    # drop each key itself, however long the process holding it lives.
    prefix = fresh_prefix()
    settings = redis_settings(redis_server.url, prefix)
    runtime = Runtime(clock=clock)
    async with opened_stores(settings, clock) as stores:
        await stores.sessions.add("client-a", MEMBERS_API_ID, SessionCredentials("sid", Secret("enc")), None)
        await stores.sessions.add("client-a", BOOKS_API_ID, SessionCredentials("sid", Secret("enc")), clock.now + 60)
        assert await stores.logins.claim(MEMBERS_API_ID, clock.now) is None
        attempt = await stores.streaks.begin("client-a", "execute_endpoint", {"scraper_id": "s"}, clock.now)
        assert await stores.streaks.failed(attempt, "upstream_error", clock.now) == 1
        await stores.repairs.remember("client-a", "task-1", {"tool": "execute_endpoint", "arguments": {}})
        await stores.repairs.follow("client-a", "task-1", "rev-1")
        pacing = pacing_store(stores, Secret("pmx_account_one"), runtime)
        await pacing.observe(RateSnapshot(observed_at=clock.now, remaining=3, burst=30, refill_per_minute=60.0))
    kinds_seen: dict[str, int] = {}
    with redis.Redis(host="127.0.0.1", port=redis_server.port) as client:
        for key in client.scan_iter(match=f"{prefix}:*"):
            ttl = client.ttl(key)
            assert 0 < ttl <= 7 * 86_400, (key, ttl)
            kind = key.decode().split(":")[2]  # prefix, account, then the kind of state
            kinds_seen[kind] = kinds_seen.get(kind, 0) + 1
    assert len(kinds_seen) >= 5, kinds_seen  # sessions, login counts, streaks, repairs and the pacer's picture
