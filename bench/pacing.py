"""Pacing: 200 calls from 20 concurrent MCP clients over streamable HTTP, against a sandbox bucket of
burst 30 refilling 300 a minute, on the real clock. Goals: no 429 from the service, and throughput at
least 0.95 of what the bucket allows.

    python -m bench.pacing
"""

from __future__ import annotations

import time

import anyio
from mcp import Client

from bench.common import sandbox, verdict
from parse_mcp.sandbox import BOOKS_API_ID, SandboxConfig, running_sandbox
from parse_mcp.server import build_server

CALLS = 200
CLIENTS = 20
BURST = 30
PER_MINUTE = 300.0


async def main() -> None:
    config = SandboxConfig(burst=BURST, refill_per_minute=PER_MINUTE, daily_limit=None, credits=1_000_000)
    async with sandbox(config) as (settings, statuses):
        server = build_server(settings)
        app = server.streamable_http_app()
        # The loopback runner does not run ASGI lifespans: enter the session manager the app would start.
        async with server.session_manager.run(), running_sandbox(app) as server_url:
            failures: list[str] = []
            started = time.monotonic()

            async def client_loop(share: int) -> None:
                async with Client(f"{server_url}/mcp") as client:
                    for _ in range(share):
                        result = await client.call_tool(
                            "execute_endpoint", {"scraper_id": BOOKS_API_ID, "endpoint": "list_books", "params": {}}
                        )
                        if result.is_error:
                            failures.append(str((result.structured_content or {}).get("error")))

            async with anyio.create_task_group() as group:
                for _ in range(CLIENTS):
                    group.start_soon(client_loop, CALLS // CLIENTS)
            elapsed = time.monotonic() - started
    allowed_seconds = (CALLS - BURST) / (PER_MINUTE / 60.0)
    throughput = allowed_seconds / elapsed
    rejected = statuses.counts.get(429, 0)
    print(f"pacing: {CALLS} calls, {CLIENTS} concurrent clients, bucket burst {BURST} + {PER_MINUTE:.0f}/min")
    print(f"  elapsed {elapsed:.2f} s; the bucket allows them in {allowed_seconds:.2f} s")
    print(f"  upstream 429s: {rejected} (goal 0: {verdict(rejected == 0)})")
    print(f"  failed calls seen by agents: {len(failures)}")
    print(f"  throughput / allowed: {throughput:.3f} (goal >= 0.95: {verdict(throughput >= 0.95)})")


if __name__ == "__main__":
    anyio.run(main)
