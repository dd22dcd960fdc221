"""The guidance table: one row per error code, and the pure function that turns a record into guidance.

Every sentence here is our own. Values copied into a sentence are numbers, field names the endpoint's
spec declares, the caller's own identifiers, or short tokens that pass `safe_token`; the target site's
snippet and the service's free-text message never are (they stay in `error`, where they are labelled).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from parse_mcp.errors import ErrorCode, ErrorRecord
from parse_mcp.guidance.classify import safe_token
from parse_mcp.json_types import JsonValue

Action = Literal[
    "fix_input",
    "change_input",
    "retry_later",
    "revise_api",
    "do_not_retry",
    "check_id",
    "login",
    "ask_user",
    "wait_for_completion",
    "recreate_parser",
    "report_bug",
]
Fault = Literal["caller", "target_site", "scraper", "anti_bot", "rate_limit", "account", "service", "network", "client"]
# Which call, if any, the guidance prepares for the agent.
Follow = Literal[
    "none",
    "same_call",
    "describe_api",
    "list_apis",
    "revise_api",
    "login",
    "list_tasks",
    "use_scraper_id",
    "list_parsers",
    "wait_for_parser",
    "with_render",
    "search_marketplace",
    "wait_for_task",
]
# Where the wait comes from: the service's own figure, else the default the server chooses for that row.
Wait = Literal["none", "service", "until_reset"]
Fields = Literal["none", "from_message", "from_record", "snapshot_version", "endpoint", "render"]


@dataclass(frozen=True, slots=True)
class Row:
    cause: str  # what produces it, for the README's table
    action: Action
    fault: Fault
    retryable: bool
    summary: str
    next_step: str
    follow: Follow = "none"
    wait: Wait = "none"
    default_wait: float | None = None
    fields: Fields = "none"


@dataclass(frozen=True, slots=True)
class NextCall:
    tool: str
    arguments: dict[str, JsonValue]

    def as_dict(self) -> dict[str, JsonValue]:
        return {"tool": self.tool, "arguments": self.arguments}


@dataclass(frozen=True, slots=True)
class CallContext:
    """What guidance may know about the call besides the record; all of it is the caller's or ours."""

    tool: str
    arguments: Mapping[str, JsonValue]
    listed_tools: frozenset[str]
    service: str = "Parse.bot"
    key_variable: str = "PARSE_API_KEY"
    known_params: tuple[str, ...] = ()
    endpoint_names: tuple[str, ...] = ()
    task_id: str | None = None
    scraper_for_task: str | None = None


@dataclass(frozen=True, slots=True)
class Guidance:
    action: Action
    fault: Fault
    retryable: bool
    retry_after_seconds: float | None
    fix_fields: tuple[str, ...]
    summary: str
    next_step: str
    next_call: NextCall | None

    def as_dict(self) -> dict[str, JsonValue]:
        return {
            "action": self.action,
            "fault": self.fault,
            "retryable": self.retryable,
            "retry_after_seconds": self.retry_after_seconds,
            "fix_fields": list(self.fix_fields),
        }


# Backoffs the server chooses where the service gives no figure (contract section 4).
UPSTREAM_BACKOFF_SECONDS: Final = 30.0
SERVICE_BACKOFF_SECONDS: Final = 15.0
NETWORK_BACKOFF_SECONDS: Final = 5.0
BURST_FALLBACK_SECONDS: Final = 5.0

_WAIT_NOW = "Wait {wait}, then make the same call again unchanged."
_REVISE = (
    "Call revise_api with the description prepared in next_call, then wait_for_task before calling {endpoint} again."
)

ROWS: Final[Mapping[ErrorCode, Row]] = {
    "input_invalid": Row(
        "422 `stale_input`, kind `input_format_invalid` or none",
        "fix_input",
        "caller",
        False,
        "The scraper rejected the input of {endpoint} (HTTP 422 stale_input): {fields_phrase} not valid.",
        "Correct {fields_or_input} against the endpoint's input_params (error.message says what is expected), "
        "then call again.",
        follow="describe_api",
        fields="from_message",
    ),
    "input_not_found": Row(
        "422 `stale_input`, kind `input_not_found`",
        "change_input",
        "caller",
        False,
        "The target site confirmed that what this input names no longer exists (HTTP 422 input_not_found).",
        "Call {endpoint} only with a different input; this one will keep failing.",
    ),
    "upstream_not_found": Row(
        "502 `upstream_error`, upstream 404 or 410",
        "change_input",
        "target_site",
        False,
        "The target site answered HTTP {upstream}: the input points at nothing that exists there.",
        "Do not retry this input; call {endpoint} again only with an input that exists on the site.",
    ),
    "upstream_auth": Row(
        "502 `upstream_error`, upstream 401 or 403",
        "revise_api",
        "scraper",
        False,
        "The target site refused the scraper with HTTP {upstream}: the API's stored credentials or request "
        "setup need attention.",
        _REVISE,
        follow="revise_api",
    ),
    "upstream_transient": Row(
        "502 `upstream_error`, upstream 429 or 5xx",
        "retry_later",
        "target_site",
        True,
        "The target site failed temporarily (HTTP {upstream}).",
        _WAIT_NOW,
        follow="same_call",
        wait="service",
        default_wait=UPSTREAM_BACKOFF_SECONDS,
    ),
    "upstream_other": Row(
        "502 `upstream_error`, any other upstream status",
        "do_not_retry",
        "target_site",
        False,
        "The target site answered HTTP {upstream}, which a retry will not change.",
        "Do not retry this call; change the input, or tell the user what the site answered.",
    ),
    "blocked_transient": Row(
        "503 `blocked` with `retry_after`",
        "retry_later",
        "anti_bot",
        True,
        "The site's bot protection blocked every proxy; the service says a retry in {wait} may pass.",
        _WAIT_NOW,
        follow="same_call",
        wait="service",
    ),
    "blocked": Row(
        "503 `blocked` without `retry_after`",
        "do_not_retry",
        "anti_bot",
        False,
        "The site's bot protection blocked every proxy{kind_phrase} and retrying soon will not help.",
        "Do not retry now; if the block persists, call revise_api with the description prepared in next_call.",
        follow="revise_api",
    ),
    "scraper_bug": Row(
        "500 `error` (`scraper_bug`)",
        "revise_api",
        "scraper",
        False,
        "The scraper behind {endpoint} crashed (HTTP 500 scraper_bug): the API itself is broken, not the input.",
        _REVISE,
        follow="revise_api",
    ),
    "rate_limited_burst": Row(
        "429, `limit_type: burst` (AI Parser: any 429)",
        "retry_later",
        "rate_limit",
        True,
        "The short-term rate limit is spent (HTTP 429); the next request is allowed in {wait}.",
        _WAIT_NOW,
        follow="same_call",
        wait="service",
        default_wait=BURST_FALLBACK_SECONDS,
    ),
    "rate_limited_daily": Row(
        "429, `limit_type: daily`",
        "ask_user",
        "rate_limit",
        True,
        "The account's daily request cap is reached (HTTP 429); it resets at 00:00 UTC, in {wait}.",
        "Tell the user the daily cap is reached and resets at 00:00 UTC (in {wait}); make no calls until then.",
        wait="until_reset",
    ),
    "bad_snapshot_version": Row(
        "400, invalid `API-Snapshot-Version`",
        "fix_input",
        "caller",
        False,
        "The service rejected snapshot_version (HTTP 400): it must be a positive release number.",
        "Correct snapshot_version, or leave it out to use the latest release, then call again.",
        fields="snapshot_version",
    ),
    "session_pair": Row(
        "400, session id and key not sent together",
        "login",
        "caller",
        False,
        "The service received only half of a login session (HTTP 400): it needs the session id and its key.",
        "Call login for this API to get a fresh session handle, then call again with it.",
        follow="login",
    ),
    "bad_request": Row(
        "400, any other reason",
        "report_bug",
        "client",
        False,
        "{service} called the request malformed (HTTP 400); this server built it, so the bug is here.",
        "Do not retry; report the failure with error.request_id.",
    ),
    "unauthorized": Row(
        "401, key missing, invalid or expired",
        "ask_user",
        "account",
        False,
        "{service} refused the API key (HTTP 401): it is missing, invalid or expired.",
        "Ask the user to check {key_variable} in this server's environment; do not retry until it is fixed.",
    ),
    "session_expired": Row(
        "401, login session expired",
        "login",
        "caller",
        False,
        "The login session has expired (HTTP 401).",
        "Call login for this API again (at most 3 attempts an hour), then repeat the call with the new session.",
        follow="login",
    ),
    "credits_exhausted": Row(
        "402",
        "ask_user",
        "account",
        False,
        "The {service} account has run out of credits (HTTP 402){tier_phrase}.",
        "Tell the user the credits are exhausted{tier_phrase}; make no more paid calls until they top up.",
    ),
    "forbidden": Row(
        "403",
        "ask_user",
        "account",
        False,
        "The account's plan does not allow this call (HTTP 403).",
        "Tell the user their plan does not allow this call; do not retry.",
    ),
    "id_not_found": Row(
        '404 `{"error": "Scraper with ID … not found"}`',
        "check_id",
        "caller",
        False,
        "No API with id {scraper_id}{version_phrase} exists for this key (HTTP 404).",
        "Look the id up with list_apis and call again with an id from there.",
        follow="list_apis",
    ),
    "path_not_found": Row(
        '404 `{"detail": "Not Found"}`',
        "report_bug",
        "client",
        False,
        "{service} says the path does not exist (HTTP 404 Not Found): this server called a wrong URL.",
        "Do not retry; report it with error.request_id, and check the base URL setting if it was changed.",
    ),
    "unexpected_status": Row(
        "any other HTTP status",
        "report_bug",
        "client",
        False,
        "{service} answered HTTP {http}, which its documentation does not describe for this call.",
        "Do not retry; report it with error.request_id.",
    ),
    "service_unavailable": Row(
        "5xx without an envelope (proxy page, gateway timeout)",
        "retry_later",
        "service",
        True,
        "{service} itself failed (HTTP {http} without its error envelope, such as a gateway error).",
        _WAIT_NOW,
        follow="same_call",
        wait="service",
        default_wait=SERVICE_BACKOFF_SECONDS,
    ),
    "network_read": Row(
        "connection failure or timeout (reads)",
        "retry_later",
        "network",
        True,
        "No answer from {service}: {network_phrase}.",
        _WAIT_NOW,
        follow="same_call",
        wait="service",
        default_wait=NETWORK_BACKOFF_SECONDS,
    ),
    "network_write": Row(
        "timeout or broken answer on a build or revision",
        "do_not_retry",
        "network",
        False,
        "No answer from {service}, and the request may have started work that is charged.",
        "Do not repeat it: call list_tasks to see whether it was created before trying again.",
        follow="list_tasks",
    ),
    "unexpected_response": Row(
        "2xx body the API does not document",
        "report_bug",
        "service",
        False,
        "{service} answered HTTP {http} with a body its documentation does not describe.",
        "Do not retry; report it with error.request_id.",
    ),
    "login_limited": Row(
        "429 `limit_type: login`, or a 4th login within the hour (this server)",
        "retry_later",
        "rate_limit",
        True,
        "Logins to this API are capped at 3 an hour for the whole account (the service counts every client's "
        "attempts together), and the cap is spent; the next attempt is allowed in {wait}.",
        "Wait {wait}, then call login again; meanwhile reuse a session handle you already have.",
        wait="service",
        default_wait=3600.0,
    ),
    "login_refused": Row(
        "502 `upstream_error` 401 or 403 on `login`",
        "ask_user",
        "caller",
        False,
        "The site refused these credentials (HTTP {upstream} on login).",
        "Ask the user for the right credentials; each attempt counts against 3 logins an hour.",
    ),
    "listing_not_found": Row(
        "404 on a marketplace listing id or slug",
        "check_id",
        "caller",
        False,
        "No marketplace listing has the id or slug {listing} (HTTP 404).",
        "Find the listing with search_marketplace and call again with its id or slug.",
        follow="search_marketplace",
    ),
    "task_not_found": Row(
        "404 on a dispatch task id",
        "check_id",
        "caller",
        False,
        "No task with id {task_id} exists for this key (HTTP 404).",
        "Look the id up with list_tasks and call again with an id from there.",
        follow="list_tasks",
    ),
    "task_not_ready": Row(
        "409 on `revise_api`: the task has no API yet",
        "wait_for_completion",
        "caller",
        True,
        "Task {task_id} has no API to revise yet (HTTP 409): its build has not completed.",
        "Call wait_for_task until it completes, then revise it.",
        follow="wait_for_task",
    ),
    "parser_bad_request": Row(
        "AI Parser 400: malformed request or missing field",
        "fix_input",
        "caller",
        False,
        "{service} refused the request (HTTP 400): {fields_phrase} not valid.",
        "Correct {fields_or_input} (error.message says what is expected), then call again.",
        fields="from_record",
    ),
    "parser_not_found": Row(
        "AI Parser 404: no such parser or version",
        "check_id",
        "caller",
        False,
        "No parser with id {parser_id}{version_phrase} exists for this key (HTTP 404).",
        "Look the id up with list_parsers and call again with an id from there.",
        follow="list_parsers",
    ),
    "parser_generating": Row(
        "AI Parser 400: the parser version is still generating",
        "wait_for_completion",
        "caller",
        True,
        "Parser {parser_id}{version_phrase} is still generating and cannot be used yet (HTTP 400).",
        "Call wait_for_parser until it is FINISHED, then make this call again.",
        follow="wait_for_parser",
    ),
    "parser_failed": Row(
        "AI Parser 400: the parser version failed to generate",
        "recreate_parser",
        "caller",
        False,
        "Parser {parser_id}{version_phrase} failed to generate, so it cannot be used (HTTP 400).",
        "Read its error with get_parser, then create a new parser with other example URLs or scraper_params "
        "(it costs 30,000 credits: confirm with the user first).",
    ),
    "extraction_failed": Row(
        "AI Parser 500 on `parse_url`: extraction failed",
        "retry_later",
        "target_site",
        True,
        "{service} could not extract data from that URL (HTTP 500){render_phrase}.",
        "Wait {wait} and call again{render_step}; if it keeps failing, check the URL is the same page type "
        "as the parser's examples.",
        follow="with_render",
        wait="service",
        default_wait=UPSTREAM_BACKOFF_SECONDS,
        fields="render",
    ),
    "missing_key": Row(
        "no key configured (this server)",
        "ask_user",
        "account",
        False,
        "No {service} API key is configured on this server.",
        "Ask the user to set {key_variable} in this server's environment, or to start it with "
        "`parse-mcp --sandbox` to rehearse without an account.",
    ),
    "invalid_arguments": Row(
        "arguments refused by this server's checks",
        "fix_input",
        "caller",
        False,
        "The arguments were refused before anything was sent: {local_message}",
        "Correct {fields_or_input} and call again.",
        follow="describe_api",
        fields="from_record",
    ),
    "unknown_endpoint": Row(
        "endpoint not in the API's schema (this server)",
        "fix_input",
        "caller",
        False,
        "API {scraper_id} has no endpoint named {endpoint}; its endpoints are: {endpoint_names}.",
        "Call again with one of those endpoint names (describe_api shows their parameters).",
        follow="describe_api",
        fields="endpoint",
    ),
    "unknown_session": Row(
        "session handle unknown or expired (this server)",
        "login",
        "caller",
        False,
        "The session handle is unknown to this server, has expired, or belongs to another client "
        "(a handle works only for the client that logged in).",
        "Call login for this API to get a new session handle, then call again with it.",
        follow="login",
    ),
    "internal_error": Row(
        "this server failed",
        "report_bug",
        "client",
        False,
        "This server failed while handling the call; nothing suggests the call itself was wrong.",
        "Do not retry; report it (the server's log on stderr has the details).",
    ),
}


def guide(record: ErrorRecord, context: CallContext) -> Guidance:
    """The guidance for one failure: pure, total over `ErrorCode`, never raises."""
    row = ROWS[record.code]
    wait = _wait(row, record)
    fix_fields = _fix_fields(row, record, context)
    values = _values(record, context, wait, fix_fields)
    summary = row.summary.format_map(values)
    next_step = row.next_step.format_map(values)
    next_call = _next_call(row.follow, record, context)
    if record.code == "id_not_found" and context.scraper_for_task is not None:
        summary = (
            f"{values['scraper_id']} is a task id, not a scraper id (HTTP 404); "
            f"the API that task built is {context.scraper_for_task}."
        )
        next_step = f"Call again with scraper_id {context.scraper_for_task} (the task's result_scraper_id)."
        next_call = _next_call("use_scraper_id", record, context)
    return Guidance(
        action=row.action,
        fault=row.fault,
        retryable=row.retryable,
        retry_after_seconds=wait,
        fix_fields=fix_fields,
        summary=summary,
        next_step=next_step,
        next_call=next_call if next_call is not None and next_call.tool in context.listed_tools else None,
    )


def repeated(guidance: Guidance, record: ErrorRecord, count: int) -> Guidance:
    """The guidance once the same call has failed the same way `count` times: stop, and ask the user."""
    return Guidance(
        action="ask_user",
        fault=guidance.fault,
        retryable=False,
        retry_after_seconds=None,
        fix_fields=guidance.fix_fields,
        summary=f"This call has now failed {count} times in a row the same way ({record.code}). {guidance.summary}",
        next_step=(
            f"Stop repeating this call and ask the user how to go on; the advice for this failure was: "
            f"{guidance.next_step}"
        ),
        next_call=None,
    )


def describe_for_revision(record: ErrorRecord, context: CallContext) -> str:
    """A sentence the revision service can act on: endpoint, input, status, error kind; no snippet."""
    endpoint = _argument(context, "endpoint") or "an endpoint"
    params = context.arguments.get("params")
    shown = json.dumps(params, sort_keys=True, ensure_ascii=False)[:300] if params else "no parameters"
    kind = safe_token(record.kind)
    if record.code == "upstream_auth":
        problem = f"the target site refuses the scraper with HTTP {record.upstream_status_code} (upstream_error)"
        want = "Update the stored credentials or request headers so the site accepts the scraper again."
    elif record.code == "blocked":
        problem = f"the site's bot protection blocks every proxy (blocked{', ' + kind if kind else ''})"
        want = "Make the scraper get past the site's protection reliably."
    else:
        problem = f"it fails with HTTP {record.http_status} ({kind or safe_token(record.status) or record.code})"
        want = "Fix the endpoint so it returns data for valid input."
    return f"The {endpoint} endpoint fails when called with {shown}: {problem}. {want}"


def _wait(row: Row, record: ErrorRecord) -> float | None:
    if row.wait == "none":
        return None
    if record.retry_after is not None:
        return record.retry_after
    return row.default_wait


def _fix_fields(row: Row, record: ErrorRecord, context: CallContext) -> tuple[str, ...]:
    if row.fields == "snapshot_version":
        return ("snapshot_version",)
    if row.fields == "endpoint":
        return ("endpoint",)
    if row.fields == "from_record":
        return record.fields
    if row.fields == "render":
        return () if _render_set(context) else ("scraper_params.render",)
    if row.fields == "from_message":
        if not context.known_params:
            return record.fields
        named = [p for p in context.known_params if p in record.fields or _mentions(record.message, p)]
        return tuple(named)
    return ()


def _render_set(context: CallContext) -> bool:
    params = context.arguments.get("scraper_params")
    return isinstance(params, dict) and params.get("render") is True


def _mentions(message: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) is not None


def _values(
    record: ErrorRecord, context: CallContext, wait: float | None, fix_fields: tuple[str, ...]
) -> dict[str, str]:
    version = _argument(context, "snapshot_version") or _argument(context, "version")
    kind = safe_token(record.kind)
    return {
        "service": context.service,
        "key_variable": context.key_variable,
        "endpoint": _argument(context, "endpoint") or "the endpoint",
        "scraper_id": _argument(context, "scraper_id") or "given",
        "version_phrase": f" at version {version}" if version else "",
        "http": str(record.http_status) if record.http_status is not None else "(none)",
        "upstream": str(record.upstream_status_code) if record.upstream_status_code is not None else "(unknown)",
        "wait": human_wait(wait),
        "fields_phrase": _fields_phrase(fix_fields),
        "fields_or_input": ", ".join(fix_fields) if fix_fields else "the input",
        "kind_phrase": f" ({kind})" if kind else "",
        "tier_phrase": _tier_phrase(record),
        "network_phrase": _network_phrase(record),
        "endpoint_names": ", ".join(context.endpoint_names) or "(none)",
        "local_message": _sentence(record.message or "they do not match what the tool accepts"),
        "parser_id": _argument(context, "parser_id") or "given",
        "listing": _argument(context, "listing") or "given",
        "task_id": _argument(context, "task_id") or "given",
        "render_phrase": "" if _render_set(context) else "; the page may need JavaScript rendering",
        "render_step": "" if _render_set(context) else " with scraper_params.render set to true",
    }


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith(".") else text + "."


def _fields_phrase(fields: tuple[str, ...]) -> str:
    if not fields:
        return "the input is"
    return f"{', '.join(fields)} {'is' if len(fields) == 1 else 'are'}"


def _tier_phrase(record: ErrorRecord) -> str:
    tier = record.next_tier or {}
    name = tier.get("display_name")
    if not isinstance(name, str) or safe_token(name.replace(" ", "_")) is None:
        return ""
    credits, price = tier.get("credits"), tier.get("price")
    extra = f": {credits} credits for {price}" if credits is not None and price is not None else ""
    return f"; the next tier is {name}{extra}"


def _network_phrase(record: ErrorRecord) -> str:
    return {
        "connect": "the connection failed before the request was sent",
        "timeout": "it did not answer in time",
        "deadline": "this call's time budget ran out before the answer was complete",
        "protocol": "the connection broke during the answer",
    }.get(record.kind or "", "the connection failed")


def human_wait(seconds: float | None) -> str:
    if seconds is None:
        return "a moment"
    whole = max(0, math.ceil(seconds))
    if whole < 120:
        return f"{whole} s"
    if whole < 7200:
        return f"{math.ceil(whole / 60)} min"
    hours, rest = divmod(whole, 3600)
    return f"{hours} h {math.ceil(rest / 60)} min"


def _argument(context: CallContext, name: str) -> str | None:
    value = context.arguments.get(name)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        text = str(value)
        return text[:80] if text.isprintable() else None
    return None


def _next_call(follow: Follow, record: ErrorRecord, context: CallContext) -> NextCall | None:
    scraper_id = _argument(context, "scraper_id")
    if follow == "same_call":
        return NextCall(context.tool, dict(context.arguments))
    if follow == "describe_api" and scraper_id:
        return NextCall("describe_api", {"scraper_id": scraper_id})
    if follow == "list_apis":
        return NextCall("list_apis", {})
    if follow == "list_tasks":
        return NextCall("list_tasks", {})
    if follow == "login" and scraper_id:
        return NextCall("login", {"scraper_id": scraper_id})
    if follow == "revise_api" and context.task_id is not None:
        return NextCall(
            "revise_api", {"task_id": context.task_id, "description": describe_for_revision(record, context)}
        )
    parser_id = _argument(context, "parser_id")
    if follow == "with_render":
        params = context.arguments.get("scraper_params")
        rendered: dict[str, JsonValue] = {**(params if isinstance(params, dict) else {}), "render": True}
        return NextCall(context.tool, {**context.arguments, "scraper_params": rendered})
    if follow == "list_parsers":
        return NextCall("list_parsers", {})
    if follow == "search_marketplace":
        return NextCall("search_marketplace", {})
    task_id = _argument(context, "task_id")
    if follow == "wait_for_task" and task_id:
        return NextCall("wait_for_task", {"task_id": task_id})
    if follow == "wait_for_parser" and parser_id:
        waiting: dict[str, JsonValue] = {"parser_id": parser_id}
        version = context.arguments.get("version")
        if isinstance(version, int) and not isinstance(version, bool):
            waiting["version"] = version
        return NextCall("wait_for_parser", waiting)
    if follow == "use_scraper_id" and context.scraper_for_task is not None:
        return NextCall(context.tool, {**context.arguments, "scraper_id": context.scraper_for_task})
    return None
