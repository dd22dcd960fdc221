"""One pacing picture for two "processes" (two HTTP clients, each with its own store and Redis connection) against
the sandbox on virtual time: no token is spent twice, a daily lock holds everywhere, and a Redis that goes away
costs one warning, not a call. On the memory store the two clients share one process's picture."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx2
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parse_mcp.errors import CallFailed
from parse_mcp.sandbox import BOOKS_API_ID, PARSEBOT_KEY, SandboxConfig
from parse_mcp.services.parsebot import ParseBotClient
from parse_mcp.settings import Secret
from parse_mcp.state import opened_stores
from parse_mcp.state.pacing import MemoryPacing, PacingStore, pacing_store
from parse_mcp.state.pacing_redis import RECHECK_SECONDS, RedisPacing
from tests.conftest import Sandbox, started
from tests.redis_server import RedisServer
from tests.state.conftest import fresh_prefix, redis_settings

pytestmark = pytest.mark.anyio


@dataclass
class Upstream:
    """The sandbox app, counting the requests it answers and its 429s."""

    app: ASGIApp
    statuses: list[int] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.statuses.append(int(message["status"]))
            await send(message)

        await self.app(scope, receive, counting)


@asynccontextmanager
async def two_processes(  # stores: "memory" (one shared picture) or a Redis prefix
    config: SandboxConfig, stores: str, url: str = ""
) -> AsyncIterator[tuple[Sandbox, Upstream, list[ParseBotClient]]]:
    async with started(config) as sandbox, AsyncExitStack() as stack:
        assert sandbox.app is not None
        upstream = Upstream(sandbox.app)
        shared_memory = MemoryPacing()
        clients = []
        for _ in range(2):
            if stores == "memory":
                pacing: PacingStore = shared_memory
            else:
                opened = await stack.enter_async_context(
                    opened_stores(redis_settings(url, str(stores)), sandbox.clock.now)
                )
                pacing = pacing_store(opened, Secret(PARSEBOT_KEY), sandbox.runtime)
            client = ParseBotClient.from_settings(
                sandbox.settings(),
                Secret(PARSEBOT_KEY),
                transport=httpx2.ASGITransport(app=upstream),
                runtime=sandbox.runtime,
                pacing=pacing,
            )
            stack.push_async_callback(client.aclose)
            clients.append(client)
        yield sandbox, upstream, clients


async def list_books(client: ParseBotClient) -> str | None:
    """One execute call: None when it succeeded, else its error code."""
    spec = await client.api_spec(BOOKS_API_ID)
    endpoint = spec.endpoint("list_books")
    assert endpoint is not None
    try:
        await client.execute(BOOKS_API_ID, endpoint, {})
    except CallFailed as exc:
        return exc.record.code
    return None


@pytest.fixture(params=["memory", "redis"])
def where(request: pytest.FixtureRequest) -> tuple[str, str]:
    """("memory", "") or (a fresh prefix, the worker's Redis URL)."""
    if request.param == "memory":
        return "memory", ""
    server: RedisServer = request.getfixturevalue("redis_server")
    return fresh_prefix(), server.url


async def test_concurrent_calls_through_two_processes_make_no_429_and_one_request_each(where: tuple[str, str]) -> None:
    async with two_processes(SandboxConfig(burst=3, refill_per_minute=60.0), where[0], where[1]) as (
        _sandbox,
        upstream,
        clients,
    ):
        for client in clients:
            await client.api_spec(BOOKS_API_ID)  # the schema cached first: only execute calls are counted
        schema_requests = len(upstream.statuses)
        codes: list[str | None] = []

        async def one(client: ParseBotClient) -> None:
            codes.append(await list_books(client))

        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                for index in range(16):
                    group.start_soon(one, clients[index % 2])
    assert codes == [None] * 16
    assert 429 not in upstream.statuses
    assert len(upstream.statuses) - schema_requests == 16, "one upstream request per call, no retry"


async def test_a_daily_lock_met_through_one_process_holds_in_the_other(where: tuple[str, str]) -> None:
    async with two_processes(SandboxConfig(daily_limit=2), where[0], where[1]) as (_sandbox, upstream, clients):
        first, second = clients
        await first.api_spec(BOOKS_API_ID)
        await second.api_spec(BOOKS_API_ID)
        assert [await list_books(first) for _ in range(3)] == [None, None, "rate_limited_daily"]
        sent = len(upstream.statuses)
        assert await list_books(second) == "rate_limited_daily"
        assert len(upstream.statuses) == sent, "the other process was held back without a request"


async def test_redis_stopped_mid_run_costs_one_warning_and_no_call_then_pacing_is_shared_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with RedisServer(tmp_path) as redis_server:
        async with two_processes(SandboxConfig(burst=3), fresh_prefix(), redis_server.url) as (
            sandbox,
            _upstream,
            clients,
        ):
            stores = [client._http._pacing for client in clients]
            assert all(isinstance(store, RedisPacing) for store in stores)
            for client in clients:
                await client.api_spec(BOOKS_API_ID)
            assert await list_books(clients[0]) is None
            redis_server.stop()
            caplog.set_level(logging.WARNING, logger="parse_mcp.state.pacing_redis")
            with anyio.fail_after(20):
                codes = [await list_books(clients[index % 2]) for index in range(6)]
            assert codes == [None] * 6
            warnings = [r for r in caplog.records if r.name == "parse_mcp.state.pacing_redis"]
            assert len(warnings) == 2, "one warning per process, not one per call"
            assert all(isinstance(s, RedisPacing) and not s.shared for s in stores)

            redis_server.start()
            sandbox.clock.set(sandbox.clock.now() + RECHECK_SECONDS + 1)
            assert [await list_books(client) for client in clients] == [None, None]
            assert all(isinstance(s, RedisPacing) and s.shared for s in stores)
            assert len([r for r in caplog.records if r.name == "parse_mcp.state.pacing_redis"]) == 2
