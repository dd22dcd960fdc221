"""Load: many clients over streamable HTTP against a server in its own process, measured from outside.

Three figures, each against a fresh `parse-mcp --transport http` process wired to a sandbox process:
1. 1,000 concurrent calls from 10 clients: answered, lost, latency p50/p99, the server's peak RSS.
   Goal: 0 lost.
2. 5 rounds of 200 calls cancelled by their clients while they wait on the pacer: the server's RSS after
   each round against before, and how long a fresh call then waits. Goals: RSS back within 10 %, and the
   fresh call not held back by the cancelled calls' reservations.
3. CPU while calls wait on the pacer: the server's CPU seconds per wall second while a queue of calls
   waits for tokens. Goal < 0.05.

    python -m bench.load
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from bench.common import percentile, verdict
from parse_mcp.sandbox import BOOKS_API_ID, PARSEBOT_KEY, SandboxConfig, SystemClock, create_app, running_sandbox
from tests.processes import free_port

CLIENTS = 10
CALLS = 1_000
CANCEL_ROUNDS = 5
CANCELLED_PER_ROUND = 200
LIST_BOOKS = {"scraper_id": BOOKS_API_ID, "endpoint": "list_books", "params": {}}


@dataclass(frozen=True)
class Server:
    pid: int
    url: str

    def rss_mib(self, field: str = "VmRSS") -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no {field} for {self.pid}")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    with anyio.fail_after(30):
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"process exited with {process.returncode} before it listened")
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)
            else:
                await stream.aclose()
                return


@asynccontextmanager
async def stack(burst: int, refill_per_minute: float) -> AsyncIterator[Server]:
    """A sandbox process with this bucket, and a parse-mcp HTTP server process in front of it."""
    sandbox_port, server_port = free_port(), free_port()
    sandbox_command = [
        sys.executable,
        "-m",
        "bench.load",
        "sandbox",
        str(sandbox_port),
        str(burst),
        str(refill_per_minute),
    ]
    server_command = [sys.executable, "-m", "parse_mcp.cli", "--transport", "http", "--port", str(server_port)]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PARSE_", "SCRAPERAPI_"))},
        "PARSE_API_KEY": PARSEBOT_KEY,
        "PARSE_API_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
    }
    with (
        subprocess.Popen(sandbox_command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as sandbox_process,
        subprocess.Popen(server_command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as server,
    ):
        try:
            await wait_for_port(sandbox_port, sandbox_process)
            await wait_for_port(server_port, server)
            yield Server(server.pid, f"http://127.0.0.1:{server_port}/mcp")
        finally:
            server.terminate()
            sandbox_process.terminate()


async def timed_call(client: Client, latencies: list[float], lost: list[str]) -> None:
    started = time.perf_counter()
    try:
        result = await client.call_tool("execute_endpoint", LIST_BOOKS)
    except Exception as exc:  # noqa: BLE001 - a lost call is what this counts
        lost.append(type(exc).__name__)
        return
    if result.structured_content is None:
        lost.append("no structured result")
        return
    latencies.append(time.perf_counter() - started)


async def concurrent_calls() -> None:
    async with stack(burst=CALLS * 2, refill_per_minute=60_000.0) as server:
        latencies: list[float] = []
        lost: list[str] = []
        started = time.perf_counter()

        async def one_client() -> None:
            async with Client(server.url) as client, anyio.create_task_group() as group:
                for _ in range(CALLS // CLIENTS):
                    group.start_soon(timed_call, client, latencies, lost)

        async with anyio.create_task_group() as group:
            for _ in range(CLIENTS):
                group.start_soon(one_client)
        elapsed = time.perf_counter() - started
        peak = server.rss_mib("VmHWM")
    print(f"1. {CALLS} concurrent calls from {CLIENTS} clients over streamable HTTP, in {elapsed:.2f} s")
    print(f"   answered {len(latencies)}, lost {len(lost)} (goal 0: {verdict(not lost)}) {sorted(set(lost))}")
    print(f"   latency p50 {percentile(latencies, 0.5) * 1000:.0f} ms, p99 {percentile(latencies, 0.99) * 1000:.0f} ms")
    print(f"   server peak RSS {peak:.1f} MiB")


async def cancelled_calls() -> None:
    # Ten tokens a second: 200 concurrent calls queue on the pacer for up to 15 s each.
    async with stack(burst=10, refill_per_minute=600.0) as server, Client(server.url) as client:
        for _ in range(50):
            await client.call_tool("execute_endpoint", LIST_BOOKS)
        await anyio.sleep(2)  # let the bucket fill again
        before = server.rss_mib()
        # The first burst of 200 concurrent requests grows the allocator's arenas once; a leak is what keeps
        # growing after that, so the rounds are compared with the RSS after this warm-up round.
        await cancelled_round(client)
        warm = server.rss_mib()
        after: list[float] = []
        for _ in range(CANCEL_ROUNDS):
            await cancelled_round(client)
            after.append(server.rss_mib())
        fresh = await client.call_tool("execute_endpoint", LIST_BOOKS)
        waited = (fresh.structured_content or {}).get("meta", {}).get("waited_seconds", 0.0)
    growth = max(after) / warm
    print(f"2. {CANCEL_ROUNDS} rounds of {CANCELLED_PER_ROUND} calls cancelled while waiting on the pacer")
    print(f"   server RSS before any {before:.1f} MiB, after a warm-up round {warm:.1f} MiB")
    rounds = ", ".join(f"{r:.1f}" for r in after)
    print(f"   after each round {rounds} MiB (ratio to before any {max(after) / before:.3f})")
    print(f"   ratio to the warm-up round {growth:.3f} (goal <= 1.10: {verdict(growth <= 1.10)})")
    print(f"   a fresh call then waited {waited} s (goal < 1 s: {verdict(waited < 1.0)})")


async def cancelled_round(client: Client) -> None:
    """Start 200 calls and cancel them after a second, while most of them wait their turn on the pacer."""
    with anyio.move_on_after(1.0):
        async with anyio.create_task_group() as group:
            for _ in range(CANCELLED_PER_ROUND):
                group.start_soon(client.call_tool, "execute_endpoint", LIST_BOOKS)
    await anyio.sleep(0.5)


async def cpu_while_waiting() -> None:
    # One token every 2 s: 7 queued calls wait 2, 4, ... 14 s on the pacer.
    async with stack(burst=1, refill_per_minute=30.0) as server, Client(server.url) as client:
        await client.call_tool("execute_endpoint", LIST_BOOKS)  # learn the bucket; spend its token
        results: list[Any] = []

        async def queued() -> None:
            results.append(await client.call_tool("execute_endpoint", LIST_BOOKS))

        async with anyio.create_task_group() as group:
            for _ in range(7):
                group.start_soon(queued)
            await anyio.sleep(1.0)  # the calls have reached the server and wait on the pacer
            cpu_before, wall_before = server.cpu_seconds(), time.perf_counter()
            await anyio.sleep(10.0)
            cpu = server.cpu_seconds() - cpu_before
            wall = time.perf_counter() - wall_before
    share = cpu / wall
    print(f"3. CPU while {len(results)} calls waited on the pacer: {cpu:.3f} CPU-s in {wall:.1f} s")
    print(f"   CPU seconds per wall second {share:.4f} (goal < 0.05: {verdict(share < 0.05)})")


async def main() -> None:
    await concurrent_calls()
    await cancelled_calls()
    await cpu_while_waiting()


async def serve_sandbox(port: int, burst: int, refill_per_minute: float) -> None:
    config = SandboxConfig(burst=burst, refill_per_minute=refill_per_minute, daily_limit=None, credits=10_000_000)
    async with running_sandbox(create_app(config, SystemClock()), port=port):
        await anyio.sleep_forever()


if __name__ == "__main__":
    if sys.argv[1:2] == ["sandbox"]:
        anyio.run(serve_sandbox, int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    else:
        anyio.run(main)
