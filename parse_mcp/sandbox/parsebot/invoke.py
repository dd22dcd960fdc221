"""Running one endpoint's scraper with its parameters, shared by executions and update previews."""

from __future__ import annotations

import logging

from parse_mcp.sandbox.parsebot.apis import ScraperEndpoint
from parse_mcp.sandbox.parsebot.envelopes import EnvelopeError, JsonObject, input_format_invalid, scraper_bug
from parse_mcp.sandbox.parsebot.execution import Call, RawReply, SessionStart

logger = logging.getLogger(__name__)


def with_defaults(endpoint: ScraperEndpoint, supplied: dict[str, object]) -> dict[str, object]:
    """The parameters a scraper receives: what was sent, minus nulls, plus declared defaults."""
    values = {name: value for name, value in supplied.items() if value is not None}
    for name, spec in endpoint.params.items():
        if name in values:
            continue
        if spec.required:
            raise input_format_invalid(f"{name} is required")
        if spec.has_default:
            values[name] = spec.default
    return values


def run(endpoint: ScraperEndpoint, call: Call) -> JsonObject | RawReply | SessionStart:
    try:
        return endpoint.handler(call)
    except EnvelopeError:
        raise
    except Exception:
        # An unexpected crash inside a scraper is exactly what Parse reports as scraper_bug.
        logger.exception("sandbox scraper %s crashed", endpoint.name)
        raise scraper_bug() from None
