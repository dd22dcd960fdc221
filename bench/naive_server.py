"""The simplest server a person would write for the same job: one tool, one bare httpx2 call, the JSON back.

The benchmarks run it over stdio beside parse-mcp, against the same upstream, to show what parse-mcp's
guidance, checks and bounds cost (or save). Its upstream comes from `NAIVE_UPSTREAM`, its key from
`PARSE_API_KEY`.

    NAIVE_UPSTREAM=http://127.0.0.1:8787 PARSE_API_KEY=pmx_... python -m bench.naive_server
"""

from __future__ import annotations

import os
from typing import Any

import httpx2
from mcp.server.mcpserver import MCPServer

server = MCPServer("naive", log_level="WARNING")
client = httpx2.AsyncClient(
    base_url=os.environ.get("NAIVE_UPSTREAM", "http://127.0.0.1:8787"),
    headers={"X-API-Key": os.environ.get("PARSE_API_KEY", "")},
    timeout=60,
)


@server.tool()
async def execute_endpoint(scraper_id: str, endpoint: str, params: dict[str, Any] | None = None) -> Any:
    """Run one endpoint of a Parse.bot API and return its JSON."""
    reply = await client.get(f"/scraper/{scraper_id}/{endpoint}", params=params or {})
    return reply.json()


if __name__ == "__main__":
    server.run("stdio")
