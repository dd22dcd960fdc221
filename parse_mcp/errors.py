"""The error model: a small exception tree, and one data record that says what went wrong.

    ParseMCPError
    ├── ConfigError          the settings are unusable: the CLI says why and exits
    └── CallFailed           a call did not do what was asked; `.record` and `.meta` say why
        ├── RejectedLocally  our own check refused it before anything was sent (nothing spent)
        ├── UpstreamFailure  the service answered with an error
        └── TransportFailure no usable answer: never reached the service, or may have run

Classes differ only by what the caller does differently; every detail lives in `ErrorRecord`, whose
`code` is the key of exactly one row of the guidance table (`parse_mcp.guidance.table`). Codes are chosen
only in `guidance/`: by the classifier (`guidance/classify.py`) for an answer or a transport fault, by a
constructor of `guidance/refusals.py` for a check of ours. `guide()` then decides the `Failure`, once (the
evidence may hand a record to another row there); nothing changes it afterwards.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from parse_mcp.json_types import JsonScalar
from parse_mcp.meta import Meta

ErrorCode = Literal[
    # Parse.bot, one code per row of the contract's failure table (section 4)
    "input_invalid",
    "input_not_found",
    "upstream_not_found",
    "upstream_auth",
    "upstream_transient",
    "upstream_other",
    "blocked_transient",
    "blocked",
    "scraper_bug",
    "rate_limited_burst",
    "rate_limited_daily",
    "rate_limited_unlisted",
    "bad_snapshot_version",
    "session_pair",
    "bad_request",
    "unauthorized",
    "session_expired",
    "credits_exhausted",
    "forbidden",
    "id_not_found",
    "path_not_found",
    "unexpected_status",
    "service_unavailable",
    "network_read",
    "network_write",
    "unexpected_response",
    # Parse.bot, where the request's purpose changes the meaning (a login, a task, a marketplace listing):
    # decided by the classifier from `Request.purpose`
    "login_limited",
    "login_refused",
    "listing_not_found",
    "task_not_found",
    "task_not_ready",
    # AI Parser (ScraperAPI), for what its status codes say that Parse.bot's rows do not
    "parser_bad_request",
    "parser_not_found",
    "parser_generating",
    "parser_failed",
    "extraction_failed",
    # Raised by this server before anything is sent
    "missing_key",
    "invalid_arguments",
    "unknown_endpoint",
    "unknown_session",
    "unknown_result",
    "result_expired",
    "spend_limit_reached",
    "spend_declined",
    "spend_price_unknown",
    "login_declined",
    "state_unavailable",
    "internal_error",
]


class ErrorRecord(BaseModel):
    """What a failure was, in data: its `code` (one row of the guidance table) and what the service said.

    It *is* the result's `error` (contract section 3): what it dumps is what the agent reads. Text fields are
    already capped and scrubbed; none of them carries a secret. Two fields are for guidance only and are never
    dumped: the wait the service asked for (`retry_after`, which guidance turns into `retry_after_seconds`) and
    the names it found fault with (`fields`, which guidance turns into `fix_fields`).
    """

    model_config = ConfigDict(frozen=True)

    code: ErrorCode
    status: str | None = None
    http_status: int | None = None
    kind: str | None = None
    message: str = ""  # the service's own words (or our check's), capped; left out when there are none
    upstream_status_code: int | None = None
    snippet: str | None = None  # untrusted text from the target site, at most 500 characters
    url: str | None = None
    block_type: str | None = None
    vendor: str | None = None
    attempts: int | None = None
    limit_type: str | None = None
    # The wait the service sent (`Retry-After`, else `retry_after`), as read, whether or not it was usable: a number
    # as sent; an HTTP date rewritten by this server (IMF-fixdate, UTC), so no character of it is the service's; any
    # other value only when it passes the name grammar (`voice.speakable`), else "unreadable", so text that fails
    # the grammar is never echoed. Compare it with `guidance.retry_after_seconds` to see whether it was used.
    wait_read: int | float | str | None = None
    request_id: str | None = None
    next_tier: dict[str, JsonScalar] | None = None
    retry_after: int | float | None = Field(default=None, exclude=True)  # an int stays an int (`60`, not `60.0`)
    fields: tuple[str, ...] = Field(default=(), exclude=True)
    # What running the call again would cost, when this server knows (a kept answer that is gone): for guidance only.
    rerun_credits: int | None = Field(default=None, exclude=True)

    @model_serializer(mode="wrap")
    def _known_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None and value != ""}


class ParseMCPError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(ParseMCPError):
    """The configuration cannot work; the message tells the person what to change."""


class CallFailed(ParseMCPError):
    """A call failed; the record says how, the meta what the service reported on the way."""

    def __init__(self, record: ErrorRecord, meta: Meta | None = None) -> None:
        super().__init__(record.code if record.http_status is None else f"{record.code} (HTTP {record.http_status})")
        self._record = record
        self.meta = meta if meta is not None else Meta()

    @property
    def record(self) -> ErrorRecord:
        """The verdict, decided once where the failure was raised; read-only, so no later step rewrites it."""
        return self._record


class RejectedLocally(CallFailed):
    """Refused by this server before any request: nothing was sent and nothing was charged."""


class UpstreamFailure(CallFailed):
    """The service answered with a failure status or a body it does not document."""


class TransportFailure(CallFailed):
    """No usable answer. `reached` is False when the request never got to the service."""

    def __init__(self, record: ErrorRecord, meta: Meta | None = None, *, reached: bool) -> None:
        super().__init__(record, meta)
        self.reached = reached
