"""Cold start and memory.

Cold start, side by side in one run, runs interleaved so that a busy machine slows both alike:

- the floor: a bare Python process that imports `mcp.server.mcpserver`, which every mcp 2.x server pays,
  timed from spawn until it says the import is done (its exit is not counted);
- an empty `MCPServer` over stdio, from spawn to a completed `tools/list`: the floor plus the SDK's own
  handshake, shown for reference;
- `parse-mcp` over stdio, from spawn to a completed `tools/list`.

Goal: `parse-mcp` within 0.10 s of the floor (medians of 11 each). Then the peak memory of an idle server and
of one under 100 concurrent calls.

    python -m bench.cold_start
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from bench.common import median, verdict
from parse_mcp.sandbox import BOOKS_API_ID
from tests.processes import free_port

RUNS = 11
GOAL_ABOVE_FLOOR_SECONDS = 0.10
CONCURRENT = 100

_IMPORTED = "imported"
FLOOR_SCRIPT = f"import mcp.server.mcpserver\nprint({_IMPORTED!r}, flush=True)\n"
EMPTY_SERVER_SCRIPT = "from mcp.server.mcpserver import MCPServer\nMCPServer('empty').run('stdio')\n"


def _clean_env() -> dict[str, str]:
    """No keys from the caller's shell: every process starts as a fresh install would. That includes bytecode: pip
    compiles a package when it installs it, so the warm-up run writes it even where the shell says not to."""
    unset = ("PARSE_", "SCRAPERAPI_", "PYTHONDONTWRITEBYTECODE")
    return {k: v for k, v in os.environ.items() if not k.startswith(unset)}


async def floor_start() -> float:
    """Spawn to `import mcp.server.mcpserver` done."""
    started = time.perf_counter()
    async with await anyio.open_process(
        [sys.executable, "-c", FLOOR_SCRIPT], env=_clean_env(), stderr=subprocess.DEVNULL
    ) as process:
        assert process.stdout is not None
        said = await process.stdout.receive()
        elapsed = time.perf_counter() - started
        await process.wait()
    if said.strip() != _IMPORTED.encode():
        raise RuntimeError(f"the floor process said {said!r}")
    return elapsed


async def _spawn_to_tools_list(args: list[str]) -> float:
    started = time.perf_counter()
    parameters = StdioServerParameters(command=sys.executable, args=args, env=_clean_env())
    async with Client(parameters) as client:
        await client.list_tools()
        return time.perf_counter() - started


async def empty_server_start() -> float:
    return await _spawn_to_tools_list(["-c", EMPTY_SERVER_SCRIPT])


async def parse_mcp_start() -> float:
    return await _spawn_to_tools_list(["-m", "parse_mcp.cli"])


def _children_cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


@dataclass
class Measured:
    """Wall seconds to the mark (the goal's figure), and the CPU seconds the child used in its whole life, which a
    busy machine disturbs far less than wall time."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    async def add(self, measure: Callable[[], Coroutine[Any, Any, float]]) -> None:
        before = _children_cpu_seconds()
        self.wall.append(await measure())  # each measure waits for its child to exit, so its CPU is counted
        self.cpu.append(_children_cpu_seconds() - before)

    def describe(self, name: str) -> str:
        return (
            f"{name}: median {median(self.wall):.3f} s of {len(self.wall)} "
            f"(min {min(self.wall):.3f}, max {max(self.wall):.3f}); CPU {median(self.cpu):.3f} s"
        )


async def cold_start() -> None:
    measures: dict[str, Callable[[], Coroutine[Any, Any, float]]] = {
        "floor (spawn to `import mcp.server.mcpserver` done)": floor_start,
        "empty MCPServer (spawn to tools/list over stdio)": empty_server_start,
        "parse-mcp (spawn to tools/list over stdio)": parse_mcp_start,
    }
    results = {name: Measured() for name in measures}
    await parse_mcp_start()  # warm the file cache and the bytecode, as any earlier run of either would
    for _ in range(RUNS):
        for name, measure in measures.items():
            await results[name].add(measure)
    for name, measured in results.items():
        print(measured.describe(name))
    floor, ours = results[next(iter(measures))], results[list(measures)[-1]]
    above = median(ours.wall) - median(floor.wall)
    print(
        f"parse-mcp above the floor: {above:+.3f} s (goal within {GOAL_ABOVE_FLOOR_SECONDS:.2f} s: "
        f"{verdict(above <= GOAL_ABOVE_FLOOR_SECONDS)}); CPU {median(ours.cpu) - median(floor.cpu):+.3f} s"
    )


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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
    await cold_start()
    idle, busy = await memory()
    print(
        f"peak memory: idle {idle:.1f} MiB, under {CONCURRENT} concurrent calls {busy:.1f} MiB "
        f"(ratio {busy / idle:.2f}; server with the embedded sandbox in the same process)"
    )


if __name__ == "__main__":
    anyio.run(main)
