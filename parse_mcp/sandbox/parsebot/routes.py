"""The Parse.bot routes: schemas and endpoint execution here, dispatch and marketplace in their modules.

Execution follows the references: the key, then the burst bucket and daily cap, then the request's shape,
the login session (protected endpoints) or the hourly login cap (login endpoints), then credits. Every answer
after the key check carries the rate-limit and credit headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from parse_mcp.sandbox.clock import Clock
from parse_mcp.sandbox.config import SandboxConfig
from parse_mcp.sandbox.parsebot import invoke, rows
from parse_mcp.sandbox.parsebot.apis import ScraperApi, ScraperEndpoint
from parse_mcp.sandbox.parsebot.bodies import json_body
from parse_mcp.sandbox.parsebot.dispatch import DispatchRoutes
from parse_mcp.sandbox.parsebot.envelopes import (
    SESSION_PAIR_MESSAGE,
    SESSION_REQUIRED_MESSAGE,
    SNAPSHOT_MESSAGE,
    EnvelopeError,
    JsonObject,
    detail_error,
    plain_error,
    scraper_not_found,
)
from parse_mcp.sandbox.parsebot.execution import Call, RawReply, SessionStart
from parse_mcp.sandbox.parsebot.keys import EXPIRED_PARSEBOT_KEY, PARSEBOT_KEY, authenticate
from parse_mcp.sandbox.parsebot.marketplace import MarketplaceRoutes
from parse_mcp.sandbox.parsebot.params import Params, decode_query
from parse_mcp.sandbox.parsebot.registry import Registry
from parse_mcp.sandbox.parsebot.state import SandboxState
from parse_mcp.sandbox.parsebot.web import base_url, error_response, query_int

__all__ = ["EXPIRED_PARSEBOT_KEY", "PARSEBOT_KEY", "ParseBotRoutes"]

_POSITIVE_INTEGER = re.compile(r"[1-9][0-9]*")
_SESSION_FIELDS = (("x-session-id", "session_id"), ("x-encryption-key", "encryption_key"))


@dataclass(frozen=True)
class Resolved:
    """A well-formed execution request: the API (at the pinned release), endpoint, parameters, session token."""

    api: ScraperApi
    endpoint: ScraperEndpoint
    params: dict[str, object]
    site_token: str | None


class ParseBotRoutes:
    """The Parse.bot API of one sandbox instance; it owns that instance's state."""

    def __init__(self, config: SandboxConfig, clock: Clock) -> None:
        self._state = SandboxState(config, clock)
        self._dispatch = DispatchRoutes(self._state)
        self._marketplace = MarketplaceRoutes(self._state)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/sdk/schemas", self.list_schemas, methods=["GET"]),
            Route("/sdk/schemas/{scraper_id}", self.get_schema, methods=["GET"]),
            *self._dispatch.routes(),
            *self._marketplace.routes(),
            Route("/scraper/{scraper_id}/{endpoint_name}", self.execute, methods=["GET", "POST"]),
        ]

    async def list_schemas(self, request: Request) -> Response:
        try:
            authenticate(request.headers)
        except EnvelopeError as error:
            return error_response(error)
        self._state.settle()
        apis = self._state.registry.account_apis()
        return JSONResponse({"schemas": [rows.schema_row(api, base_url(request)) for api in apis]})

    async def get_schema(self, request: Request) -> Response:
        scraper_id = request.path_params["scraper_id"]
        try:
            authenticate(request.headers)
            self._state.settle()
            version = query_int(request, "version")
            api = find_api(self._state.registry, scraper_id, version)
        except EnvelopeError as error:
            return error_response(error)
        return JSONResponse(rows.schema_row(api, base_url(request), version))

    async def execute(self, request: Request) -> Response:
        """Run an endpoint. Once the key is known every answer, errors included, carries the budget headers."""
        try:
            authenticate(request.headers)
        except EnvelopeError as error:
            return error_response(error)
        self._state.settle()
        try:
            self._state.account.admit()
            call = await self._resolve(request)
            if call.endpoint.initiates_session:
                self._state.logins.check(call.api.id)
            self._state.account.credits.require(call.endpoint.price)
            self._state.registry.note_call(call.api.id, call.endpoint.name)
            outcome = self._run(call, base_url(request))
        except EnvelopeError as error:
            return error_response(error, self._budget_headers(charged=0))
        price = call.endpoint.price
        if isinstance(outcome, RawReply):
            return self._raw_reply(outcome, price)
        self._state.account.credits.charge(price)
        headers = self._budget_headers(charged=price)
        if isinstance(outcome, SessionStart):
            issued = self._state.sessions.issue(call.api.id, outcome.site_token)
            body = {"data": outcome.data, "session_id": issued.session_id, "encryption_key": issued.encryption_key}
            return JSONResponse(body, headers=headers)
        return JSONResponse({"status": "success", "data": outcome}, headers=headers)

    async def _resolve(self, request: Request) -> Resolved:
        """The endpoint to run and its parameters, or the error the service gives for a malformed call."""
        version = _snapshot_version(request.headers)
        api = find_api(self._state.registry, request.path_params["scraper_id"], version)
        endpoint = api.endpoint(request.path_params["endpoint_name"])
        if endpoint is None:
            raise detail_error(404)
        method = "GET" if request.method == "HEAD" else request.method
        if method != endpoint.method:
            error = detail_error(405)
            error.headers["Allow"] = endpoint.method
            raise error
        if method == "GET":
            supplied = decode_query(request.query_params.multi_items(), endpoint.param_types())
        else:
            supplied = await json_body(request)
        pair = _session_pair(request.headers, supplied)
        site_token = None
        if endpoint.depends_on_session:
            if pair is None:
                raise plain_error(400, SESSION_REQUIRED_MESSAGE)
            site_token = self._state.sessions.validate(api.id, *pair).site_token
        return Resolved(api, endpoint, invoke.with_defaults(endpoint, supplied), site_token)

    def _run(self, call: Resolved, base: str) -> JsonObject | RawReply | SessionStart:
        try:
            return invoke.run(call.endpoint, Call(Params(call.params), base, self._state.clock, call.site_token))
        finally:
            # Every attempt that reached the site counts against the cap, whether the credentials were right.
            if call.endpoint.initiates_session:
                self._state.logins.record(call.api.id)

    def _raw_reply(self, reply: RawReply, price: int) -> Response:
        succeeded = 200 <= reply.status_code < 300
        if succeeded:
            self._state.account.credits.charge(price)
        headers = self._budget_headers(charged=price if succeeded else 0) if reply.with_account_headers else {}
        return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type, headers=headers)

    def _budget_headers(self, charged: int) -> dict[str, str]:
        account = self._state.account
        return {**account.rate_headers(), **account.credit_headers(charged)}


def find_api(registry: Registry, scraper_id: str, version: int | None) -> ScraperApi:
    """The API as the pinned release serves it; 404 when the scraper or that release does not exist."""
    api = registry.find(scraper_id)
    if api is None or (version is not None and version not in api.versions):
        raise scraper_not_found(scraper_id)
    return api.at_version(version)


def _snapshot_version(headers: Headers) -> int | None:
    value = headers.get("api-snapshot-version")
    if value is None:
        return None
    if not _POSITIVE_INTEGER.fullmatch(value.strip()):
        raise plain_error(400, SNAPSHOT_MESSAGE)
    return int(value)


def _session_pair(headers: Headers, supplied: dict[str, object]) -> tuple[str, str] | None:
    """Session credentials come as a pair, in headers or in the body; the body copies are not scraper input.

    Returns the pair when a whole one was sent (headers first, as the docs prefer them)."""
    values: list[str | None] = []
    for header, field in _SESSION_FIELDS:
        in_body = supplied.pop(field, None)
        in_header = headers.get(header)
        value = in_header or (str(in_body) if in_body is not None else None)
        values.append(value or None)
    session_id, key = values
    if (session_id is None) != (key is None):
        raise plain_error(400, SESSION_PAIR_MESSAGE)
    if session_id is None or key is None:
        return None
    return session_id, key
