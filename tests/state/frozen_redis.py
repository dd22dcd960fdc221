"""A Redis that stops answering, under a server whose every store is in it: many calls at once on one HTTP session.

Shared by the test (a short call budget) and `bench.frozen_redis` (the default 45 s). The server is served over
streamable HTTP with the Redis event store, as `parse-mcp --transport http` serves it with Redis; the sandbox
runs in-process on real time. Redis is frozen with SIGSTOP on its PID (it keeps its connections and accepts new
ones, it just never answers, the worst case for a client) and always resumed with SIGCONT.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from parse_mcp.http_security import http_app, http_security
from parse_mcp.runtime import REAL_TIME
from parse_mcp.sandbox import (
    BOOKS_API_ID,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    MEMBERS_API_ID,
    PARSEBOT_KEY,
    SandboxConfig,
    SystemClock,
    create_app,
)
from parse_mcp.server import build_server
from parse_mcp.settings import Secret, Settings
from parse_mcp.state.events import RedisEventStore
from parse_mcp.state.redis_stores import redis_stores
from tests.processes import serving_app
from tests.redis_server import RedisServer
from tests.state.conftest import SESSION_SECRET

# Nothing here should meet the sandbox's limits: only Redis is in the way.
UNLIMITED = SandboxConfig(burst=100_000, refill_per_minute=6_000_000.0, daily_limit=None, credits=10_000_000)
IN_PROCESS_URL = "http://127.0.0.1:9"

LIST_BOOKS = {"scraper_id": BOOKS_API_ID, "endpoint": "list_books", "params": {}}
FAILING = {"scraper_id": BOOKS_API_ID, "endpoint": "list_books", "params": {"no_such_param": 1}}
LOGIN = {"scraper_id": MEMBERS_API_ID, "credentials": {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}}

Call = Callable[[Client], Awaitable[dict[str, Any]]]


@asynccontextmanager
async def served_on_redis(redis: RedisServer, prefix: str, budget_seconds: float) -> AsyncIterator[str]:
    """The server, all its state in `redis`, over streamable HTTP on a free loopback port; yields its base URL."""
    sandbox = httpx2.ASGITransport(app=create_app(UNLIMITED, SystemClock()))
    settings = Settings(
        parse_api_key=Secret(PARSEBOT_KEY),
        parse_base_url=IN_PROCESS_URL,
        redis_url=Secret(redis.url),
        redis_prefix=prefix,
        session_secrets=(Secret(SESSION_SECRET),),
    )
    server = build_server(settings, parsebot_transport=sandbox, runtime=REAL_TIME, call_budget_seconds=budget_seconds)
    async with redis_stores(settings) as (shared, sealer):
        app = http_app(server, http_security("127.0.0.1", []), event_store=RedisEventStore(shared, sealer))
        async with serving_app(app) as url:
            yield url


@asynccontextmanager
async def one_session(url: str) -> AsyncIterator[Client]:
    """One MCP session (the protocol with `Mcp-Session-Id` and SSE streams, whose messages the event store keeps)."""
    async with (
        httpx2.AsyncClient(timeout=120) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode="legacy") as client,
    ):
        yield client


@contextmanager
def frozen(redis: RedisServer) -> Iterator[None]:
    """Redis stopped (SIGSTOP) for the block, and resumed (SIGCONT) however the block ends."""
    assert redis.pid is not None
    os.kill(redis.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(redis.pid, signal.SIGCONT)


async def structured(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content


def every_path(handle: str) -> list[Call]:
    """One call of each kind that meets Redis: pacing and the breaker (a success, a failure), a session lookup."""
    with_session = {"scraper_id": MEMBERS_API_ID, "endpoint": "get_profile", "params": {}, "session": handle}
    return [
        lambda client: structured(client, "execute_endpoint", LIST_BOOKS),
        lambda client: structured(client, "execute_endpoint", FAILING),
        lambda client: structured(client, "execute_endpoint", with_session),
    ]


async def logged_in(client: Client) -> str:
    answer = await structured(client, "login", LOGIN)
    assert answer["ok"] is True, answer
    handle: str = answer["data"]["session"]
    return handle


async def timed(client: Client, call: Call) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    answer = await call(client)
    return time.perf_counter() - started, answer


async def at_once(client: Client, calls: list[Call]) -> list[tuple[float, dict[str, Any]]]:
    """Every call started together on one session; each one's duration (seconds) and answer."""
    outcomes: list[tuple[float, dict[str, Any]]] = []

    async def one(call: Call) -> None:
        outcomes.append(await timed(client, call))

    async with anyio.create_task_group() as group:
        for call in calls:
            group.start_soon(one, call)
    return outcomes
