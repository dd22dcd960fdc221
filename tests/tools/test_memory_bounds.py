"""No client can exhaust the server's memory: what a call leaves behind does not grow with its arguments."""

from __future__ import annotations

import gc
import os
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from parse_mcp.sandbox import BOOKS_API_ID
from parse_mcp.services.parsebot import MAX_CACHED_SCHEMAS, MAX_SESSION_FIELD_CHARS, ParseBotClient, session_of
from parse_mcp.settings import Secret, Settings
from tests.conftest import IN_PROCESS_URL, Sandbox

pytestmark = pytest.mark.anyio

CALLS = 200
BLOB = "x" * 3_000_000  # 3 MB of `params` that `list_books` does not take: every call fails, locally
MIB = 2**20


def resident_mib() -> float:
    """This process's resident set size now (not its peak), as the kernel counts it."""
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / MIB


def oversized(n: int) -> dict[str, Any]:
    return {"scraper_id": BOOKS_API_ID, "endpoint": "list_books", "params": {"blob": BLOB, "n": n}}


async def failing_call(client: Client, n: int) -> dict[str, Any]:
    with anyio.fail_after(30):
        result = await client.call_tool("execute_endpoint", oversized(n))
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    assert content["error"]["code"] == "invalid_arguments", content["summary"]
    return content


async def test_two_hundred_distinct_failing_calls_of_3_mb_each_grow_the_server_by_less_than_50_mib(
    sandbox: Sandbox,
) -> None:
    # Why the measure is sound: the server runs in this process, so its resident set is ours. The baseline is
    # taken after a warm-up call of the same size (the allocator has grown for one call's transient copies) and
    # a full collection, and so is the final figure, so both count only what is still held. Keeping each call's
    # arguments would hold 200 x 3 MB = 600 MB (measured before the fix: +581 MiB); what one call needs for
    # itself, a few copies of 3 MB, is far under 50 MiB. So a pass means nothing of the size of the arguments
    # stays behind per call, and a failure cannot come from one call's own working memory.
    async with Client(sandbox.server()) as client:
        await failing_call(client, -1)
        gc.collect()
        before = resident_mib()
        for n in range(CALLS):
            await failing_call(client, n)
        gc.collect()
        after = resident_mib()

        # The breaker did see every one of those calls: the first, repeated twice more, is its third failure.
        for _ in range(2):
            sandbox.clock.advance(1)
            repeated = await failing_call(client, 0)

    assert after - before < 50, f"resident set grew from {before:.0f} MiB to {after:.0f} MiB"
    assert "failed 3 times in a row" in repeated["summary"]


async def test_the_schema_cache_keeps_the_newest_schemas_and_forgets_the_oldest() -> None:
    async def schema(request: Request) -> Response:
        scraper_id = request.path_params["scraper_id"]
        return JSONResponse({"id": scraper_id, "name": scraper_id, "endpoints": [{"name": "get"}]})

    app = Starlette(routes=[Route("/sdk/schemas/{scraper_id}", schema)])
    settings = Settings(parse_api_key=Secret("pmx_cache_test_key"), parse_base_url=IN_PROCESS_URL)
    assert settings.parse_api_key is not None
    client = ParseBotClient.from_settings(settings, settings.parse_api_key, transport=httpx2.ASGITransport(app=app))
    try:
        ids = [f"api-{n}" for n in range(MAX_CACHED_SCHEMAS + 50)]
        for scraper_id in ids:
            await client.api_spec(scraper_id)
        assert len(client.known_apis()) == MAX_CACHED_SCHEMAS
        assert client.cached_spec(ids[0]) is None
        assert client.cached_spec(ids[-1]) is not None
    finally:
        await client.aclose()


def test_a_login_answer_with_a_megabyte_session_is_no_session() -> None:
    huge = "s" * (MAX_SESSION_FIELD_CHARS + 1)
    assert session_of({"session_id": huge, "encryption_key": "k"}) is None
    assert session_of({"session_id": "s-1", "encryption_key": huge}) is None
    assert session_of({"session_id": "s-1", "encryption_key": "k"}) is not None
