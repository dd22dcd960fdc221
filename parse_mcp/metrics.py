"""What an operator watches: Prometheus metrics at `/metrics` (HTTP serving only), and the attributes this server
adds to the SDK's OpenTelemetry span of each tool call.

Metrics cost stdio serving nothing: `prometheus_client` is imported by `install()`, which only the HTTP transport
calls (`http_security.http_app`); until then every `record` function returns at once. The span attributes go on
the SDK's own span (`mcp.server._otel.OpenTelemetryMiddleware`, the span current while a tool call is answered)
through `opentelemetry-api`, which the SDK loads anyway; without a tracer provider that span does not record and
nothing is built.

    metric                                    labels             counted where
    parse_mcp_tool_calls_total                tool, code         every tools/call answered (server.CallScope);
                                                                 code "ok", or the error code
    parse_mcp_upstream_requests_total         service            every answer a service sent (services/http.py)
    parse_mcp_upstream_rate_limited_total     service            those answers that were 429s
    parse_mcp_pacing_wait_seconds_total       service            what the pacer made requests wait before sending
    parse_mcp_credits_spent_total             service            every charge the spend ledger records
    parse_mcp_spend_refusals_total            limit              every call a daily limit refused (daily,
                                                                 client_daily, scraperapi_daily)

Counters are per process (Prometheus sums replicas); label values come from closed sets (listed tool names, error
codes, two services, three limits), so no client can grow the number of series.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from parse_mcp.state.ledger import Call, DayUsage, LearnFirst, Ledger, Limits, Refused, Reservation, Service, Today

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter

# What each request is for (`guidance.classify.Purpose`) tells which service it went to.
_SCRAPERAPI_PURPOSES = frozenset({"parser", "parse"})
# A tool name no tool of this server has (a client may send any): one label value for all of them.
UNKNOWN_TOOL = "unknown"

# The span attributes, beside the SDK's own (`gen_ai.tool.name`, `error.type`).
ATTR_OK = "parse_mcp.ok"
ATTR_ERROR_CODE = "parse_mcp.error_code"
ATTR_ACTION = "parse_mcp.action"
ATTR_CREDITS = "parse_mcp.credits_charged"


@dataclass(frozen=True, slots=True)
class _Metrics:
    registry: CollectorRegistry
    tool_calls: Counter
    upstream_requests: Counter
    rate_limited: Counter
    pacing_wait: Counter
    credits: Counter
    refusals: Counter


_installed: _Metrics | None = None


def install() -> None:
    """Start counting (idempotent): what the HTTP transport calls before it serves. Imports prometheus_client."""
    global _installed  # one registry a process, as Prometheus scrapes a process
    if _installed is not None:
        return
    from prometheus_client import CollectorRegistry, Counter, disable_created_metrics

    # A `_created` series beside each counter doubles the page and says little here (unannotated in the library).
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry(auto_describe=True)

    def counter(name: str, documentation: str, *labels: str) -> Counter:
        return Counter(name, documentation, labels, registry=registry)

    _installed = _Metrics(
        registry,
        counter(
            "parse_mcp_tool_calls",
            "Tool calls answered, by tool and error code (ok when it succeeded).",
            "tool",
            "code",
        ),
        counter("parse_mcp_upstream_requests", "Requests a service answered, by service.", "service"),
        counter("parse_mcp_upstream_rate_limited", "Answers that were HTTP 429, by service.", "service"),
        counter("parse_mcp_pacing_wait_seconds", "Seconds requests waited for the pacer before being sent.", "service"),
        counter("parse_mcp_credits_spent", "Credits the spend ledger recorded, by service.", "service"),
        counter("parse_mcp_spend_refusals", "Calls refused because they would pass a daily credit limit.", "limit"),
    )


def installed() -> bool:
    return _installed is not None


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type (empty before `install`)."""
    if _installed is None:
        return b"", "text/plain; charset=utf-8"
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(_installed.registry), CONTENT_TYPE_LATEST


# -- where things happen ---------------------------------------------------------------------------------------


def tool_called(tool: str, result: Mapping[str, Any] | None) -> None:
    """A tool call was answered with `result` (its structuredContent, the contract's one shape; None for an answer
    that is not final, such as a request for the user's input): count it, and put its outcome on the call's span."""
    if result is None:
        return
    ok = result.get("ok") is True
    error = result.get("error")
    guidance = result.get("guidance")
    meta = result.get("meta")
    code = _text(error.get("code")) if isinstance(error, Mapping) else None
    action = _text(guidance.get("action")) if isinstance(guidance, Mapping) else None
    credits = meta.get("credits_charged") if isinstance(meta, Mapping) else None
    span = trace.get_current_span()
    if span.is_recording():
        attributes: dict[str, str | bool | int | float] = {ATTR_OK: ok}
        if not ok:
            attributes[ATTR_ERROR_CODE] = code or "unknown"
            if action is not None:
                attributes[ATTR_ACTION] = action
        if isinstance(credits, int | float) and not isinstance(credits, bool):
            attributes[ATTR_CREDITS] = credits
        span.set_attributes(attributes)
    if _installed is not None:
        _installed.tool_calls.labels(tool, "ok" if ok else code or "unknown").inc()


def upstream_answered(purpose: str, status: int, waited_seconds: float) -> None:
    """A service answered a request (of `purpose`) with `status`, after the pacer made it wait `waited_seconds`."""
    if _installed is None:
        return
    service = service_of(purpose)
    _installed.upstream_requests.labels(service).inc()
    if status == 429:
        _installed.rate_limited.labels(service).inc()
    if waited_seconds > 0:
        _installed.pacing_wait.labels(service).inc(waited_seconds)


def service_of(purpose: str) -> Service:
    return "scraperapi" if purpose in _SCRAPERAPI_PURPOSES else "parsebot"


def counting(ledger: Ledger) -> Ledger:
    """The ledger, counting what it records and refuses once metrics are installed; the ledger itself otherwise."""
    return ledger if _installed is None else _CountingLedger(ledger)


class _CountingLedger:
    """A ledger that counts each charge it records (credits by service) and each call a limit refuses."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @property
    def limits(self) -> Limits:
        return self.ledger.limits

    async def reserve(self, call: Call, estimate: int = 1) -> Reservation | Refused | LearnFirst:
        decided = await self.ledger.reserve(call, estimate)
        if isinstance(decided, Refused) and _installed is not None:
            _installed.refusals.labels(decided.limit).inc()
        return decided

    async def settle(self, reservation: Reservation, actual_credits: int, error_code: str | None) -> None:
        await self.ledger.settle(reservation, actual_credits, error_code)
        if actual_credits > 0 and _installed is not None:
            _installed.credits.labels(reservation.call.service).inc(actual_credits)

    async def release(self, reservation: Reservation) -> None:
        await self.ledger.release(reservation)

    async def spent_today(self, client: str) -> Today:
        return await self.ledger.spent_today(client)

    async def last_charge(self, service: Service, api: str, endpoint: str) -> int | None:
        return await self.ledger.last_charge(service, api, endpoint)

    async def usage(self, days: int) -> list[DayUsage]:
        return await self.ledger.usage(days)

    async def aclose(self) -> None:
        await self.ledger.aclose()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
