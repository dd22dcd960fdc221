"""What a page of a kept answer costs: `read_result` through the SDK's in-memory client, on a 2 MB answer kept in
memory and in Redis, beside what the simplest server would do instead (run the call again), and the memory the
memory store holds per stored MB.

    python -m bench.pages [--rounds 40]

The answer is the sandbox's list_items with 25,000 items (about 2 MB of JSON); the first call is cut to 40,000
characters and kept, and each round reads a page at a cursor spread over the whole list. Goal: under 5 ms a page.
Redis runs as a redis-server of its own (a free port, stopped by its PID), on loopback.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
from array import array
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from bench.common import median, percentile, verdict
from parse_mcp.json_types import JsonValue
from parse_mcp.policy.kept import pack
from parse_mcp.policy.size import encode
from parse_mcp.sandbox import FAILURE_LAB_ID, SandboxConfig
from parse_mcp.settings import Secret, Settings
from parse_mcp.state.results import MemoryResultStore, StoredResult
from tests.conftest import started
from tests.redis_server import RedisServer

ITEMS = 25_000
GOAL_MS = 5.0
SECRET = "bench-session-secret-" + "V2n8Kq4Zr6Tx0Yp3"
CALL = {"scraper_id": FAILURE_LAB_ID, "endpoint": "list_items", "params": {"count": ITEMS}}


async def structured(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert result.structured_content is not None, result
    content: dict[str, Any] = result.structured_content
    return content


async def timed_pages(client: Client, rounds: int) -> tuple[list[float], list[float]]:
    """Milliseconds of `rounds` read_result calls at cursors spread over the list, and of the call run again."""
    first = await structured(client, "execute_endpoint", CALL)
    result_id = first["meta"]["result_id"]
    pages: list[float] = []
    again: list[float] = []
    for n in range(rounds):
        cursor = str(int(first["meta"]["next_cursor"]) + n * (ITEMS - 1_000) // rounds)
        started_at = time.perf_counter()
        page = await structured(client, "read_result", {"result_id": result_id, "cursor": cursor})
        pages.append((time.perf_counter() - started_at) * 1000)
        assert page["ok"] is True, page
        if n % 4 == 0:
            started_at = time.perf_counter()
            rerun = await structured(client, "execute_endpoint", CALL)
            again.append((time.perf_counter() - started_at) * 1000)
            result_id = rerun["meta"]["result_id"]  # each run keeps its own: the oldest go past the client's cap
    return pages, again


@asynccontextmanager
async def on_redis() -> AsyncIterator[Settings]:
    with tempfile.TemporaryDirectory() as directory, RedisServer(Path(directory)) as redis:
        yield Settings(redis_url=Secret(redis.url), redis_prefix="bench", session_secrets=(Secret(SECRET),))


async def memory_per_stored_mb() -> float:
    """Bytes the memory store keeps alive per byte of body it holds, measured with tracemalloc over 8 answers of
    2 MB made while tracing, so that what the store holds is all that is left of them."""
    size = 2 * 1024 * 1024
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = MemoryResultStore(lambda: 0.0, per_client=64 * 1024 * 1024)
    for n in range(8):
        await store.put("c", StoredResult(bytes([n]) * size, "s", "t", "a", "e", "$.items", 0.0))
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held / (8 * size)


def item_by_item(items: list[JsonValue]) -> bytes:
    """The items kept as they were before runs: each encoded alone, then where each starts."""
    encoded = [encode(item) for item in items]
    offsets = array("Q")
    position = 0
    for line in encoded:
        offsets.append(position)
        position += len(line) + 1
    offsets.append(position)
    return b",".join(encoded) + b"," + offsets.tobytes() + len(encoded).to_bytes(8, "little")


def keeping_ms(rounds: int) -> tuple[float, float]:
    """Milliseconds to keep 25,000 rows (about 2 MB) as read_result reads them (in runs), and as they were kept
    before runs (an item at a time)."""
    rows: list[JsonValue] = [
        {"id": n, "title": f"Item number {n}", "price": round(n * 1.37, 2), "url": f"https://example.com/{n}"}
        for n in range(ITEMS)
    ]
    in_runs: list[float] = []
    one_by_one: list[float] = []
    for _ in range(max(3, rounds // 8)):
        started_at = time.perf_counter()
        pack(rows)
        in_runs.append((time.perf_counter() - started_at) * 1000)
        started_at = time.perf_counter()
        item_by_item(rows)
        one_by_one.append((time.perf_counter() - started_at) * 1000)
    return median(in_runs), median(one_by_one)


async def main(rounds: int) -> None:
    async with started(SandboxConfig(credits=10_000_000, burst=100_000, refill_per_minute=1e6)) as sandbox:
        print(f"a page of a kept answer of {ITEMS:,} items (about 2 MB), read_result through the in-memory client")
        async with Client(sandbox.server()) as client:
            memory, again = await timed_pages(client, rounds)
        async with on_redis() as redis:
            settings = replace(
                sandbox.settings(),
                redis_url=redis.redis_url,
                redis_prefix="bench",
                session_secrets=redis.session_secrets,
            )
            async with Client(sandbox.server(settings)) as client:
                in_redis, _ = await timed_pages(client, rounds)
    for name, figures in (("memory", memory), ("Redis", in_redis)):
        print(
            f"  {name:>6}: median {median(figures):.2f} ms, p90 {percentile(figures, 90):.2f} ms "
            f"(goal < {GOAL_MS} ms: {verdict(median(figures) < GOAL_MS)})"
        )
    print(
        f"  the simplest server instead runs the call again: median {median(again):.1f} ms, and the credits and "
        f"rate-limit token again ({median(again) / median(memory):.0f}x the page from memory)"
    )
    in_runs, one_by_one = keeping_ms(rounds)
    print(
        f"keeping the rest of that answer: {in_runs:.1f} ms in runs, {one_by_one:.1f} ms an item at a time, as before"
    )
    print(f"memory held per stored MB (memory store, tracemalloc): {await memory_per_stored_mb():.2f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40)
    anyio.run(main, parser.parse_args().rounds)
