"""The exact response bodies of the Parse.bot error reference, and the exception that carries them.

Field order follows the reference so a person comparing a sandbox response with the docs sees the same text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus

JsonObject = dict[str, object]

SNIPPET_LIMIT = 500
UPSTREAM_MESSAGE = "The target site returned HTTP {code}. See `snippet` for the upstream response body."
SCRAPER_BUG_MESSAGE = (
    "The scraper crashed during execution. This could be due to bad input, broken scraper code, or a website update."
)
BLOCKED_MESSAGE = "Service temporarily unavailable - site protection blocking all proxies"
BURST_MESSAGE = "Too many requests in a short burst. Retry in {seconds}s."
DAILY_MESSAGE = "You have reached your daily request cap. It resets at 00:00 UTC (in {seconds}s)."
LOGIN_LIMIT_MESSAGE = "Too many login attempts: {limit} an hour for this API. Retry in {seconds}s."
OUT_OF_CREDITS_MESSAGE = "You have run out of credits."
NEXT_TIER: JsonObject = {"display_name": "Hobby", "credits": 1000, "price": 30}

MISSING_KEY_MESSAGE = "Missing X-API-Key header"
INVALID_KEY_MESSAGE = "Invalid API key"
EXPIRED_KEY_MESSAGE = "API key expired"
SNAPSHOT_MESSAGE = "Invalid API-Snapshot-Version header: expected a positive integer"
SESSION_PAIR_MESSAGE = "session_id and encryption_key must be sent together"
SESSION_REQUIRED_MESSAGE = "This endpoint needs a login session: send session_id and encryption_key (log in first)"
SESSION_EXPIRED_MESSAGE = "Session expired: log in again to get a new session"
PLAN_REQUIRED_MESSAGE = "Your plan does not allow this API. Upgrade to use it."


class EnvelopeError(Exception):
    """A failed call, with the body and headers the service would send for it."""

    def __init__(self, status_code: int, body: JsonObject, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status_code}: {body}")
        self.status_code = status_code
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})


def plain_error(status_code: int, message: str) -> EnvelopeError:
    """The `{"error": "<reason>", "status_code": N}` shape of 400, 401, 403 and 404."""
    return EnvelopeError(status_code, {"error": message, "status_code": status_code})


def detail_error(status_code: int) -> EnvelopeError:
    """FastAPI's routing answer (`{"detail": "Not Found"}`), which means the path itself is wrong."""
    return EnvelopeError(status_code, {"detail": HTTPStatus(status_code).phrase})


def validation_error(loc: list[str | int], msg: str, error_type: str) -> EnvelopeError:
    """FastAPI's request-validation answer: a 422 with a `detail` list, not the scraper's stale_input."""
    return validation_errors([(loc, msg, error_type)])


def validation_errors(errors: Sequence[tuple[Sequence[str | int], str, str]]) -> EnvelopeError:
    """FastAPI's 422 for several `(loc, msg, type)` errors at once, in the order pydantic found them."""
    return EnvelopeError(422, {"detail": [{"loc": list(loc), "msg": msg, "type": kind} for loc, msg, kind in errors]})


def scraper_not_found(scraper_id: str) -> EnvelopeError:
    return plain_error(404, f"Scraper with ID '{scraper_id}' not found")


def task_not_found(task_id: str) -> EnvelopeError:
    return plain_error(404, f"Task '{task_id}' not found")


def listing_not_found(listing: str) -> EnvelopeError:
    return plain_error(404, f"Listing '{listing}' not found")


def stale_input(
    message: str,
    *,
    kind: str | None = None,
    upstream_status_code: int | None = None,
    url: str | None = None,
) -> EnvelopeError:
    """422: the input was wrong, or the site says the thing it names is gone. Absent fields are left out."""
    error: JsonObject = {"status": "stale_input"}
    if kind is not None:
        error["kind"] = kind
    error["message"] = message
    if upstream_status_code is not None:
        error["upstream_status_code"] = upstream_status_code
    if url is not None:
        error["url"] = url
    return EnvelopeError(422, {"error": error, "status_code": 422})


def input_format_invalid(message: str) -> EnvelopeError:
    return stale_input(message, kind="input_format_invalid")


def upstream_error(upstream_status_code: int, body: str, url: str) -> EnvelopeError:
    """502: the target site answered non-2xx; the snippet is the start of what it said."""
    error: JsonObject = {
        "status": "upstream_error",
        "upstream_status_code": upstream_status_code,
        "message": UPSTREAM_MESSAGE.format(code=upstream_status_code),
        "snippet": body[:SNIPPET_LIMIT],
        "url": url,
    }
    return EnvelopeError(502, {"error": error, "status_code": 502})


def blocked(retry_after: int | None) -> EnvelopeError:
    """503: anti-bot protection; only a block that will lift carries retry_after and a Retry-After header."""
    error: JsonObject = {
        "status": "blocked",
        "block_type": "datadome",
        "vendor": "datadome",
        "kind": "antibot_solvable" if retry_after is not None else "antibot_unsolvable",
        "attempts": 3,
        "retry_after": retry_after,
        "message": BLOCKED_MESSAGE,
    }
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return EnvelopeError(503, {"error": error, "status_code": 503}, headers)


def scraper_bug() -> EnvelopeError:
    error: JsonObject = {"status": "error", "kind": "scraper_bug", "message": SCRAPER_BUG_MESSAGE}
    return EnvelopeError(500, {"error": error, "status_code": 500})


def rate_limited(limit_type: str, retry_after: int) -> EnvelopeError:
    """429 for a spent burst bucket or an exhausted day; Retry-After always agrees with the body."""
    template = BURST_MESSAGE if limit_type == "burst" else DAILY_MESSAGE
    error: JsonObject = {
        "error": "Rate limit exceeded",
        "message": template.format(seconds=retry_after),
        "limit_type": limit_type,
        "retry_after": retry_after,
    }
    return EnvelopeError(429, {"error": error, "status_code": 429}, {"Retry-After": str(retry_after)})


def login_limited(limit: int, retry_after: int) -> EnvelopeError:
    """429 for a login endpoint past its hourly cap: the rate-limit shape, with limit_type "login"."""
    error: JsonObject = {
        "error": "Rate limit exceeded",
        "message": LOGIN_LIMIT_MESSAGE.format(limit=limit, seconds=retry_after),
        "limit_type": "login",
        "retry_after": retry_after,
    }
    return EnvelopeError(429, {"error": error, "status_code": 429}, {"Retry-After": str(retry_after)})


def out_of_credits() -> EnvelopeError:
    error: JsonObject = {"message": OUT_OF_CREDITS_MESSAGE, "next_tier": dict(NEXT_TIER)}
    return EnvelopeError(402, {"error": error, "status_code": 402})


# -- TEST-ONLY answers: shapes and values the references do not document ---------------------------------------
# The Failure Lab's `off_the_reference` endpoint gives them, so that a client's reading of what it was never told
# about can be rehearsed; nothing else in the sandbox answers this way.

UNLISTED_BLOCK_KIND = "antibot_pending"
UNLISTED_LIMIT_TYPE = "concurrency"
UNLISTED_LIMIT_RETRY_AFTER = 20
UNLISTED_LIMIT_MESSAGE = "Too many runs at once on this account. Retry in {seconds}s."


def unwrapped_stale_input(message: str) -> EnvelopeError:
    """422 stale_input with the envelope's fields at the top level, without the `error` wrapper."""
    body: JsonObject = {"status": "stale_input", "kind": "input_format_invalid", "message": message, "status_code": 422}
    return EnvelopeError(422, body)


def blocked_unlisted_kind() -> EnvelopeError:
    """503 blocked whose kind no reference lists, without a wait."""
    error: JsonObject = {
        "status": "blocked",
        "block_type": "datadome",
        "vendor": "datadome",
        "kind": UNLISTED_BLOCK_KIND,
        "attempts": 3,
        "retry_after": None,
        "message": BLOCKED_MESSAGE,
    }
    return EnvelopeError(503, {"error": error, "status_code": 503})


def blocked_with_header_wait(retry_after: str) -> EnvelopeError:
    """503 blocked (antibot_solvable) whose only wait is the `Retry-After` header, sent as given (an HTTP date,
    a negative or absurd number, a word): the body has no retry_after field at all."""
    error: JsonObject = {
        "status": "blocked",
        "block_type": "datadome",
        "vendor": "datadome",
        "kind": "antibot_solvable",
        "attempts": 3,
        "message": BLOCKED_MESSAGE,
    }
    return EnvelopeError(503, {"error": error, "status_code": 503}, {"Retry-After": retry_after})


def rate_limited_unlisted() -> EnvelopeError:
    """429 whose limit_type no reference lists, with retry_after and Retry-After."""
    seconds = UNLISTED_LIMIT_RETRY_AFTER
    error: JsonObject = {
        "error": "Rate limit exceeded",
        "message": UNLISTED_LIMIT_MESSAGE.format(seconds=seconds),
        "limit_type": UNLISTED_LIMIT_TYPE,
        "retry_after": seconds,
    }
    return EnvelopeError(429, {"error": error, "status_code": 429}, {"Retry-After": str(seconds)})
