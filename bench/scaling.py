"""How a call's cost grows with the size of the upstream's answer: parse-mcp beside the naive one-tool server.

Both run over stdio as separate processes, driven by the SDK's stdio client, and call the same upstream
(a small app in this process that answers `execute_endpoint`'s GET with a list of rows of the size asked).
Calls alternate between the two servers, so a busy machine slows both alike; the figure is the median.

parse-mcp answers with at most about 40,000 characters of data (the rest is cut, and said so), where the
naive server sends the whole answer twice (structured and as text). So past that size parse-mcp should cost
less, not more. Goals: at most 1.3x the naive server at every size, and at most 1.0x at 2 MB.

Then the per-call overhead at 1 KB on its own, over more calls (the median of a few milliseconds needs them):
goal at most 1.10x the naive server.

    python -m bench.scaling
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.common import median, process_cpu_seconds, verdict
from parse_mcp.sandbox.serve import running_sandbox

SIZES = {"1 KB": 1_024, "64 KB": 64 * 1_024, "512 KB": 512 * 1_024, "2 MB": 2 * 1_024 * 1_024}
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "15"))
WARMUP = 3
KEY = "pmx_bench_0123456789abcdef"
SCRAPER = "bench"
GOAL_EVERY_SIZE = 1.3
GOAL_LARGEST = 1.0
OVERHEAD_CALLS = int(os.environ.get("BENCH_OVERHEAD_CALLS", "200"))
GOAL_OVERHEAD_1KB = 1.10


def rows_of(size: int) -> bytes:
    """A success envelope whose data is a list of plausible rows, about `size` bytes of JSON in all."""
    rows: list[dict[str, object]] = []
    used = 40
    while used < size:
        n = len(rows)
        row = {"id": n, "title": f"Item number {n}", "price": round(n * 1.37, 2), "url": f"https://example.com/{n}"}
        rows.append(row)
        used += len(json.dumps(row)) + 1
    return json.dumps({"status": "success", "data": {"rows": rows}}).encode()


def upstream_app() -> Starlette:
    bodies = {label.replace(" ", ""): rows_of(size) for label, size in SIZES.items()}
    schema = {
        "id": SCRAPER,
        "name": "Bench",
        "endpoints": [
            {"name": "rows", "method": "GET", "input_params": {"size": {"type": "str", "required": True}}},
        ],
    }

    async def schemas(_request: Request) -> Response:
        return JSONResponse({"schemas": [schema]})

    async def one_schema(_request: Request) -> Response:
        return JSONResponse(schema)

    async def rows(request: Request) -> Response:
        return Response(bodies[request.query_params["size"]], media_type="application/json")

    return Starlette(
        routes=[
            Route("/sdk/schemas", schemas),
            Route(f"/sdk/schemas/{SCRAPER}", one_schema),
            Route(f"/scraper/{SCRAPER}/rows", rows),
        ]
    )


def _env(upstream: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARSE_", "SCRAPERAPI_"))}
    return env | {"PARSE_API_KEY": KEY, "PARSE_API_BASE_URL": upstream, "NAIVE_UPSTREAM": upstream}


@asynccontextmanager
async def clients(upstream: str) -> AsyncIterator[tuple[Client, Client]]:
    env = _env(upstream)
    ours = StdioServerParameters(command=sys.executable, args=["-m", "parse_mcp.cli"], env=env)
    naive = StdioServerParameters(command=sys.executable, args=["-m", "bench.naive_server"], env=env)
    async with AsyncExitStack() as stack:
        yield await stack.enter_async_context(Client(ours)), await stack.enter_async_context(Client(naive))


async def timed(client: Client, size: str) -> float:
    arguments = {"scraper_id": SCRAPER, "endpoint": "rows", "params": {"size": size.replace(" ", "")}}
    started = time.perf_counter()
    result = await client.call_tool("execute_endpoint", arguments)
    elapsed = (time.perf_counter() - started) * 1000
    if result.is_error:
        raise RuntimeError(f"execute_endpoint failed at {size}: {result.content}")
    return elapsed


async def interleaved(ours: Client, naive: Client, size: str, calls: int) -> tuple[list[float], list[float]]:
    """`calls` timed calls to each server after a warm-up, alternating which goes first."""
    mine: list[float] = []
    theirs: list[float] = []
    for n in range(WARMUP + calls):
        first, second = (ours, naive) if n % 2 == 0 else (naive, ours)
        a, b = await timed(first, size), await timed(second, size)
        if n >= WARMUP:
            mine.append(a if first is ours else b)
            theirs.append(b if first is ours else a)
    return mine, theirs


def server_pids() -> tuple[int, int]:
    """The PIDs of the two stdio servers this process started (parse-mcp's, the naive one's)."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid():
            for name in ("parse_mcp.cli", "bench.naive_server"):
                if name in command:
                    found[name] = int(entry.name)
    return found["parse_mcp.cli"], found["bench.naive_server"]


async def main() -> None:
    async with running_sandbox(upstream_app()) as upstream, clients(upstream) as (ours, naive):
        ours_pid, naive_pid = server_pids()
        print(f"per-call cost over stdio, median of {ROUNDS} calls each, interleaved; server CPU a call from /proc")
        print(f"{'answer':>8} | {'parse-mcp':>10} | {'naive':>10} | ratio | server CPU a call | goal")
        for label in SIZES:
            cpu_before = process_cpu_seconds(ours_pid), process_cpu_seconds(naive_pid)
            mine, theirs = await interleaved(ours, naive, label, ROUNDS)
            calls = WARMUP + ROUNDS
            cpu_mine = (process_cpu_seconds(ours_pid) - cpu_before[0]) * 1000 / calls
            cpu_theirs = (process_cpu_seconds(naive_pid) - cpu_before[1]) * 1000 / calls
            ratio = median(mine) / median(theirs)
            goal = GOAL_LARGEST if label == "2 MB" else GOAL_EVERY_SIZE
            print(
                f"{label:>8} | {median(mine):>7.1f} ms | {median(theirs):>7.1f} ms | {ratio:5.2f} | "
                f"{cpu_mine:5.2f} vs {cpu_theirs:5.2f} ms | <= {goal}: {verdict(ratio <= goal)}"
            )
        mine, theirs = await interleaved(ours, naive, "1 KB", OVERHEAD_CALLS)
        ratio = median(mine) / median(theirs)
        print(
            f"per-call overhead at 1 KB, median of {OVERHEAD_CALLS} calls each, interleaved: parse-mcp "
            f"{median(mine):.2f} ms, naive {median(theirs):.2f} ms, ratio {ratio:.2f} "
            f"(goal <= {GOAL_OVERHEAD_1KB}: {verdict(ratio <= GOAL_OVERHEAD_1KB)})"
        )


if __name__ == "__main__":
    anyio.run(main)
