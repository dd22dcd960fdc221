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


def result_expired() -> ErrorRecord:
    """The result_id was this client's, but the answer kept under it is gone (its time passed, or its room)."""
    return ErrorRecord(code="result_expired")


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
