"""Parse.bot marketplace tools: public APIs that anyone can call with their own key.

No `from __future__ import annotations` here: the SDK reads these signatures at run time.
"""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from parse_mcp.guidance.table import NextCall
from parse_mcp.json_types import JsonValue
from parse_mcp.results import ToolResult
from parse_mcp.services.parsebot import ParseBotClient
from parse_mcp.tools.common import AppState, ToolCall, run_parsebot, state_of
from parse_mcp.tools.documents import field_of, integer_of, token_of
from parse_mcp.voice import said


async def search_marketplace(
    ctx: Context[AppState, Any],
    query: Annotated[str | None, Field(max_length=200, description="Words to look for, e.g. a site's name.")] = None,
    limit: Annotated[int, Field(ge=1, le=50, description="Most listings to return (1-50).")] = 10,
) -> Annotated[CallToolResult, ToolResult]:
    """Search the public Parse.bot marketplace for ready-made APIs.

    Use it before create_api: a marketplace API works at once and costs no build. Then
    get_marketplace_api for its canonical scraper id and latest release.
    """
    arguments: dict[str, JsonValue] = {"limit": limit} | ({"query": query} if query else {})

    async def run(client: ParseBotClient) -> ToolResult:
        found, meta = await client.search_marketplace(query, limit)
        items = found.get("items") if isinstance(found, dict) else None
        count = len(items) if isinstance(items, list) else 0
        only = items[0] if count == 1 and isinstance(items, list) and isinstance(items[0], dict) else {}
        listing = token_of(only.get("id")) or token_of(only.get("slug"))
        if listing is not None:
            return ToolResult.success(
                "1 marketplace API found.",
                found,
                meta,
                next_step="Call get_marketplace_api for its scraper id.",
                next_call=NextCall.offer("get_marketplace_api", {"listing": listing}),
            )
        return ToolResult.success(f"{count} marketplace {'API' if count == 1 else 'APIs'} found.", found, meta)

    return await run_parsebot(state_of(ctx), ToolCall("search_marketplace", arguments), run)


async def get_marketplace_api(
    listing: Annotated[str, Field(min_length=1, max_length=200, description="A listing's id or slug.")],
    ctx: Context[AppState, Any],
) -> Annotated[CallToolResult, ToolResult]:
    """Show one marketplace API: its canonical scraper id, latest release, endpoints and prices.

    Use it to call a marketplace API directly: execute_endpoint with canonical_scraper_id, and
    snapshot_version to pin a release.
    """

    async def run(client: ParseBotClient) -> ToolResult:
        detail, meta = await client.marketplace_api(listing)
        scraper_id = token_of(field_of(detail, "canonical_scraper_id"))
        latest = integer_of(field_of(detail, "latest_version"))
        if scraper_id is None:
            return ToolResult.success(f"Listing {said(listing, 'given')} found.", detail, meta)
        describe: dict[str, JsonValue] = {"scraper_id": scraper_id}
        if latest is not None and latest >= 1:
            describe["version"] = latest
        return ToolResult.success(
            f"Listing {said(listing, 'given')}: canonical scraper {scraper_id}, latest release {latest or 'unknown'}.",
            detail,
            meta,
            next_step="Call describe_api for its parameters; pin the release with snapshot_version.",
            next_call=NextCall.offer("describe_api", describe),
        )

    return await run_parsebot(state_of(ctx), ToolCall("get_marketplace_api", {"listing": listing}), run)
