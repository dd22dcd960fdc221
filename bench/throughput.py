"""Throughput over streamable HTTP: calls per second of ONE parse-mcp process, beside the naive one-tool server.

    python -m bench.throughput [--rounds 4] [--clients 20] [--calls 25] [--profile ours.prof]

Three processes on this machine: the upstream (bench.scaling's app, answering about 1 KB, never rate-limited),
`parse-mcp --transport http` and `python -m bench.naive_server --http`, both wired to that upstream. Each round
opens N MCP clients (sessions) on one server, each listing the tools as a client does when it connects, then,
once all are open, each makes M `execute_endpoint` calls one after the other, all clients at once; the round's
figure is the calls over the seconds they took (the clock starts when every session is open and stops at the
last answer, before the sessions close). Rounds alternate between the two servers, so a busy machine slows both alike,
after one warm-up round each; the figures are medians. Beside calls per second, each server's CPU time per
call (from /proc), which a machine shared with other work disturbs far less than wall time.

Goal: parse-mcp at least 0.85x the naive server's calls per second.

`--profile PATH` runs each server under cProfile and writes its profile to PATH.<name> (read it with pstats):
both run about three times slower then, so the figures printed are only for comparing the two profiles.
"""

from __future__ import annotations

import argparse
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import anyio
from mcp import Client

from bench.common import median, process_cpu_seconds, verdict
from bench.scaling import KEY, SCRAPER, upstream_app
from parse_mcp.sandbox.serve import running_sandbox
from tests.processes import free_port, keyless_env

GOAL = 0.85
ARGUMENTS = {"scraper_id": SCRAPER, "endpoint": "rows", "params": {"size": "1KB"}}
START_SECONDS = 30.0
# No round may run away: 500 calls take about 2 s here; a round past this is a failure, not a figure.
ROUND_SECONDS = 120.0


@dataclass(frozen=True)
class Served:
    """One server process, reachable at `url`, and the upstream process it calls."""

    name: str
    pid: int
    url: str
    upstream_pid: int

    def cpu_seconds(self) -> tuple[float, float, float]:
        """CPU seconds used so far by the server, by this process (the clients), and by the upstream."""
        mine = resource.getrusage(resource.RUSAGE_SELF)
        clients = mine.ru_utime + mine.ru_stime
        return process_cpu_seconds(self.pid), clients, process_cpu_seconds(self.upstream_pid)


@dataclass(frozen=True)
class Round:
    calls_per_second: float
    # CPU milliseconds per call of the server, the MCP clients and the upstream.
    cpu_ms: tuple[float, float, float]


@dataclass
class Rounds:
    """Each round's calls per second, and the CPU each process spent per call."""

    rounds: list[Round] = field(default_factory=list)

    def rate(self) -> float:
        return median([r.calls_per_second for r in self.rounds])

    def cpu_ms(self, party: int) -> float:
        return median([r.cpu_ms[party] for r in self.rounds])

    def describe(self, name: str) -> str:
        rates = ", ".join(f"{r.calls_per_second:.0f}" for r in self.rounds)
        return (
            f"{name:>10}: median {self.rate():6.1f} calls/s (rounds: {rates}); CPU a call: "
            f"server {self.cpu_ms(0):.2f} ms, clients {self.cpu_ms(1):.2f} ms, upstream {self.cpu_ms(2):.2f} ms"
        )


@contextmanager
def process(
    command: list[str], env: dict[str, str], stop: signal.Signals = signal.SIGTERM
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, stopped (by its own PID, with `stop`) when the block ends."""
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as child:
        try:
            yield child
        finally:
            child.send_signal(stop)
            child.wait(timeout=30)


async def listening(port: int, child: subprocess.Popen[bytes]) -> None:
    """Until `port` accepts connections, for at most START_SECONDS."""
    with anyio.fail_after(START_SECONDS):
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"{child.args!r} exited with {child.returncode} before it listened")
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)  # between polls while the process starts; nothing is timed yet
                continue
            await stream.aclose()
            return


def server_commands(profile: str | None) -> dict[str, tuple[int, list[str]]]:
    """Each server's name, its port, and the command that serves it there (under cProfile with `profile`)."""
    port, naive_port = free_port(), free_port()
    commands = {
        "parse-mcp": (port, ["-m", "parse_mcp.cli", "--transport", "http", "--port", str(port)]),
        "naive": (naive_port, ["-m", "bench.naive_server", "--http", str(naive_port)]),
    }
    return {name: (at, [sys.executable, *_profiled(profile, name), *args]) for name, (at, args) in commands.items()}


def _profiled(profile: str | None, name: str) -> list[str]:
    return ["-m", "cProfile", "-o", f"{profile}.{name}"] if profile else []


async def one_round(server: Served, clients: int, calls: int) -> Round:
    """`clients` sessions making `calls` calls each: calls per second, and CPU per call."""
    failures: list[str] = []
    all_open = anyio.Event()
    opened = finished = 0
    started = ended = 0.0
    cpu_before = cpu_after = (0.0, 0.0, 0.0)

    async def client_loop() -> None:
        nonlocal opened, finished, started, ended, cpu_before, cpu_after
        async with Client(server.url) as client:
            # A client lists the tools once when it connects (the SDK's client would do it on its first call, to
            # validate results against their output schemas): part of opening a session, not of each call.
            await client.list_tools()
            opened += 1
            if opened == clients:
                started, cpu_before = time.perf_counter(), server.cpu_seconds()
                all_open.set()
            await all_open.wait()
            for _ in range(calls):
                result = await client.call_tool("execute_endpoint", ARGUMENTS)
                if result.is_error:
                    failures.append(str(result.content)[:200])
            finished += 1
            if finished == clients:  # the clock stops at the last answer, before the sessions close
                ended, cpu_after = time.perf_counter(), server.cpu_seconds()

    with anyio.fail_after(ROUND_SECONDS):
        async with anyio.create_task_group() as group:
            for _ in range(clients):
                group.start_soon(client_loop)
    elapsed = ended - started
    if failures:
        raise RuntimeError(f"{server.name}: {len(failures)} calls failed, e.g. {failures[0]}")
    total = clients * calls
    after, before = cpu_after, cpu_before
    return Round(
        total / elapsed,
        (
            ms_each(after[0] - before[0], total),
            ms_each(after[1] - before[1], total),
            ms_each(after[2] - before[2], total),
        ),
    )


def ms_each(seconds: float, calls: int) -> float:
    return seconds * 1000 / calls


async def measure(servers: list[Served], args: argparse.Namespace) -> dict[str, Rounds]:
    results = {server.name: Rounds() for server in servers}
    for server in servers:
        await one_round(server, args.clients, args.calls)  # warm-up: schema read, caches, allocator
    for n in range(args.rounds):
        # Alternate which goes first, so neither always follows the other's leftovers.
        for server in servers if n % 2 == 0 else servers[::-1]:
            results[server.name].rounds.append(await one_round(server, args.clients, args.calls))
    return results


async def main(args: argparse.Namespace) -> None:
    upstream_port = free_port()
    upstream_url = f"http://127.0.0.1:{upstream_port}"
    env = keyless_env() | {"PARSE_API_KEY": KEY, "PARSE_API_BASE_URL": upstream_url, "NAIVE_UPSTREAM": upstream_url}
    with ExitStack() as stack:
        upstream = stack.enter_context(
            process([sys.executable, "-m", "bench.throughput", "upstream", str(upstream_port)], env)
        )
        await listening(upstream_port, upstream)
        servers: list[Served] = []
        for name, (server_port, command) in server_commands(args.profile).items():
            # SIGINT: uvicorn then shuts down cleanly, and cProfile writes its profile on the way out.
            child = stack.enter_context(process(command, env, stop=signal.SIGINT))
            await listening(server_port, child)
            servers.append(Served(name, child.pid, f"http://127.0.0.1:{server_port}/mcp", upstream.pid))
        results = await measure(servers, args)
    ours, naive = results["parse-mcp"], results["naive"]
    print(
        f"throughput over streamable HTTP: {args.clients} concurrent clients x {args.calls} calls (1 KB answers), "
        f"{args.rounds} interleaved rounds each after a warm-up round"
    )
    print(ours.describe("parse-mcp"))
    print(naive.describe("naive"))
    ratio = ours.rate() / naive.rate()
    print(f"ratio of calls/s {ratio:.2f} (goal >= {GOAL}: {verdict(ratio >= GOAL)})")
    server, clients = ours.cpu_ms(0) / naive.cpu_ms(0), ours.cpu_ms(1) / naive.cpu_ms(1)
    print(f"ratio of CPU a call: server {server:.2f}, clients {clients:.2f} (they share this machine's cores)")


async def serve_upstream(port: int) -> None:
    async with running_sandbox(upstream_app(), port=port):
        await anyio.sleep_forever()


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--calls", type=int, default=25)
    parser.add_argument("--profile", default=None, metavar="PATH", help="write each server's cProfile to PATH.<name>")
    return parser.parse_args()


if __name__ == "__main__":
    if sys.argv[1:2] == ["upstream"]:
        anyio.run(serve_upstream, int(sys.argv[2]))
    else:
        anyio.run(main, _arguments())
