"""Context cost: characters an agent pays for the tool catalogue and for a typical failure.

python -m bench.context
"""

from __future__ import annotations

import json

import anyio
from mcp import Client
from mcp.types import TextContent

from bench.common import sandbox, verdict
from parse_mcp.sandbox import BOOKS_API_ID, SandboxConfig
from parse_mcp.server import build_server

CATALOGUE_BUDGET = 40_000
ERROR_BUDGET = 10_000


async def main() -> None:
    async with sandbox(SandboxConfig()) as (settings, _), Client(build_server(settings)) as client:
        tools = (await client.list_tools()).tools
        catalogue = sum(len(json.dumps(t.model_dump(mode="json", by_alias=True, exclude_none=True))) for t in tools)
        failure = await client.call_tool(
            "execute_endpoint", {"scraper_id": BOOKS_API_ID, "endpoint": "get_book", "params": {"slug": "nope_1"}}
        )
    text = "".join(block.text for block in failure.content if isinstance(block, TextContent))
    structured = len(json.dumps(failure.structured_content))
    per_tool = catalogue / len(tools)
    print(
        f"tools/list: {catalogue} chars for {len(tools)} tools ({per_tool:.0f} a tool); "
        f"projected for 25 tools {per_tool * 25:.0f} (ratio to {CATALOGUE_BUDGET} budget "
        f"{per_tool * 25 / CATALOGUE_BUDGET:.2f}: {verdict(per_tool * 25 < CATALOGUE_BUDGET)})"
    )
    print(
        f"typical failure (upstream 404): text {len(text)} chars + structured {structured} chars "
        f"(ratio of text to the {ERROR_BUDGET} cap {len(text) / ERROR_BUDGET:.2f}: {verdict(len(text) < ERROR_BUDGET)})"
    )


if __name__ == "__main__":
    anyio.run(main)
