"""The simplest server a person would write for the same job: one tool, one bare httpx2 call, the JSON back.

The benchmarks run it beside parse-mcp, against the same upstream, to show what parse-mcp's guidance, checks
and bounds cost (or save). Its upstream comes from `NAIVE_UPSTREAM`, its key from `PARSE_API_KEY`. Over stdio
by default; `--http PORT` serves streamable HTTP on 127.0.0.1 with the SDK's own defaults, as `server.run`
gives anyone who asks for it.

    NAIVE_UPSTREAM=http://127.0.0.1:8787 PARSE_API_KEY=pmx_... python -m bench.naive_server [--http 8000]
"""

from __future__ import annotations

import os
import sys
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
    if sys.argv[1:2] == ["--http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
