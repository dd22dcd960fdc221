"""Pure classification: a service's failure (status, headers, body) or a transport fault -> ErrorRecord.

Parse.bot puts the machine-readable verdict in the body (`error.status`, `error.kind`), so the body is
read first and the HTTP status is the fallback, the way Stripe's clients do it. Nothing here raises:
any body, any header, any status yields a record. Text copied from the service is capped, and the
target site's `snippet` is kept apart so that no instruction text is ever built from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Final, Literal

from parse_mcp.errors import ErrorCode, ErrorRecord
from parse_mcp.json_types import JsonScalar
from parse_mcp.meta import LONGEST_TRUSTED_WAIT_SECONDS
from parse_mcp.policy.pacing import seconds_to_utc_midnight
from parse_mcp.policy.size import loads_bounded
from parse_mcp.redact import Redactor, redactor_for
from parse_mcp.voice import counted, speakable

MESSAGE_LIMIT = 300
SNIPPET_LIMIT = 500
# Bodies larger than this are not parsed as JSON at all: an error envelope is a few hundred bytes.
_PARSE_LIMIT = 1_000_000

# "deadline": the tool call's own time budget ran out (`policy.deadline`), before or while the service answered.
TransportFault = Literal["connect", "timeout", "protocol", "deadline"]
# What a request was for. The same status means different things on different calls (a 404 on a task id is
# not a 404 on a scraper id), so each request carries its purpose and the classifier emits the final code.
Purpose = Literal[
    "discover",  # Parse.bot schemas: list_apis, describe_api
    "execute",  # an API's endpoint
    "login",  # an API's login endpoint
    "build",  # POST /dispatch
    "tasks",  # the task list
    "task",  # one task by id: read, revise, list its updates
    "update",  # preview or merge one task's marketplace updates
    "marketplace",  # the marketplace search
    "listing",  # one marketplace listing, by id or slug
    "parser",  # an AI parser: create, read, list, update, delete
    "parse",  # an AI parser applied to a URL
]


def classify_parsebot(
    http_status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    purpose: Purpose = "execute",
    secrets: Sequence[str] = (),
    redactor: Redactor | None = None,
) -> ErrorRecord:
    """Classify a Parse.bot answer that is not a documented success. `headers` keys are lower-case.

    `purpose` is what the request was for; `redactor` (or one built from `secrets`, the keys this server
    sent) scrubs every copied text.
    """
    scrubber = redactor if redactor is not None else redactor_for(secrets)
    return scrub(_classify(http_status, headers, body, now=now, purpose=purpose, redactor=scrubber), scrubber)


def scrub(record: ErrorRecord, redactor: Redactor | Sequence[str]) -> ErrorRecord:
    """Every text the record copied from elsewhere, with the known secrets and anything key-shaped removed."""
    scrubber = redactor if isinstance(redactor, Redactor) else redactor_for(redactor)
    changes: dict[str, object] = {}
    for name in type(record).model_fields:
        value = getattr(record, name)
        if isinstance(value, str):
            changes[name] = scrubber.text(value)
    changes["fields"] = tuple(name for name in record.fields if scrubber.text(name) == name)
    if record.next_tier:
        changes["next_tier"] = {
            key: scrubber.text(value) if isinstance(value, str) else value for key, value in record.next_tier.items()
        }
    return record.model_copy(update=changes)


def _classify(
    http_status: int, headers: Mapping[str, str], body: bytes, *, now: float, purpose: Purpose, redactor: Redactor
) -> ErrorRecord:
    # The known keys go before any text is capped: a cap must not leave the start of a key behind.
    document = redactor.json(_load_json(body), source=body)
    top: dict[str, object] = document if isinstance(document, dict) else {}
    envelope = top.get("error")
    detail = top.get("detail")
    fields_of = _envelope_fields(top, envelope, detail)

    status = _name_text(fields_of.get("status"), 40)
    kind = (
        _name_text(fields_of.get("kind"), 40)
        or _name_text(fields_of.get("code"), 40)
        or _name_text(top.get("error_code"), 40)
        or _name_text(top.get("kind"), 40)
    )
    message = _first_message(envelope, detail, top) or _body_preview(body, document)
    wait = _retry_after(headers, now=now, sources=(fields_of, top, detail))
    retry_after = wait.seconds
    upstream = _integer(fields_of.get("upstream_status_code"))
    limit_type = _name_text(fields_of.get("limit_type"), 20) or _name_text(top.get("limit_type"), 20)

    code = parsebot_code(
        purpose=purpose,
        http_status=http_status,
        status=status,
        kind=kind,
        upstream=upstream,
        retry_after=retry_after,
        limit_type=limit_type,
        message=message,
        has_error_key="error" in top,
        has_detail_only=detail is not None and "error" not in top and fields_of is not detail,
        is_envelope=bool(fields_of),
        wait_given=wait.read is not None,
    )
    if code == "rate_limited_daily" and retry_after is None:
        retry_after = seconds_to_utc_midnight(now)
    return ErrorRecord(
        code=code,
        message=message,
        http_status=http_status,
        status=status,
        kind=kind,
        upstream_status_code=upstream,
        snippet=_text(fields_of.get("snippet"), SNIPPET_LIMIT, keep_layout=True),
        url=_text(fields_of.get("url"), 500),
        block_type=_name_text(fields_of.get("block_type"), 40),
        vendor=_name_text(fields_of.get("vendor"), 40),
        attempts=_integer(fields_of.get("attempts")),
        limit_type=limit_type,
        retry_after=retry_after,
        wait_read=wait.read,
        request_id=_header_text(headers, "x-railway-request-id", redactor),
        next_tier=_next_tier(fields_of.get("next_tier")),
        fields=_fields(detail),
    )


# The `error.status` values of the reference's envelope. A body that carries one at its top level is that
# envelope without its `error` wrapper; any other top-level `status` is not taken for one (the HTTP code decides).
ENVELOPE_STATUSES: Final = frozenset({"stale_input", "upstream_error", "blocked", "error"})


def _envelope_fields(top: dict[str, object], envelope: object, detail: object) -> dict[str, object]:
    """The envelope's fields wherever the service put them: under `error` (the reference's shape), under `detail`
    (the executor's exception before its handler renames the key, parsebot-api.md section 7), or unwrapped at the
    top level."""
    if isinstance(envelope, dict):
        return envelope
    if isinstance(detail, dict):
        return detail
    if top.get("status") in ENVELOPE_STATUSES:
        return top
    return {}


def classify_aiparser(
    purpose: Purpose,
    http_status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    secrets: Sequence[str] = (),
    redactor: Redactor | None = None,
) -> ErrorRecord:
    """Classify an AI Parser answer that is not a success. Its status codes are the whole verdict (the
    service documents no envelope; the body is read for its message only); a 500 means a failed
    extraction only when the request was a `parse`. A 400 is `parser_bad_request` whatever it says: whether
    the parser was still generating or had failed is read from its status afterwards (`tools.evidence`), not
    guessed from wording the reference does not give."""
    scrubber = redactor if redactor is not None else redactor_for(secrets)
    document = scrubber.json(_load_json(body), source=body)
    top: dict[str, object] = document if isinstance(document, dict) else {}
    message = _first_message(top.get("detail"), top.get("error"), top) or _body_preview(body, document)
    lowered = message.lower()
    code: ErrorCode
    if http_status in (400, 422):
        code = "parser_bad_request"
    elif http_status == 404:
        code = "parser_not_found"
    elif http_status == 500 and purpose == "parse":
        code = "extraction_failed"
    else:
        code = _code_from_http(
            http_status, limit_type=None, message=lowered, has_error_key=True, has_detail_only=False, is_envelope=False
        )
    wait = _retry_after(headers, now=now, sources=())
    record = ErrorRecord(
        code=code,
        message=message,
        http_status=http_status,
        retry_after=wait.seconds,
        wait_read=wait.read,
        request_id=_header_text(headers, "x-request-id", scrubber),
        fields=_fields(top.get("detail")),
    )
    return scrub(record, scrubber)


def classify_unexpected_success(
    http_status: int, headers: Mapping[str, str], reason: str, *, redactor: Redactor | None = None
) -> ErrorRecord:
    """A 2xx whose body is not what the API documents (`reason` is our own words, not the body)."""
    scrubber = redactor if redactor is not None else redactor_for()
    return ErrorRecord(
        code="unexpected_response",
        message=reason[:MESSAGE_LIMIT],
        http_status=http_status,
        request_id=_header_text(headers, "x-railway-request-id", scrubber),
    )


def classify_transport(fault: TransportFault, *, creates_work: bool) -> ErrorRecord:
    """A request that got no usable answer. A build that may have started must not be sent twice."""
    reasons = {
        "connect": "The service could not be reached (the connection failed before the request was sent).",
        "timeout": "The service did not answer in time; the request may still be running.",
        "deadline": "The service did not answer in time; the request may still be running.",
        "protocol": "The connection broke while the service was answering.",
    }
    return ErrorRecord(
        code="network_write" if creates_work and fault != "connect" else "network_read",
        message=reasons[fault],
        kind=fault,
    )


def parse_retry_after(raw: str | None, *, now: float) -> float | None:
    """`Retry-After` as seconds (integer or decimal) or an HTTP date; None when absent or unusable."""
    return _usable_wait(_header_seconds(raw, now=now)[0]) if raw is not None else None


def _header_seconds(raw: str, *, now: float) -> tuple[float, WaitRead]:
    """A `Retry-After` value as seconds from `now` (possibly negative, huge or NaN), and what to record of it."""
    text = raw.strip()
    try:
        seconds = float(text)
    except ValueError:
        when = _http_date(text)
        if when is None:
            return math.nan, _token(text)
        try:
            return when.timestamp() - now, format_datetime(when, usegmt=True)
        except (OverflowError, OSError, ValueError):
            return math.nan, UNREADABLE
    return seconds, _number_read(seconds)


def _http_date(text: str) -> datetime | None:
    """An HTTP date (RFC 9110's three forms, as `email.utils` reads them) in UTC; None for anything else."""
    try:
        when = parsedate_to_datetime(text)
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def parsebot_code(
    *,
    purpose: Purpose,
    http_status: int,
    status: str | None,
    kind: str | None,
    upstream: int | None,
    retry_after: float | None,
    limit_type: str | None,
    message: str,
    has_error_key: bool,
    has_detail_only: bool,
    is_envelope: bool,
    wait_given: bool = False,
) -> ErrorCode:
    """The one decision for a Parse.bot failure: the body's verdict first, the HTTP status as the fallback,
    then what the request was for. `wait_given`: the service sent a wait (a `Retry-After` header or a non-null
    `retry_after`), usable or not."""
    code = _code_from_envelope(status, kind, upstream, retry_after, wait_given) or _code_from_http(
        http_status,
        limit_type=limit_type,
        message=message.lower(),
        has_error_key=has_error_key,
        has_detail_only=has_detail_only,
        is_envelope=is_envelope,
    )
    return _code_for_purpose(code, purpose, http_status)


def _code_for_purpose(code: ErrorCode, purpose: Purpose, http_status: int) -> ErrorCode:
    """Where the call's purpose changes the meaning: the site refusing a login refuses the credentials, not
    the scraper; a 404 on a task or listing path names a wrong task id or listing, not an API."""
    if purpose == "login" and code == "upstream_auth":
        return "login_refused"
    if purpose == "task" and code == "id_not_found":
        return "task_not_found"
    if purpose == "task" and http_status == 409:
        return "task_not_ready"
    if purpose == "listing" and http_status == 404:
        return "listing_not_found"
    return code


# A target site's statuses below 500 that say "not now" rather than "no": 429 (documented), and 408 Request
# Timeout and 425 Too Early, transient by definition (RFC 9110, RFC 8470) though neither reference lists them.
TRANSIENT_SITE_STATUSES = frozenset({408, 425, 429})


# The kinds the reference gives a block that will not lift soon ("retry_after: null (and no Retry-After header) ->
# kind is antibot_unsolvable or ip_burned"). Only these, or no kind and no wait at all, justify the permanent reading.
LASTING_BLOCK_KINDS: Final = frozenset({"antibot_unsolvable", "ip_burned"})
# The `limit_type` values of a 429: burst and daily (the reference), login (its stricter login cap, as the
# service names it). Anything else is a limit this server does not know.
LIMIT_TYPES: Final = frozenset({"burst", "daily", "login"})


def _code_from_envelope(
    status: str | None, kind: str | None, upstream: int | None, retry_after: float | None, wait_given: bool = False
) -> ErrorCode | None:
    if status == "stale_input":
        return "input_not_found" if kind == "input_not_found" else "input_invalid"
    if status == "upstream_error":
        if upstream in (404, 410):
            return "upstream_not_found"
        if upstream in (401, 403):
            return "upstream_auth"
        if upstream is not None and (upstream in TRANSIENT_SITE_STATUSES or 500 <= upstream <= 599):
            return "upstream_transient"
        return "upstream_other"
    if status == "blocked":
        return "blocked_transient" if _block_lifts(kind, retry_after, wait_given) else "blocked"
    if status == "error" or kind == "scraper_bug":
        return "scraper_bug"
    return None


def _block_lifts(kind: str | None, retry_after: float | None, wait_given: bool) -> bool:
    """Whether a block is read as transient. A usable wait says so, and so does the kind `antibot_solvable`. The
    permanent reading needs what the reference gives for it: a lasting kind, or no kind and no wait at all. A wait
    that was sent but cannot be used still says the block lifts; a kind the reference does not list cannot justify
    the permanent reading, so it gets the cautious one: wait, and look again."""
    if retry_after is not None or kind == "antibot_solvable":
        return True
    if kind in LASTING_BLOCK_KINDS:
        return False
    return wait_given if kind is None else True


def _code_from_http(
    http_status: int,
    *,
    limit_type: str | None,
    message: str,
    has_error_key: bool,
    has_detail_only: bool,
    is_envelope: bool,
) -> ErrorCode:
    if http_status == 422:
        return "input_invalid"
    if http_status == 429:
        if limit_type == "login":
            return "login_limited"
        if limit_type is not None and limit_type not in LIMIT_TYPES:
            # Not a burst (which this server would repeat by itself) nor a day (which asks the user): wait, look again.
            return "rate_limited_unlisted"
        return "rate_limited_daily" if limit_type == "daily" else "rate_limited_burst"
    if http_status == 400:
        if "snapshot" in message:
            return "bad_snapshot_version"
        if "session" in message or "encryption" in message:
            return "session_pair"
        return "bad_request"
    if http_status == 401:
        return "session_expired" if "session" in message else "unauthorized"
    if http_status == 402:
        return "credits_exhausted"
    if http_status == 403:
        return "forbidden"
    if http_status == 404:
        return "path_not_found" if has_detail_only or not has_error_key else "id_not_found"
    if http_status == 500 and is_envelope:
        return "scraper_bug"
    if 500 <= http_status <= 599:
        return "service_unavailable"
    if 200 <= http_status <= 299:
        return "unexpected_response"
    return "unexpected_status"


def _load_json(body: bytes) -> object:
    """The body as JSON, read once (in Rust for a normal body, without recursion for any depth); None when it
    is not JSON or too large to be an error envelope."""
    if not body or len(body) > _PARSE_LIMIT:
        return None
    try:
        return loads_bounded(body)
    except ValueError:
        return None


def _first_message(envelope: object, detail: object, top: Mapping[str, object]) -> str:
    for candidate in (envelope, detail, top.get("message")):
        if isinstance(candidate, str):
            return _text(candidate, MESSAGE_LIMIT) or ""
        if isinstance(candidate, dict):
            for key in ("message", "error", "detail"):
                found = _text(candidate.get(key), MESSAGE_LIMIT)
                if found:
                    return found
        if isinstance(candidate, list):
            return _validation_message(candidate)
    return ""


def _validation_message(items: list[object]) -> str:
    """FastAPI's `{"detail": [{loc, msg, type}]}`: 'field: msg; field: msg'."""
    parts: list[str] = []
    for item in items[:5]:
        if isinstance(item, dict):
            where = _loc_name(item.get("loc"))
            what = _text(item.get("msg"), 100) or "invalid"
            parts.append(f"{where}: {what}" if where else what)
    return "; ".join(parts)[:MESSAGE_LIMIT]


# Where FastAPI says an input was: the first item of a validation error's `loc`, before the field's own name.
_LOC_PLACES: Final = frozenset({"body", "query", "path", "header", "cookie"})
_FIELD_NAME_LIMIT: Final = 200


def _loc_field(loc: object) -> str | None:
    """The input a validation error's `loc` names: the first name after where it was sent (`["body", "count"]`,
    `["query", "limit"]`; `["body", "filters", 0, "name"]` names the parameter `filters`). As sent, capped: it is
    matched against the endpoint's declared parameters, and said only as `voice.field_name` allows."""
    if not isinstance(loc, list):
        return None
    names = [item for item in loc if isinstance(item, str)]
    if names and names[0] in _LOC_PLACES:
        names = names[1:]
    if not names or not names[0] or len(names[0]) > _FIELD_NAME_LIMIT:
        return None
    return names[0]


def _loc_name(loc: object) -> str | None:
    # It appears in the message before the service's words: only a plain identifier will do.
    return speakable(_loc_field(loc))


def _body_preview(body: bytes, document: object) -> str:
    """A non-JSON body (a proxy's HTML page): say so, without copying it into the message."""
    if document is None and body:
        return f"The response was not JSON ({counted(len(body), 'byte')})."
    return ""


def _fields(detail: object) -> tuple[str, ...]:
    """The field names a validation error's `loc` gives, as sent (guidance says a name only when `voice` allows,
    and names a declared parameter that it may not say by its place). A word of a message is never one: the
    guidance names a field the message mentions only when the call has an argument or parameter of that name."""
    names: list[str] = []
    if isinstance(detail, list):
        for item in detail[:10]:
            if isinstance(item, dict):
                name = _loc_field(item.get("loc"))
                if name and name not in names:
                    names.append(name)
    return tuple(names)


# What `error.wait_read` holds when the service sent a wait this server cannot show: the value failed the name
# grammar (`voice.speakable`), so it is third-party text of any shape, and it is not echoed.
UNREADABLE: Final = "unreadable"
# A wait as recorded: a number as sent, an HTTP date as this server writes it, a short token, or UNREADABLE.
WaitRead = int | float | str


@dataclass(frozen=True, slots=True)
class Wait:
    """The wait a failure carries: `seconds` when usable (`_usable_wait`), and `read`, what the service sent
    (None when it sent none), for `error.wait_read`."""

    seconds: float | None = None
    read: WaitRead | None = None


def _retry_after(headers: Mapping[str, str], *, now: float, sources: Sequence[object]) -> Wait:
    """The `Retry-After` header first, then each source's `retry_after` (the SDK's order). The first usable one is
    the wait; when none is usable, the first one sent is still recorded, so the agent sees what was ignored."""
    first: WaitRead | None = None
    raw = headers.get("retry-after")
    if raw is not None:
        seconds, read = _header_seconds(raw, now=now)
        usable = _usable_wait(seconds)
        if usable is not None:
            return Wait(usable, read)
        first = read
    for source in sources:
        if not isinstance(source, dict) or source.get("retry_after") is None:
            continue  # null is the reference's "no wait", not a wait
        value = source["retry_after"]
        if isinstance(value, int | float) and not isinstance(value, bool):
            read = _number_read(value)
            usable = _usable_wait(float(value)) if read != UNREADABLE else None
            if usable is not None:
                return Wait(usable, read)
        else:
            read = _token(value)
        first = read if first is None else first
    return Wait(None, first)


def _number_read(value: int | float) -> WaitRead:
    """A number as recorded: as sent when JSON can carry it exactly, else UNREADABLE (NaN, infinities, and
    integers beyond what a double holds, which no client would read back as sent)."""
    if isinstance(value, int):
        return value if abs(value) <= 2**53 else UNREADABLE
    if not math.isfinite(value):
        return UNREADABLE
    return int(value) if value.is_integer() and abs(value) <= 2**53 else value


def _token(value: object) -> str:
    """A wait that is neither a number nor an HTTP date: shown only when it passes the name grammar."""
    return speakable(value) or UNREADABLE


def _usable_wait(seconds: float) -> float | None:
    if not math.isfinite(seconds) or seconds < 0 or seconds > LONGEST_TRUSTED_WAIT_SECONDS:
        return None
    return float(math.ceil(seconds))


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and -(2**31) < value < 2**31:
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**31:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 10:
        return int(value.strip())
    return None


def _header_text(headers: Mapping[str, str], name: str, redactor: Redactor) -> str | None:
    """A header copied into the record, scrubbed before it is capped."""
    raw = headers.get(name)
    return _text(redactor.text(raw), 128) if raw is not None else None


def _name_text(value: object, limit: int) -> str | None:
    """A field the guidance may repeat when it is a name (a kind, a status, a vendor): as sent when it passes
    the grammar (`voice.speakable`); otherwise its cleaned text, ending in "…" when cleaning or cutting left
    something that would pass, so that what was dropped from a hostile name never makes it a name."""
    if speakable(value) is not None:
        return str(value)
    cleaned = _text(value, limit)
    if cleaned is not None and speakable(cleaned) is not None:
        return cleaned + "…"
    return cleaned


def _text(value: object, limit: int, *, keep_layout: bool = False) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = value if keep_layout else " ".join(value.split())
    cleaned = "".join(ch for ch in cleaned if ch.isprintable() or ch in "\n\t")
    return cleaned[:limit] or None


def _next_tier(value: object) -> dict[str, JsonScalar] | None:
    if not isinstance(value, dict):
        return None
    tier: dict[str, JsonScalar] = {}
    for key in ("display_name", "credits", "price"):
        item = value.get(key)
        text = _name_text(item, 60)
        if text is not None:
            tier[key] = text
        elif isinstance(item, int | float) and not isinstance(item, bool) and math.isfinite(item):
            tier[key] = item
    return tier or None
