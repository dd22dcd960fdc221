"""A frozen Redis under a server whose every store is in it: how long calls take, many at once and one at a time.

    python -m bench.frozen_redis [--calls 55] [--budget 45] [--sequential 6]

The server is served over streamable HTTP with the Redis event store (as `parse-mcp --transport http` runs with
`PARSE_MCP_REDIS_URL`), against an in-process sandbox on real time, with a redis-server of its own. After one
login with Redis healthy, Redis is frozen (SIGSTOP: it keeps its connections and never answers), then N calls
start at once on one MCP session (a mix of a success, a failure and a call needing its login session), then
some more one at a time; Redis is resumed (SIGCONT) at the end. Goal: no call past the budget plus a second.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import anyio

from bench.common import median, percentile, verdict
from parse_mcp.policy.deadline import DEFAULT_CALL_BUDGET_SECONDS
from tests.redis_server import RedisServer
from tests.state.frozen_redis import at_once, every_path, frozen, logged_in, one_session, served_on_redis, timed


def described(label: str, durations: list[float], budget: float) -> str:
    over = sum(1 for seconds in durations if seconds > budget + 1)
    return (
        f"{label}: {len(durations)} calls, p50 {median(durations):.2f} s, p90 {percentile(durations, 0.9):.2f} s, "
        f"max {max(durations):.2f} s, {over} over {budget + 1:.0f} s"
    )


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as directory, RedisServer(Path(directory)) as redis:
        async with served_on_redis(redis, "bench-frozen", args.budget) as url, one_session(url) as client:
            paths = every_path(await logged_in(client))
            with frozen(redis):
                together = await at_once(client, [paths[n % len(paths)] for n in range(args.calls)])
                one_by_one = [await timed(client, paths[n % len(paths)]) for n in range(args.sequential)]
    at_once_seconds = [seconds for seconds, _ in together]
    sequential_seconds = [seconds for seconds, _ in one_by_one]
    print(f"Redis frozen (SIGSTOP), call budget {args.budget:.0f} s, one MCP session over streamable HTTP")
    print(described(f"{args.calls} at once", at_once_seconds, args.budget))
    print(described("one at a time", sequential_seconds, args.budget))
    print("each one at a time: " + ", ".join(f"{seconds:.2f} s" for seconds in sequential_seconds))
    codes = sorted({str(answer.get("error", {}).get("code", "ok")) for _, answer in [*together, *one_by_one]})
    print("answers: " + ", ".join(codes))
    print(verdict(max(at_once_seconds + sequential_seconds) <= args.budget + 1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=55)
    parser.add_argument("--budget", type=float, default=DEFAULT_CALL_BUDGET_SECONDS)
    parser.add_argument("--sequential", type=int, default=6)
    anyio.run(main, parser.parse_args())
