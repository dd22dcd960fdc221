"""An AI Parser emulator with the book site beside it, called in-process, and a client that always sends the key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from parse_mcp.sandbox import ManualClock
from parse_mcp.sandbox.aiparser import AIPARSER_KEY, AiParserConfig, aiparser_routes, render_page
from parse_mcp.sandbox.site.router import render as render_site
from tests.conftest import IN_PROCESS_URL

REPLY_SECONDS = 10.0
GENERATION_SECONDS = 60.0
START_ISO = "2027-01-15T08:00:00.000Z"  # ManualClock() starts at 1_800_000_000

BOOK = "/site/catalogue/a-light-in-the-attic_1000/index.html"
OTHER_BOOK = "/site/catalogue/sharp-objects_997/index.html"
OUT_OF_STOCK_BOOK = "/site/catalogue/the-black-maria_993/index.html"
LISTING = "/site/catalogue/page-1.html"
SECOND_LISTING = "/site/catalogue/page-2.html"
MISSING_BOOK = "/site/catalogue/no-such-book_1/index.html"
JS_BOOK = "/site/ai/js/book/a-light-in-the-attic_1000.html"
OTHER_JS_BOOK = "/site/ai/js/book/sharp-objects_997.html"
BLOCKED = "/site/ai/blocked/book/a-light-in-the-attic_1000.html"
OFF_HOST = "https://books.example.com/catalogue/page-1.html"


def build_app(config: AiParserConfig, clock: ManualClock) -> Starlette:
    """The emulator's routes and the target site, wired the way the sandbox app serves them."""

    async def serve_site(request: Request) -> Response:
        path, query = request.scope["path"], dict(request.query_params)
        page = render_page(path, query) or render_site(path, query)
        return Response(page.html, status_code=page.status, media_type="text/html")

    return Starlette(routes=[*aiparser_routes(config, clock), Route("/site/{path:path}", serve_site, methods=["GET"])])


@dataclass
class AiParser:
    """A client of one emulator; every request is bounded so a hang fails the test instead of stalling it."""

    http: httpx2.AsyncClient
    clock: ManualClock
    base_url: str

    def url(self, path: str) -> str:
        return self.base_url + path

    async def get(
        self, path: str, params: Mapping[str, str] | None = None, key: str | None = AIPARSER_KEY
    ) -> httpx2.Response:
        query = {**({"api_key": key} if key is not None else {}), **(params or {})}
        with anyio.fail_after(REPLY_SECONDS):
            return await self.http.get(path, params=query)

    async def delete(self, path: str, key: str | None = AIPARSER_KEY) -> httpx2.Response:
        with anyio.fail_after(REPLY_SECONDS):
            return await self.http.delete(path, params={"api_key": key} if key is not None else {})

    async def send(
        self, method: str, path: str, body: Mapping[str, object], key: str | None = AIPARSER_KEY
    ) -> httpx2.Response:
        with anyio.fail_after(REPLY_SECONDS):
            return await self.http.request(method, path, json={**({"api_key": key} if key is not None else {}), **body})

    async def create_reply(self, *paths: str, **extra: object) -> httpx2.Response:
        return await self.send("POST", "/parsers", {"name": "Books", "urls": [self.url(p) for p in paths], **extra})

    async def create(self, *paths: str, **extra: object) -> str:
        reply = await self.create_reply(*paths, **extra)
        assert reply.status_code == 201, reply.text
        parser_id = reply.json()["id"]
        assert isinstance(parser_id, str)
        return parser_id

    async def create_finished(self, *paths: str, **extra: object) -> str:
        parser_id = await self.create(*paths, **extra)
        self.clock.advance(GENERATION_SECONDS)
        return parser_id

    async def details(self, parser_id: str, version: int | None = None) -> dict[str, Any]:
        """A parser's details as JSON (Any, as `Response.json()` gives it, so tests can index into it)."""
        suffix = "" if version is None else f"/{version}"
        reply = await self.get(f"/parsers/{parser_id}{suffix}")
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert isinstance(body, dict)
        return body

    async def parse(self, parser_id: str, path: str, version: int | None = None, **params: str) -> httpx2.Response:
        suffix = "" if version is None else f"/{version}"
        return await self.get(f"/parse/{parser_id}{suffix}", {"url": self.url(path), **params})

    async def patch(self, parser_id: str, body: Mapping[str, object], version: int | None = None) -> httpx2.Response:
        suffix = "" if version is None else f"/{version}"
        return await self.send("PATCH", f"/parsers/{parser_id}{suffix}", body)


@asynccontextmanager
async def aiparser_sandbox(
    config: AiParserConfig | None = None, clock: ManualClock | None = None
) -> AsyncIterator[AiParser]:
    """An emulator called in-process: it reads pages of the site at the address it is called on."""
    clock = clock or ManualClock()
    transport = httpx2.ASGITransport(app=build_app(config or AiParserConfig(), clock))
    async with httpx2.AsyncClient(transport=transport, base_url=IN_PROCESS_URL) as http:
        yield AiParser(http, clock, IN_PROCESS_URL)


def detail(reply: httpx2.Response) -> str:
    """The `{"detail": ...}` message of an error answer."""
    message = reply.json()["detail"]
    assert isinstance(message, str)
    return message
