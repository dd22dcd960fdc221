"""K processes on one key, with and without Redis: upstream requests, upstream 429s, throughput against the bucket.

    python -m bench.replicas [--stdio 4] [--http 2] [--calls 15] [--burst 30] [--refill 60]

Each process (stdio `parse-mcp`, or an HTTP replica with one client) sends M concurrent `execute_endpoint`
calls on one key to an in-process sandbox with a small bucket; the run is made twice, once with a
redis-server of its own (started on a free port, stopped by its PID) and once without, and printed side by
side. Throughput is the time the bucket needs for the calls (those beyond the burst at the refill rate)
over the time taken: 1.0 is as fast as the account allows. Calls whose wait for the bucket would pass
their deadline are refused locally (`retry_later`, no request): they are counted as failed, not as served.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.common import StatusCounter
from parse_mcp.sandbox import BOOKS_API_ID, PARSEBOT_KEY, SandboxConfig, SystemClock, create_app, running_sandbox
from tests.processes import free_port
from tests.redis_server import RedisServer

BOOK = {"scraper_id": BOOKS_API_ID, "endpoint": "get_book", "params": {"slug": "a-light-in-the-attic_1000"}}
TOKEN = "bench_replicas_token_" + "q7W2e9R4t6Y1u3I8"
SESSION_SECRET = "bench-replicas-secret-" + "k3V9x2Q7m1Z8p4L6w0R5"


@dataclass(frozen=True)
class Outcome:
    calls: int
    failed: int
    upstream: int
    too_many: int
    seconds: float
    allowed_seconds: float

    @property
    def throughput(self) -> float:
        return min(1.0, self.allowed_seconds / self.seconds) if self.seconds else 1.0


def environment(sandbox_url: str, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARSE_", "SCRAPERAPI_"))}
    env |= {"PARSE_API_BASE_URL": sandbox_url, "PARSE_API_KEY": PARSEBOT_KEY, "PARSE_MCP_HTTP_TOKEN": TOKEN}
    if redis_url is not None:
        env |= {"PARSE_MCP_REDIS_URL": redis_url, "PARSE_MCP_SESSION_SECRET": SESSION_SECRET}
    return env


@asynccontextmanager
async def http_replica(env: dict[str, str]) -> AsyncIterator[Client]:
    port = free_port()
    command = [sys.executable, "-m", "parse_mcp.cli", "--transport", "http", "--port", str(port)]
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        try:
            await _listening(port)
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120) as http,
                Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)) as client,
            ):
                yield client
        finally:
            process.kill()


async def _listening(port: int) -> None:
    with anyio.fail_after(30):
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)  # a bench may poll: it measures after this, never during
                continue
            await stream.aclose()
            return


class EndpointCalls(StatusCounter):
    """Counts only the endpoint calls (each process also reads an API's schema once, which is not the load)."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self._everything = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/scraper/"):
            await super().__call__(scope, receive, send)
        else:
            await self._everything(scope, receive, send)


async def run(args: argparse.Namespace, redis_url: str | None) -> Outcome:
    config = SandboxConfig(burst=args.burst, refill_per_minute=args.refill, daily_limit=None, credits=10_000_000)
    counter = EndpointCalls(create_app(config, SystemClock()))
    async with running_sandbox(counter) as url, AsyncExitStack() as stack:
        env = environment(url, redis_url)
        stdio = StdioServerParameters(command=sys.executable, args=["-m", "parse_mcp.cli"], env=env)
        clients = [await stack.enter_async_context(Client(stdio)) for _ in range(args.stdio)]
        clients += [await stack.enter_async_context(http_replica(env)) for _ in range(args.http)]
        failed = 0

        async def one(client: Client) -> None:
            nonlocal failed
            result = await client.call_tool("execute_endpoint", BOOK)
            failed += bool(result.is_error)

        started = time.monotonic()
        async with anyio.create_task_group() as tasks:
            for client in clients:
                for _ in range(args.calls):
                    tasks.start_soon(one, client)
        seconds = time.monotonic() - started
    calls = len(clients) * args.calls
    upstream = sum(counter.counts.values())
    # Only the calls served count: a call refused before its deadline (the wait would be too long) spent nothing.
    allowed = max(0, calls - failed - args.burst) / (args.refill / 60)
    return Outcome(calls, failed, upstream, counter.counts.get(429, 0), seconds, allowed)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as directory, RedisServer(Path(directory)) as redis_server:
        shared = await run(args, redis_server.url)
    alone = await run(args, None)
    print(
        f"{args.stdio} stdio + {args.http} HTTP processes x {args.calls} calls, bucket {args.burst} + {args.refill}/min"
    )
    print(f"{'':24}{'with Redis':>12}{'without':>12}")
    for label, attribute in [
        ("calls", "calls"),
        ("failed calls", "failed"),
        ("upstream requests", "upstream"),
        ("upstream 429s", "too_many"),
    ]:
        print(f"{label:24}{getattr(shared, attribute):>12}{getattr(alone, attribute):>12}")
    print(f"{'seconds':24}{shared.seconds:>12.2f}{alone.seconds:>12.2f}")
    print(f"{'throughput of bucket':24}{shared.throughput:>12.3f}{alone.throughput:>12.3f}")
    met = shared.too_many == 0 and shared.throughput >= 0.95
    print(f"goal with Redis (0 upstream 429s, throughput >= 0.95): {'met' if met else 'NOT met'}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas")
    parser.add_argument("--stdio", type=int, default=4)
    parser.add_argument("--http", type=int, default=2)
    parser.add_argument("--calls", type=int, default=15)
    parser.add_argument("--burst", type=int, default=30)
    parser.add_argument("--refill", type=float, default=60.0)
    return parser.parse_args()


if __name__ == "__main__":
    anyio.run(main, _arguments())
