"""What a service said about a call besides its body: credits, rate-limit budget, request id.

`Meta` is what the agent sees (contract section 3); `RateSnapshot` is the finer reading of the
`X-RateLimit-*` headers that the pacing policy works from. Both are parsed here, purely: any header
that is absent, malformed or absurd is simply unknown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from parse_mcp.redact import Redactor, redactor_for

# The longest wait this server believes, from any header or body: a day, the longest window either service
# documents (the daily cap resets at UTC midnight). A longer figure counts as unknown rather than being
# clamped, so that one hostile header cannot lock a day. Meta, the classifier and the pacer all read it here.
LONGEST_TRUSTED_WAIT_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class Cut:
    """One cut: at `path`, `kept` of `total` items, characters, keys, or levels of nesting.

    For levels, `total` counts what was read: a body is read to at most `policy.size.READ_MAX_DEPTH` levels.
    """

    path: str
    kept: int
    total: int
    unit: Literal["items", "chars", "keys", "levels"]


class Meta(BaseModel):
    """What the agent sees in a result's `meta` (contract section 3): each figure absent when unknown.

    Figures stay as the service wrote them: an integral count or charge is an int (so the agent reads `1`,
    not `1.0`), hence `int | float` where pydantic would otherwise make every number a float.
    """

    model_config = ConfigDict(frozen=True)

    credits_charged: int | float | None = None
    credits_remaining: int | float | None = None
    rate_limit_remaining: int | None = None
    daily_remaining: int | None = None
    request_id: str | None = None
    attempts: int | None = None
    waited_seconds: int | float | None = None
    truncated: bool | None = None
    # When a daily credit limit is set: what is left of it today for this call's service (the smaller of the
    # account's and the client's).
    credits_left_today: int | None = None
    # What a size limit left out, one cut per JSON path.
    omitted: tuple[Cut, ...] | None = None
    # A cut answer kept by this server (`read_result`): its id, and the cursor of the next page; None at the end.
    result_id: str | None = None
    next_cursor: str | None = None
    # Which part of the kept answer a page holds: the list it follows (its JSON path), the index of its first
    # item, and the list's length.
    page_of: str | None = None
    page_start: int | None = None
    page_total: int | None = None
    # The caller's `fields` paths that matched nothing in the answer (projection never loses the answer).
    unmatched_fields: tuple[str, ...] | None = None

    def with_attempts(self, attempts: int, waited_seconds: float) -> Meta:
        return self.model_copy(update={"attempts": attempts, "waited_seconds": round(waited_seconds, 3)})

    @model_serializer(mode="wrap")
    def _known_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Only the known figures: the contract says absent, not null, when unknown."""
        return {key: value for key, value in handler(self).items() if value is not None}


@dataclass(frozen=True, slots=True)
class RateSnapshot:
    """The burst bucket and daily cap as one response described them, at `observed_at` (epoch s)."""

    observed_at: float
    remaining: int | None = None
    burst: int | None = None
    refill_per_minute: float | None = None
    daily_remaining: int | None = None
    daily_reset_in: float | None = None


def read_meta(headers: Mapping[str, str], redactor: Redactor | None = None) -> Meta:
    """Parse the agent-visible meta from response headers (keys must be lower-case).

    The request id is the one text copied from the service: `redactor` (pass the one that knows both
    keys) scrubs it, since an upstream may echo anything there. Without one, key-shaped text is removed.
    """
    scrubber = redactor if redactor is not None else redactor_for()
    return Meta(
        credits_charged=_number(headers.get("x-credits-charged")),
        credits_remaining=_number(headers.get("x-credits-remaining")),
        rate_limit_remaining=_count(headers.get("x-ratelimit-remaining")),
        daily_remaining=_count(headers.get("x-ratelimit-daily-remaining")),
        request_id=_request_id(headers.get("x-railway-request-id"), scrubber),
    )


def read_rate(headers: Mapping[str, str], *, now: float) -> RateSnapshot | None:
    """The rate-limit picture of one response, or None when it carried no rate-limit headers."""
    snapshot = RateSnapshot(
        observed_at=now,
        remaining=_count(headers.get("x-ratelimit-remaining")),
        burst=_count(headers.get("x-ratelimit-burst")) or _count(headers.get("x-ratelimit-limit")),
        refill_per_minute=_number(headers.get("x-ratelimit-refill-per-min")),
        daily_remaining=_count(headers.get("x-ratelimit-daily-remaining")),
        daily_reset_in=_seconds(headers.get("x-ratelimit-daily-reset")),
    )
    if snapshot == RateSnapshot(observed_at=now):
        return None
    return snapshot


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _count(raw: str | None) -> int | None:
    value = _number(raw)
    if value is None or value != int(value):
        return None
    return int(value)


def _seconds(raw: str | None) -> float | None:
    value = _number(raw)
    return None if value is None or value > LONGEST_TRUSTED_WAIT_SECONDS else float(value)


def _request_id(raw: str | None, redactor: Redactor) -> str | None:
    if raw is None:
        return None
    # Scrubbed before the cap, so a key cut in half by it is still recognised whole; and after the
    # unprintable characters are gone, so none of them can hide a key from the scan.
    printable = "".join(ch for ch in raw.strip() if ch.isprintable())
    cleaned = redactor.text(printable)[:128]
    return cleaned or None
