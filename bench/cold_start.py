"""Cold start and memory: spawn `parse-mcp` over stdio until `tools/list` completes (median of 7, goal
under 1.0 s), and the peak memory of an idle server and of one under 100 concurrent calls.

    python -m bench.cold_start
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from bench.common import median, verdict
from parse_mcp.sandbox import BOOKS_API_ID

RUNS = 7
CONCURRENT = 100


async def one_cold_start() -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARSE_", "SCRAPERAPI_"))}
    started = time.perf_counter()
    async with Client(StdioServerParameters(command=sys.executable, args=["-m", "parse_mcp.cli"], env=env)) as client:
        await client.list_tools()
        return time.perf_counter() - started


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def memory() -> tuple[float, float]:
    port = free_port()
    command = [sys.executable, "-m", "parse_mcp.cli", "--sandbox", "--transport", "http", "--port", str(port)]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        assert process.stderr is not None
        while b"Uvicorn running on" not in (line := process.stderr.readline()):
            if not line:
                raise RuntimeError("the server exited before it listened")
        try:
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                await client.list_tools()
                idle = peak_rss_mib(process.pid)
                arguments = {"scraper_id": BOOKS_API_ID, "endpoint": "list_books", "params": {}}
                async with anyio.create_task_group() as group:
                    for _ in range(CONCURRENT):
                        group.start_soon(client.call_tool, "execute_endpoint", arguments)
                busy = peak_rss_mib(process.pid)
        finally:
            process.terminate()
    return idle, busy


async def main() -> None:
    starts = [await one_cold_start() for _ in range(RUNS)]
    cold = median(starts)
    print(
        f"cold start (spawn to tools/list over stdio): median {cold:.3f} s of {RUNS} "
        f"(min {min(starts):.3f}, max {max(starts):.3f}); ratio to 1.0 s goal {cold:.2f} ({verdict(cold < 1.0)})"
    )
    idle, busy = await memory()
    print(
        f"peak memory: idle {idle:.1f} MiB, under {CONCURRENT} concurrent calls {busy:.1f} MiB "
        f"(ratio {busy / idle:.2f}; server with the embedded sandbox in the same process)"
    )


if __name__ == "__main__":
    anyio.run(main)
