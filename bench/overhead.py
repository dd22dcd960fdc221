"""Overhead: `execute_endpoint` through the in-memory MCP client against the same sandbox call made with
a bare httpx2 client. Goal: median and p99 ratios at most 1.5.

    python -m bench.overhead
"""

from __future__ import annotations

import time

import anyio
import httpx2
from mcp import Client

from bench.common import median, percentile, sandbox, verdict
from parse_mcp.sandbox import BOOKS_API_ID, PARSEBOT_KEY, SandboxConfig
from parse_mcp.server import build_server

ROUNDS = 1000
WARMUP = 50
ARGUMENTS = {"scraper_id": BOOKS_API_ID, "endpoint": "get_book", "params": {"slug": "a-light-in-the-attic_1000"}}


async def timed(call: object) -> list[float]:
    durations: list[float] = []
    for n in range(WARMUP + ROUNDS):
        started = time.perf_counter()
        await call()  # type: ignore[operator]
        if n >= WARMUP:
            durations.append((time.perf_counter() - started) * 1000)
    return durations


async def main() -> None:
    config = SandboxConfig(burst=100_000, refill_per_minute=6_000_000.0, daily_limit=None, credits=10_000_000)
    async with sandbox(config) as (settings, _):
        async with httpx2.AsyncClient(base_url=settings.parse_base_url, headers={"X-API-Key": PARSEBOT_KEY}) as bare:

            async def direct() -> None:
                reply = await bare.post(f"/scraper/{BOOKS_API_ID}/get_book", json=ARGUMENTS["params"])
                reply.raise_for_status()
                reply.json()

            baseline = await timed(direct)
        async with Client(build_server(settings)) as client:

            async def through_mcp() -> None:
                result = await client.call_tool("execute_endpoint", ARGUMENTS)
                assert not result.is_error

            measured = await timed(through_mcp)
    for label, pick in (("median", median), ("p99", lambda v: percentile(v, 0.99))):
        ours, bare_ms = pick(measured), pick(baseline)
        ratio = ours / bare_ms
        print(
            f"overhead {label}: MCP {ours:.2f} ms vs bare httpx2 {bare_ms:.2f} ms, ratio {ratio:.2f} "
            f"(goal <= 1.5: {verdict(ratio <= 1.5)})"
        )


if __name__ == "__main__":
    anyio.run(main)
