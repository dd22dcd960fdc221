"""The ScraperAPI AI Parser client: one method per upstream call; it builds requests and raises
`CallFailed`, and never decides what the agent should do.

The key goes where the service reads it: in the JSON body of POST and PATCH, in the query of GET and
DELETE. It is never sent to any other service, and `http.py` never logs a query string.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass

import httpx2

from parse_mcp.errors import ErrorRecord, UpstreamFailure
from parse_mcp.guidance.classify import (
    MESSAGE_LIMIT,
    Purpose,
    classify_aiparser,
    classify_unexpected_success,
)
from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Meta
from parse_mcp.policy.retry import DEFAULT_RETRY, RetryPolicy
from parse_mcp.runtime import REAL_TIME, Runtime
from parse_mcp.services.http import HttpClient, Method, Reply, Request
from parse_mcp.services.paths import path_segment
from parse_mcp.services.spend import PARSER_CREATE_CREDITS, Charge, Spending, parse_price
from parse_mcp.settings import Secret, Settings
from parse_mcp.state.ledger import Ledger
from parse_mcp.state.pacing import PacingStore
from parse_mcp.voice import speakable


@dataclass(frozen=True, slots=True)
class ParserState:
    status: str | None
    error: str | None


class AiParserClient:
    def __init__(self, http: HttpClient, key: Secret, spending: Spending | None = None) -> None:
        self._http = http
        self._key = key
        self._spending = spending if spending is not None else Spending(None)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        key: Secret,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        runtime: Runtime = REAL_TIME,
        retry: RetryPolicy = DEFAULT_RETRY,
        pacing: PacingStore | None = None,
        ledger: Ledger | None = None,
    ) -> AiParserClient:
        # Both services' keys and the HTTP tokens: an answer may echo any secret this process holds.
        redactor = settings.redactor()

        def classify(purpose: Purpose, status: int, headers: Mapping[str, str], body: bytes, now: float) -> ErrorRecord:
            return classify_aiparser(purpose, status, headers, body, now=now, redactor=redactor)

        http = HttpClient(
            settings.aiparser_base_url,
            headers={"Content-Type": "application/json"},
            request_timeout=settings.request_timeout_seconds,
            connect_timeout=settings.connect_timeout_seconds,
            classify=classify,
            transport=transport,
            runtime=runtime,
            retry=retry,
            redactor=redactor,
            pacing=pacing,
        )
        return cls(http, key, Spending(ledger, runtime))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create_parser(
        self,
        name: str,
        urls: Sequence[str],
        fields: Sequence[Mapping[str, JsonValue]] | None,
        scraper_params: Mapping[str, JsonValue] | None,
    ) -> tuple[JsonValue, Meta]:
        """`POST /parsers`: `{"id", "version": 0}`; generation then runs for a while (poll `get_parser`).
        The id goes into the next call's path, so an answer without a plain id is undocumented."""
        body: dict[str, JsonValue] = {"name": name, "urls": list(urls)}
        if fields:
            body["fields"] = [dict(field) for field in fields]
        if scraper_params:
            body["scraper_params"] = dict(scraper_params)
        charge = Charge("scraperapi", "", "create_parser", price=PARSER_CREATE_CREDITS, told_by_header=False)
        reply = await self._send("POST", "/parsers", body=body, creates_work=True, charge=charge)
        created = self._document(reply)
        parser_id = created.get("id") if isinstance(created, dict) else None
        if speakable(parser_id if isinstance(parser_id, str) else None) is None:
            reason = "The answer had no usable parser id."
            raise UpstreamFailure(
                classify_unexpected_success(reply.status, reply.headers, reason, redactor=reply.redactor), reply.meta
            )
        return created, reply.meta

    async def get_parser(self, parser_id: str, version: int | None = None) -> tuple[JsonValue, Meta]:
        return await self._json("GET", _versioned("/parsers", parser_id, version))

    async def parser_state(self, parser_id: str, version: int | None) -> ParserState:
        """The parser's `status` (a safe token, else None) and, when it has one, its `error`: the service's
        words, scrubbed of every secret this process holds and capped, for the result's `error` only."""
        reply = await self._send("GET", _versioned("/parsers", parser_id, version))
        document = self._document(reply)
        fields = document if isinstance(document, dict) else {}
        status = fields.get("status")
        error = fields.get("error")
        shown_error = None
        if isinstance(error, str):
            shown_error = " ".join(reply.redactor.text(error).split())[:MESSAGE_LIMIT] or None
        return ParserState(status=speakable(status) if isinstance(status, str) else None, error=shown_error)

    async def list_parsers(self) -> tuple[JsonValue, Meta]:
        return await self._json("GET", "/parsers")

    async def update_parser(
        self, parser_id: str, version: int | None, changes: Mapping[str, JsonValue]
    ) -> tuple[int, JsonValue, Meta]:
        """`PATCH /parsers/{id}[/{version}]`: 200 when applied at once, 202 when a new version generates."""
        reply = await self._send("PATCH", _versioned("/parsers", parser_id, version), body=dict(changes))
        return reply.status, self._document(reply), reply.meta

    async def delete_parser(self, parser_id: str) -> Meta:
        reply = await self._send("DELETE", _versioned("/parsers", parser_id, None))
        return reply.meta

    async def parse_url(
        self, parser_id: str, url: str, version: int | None, scraper_params: Mapping[str, JsonValue] | None
    ) -> tuple[JsonValue, Meta]:
        """`GET /parse/{id}[/{version}]?url=…`, scraper parameters flat in the query as the service reads them."""
        query = [("url", url)]
        for name, value in (scraper_params or {}).items():
            if value is not None:
                query.append((name, _query_value(value)))
        given = scraper_params or {}
        price = parse_price(given.get("render") is True, given.get("premium") is True)
        charge = Charge("scraperapi", parser_id, "parse", price=price, told_by_header=False)
        path = _versioned("/parse", parser_id, version)
        reply = await self._send("GET", path, query=query, purpose="parse", charge=charge)
        return self._document(reply), reply.meta

    def expected(self, charge: Charge) -> Awaitable[int]:
        """What a call with this charge is expected to cost (for the question asked before a big spend)."""
        return self._spending.expected(charge)

    async def _json(
        self,
        method: Method,
        path: str,
        *,
        body: dict[str, JsonValue] | None = None,
        query: list[tuple[str, str]] | None = None,
        creates_work: bool = False,
        purpose: Purpose = "parser",
    ) -> tuple[JsonValue, Meta]:
        reply = await self._send(method, path, body=body, query=query, creates_work=creates_work, purpose=purpose)
        return self._document(reply), reply.meta

    async def _send(
        self,
        method: Method,
        path: str,
        *,
        body: dict[str, JsonValue] | None = None,
        query: list[tuple[str, str]] | None = None,
        creates_work: bool = False,
        purpose: Purpose = "parser",
        charge: Charge | None = None,
    ) -> Reply:
        key = self._key.get_secret_value()
        if method in ("POST", "PATCH"):
            request = Request(
                purpose,
                method,
                path,
                query=query or [],
                json_body={**(body or {}), "api_key": key},
                has_body=True,
                creates_work=creates_work,
            )
        else:
            request = Request(purpose, method, path, query=[*(query or []), ("api_key", key)])
        if charge is None:
            return await self._http.send(request)
        return await self._spending.paid(charge, lambda: self._http.send(request))

    @staticmethod
    def _document(reply: Reply) -> JsonValue:
        if reply.status == 204 or not reply.body.strip():
            return None
        try:
            document: JsonValue = reply.json()  # type: ignore[assignment]
        except ValueError:
            reason = "The answer was not JSON."
            raise UpstreamFailure(
                classify_unexpected_success(reply.status, reply.headers, reason, redactor=reply.redactor), reply.meta
            ) from None
        return document


def _versioned(base: str, parser_id: str, version: int | None) -> str:
    path = f"{base}/{path_segment(parser_id, 'parser_id')}"
    return path if version is None else f"{path}/{version}"


def _query_value(value: JsonValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
