"""The AI Parser routes: create, list, get, update, delete and parse, with the service's status codes.

Each call of `aiparser_routes` owns its own account: parsers, credits and the rolling rate window.
"""

from __future__ import annotations

import math
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from functools import wraps

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from parse_mcp.sandbox.aiparser.bodies import CreateBody, PatchBody, json_object, read_query_scraper_params
from parse_mcp.sandbox.aiparser.config import AiParserConfig
from parse_mcp.sandbox.aiparser.errors import ApiError
from parse_mcp.sandbox.aiparser.extract import extract
from parse_mcp.sandbox.aiparser.fetch import DEFAULT_PORTS, FetchFailure, Origin, fetch_page
from parse_mcp.sandbox.aiparser.keys import check_body_key, check_query_key
from parse_mcp.sandbox.aiparser.parsers import (
    KIND_LABELS,
    UNLISTED_STATE_NAME,
    Parser,
    Version,
    details,
    generate,
    summary,
)
from parse_mcp.sandbox.aiparser.refusals import validated
from parse_mcp.sandbox.aiparser.updates import apply_update
from parse_mcp.sandbox.clock import Clock

RATE_WINDOW_SECONDS = 60.0
# Ids look like the service's UUIDs but are the same in every run, so a rehearsal can be replayed.
_ID_NAMESPACE = uuid.UUID("5a1d0a1e-7a95-4c1b-9d43-3c4e5f60a7b8")
_SHOWN_ID_LENGTH = 80

Endpoint = Callable[[Request], Awaitable[Response]]


def aiparser_routes(config: AiParserConfig, clock: Clock) -> list[BaseRoute]:
    """The routes of one emulated AI Parser account, on the given clock."""
    return AiParserService(config, clock).routes()


def _answering_errors(endpoint: Endpoint) -> Endpoint:
    """Turn an ApiError into the service's error body, `{"detail": "..."}`, with its status and headers."""

    @wraps(endpoint)
    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ApiError as error:
            return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)

    return answer


class RateWindow:
    """At most `limit` parse requests in any rolling minute; a refused request does not count."""

    def __init__(self, limit: int, clock: Clock) -> None:
        self._limit = limit
        self._clock = clock
        self._times: deque[float] = deque()

    def admit(self) -> None:
        now = self._clock.now()
        while self._times and self._times[0] <= now - RATE_WINDOW_SECONDS:
            self._times.popleft()
        if len(self._times) >= self._limit:
            wait = max(1, math.ceil(self._times[0] + RATE_WINDOW_SECONDS - now))
            raise ApiError(
                429,
                f"Too many requests: this account may make {self._limit} parse requests per minute. Retry in {wait} s.",
                {"Retry-After": str(wait)},
            )
        self._times.append(now)


class AiParserService:
    """One emulated account: its parsers, its credit balance and its rate window."""

    def __init__(self, config: AiParserConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._credits = config.credits
        self._parsers: dict[str, Parser] = {}
        self._created = 0
        self._window = RateWindow(config.requests_per_minute, clock)

    def routes(self) -> list[BaseRoute]:
        # Same path, several methods: Starlette keeps looking for a route whose method matches,
        # and answers 405 only when none does.
        return [
            Route("/parsers", _answering_errors(self.create_parser), methods=["POST"]),
            Route("/parsers", _answering_errors(self.list_parsers), methods=["GET"]),
            Route("/parsers/{parser_id}", _answering_errors(self.get_parser), methods=["GET"]),
            Route("/parsers/{parser_id}", _answering_errors(self.update_parser), methods=["PATCH"]),
            Route("/parsers/{parser_id}", _answering_errors(self.delete_parser), methods=["DELETE"]),
            Route("/parsers/{parser_id}/{version}", _answering_errors(self.get_parser), methods=["GET"]),
            Route("/parsers/{parser_id}/{version}", _answering_errors(self.update_parser), methods=["PATCH"]),
            Route("/parse/{parser_id}", _answering_errors(self.parse), methods=["GET"]),
            Route("/parse/{parser_id}/{version}", _answering_errors(self.parse), methods=["GET"]),
        ]

    async def create_parser(self, request: Request) -> Response:
        body = json_object(await request.body())
        check_body_key(body, request.query_params)
        spec = validated(CreateBody, body)
        self._require_credits(self._config.create_cost, "creating a parser")
        self._credits -= self._config.create_cost
        now = self._clock.now()
        render = spec.scraper_params.render is True
        fields = spec.parser_fields()
        generation = generate(spec.urls, fields, render, _origin(request))
        self._created += 1
        parser_id = str(uuid.uuid5(_ID_NAMESPACE, f"parser-{self._created}"))
        parser = Parser(parser_id, spec.name, spec.urls, spec.scraper_params.sent(), generation.kind, generation.pages)
        parser.versions.append(
            Version(
                number=0,
                created_at=now,
                ready_at=now + self._config.generation_seconds,
                fields_while_generating=fields,
                fields=generation.fields,
                examples=parser.examples(generation.fields) if generation.error is None else (),
                error=generation.error,
                unlisted=spec.name.startswith(UNLISTED_STATE_NAME),
            )
        )
        self._parsers[parser_id] = parser
        return JSONResponse({"id": parser_id, "version": 0}, status_code=201)

    async def list_parsers(self, request: Request) -> Response:
        check_query_key(request.query_params)
        now = self._clock.now()
        return JSONResponse([summary(parser, now) for parser in self._parsers.values()])

    async def get_parser(self, request: Request) -> Response:
        check_query_key(request.query_params)
        parser, version = self._find(request)
        return JSONResponse(details(parser, version, self._clock.now()))

    async def update_parser(self, request: Request) -> Response:
        body = json_object(await request.body())
        check_body_key(body, request.query_params)
        patch = validated(PatchBody, body)
        parser, base = self._find(request)
        now = self._clock.now()
        status = base.status(now)
        if status != "FINISHED":
            raise ApiError(400, _not_ready(parser, base, now, "updated"))
        fields = apply_update(base.fields, patch)
        version = Version(
            number=parser.latest.number + 1,
            created_at=now,
            ready_at=now + self._config.generation_seconds if patch.regenerates else now,
            fields_while_generating=fields,
            fields=fields,
            examples=parser.examples(fields),
        )
        parser.versions.append(version)
        # 202: the new version is generating, poll it; 200: renames and removals are already applied.
        status_code = 202 if patch.regenerates else 200
        return JSONResponse({"id": parser.id, "version": version.number}, status_code=status_code)

    async def delete_parser(self, request: Request) -> Response:
        check_query_key(request.query_params)
        parser, _ = self._find(request)
        del self._parsers[parser.id]
        return Response(status_code=204)

    async def parse(self, request: Request) -> Response:
        query = request.query_params
        check_query_key(query)
        self._window.admit()
        params = read_query_scraper_params(query)
        url = query.get("url", "").strip()
        if not url:
            raise ApiError(400, "url is required: the address of the page to parse, as a query parameter.")
        parser, version = self._find(request)
        now = self._clock.now()
        if version.status(now) != "FINISHED":
            raise ApiError(400, _not_ready(parser, version, now, "used to parse"))
        render = params.render is True
        cost = self._config.render_cost if render else self._config.parse_cost
        self._require_credits(cost, "this parse" + (" with render=true" if render else ""))
        try:
            page = fetch_page(url, _origin(request), render)
        except FetchFailure as failure:
            raise ApiError(500, _extraction_failed(failure)) from None
        if parser.kind is not None and page.kind != parser.kind:
            raise ApiError(
                500,
                f"Extraction failed: {url} is {KIND_LABELS[page.kind]}, but this parser was generated from "
                f"{KIND_LABELS[parser.kind]}. Create a parser from pages like this one.",
            )
        self._credits -= cost
        body = {"parser": parser.id, "version": version.number, "result": extract(version.fields, page)}
        return JSONResponse(body)

    def _find(self, request: Request) -> tuple[Parser, Version]:
        parser_id: str = request.path_params["parser_id"]
        parser = self._parsers.get(parser_id)
        shown = parser_id[:_SHOWN_ID_LENGTH]
        if parser is None:
            raise ApiError(404, f"No parser has the id '{shown}'. List your parsers with GET /parsers to find it.")
        requested: str | None = request.path_params.get("version")
        if requested is None:
            return parser, parser.latest
        version = parser.version(requested)
        if version is None:
            latest = parser.latest.number
            known = "its only version is 0" if latest == 0 else f"its versions are 0 to {latest}"
            raise ApiError(404, f"Parser '{shown}' has no version '{requested[:_SHOWN_ID_LENGTH]}': {known}.")
        return parser, version

    def _require_credits(self, cost: int, what: str) -> None:
        if self._credits < cost:
            raise ApiError(
                402,
                f"Credits exhausted: {what} costs {cost} API {'credit' if cost == 1 else 'credits'} and the account "
                f"has {self._credits} left. "
                "Upgrade your plan or contact support.",
            )


def _origin(request: Request) -> Origin:
    url = request.url
    scheme = url.scheme if url.scheme in DEFAULT_PORTS else "http"
    return Origin(scheme, url.hostname or "127.0.0.1", url.port or DEFAULT_PORTS[scheme])


def _not_ready(parser: Parser, version: Version, now: float, purpose: str) -> str:
    label = f"Parser '{parser.id}' version {version.number}"
    if version.status(now) == "GENERATING":
        wait = max(1, math.ceil(version.ready_at - now))
        return (
            f"{label} is still generating and cannot be {purpose} yet (about {wait} s left). "
            f"Poll GET /parsers/{parser.id} until its status is FINISHED."
        )
    if version.status(now) != "FAILED":
        return f"{label} is {version.status(now)} and cannot be {purpose}."  # the test-only unlisted state
    return f"{label} failed to generate and cannot be {purpose}: {version.error} Create a new parser."


def _extraction_failed(failure: FetchFailure) -> str:
    if failure.cause == "needs_render":
        return (
            f"Extraction failed: {failure.url} needs JS rendering; {failure.reason}. "
            "Add render=true to the parse request."
        )
    verb = "was blocked" if failure.cause == "blocked" else "was inaccessible"
    return f"Extraction failed: {failure.url} {verb}: {failure.reason}."
