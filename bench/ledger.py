"""What a reservation adds to a call: one reserve and one settle, on each ledger store, one call at a time and
with calls at once. Goals (issue 16): under 0.3 ms a call on SQLite, under 1 ms on Redis.

    python -m bench.ledger [--calls 2000] [--concurrent 8]

SQLite runs on a file in a temporary directory (WAL, synchronous=NORMAL, as served), Redis on a redis-server of
its own on loopback. A daily limit is set and the endpoint's price is known, so every reservation does the whole
check.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio

from bench.common import percentile, verdict
from parse_mcp.state.ledger import LEDGER_FILE, Call, Ledger, Limits, MemoryLedger, Reservation, SqliteLedger
from parse_mcp.state.ledger_redis import RedisLedger
from parse_mcp.state.redis_stores import connect
from tests.redis_server import RedisServer

CALL = Call("parsebot", "execute_endpoint", "api-books", "list_books", "bench")
LIMITS = Limits(daily_credits=10**12, client_daily_credits=10**12)
GOALS_MS = {"memory": None, "sqlite": 0.3, "redis": 1.0}


async def one_reservation(ledger: Ledger) -> None:
    reservation = await ledger.reserve(CALL)
    assert isinstance(reservation, Reservation), reservation
    await ledger.settle(reservation, 1, None)


async def measure(ledger: Ledger, calls: int, concurrent: int) -> tuple[list[float], float]:
    """Per-call durations one at a time (ms), and the mean ms a call with `concurrent` at once."""
    for _ in range(50):  # warm up; the first one teaches the price
        await one_reservation(ledger)
    durations = []
    for _ in range(calls):
        started = time.perf_counter()
        await one_reservation(ledger)
        durations.append((time.perf_counter() - started) * 1000)

    async def worker() -> None:
        for _ in range(calls // concurrent):
            await one_reservation(ledger)

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(concurrent):
            group.start_soon(worker)
    together = (time.perf_counter() - started) * 1000 / (calls // concurrent * concurrent)
    return durations, together


@asynccontextmanager
async def stores(directory: Path) -> AsyncIterator[list[tuple[str, Ledger]]]:
    clock: Callable[[], float] = time.time
    sqlite = SqliteLedger(directory / LEDGER_FILE, LIMITS, clock)
    with RedisServer(directory) as server:
        client = connect(server.url)
        try:
            yield [
                ("memory", MemoryLedger(LIMITS, clock)),
                ("sqlite", sqlite),
                ("redis", RedisLedger(client, "bench:ledger", LIMITS, clock)),
            ]
        finally:
            await sqlite.aclose()
            await client.aclose()


async def main(args: argparse.Namespace) -> None:
    print(f"ledger: reserve + settle, {args.calls} calls one at a time, then {args.concurrent} at once")
    with tempfile.TemporaryDirectory() as directory:
        async with stores(Path(directory)) as ledgers:
            for name, ledger in ledgers:
                durations, together = await measure(ledger, args.calls, args.concurrent)
                mean = statistics.fmean(durations)
                goal = GOALS_MS[name]
                judged = "" if goal is None else f" (goal < {goal} ms: {verdict(mean < goal)})"
                print(
                    f"  {name:<7} mean {mean:.3f} ms, p50 {percentile(durations, 0.5):.3f} ms, "
                    f"p99 {percentile(durations, 0.99):.3f} ms; {args.concurrent} at once: {together:.3f} ms a call"
                    + judged
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrent", type=int, default=8)
    anyio.run(main, parser.parse_args())
