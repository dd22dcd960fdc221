"""The sandbox application: the Parse.bot and AI Parser routes, the target site, what it is (`GET /`), and routing
errors."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parse_mcp.sandbox.aiparser import AIPARSER_KEY, aiparser_routes, render_page
from parse_mcp.sandbox.clock import Clock, SystemClock
from parse_mcp.sandbox.config import SandboxConfig
from parse_mcp.sandbox.parsebot.keys import PARSEBOT_KEY
from parse_mcp.sandbox.parsebot.routes import ParseBotRoutes
from parse_mcp.sandbox.site.router import render as render_site

REQUEST_ID_HEADER = "X-Railway-Request-Id"
# HTTP forbids a body with these statuses; the lab's status pages still render one for the scrapers.
_BODYLESS_STATUSES = frozenset({204, 205, 304})


def create_app(config: SandboxConfig | None = None, clock: Clock | None = None) -> Starlette:
    """A fresh sandbox: its own account budget, its own request ids, and the given clock."""
    config = config or SandboxConfig()
    clock = clock or SystemClock()
    parsebot = ParseBotRoutes(config, clock)
    return Starlette(
        routes=[
            *parsebot.routes(),
            *aiparser_routes(config.aiparser, clock),
            Route("/site/{path:path}", serve_site, methods=["GET"]),
            Route("/", about, methods=["GET"]),
        ],
        exception_handlers={HTTPException: routing_error},
        middleware=[Middleware(RequestIdMiddleware, ids=itertools.count(1))],
    )


async def about(request: Request) -> Response:
    """What this is, for a person who opens the base URL: both services it stands in for, their keys and a first
    call each, and the site its scrapers read."""
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "sandbox": "parse-mcp's local stand-in for Parse.bot and the ScraperAPI AI Parser, with the web site "
            "their scrapers read; nothing here reaches the internet",
            "services": {
                "parsebot": {
                    "base_url": base,
                    "key": PARSEBOT_KEY,
                    "send_key_as": "X-API-Key header",
                    "first_call": f"GET {base}/sdk/schemas",
                },
                "aiparser": {
                    "base_url": base,
                    "key": AIPARSER_KEY,
                    "send_key_as": "api_key (query for GET and DELETE, JSON body for POST and PATCH)",
                    "first_call": f"GET {base}/parsers?api_key={AIPARSER_KEY}",
                },
            },
            "site": f"{base}/site/",
            # Answers no reference documents, so a client's reading of the unknown can be rehearsed.
            "test_only": "the Failure Lab API's endpoint off_the_reference; a build of a page whose path contains "
            "test-only-unlisted-status (task status on_hold); an AI parser named test-only-unlisted-state... "
            "(status SUSPENDED): none of these is in the references",
        }
    )


async def serve_site(request: Request) -> Response:
    """The target website, without a key, so a person can open what the scrapers read."""
    path, query = request.scope["path"], dict(request.query_params)
    page = render_page(path, query) or render_site(path, query)
    body = "" if page.status in _BODYLESS_STATUSES else page.html
    return Response(body, status_code=page.status, media_type="text/html")


async def routing_error(_request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an unknown path or a wrong method: `{"detail": ...}`, not the `error` envelope."""
    if not isinstance(exc, HTTPException):  # pragma: no cover - Starlette only routes HTTPException here
        raise exc
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


class RequestIdMiddleware:
    """Stamps every response with a unique `X-Railway-Request-Id`, as the service does for support requests."""

    def __init__(self, app: ASGIApp, ids: Iterator[int]) -> None:
        self._app = app
        self._ids = ids

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = f"sbx-req-{next(self._ids):08d}"

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        await self._app(scope, receive, send_with_id)
