"""Completions: a prompt's or the schema resource's `scraper_id` and `endpoint`, from what the server has read."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.types import PromptReference, ResourceTemplateReference

from parse_mcp.sandbox import BOOKS_API_ID, FAILURE_LAB_ID
from parse_mcp.server import build_server
from tests.conftest import Sandbox

pytestmark = pytest.mark.anyio

SCHEMA_TEMPLATE = ResourceTemplateReference(uri="parse://apis/{scraper_id}")
REPAIR_PROMPT = PromptReference(name="repair_broken_endpoint")


async def values(
    client: Client, ref: PromptReference | ResourceTemplateReference, name: str, typed: str, **known: str
) -> list[str]:
    result = await client.complete(ref, {"name": name, "value": typed}, known or None)
    return result.completion.values


async def test_the_server_says_it_completes(client: Client) -> None:
    assert client.server_capabilities.completions is not None


async def test_nothing_is_offered_before_the_server_has_read_anything_and_nothing_is_fetched_to_offer_it(
    sandbox: Sandbox,
) -> None:
    async with Client(build_server(sandbox.settings(), runtime=sandbox.runtime)) as client:
        assert await values(client, SCHEMA_TEMPLATE, "scraper_id", "") == []
        assert await values(client, REPAIR_PROMPT, "endpoint", "", scraper_id=BOOKS_API_ID) == []


async def test_scraper_ids_the_api_list_gave_are_offered_by_what_was_typed(client: Client) -> None:
    await client.call_tool("list_apis", {})
    every = await values(client, SCHEMA_TEMPLATE, "scraper_id", "")
    assert BOOKS_API_ID in every
    assert FAILURE_LAB_ID in every
    assert await values(client, REPAIR_PROMPT, "scraper_id", BOOKS_API_ID[:12]) == sorted(
        value for value in every if value.startswith(BOOKS_API_ID[:12])
    )
    assert await values(client, SCHEMA_TEMPLATE, "scraper_id", "no-such-prefix") == []


async def test_endpoints_are_offered_for_the_api_already_chosen(client: Client) -> None:
    await client.call_tool("describe_api", {"scraper_id": BOOKS_API_ID})
    endpoints = await values(client, REPAIR_PROMPT, "endpoint", "", scraper_id=BOOKS_API_ID)
    assert "list_books" in endpoints
    assert await values(client, REPAIR_PROMPT, "endpoint", "list_", scraper_id=BOOKS_API_ID) == ["list_books"]
    assert await values(client, REPAIR_PROMPT, "endpoint", "") == [], "no API chosen, nothing to offer"
