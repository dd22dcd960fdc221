"""The failures this server finds by itself, before or instead of asking a service: one constructor each.

With the classifier (which reads the services' answers and transport faults), these are the only places an
error code is chosen, both in `guidance/`: a check elsewhere says what it found, in these words, and
`guide()` decides the rest.
"""

from __future__ import annotations

import math
from typing import Literal

from parse_mcp.errors import ErrorRecord


def invalid_arguments(message: str, *fields: str) -> ErrorRecord:
    """The arguments fail a check of ours; `message` is our sentence on why, `fields` the arguments to fix."""
    return ErrorRecord(code="invalid_arguments", message=message, fields=fields)


def unknown_endpoint() -> ErrorRecord:
    """The API's schema has no endpoint of that name."""
    return ErrorRecord(code="unknown_endpoint", fields=("endpoint",))


def unknown_session() -> ErrorRecord:
    """The session handle is not this client's, or has expired."""
    return ErrorRecord(code="unknown_session", fields=("session",))


def unknown_result() -> ErrorRecord:
    """The result_id was never given to this client (another client's, forged, or not an id at all)."""
    return ErrorRecord(code="unknown_result", fields=("result_id",))


def result_expired(rerun_credits: int | None = None) -> ErrorRecord:
    """The result_id was this client's, but the answer kept under it is gone (its time passed, or its room);
    `rerun_credits` is what its call cost the last time the ledger saw it, when known."""
    return ErrorRecord(code="result_expired", rerun_credits=rerun_credits)


def spend_limit_reached(
    limit: str, variable: str, limit_credits: int, used: int, estimate: int, retry_after_seconds: float
) -> ErrorRecord:
    """A call would pass one of the user's daily credit limits (`limit`, set by `variable`): nothing was sent and
    nothing reserved. `used` is what is spent or held today in the limit's scope."""
    service = "ScraperAPI" if limit == "scraperapi_daily" else "Parse.bot"
    scope = "this client's" if limit == "client_daily" else "the account's"
    message = (
        f"{scope} limit of {limit_credits} {service} credits a day ({variable}) would be passed: {used} are spent "
        f"or held today and this call is expected to cost {estimate}"
    )
    return ErrorRecord(
        code="spend_limit_reached", message=message, limit_type=limit, retry_after=float(math.ceil(retry_after_seconds))
    )


def spend_declined(how: Literal["declined", "cancelled"]) -> ErrorRecord:
    """The user said no to the spend this call would make (or closed the form): nothing was sent."""
    return ErrorRecord(code="spend_declined", kind=how)


def spend_price_unknown(wait_seconds: float) -> ErrorRecord:
    """Another call to the same endpoint is learning its price, and this call's budget cannot wait for it."""
    return ErrorRecord(code="spend_price_unknown", retry_after=float(max(1, math.ceil(wait_seconds))))


def login_limited(wait_seconds: float) -> ErrorRecord:
    """The API's logins of the hour are spent; the next one is allowed in `wait_seconds`."""
    return ErrorRecord(code="login_limited", retry_after=float(math.ceil(wait_seconds)))


def login_declined(how: Literal["declined", "cancelled"]) -> ErrorRecord:
    """The user closed the login form without an answer."""
    return ErrorRecord(code="login_declined", kind=how)


def missing_key() -> ErrorRecord:
    """The service's key is not configured."""
    return ErrorRecord(code="missing_key")


def state_unavailable() -> ErrorRecord:
    """The shared state (Redis) did not answer."""
    return ErrorRecord(code="state_unavailable")


def internal_error() -> ErrorRecord:
    """This server failed; the log on stderr says where."""
    return ErrorRecord(code="internal_error")


def held_back(limit_type: str | None, wait_seconds: float) -> ErrorRecord:
    """The pacer refused to send: the rate-limit budget the service reported frees up in `wait_seconds`."""
    wait = math.ceil(wait_seconds)
    return ErrorRecord(
        code="rate_limited_daily" if limit_type == "daily" else "rate_limited_burst",
        message=f"Held back by this server: the rate-limit budget the service reported frees up in {wait} s.",
        limit_type=limit_type,
        retry_after=float(wait),
    )
