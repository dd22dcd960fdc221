"""What garbage collection costs the HTTP server a call: Python's defaults beside the heap settings the CLI
applies before it serves (`parse_mcp.cli.settle_heap`: the start-up heap frozen, the young generation larger).

    python -m bench.gc_cost [--rounds 4]

Two `parse-mcp --transport http` processes, the same but for those settings, under bench.throughput's load (20
clients x 25 calls a round, 1 KB answers, rounds alternating). Each times its own collections with a
`gc.callbacks` hook and writes the totals when it stops. Printed: collections and GC milliseconds a call for each
generation, and each server's calls/s and CPU a call.
"""

from __future__ import annotations

import argparse
import gc
import json
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import anyio

from bench.scaling import KEY
from bench.throughput import Rounds, Served, listening, one_round, process
from tests.processes import free_port, keyless_env

CLIENTS, CALLS = 20, 25
MODES = ("defaults", "settled")


def serve(mode: str, port: int, out: Path) -> None:
    """Serve like `parse-mcp --transport http`, timing each collection; `defaults` keeps Python's settings."""
    import parse_mcp.cli

    totals = {generation: [0, 0.0] for generation in range(3)}
    started = [0.0]

    def timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            totals[info["generation"]][0] += 1
            totals[info["generation"]][1] += time.perf_counter() - started[0]

    if mode == "defaults":
        parse_mcp.cli.settle_heap = lambda: None  # the one difference: Python's own settings
    gc.callbacks.append(timed)
    try:
        parse_mcp.cli.main(["--transport", "http", "--port", str(port), "--log-level", "warning"])
    finally:
        out.write_text(json.dumps({"totals": totals, "threshold": gc.get_threshold()}))


async def main(rounds: int) -> None:
    upstream_port = free_port()
    upstream_url = f"http://127.0.0.1:{upstream_port}"
    env = keyless_env() | {"PARSE_API_KEY": KEY, "PARSE_API_BASE_URL": upstream_url}
    results = {mode: Rounds() for mode in MODES}
    with TemporaryDirectory() as scratch, ExitStack() as stack:
        upstream = stack.enter_context(
            process([sys.executable, "-m", "bench.throughput", "upstream", str(upstream_port)], env)
        )
        await listening(upstream_port, upstream)
        servers: list[Served] = []
        for mode in MODES:
            port = free_port()
            out = Path(scratch, mode)
            command = [sys.executable, "-m", "bench.gc_cost", "serve", mode, str(port), str(out)]
            # SIGINT: uvicorn stops cleanly, and `serve` writes its totals on the way out.
            state = {"PARSE_MCP_STATE_DIR": str(Path(scratch, mode + "-state"))}
            child = stack.enter_context(process(command, env | state, stop=signal.SIGINT))
            await listening(port, child)
            servers.append(Served(mode, child.pid, f"http://127.0.0.1:{port}/mcp", upstream.pid))
        for server in servers:
            await one_round(server, CLIENTS, CALLS)  # warm-up
        for n in range(rounds):
            for server in servers if n % 2 == 0 else servers[::-1]:
                results[server.name].rounds.append(await one_round(server, CLIENTS, CALLS))
        stack.close()  # every process stopped, so every total is written
        report(results, Path(scratch), calls=(rounds + 1) * CLIENTS * CALLS, rounds=rounds)


def report(results: dict[str, Rounds], totals: Path, *, calls: int, rounds: int) -> None:
    print(f"garbage collection under {CLIENTS} clients x {CALLS} calls a round, {rounds} rounds each after a warm-up")
    for mode in MODES:
        written = json.loads((totals / mode).read_text())
        per_generation = ", ".join(
            f"gen {generation} {count} times, {seconds * 1000 / calls:.3f} ms a call"
            for generation, (count, seconds) in sorted(written["totals"].items())
        )
        gc_ms = sum(seconds for _, seconds in written["totals"].values()) * 1000 / calls
        print(f"{mode:>9}: thresholds {tuple(written['threshold'])}; {per_generation}")
        served = results[mode]
        print(
            f"{'':>9}  GC {gc_ms:.3f} ms a call; median {served.rate():.1f} calls/s, "
            f"server CPU {served.cpu_ms(0):.2f} ms a call"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
    else:
        parser = argparse.ArgumentParser(prog="python -m bench.gc_cost")
        parser.add_argument("--rounds", type=int, default=4)
        anyio.run(main, parser.parse_args().rounds)
