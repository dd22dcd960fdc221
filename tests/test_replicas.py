"""Many processes, one account, with real processes: the sandbox on a real port, one redis-server, two HTTP
replicas (`python -m parse_mcp.cli --transport http`) and stdio agents (each its own `parse-mcp`), all on
one key and one Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parse_mcp.sandbox import (
    BOOKS_API_ID,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    MEMBERS_API_ID,
    PARSEBOT_KEY,
    SandboxConfig,
    SystemClock,
    create_app,
    running_sandbox,
)
from tests.processes import free_port
from tests.redis_server import RedisServer

pytestmark = pytest.mark.anyio

TOKEN_A = "tok_replica_owner_" + "q7W2e9R4t6Y1u3I8"
TOKEN_B = "tok_replica_other_" + "Z5x8C1v4B7n0M3k6"
SESSION_SECRET = "replica-session-secret-" + "k3V9x2Q7m1Z8p4L6w0R5"
CREDENTIALS = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
PROFILE = {"scraper_id": MEMBERS_API_ID, "endpoint": "get_profile", "params": {}}
BOOK = {"scraper_id": BOOKS_API_ID, "endpoint": "get_book", "params": {"slug": "a-light-in-the-attic_1000"}}
STANDARD_FIELDS = {"ok", "summary", "next_step", "next_call", "meta"}
READY_LINE = b"Uvicorn running on"


class UpstreamCount:
    """Pure ASGI around the sandbox: every endpoint call that reached it, and how many it answered 429."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self.calls = 0
        self.too_many = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/scraper/"):
            await self._app(scope, receive, send)
            return
        self.calls += 1

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 429:
                self.too_many += 1
            await send(message)

        await self._app(scope, receive, counted)


@dataclass
class Account:
    upstream: UpstreamCount
    redis: RedisServer
    env: dict[str, str]
    replicas: list[subprocess.Popen[bytes]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)


def process_env(sandbox_url: str, redis_url: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PARSE_", "SCRAPERAPI_"))}
    return {
        **inherited,
        "PARSE_API_BASE_URL": sandbox_url,
        "PARSE_API_KEY": PARSEBOT_KEY,
        "PARSE_MCP_REDIS_URL": redis_url,
        "PARSE_MCP_SESSION_SECRET": SESSION_SECRET,
        "PARSE_MCP_HTTP_TOKEN": f"{TOKEN_A},{TOKEN_B}",
    }


@contextmanager
def replica(env: dict[str, str], port: int) -> Iterator[tuple[subprocess.Popen[bytes], threading.Event]]:
    """One HTTP replica; the event is set once it listens (read from its log, which is drained to the end)."""
    command = [sys.executable, "-m", "parse_mcp.cli", "--transport", "http", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "info"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    listening = threading.Event()
    reader = threading.Thread(target=_drain, args=(process, listening), daemon=True)
    reader.start()
    try:
        yield process, listening
    finally:
        process.kill()  # by its own PID
        process.wait(timeout=10)
        reader.join(timeout=10)


def _drain(process: subprocess.Popen[bytes], listening: threading.Event) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        if READY_LINE in line:
            listening.set()
    process.stderr.close()


@asynccontextmanager
async def account(tmp_path: Path, config: SandboxConfig | None = None) -> AsyncIterator[Account]:
    """The sandbox (counted), a Redis of this test's own, and two replicas that listen."""
    upstream = UpstreamCount(create_app(config or SandboxConfig(daily_limit=None), SystemClock()))
    with RedisServer(tmp_path) as redis_server:
        async with running_sandbox(upstream) as sandbox_url:
            env = process_env(sandbox_url, redis_server.url)
            ports = [free_port(), free_port()]
            with replica(env, ports[0]) as (first, first_up), replica(env, ports[1]) as (second, second_up):
                with anyio.fail_after(30):
                    for up in (first_up, second_up):
                        await anyio.to_thread.run_sync(up.wait)
                urls = [f"http://127.0.0.1:{port}/mcp" for port in ports]
                yield Account(upstream, redis_server, env, [first, second], urls)


@asynccontextmanager
async def http_client(url: str, token: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


def stdio_client(env: dict[str, str]) -> Client:
    return Client(StdioServerParameters(command=sys.executable, args=["-m", "parse_mcp.cli"], env=env))


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    with anyio.fail_after(20):
        result = await client.call_tool(tool, arguments)
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content


async def test_a_login_through_replica_a_is_usable_through_replica_b_by_the_same_token_and_by_no_other(
    tmp_path: Path,
) -> None:
    async with (
        account(tmp_path) as shared,
        http_client(shared.urls[0], TOKEN_A) as owner_on_a,
        http_client(shared.urls[1], TOKEN_A) as owner_on_b,
        http_client(shared.urls[1], TOKEN_B) as other_on_b,
    ):
        logged_in = await call(owner_on_a, "login", {"scraper_id": MEMBERS_API_ID, "credentials": CREDENTIALS})
        assert logged_in["ok"] is True, logged_in
        handle = logged_in["data"]["session"]
        used = await call(owner_on_b, "execute_endpoint", {**PROFILE, "session": handle})
        stolen = await call(other_on_b, "execute_endpoint", {**PROFILE, "session": handle})
    assert used["ok"] is True, used
    assert stolen["error"]["code"] == "unknown_session"


async def test_a_replica_killed_mid_run_loses_nothing_and_the_other_answers_every_call(tmp_path: Path) -> None:
    async with account(tmp_path) as shared, AsyncExitStack() as clients:
        on_a = await clients.enter_async_context(http_client(shared.urls[0], TOKEN_A))
        on_b = [await clients.enter_async_context(http_client(shared.urls[1], TOKEN_A)) for _ in range(3)]
        logged_in = await call(on_a, "login", {"scraper_id": MEMBERS_API_ID, "credentials": CREDENTIALS})
        handle = logged_in["data"]["session"]

        shared.replicas[0].kill()
        shared.replicas[0].wait(timeout=10)
        answers: list[dict[str, Any]] = []

        async def calls(client: Client) -> None:
            answers.append(await call(client, "execute_endpoint", {**PROFILE, "session": handle}))
            answers.append(await call(client, "execute_endpoint", BOOK))

        async with anyio.create_task_group() as tasks:
            for client in on_b:
                tasks.start_soon(calls, client)
    assert len(answers) == 6
    assert all(answer["ok"] is True for answer in answers), answers


async def test_a_fleet_of_stdio_agents_and_two_replicas_on_one_key_gets_no_upstream_429(tmp_path: Path) -> None:
    # A small bucket, refilled fast: 36 calls cannot all fit in the burst, so only shared pacing avoids 429s.
    config = SandboxConfig(burst=8, refill_per_minute=600, daily_limit=None, credits=1_000_000)
    answers: list[dict[str, Any]] = []
    async with account(tmp_path, config) as shared, AsyncExitStack() as clients:
        agents = [await clients.enter_async_context(stdio_client(shared.env)) for _ in range(2)]
        agents += [await clients.enter_async_context(http_client(url, TOKEN_A)) for url in shared.urls]

        async def six_calls(client: Client) -> None:
            async with anyio.create_task_group() as tasks:
                for _ in range(6):
                    tasks.start_soon(lambda: _answer_into(answers, client))

        # Each agent learns the bucket first, as any process does on its first call.
        answers.extend([await call(agent, "execute_endpoint", BOOK) for agent in agents])
        async with anyio.create_task_group() as tasks:
            for agent in agents:
                tasks.start_soon(six_calls, agent)
    assert len(answers) == 28
    assert all(answer["ok"] is True for answer in answers), [a for a in answers if not a["ok"]]
    assert shared.upstream.too_many == 0, f"{shared.upstream.too_many} of {shared.upstream.calls} upstream were 429"


async def _answer_into(answers: list[dict[str, Any]], client: Client) -> None:
    answers.append(await call(client, "execute_endpoint", BOOK))


async def test_redis_stopped_and_restarted_mid_run_every_call_still_gets_a_standard_result(tmp_path: Path) -> None:
    answers: list[dict[str, Any]] = []
    async with account(tmp_path) as shared, AsyncExitStack() as clients:
        agents = [await clients.enter_async_context(http_client(url, TOKEN_A)) for url in shared.urls]
        agents.append(await clients.enter_async_context(stdio_client(shared.env)))
        logged_in = await call(agents[0], "login", {"scraper_id": MEMBERS_API_ID, "credentials": CREDENTIALS})
        handle = logged_in["data"]["session"]

        shared.redis.stop()
        for agent in agents:
            answers.append(await call(agent, "execute_endpoint", BOOK))
            answers.append(await call(agent, "execute_endpoint", {**PROFILE, "session": handle}))
        shared.redis.start()
        answers.extend([await call(agent, "execute_endpoint", BOOK) for agent in agents])
    assert len(answers) == 9
    for answer in answers:
        assert answer.keys() >= STANDARD_FIELDS, answer
        assert answer["ok"] is True or {"error", "guidance"} <= answer.keys(), answer
    # Pacing does not need Redis: the calls that need no session are served throughout.
    assert all(answer["ok"] is True for answer in answers[0::2][:3] + answers[6:]), answers
    # A session cannot be looked up while Redis is away: a clear retry, never a wrong "unknown session".
    during = answers[1:6:2]
    assert all(answer["error"]["code"] == "state_unavailable" for answer in during), during
