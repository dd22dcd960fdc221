"""Each Parse.bot API's schema as a resource (`parse://apis/{scraper_id}`), read by a real MCP client
against the sandbox: the template is advertised, reading gives the schema JSON, fetched once."""

from __future__ import annotations

import json

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.types import TextResourceContents
from starlette.types import ASGIApp, Receive, Scope, Send

from parse_mcp.sandbox import BOOKS_API_ID
from parse_mcp.server import build_server
from tests.conftest import Sandbox

pytestmark = pytest.mark.anyio


class SchemaReads:
    """The sandbox app, counting the schema requests that reach it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/sdk/schemas"):
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


async def test_the_schema_template_is_advertised(client: Client) -> None:
    templates = (await client.list_resource_templates()).resource_templates
    assert [(t.uri_template, t.mime_type) for t in templates] == [
        ("parse://apis/{scraper_id}", "application/json"),
        ("parse://results/{result_id}", "application/json"),
    ]


async def test_reading_an_api_gives_its_schema_fetched_once(sandbox: Sandbox) -> None:
    assert sandbox.app is not None
    counted = SchemaReads(sandbox.app)
    server = sandbox.server(parsebot_transport=httpx2.ASGITransport(app=counted))
    async with Client(server) as client:
        first = await client.read_resource(f"parse://apis/{BOOKS_API_ID}")
        again = await client.read_resource(f"parse://apis/{BOOKS_API_ID}")
    (content,) = first.contents
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == "application/json"
    schema = json.loads(content.text)
    assert BOOKS_API_ID in json.dumps(schema)
    assert any(endpoint.get("name") == "list_books" for endpoint in schema["endpoints"])
    assert again.contents == first.contents
    assert counted.paths == [f"/sdk/schemas/{BOOKS_API_ID}"], "the second read came from the cache"


async def test_an_api_that_does_not_exist_is_a_resource_not_found(client: Client) -> None:
    with pytest.raises(MCPError) as raised:
        await client.read_resource("parse://apis/no-such-api")
    assert raised.value.code == -32602
    assert "pmx_" not in str(raised.value)


async def test_without_the_parse_bot_tools_there_is_no_schema_resource(sandbox: Sandbox) -> None:
    server = build_server(
        sandbox.settings(), aiparser_transport=sandbox.transport(), runtime=sandbox.runtime, toolsets={"parsers"}
    )
    async with Client(server) as client:
        templates = (await client.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == ["parse://results/{result_id}"]
