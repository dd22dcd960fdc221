"""The guidance table: one row per error code, read top to bottom, and the pure function that applies it.

Each row is data: what produces the code (for the README), the action, fault and retryability the
contract fixes, the wait to advise, which fields to fix, the two sentences, and the call to prepare,
declared as a `NextCallSpec` (which tool, which arguments from the call or from what the server found).
`guide()` applies a row the same way for every code; it has no case of its own.

Every sentence here is our own. Values copied into a sentence are numbers, field names the endpoint's
spec declares, the caller's own identifiers, or short tokens that pass `speakable`; the target site's
snippet and the service's free-text message never are (they stay in `error`, where they are labelled).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from parse_mcp.errors import ErrorCode, ErrorRecord
from parse_mcp.json_types import JsonValue
from parse_mcp.policy.breaker import STOP_AFTER
from parse_mcp.policy.retry import Repeat
from parse_mcp.voice import (
    INPUT_PARAMS,
    POSITION_NOTE,
    counted,
    field_name,
    is_position,
    listed,
    position,
    speakable,
    speakable_arguments,
)

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


# -- what guidance knows besides the record ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the server found out about the call's ids after the failure (the optional enrichment step,
    `parse_mcp.tools.evidence`). Everything here is the caller's, ours, or a safe token."""

    known_params: tuple[str, ...] = ()  # the endpoint's declared input_params
    endpoint_names: tuple[str, ...] = ()  # the API's endpoints
    task_id: str | None = None  # the task that built the call's scraper: where a revision goes
    scraper_for_task: str | None = None  # the scraper a task built, when a task id was given as a scraper id
    # The AI parser's `status` read after a 400 (GENERATING, FINISHED, FAILED: a safe token), and the `error` its
    # status document gives: the service's words, scrubbed and capped, shown only inside the result's `error`.
    parser_status: str | None = None
    parser_error: str | None = None


EvidenceName = Literal["task_id", "scraper_for_task", "parser_status"]
# Whether a row rests on what the service's reference documents, or on what this server infers where the
# reference is silent (the README's error table says which), or on this server's own checks.
Basis = Literal["documented", "inferred", "this server"]


@dataclass(frozen=True, slots=True)
class CallContext:
    """The failed call as guidance sees it: the tool, its arguments, what is listed, and the evidence."""

    tool: str
    arguments: Mapping[str, JsonValue]
    listed_tools: frozenset[str]
    service: str = "Parse.bot"
    key_variable: str = "PARSE_API_KEY"
    evidence: Evidence = Evidence()


# -- what guidance gives -------------------------------------------------------------------------------


class NextCall(BaseModel):
    """A ready call: a tool this server lists and its arguments (the result's `next_call`, as is)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: str
    arguments: dict[str, Any]

    def __init__(self, tool: str, arguments: Mapping[str, JsonValue]) -> None:
        """A call whose names all pass `speakable_arguments`; anything else is a bug of the caller, which
        should have asked `offer` (a ValueError, so no unchecked call is ever shown as ours)."""
        if not speakable_arguments(arguments):
            raise ValueError("a next call must name only speakable names")
        super().__init__(tool=tool, arguments=dict(arguments))

    @classmethod
    def offer(cls, tool: str, arguments: Mapping[str, JsonValue]) -> NextCall | None:
        """The call, or None when a name in its arguments may not be said in our voice (see `voice`)."""
        return cls(tool, arguments) if speakable_arguments(arguments) else None


class Guidance(BaseModel):
    """What the agent should do about a failure: the result's `guidance` (contract section 3), as is."""

    model_config = ConfigDict(frozen=True)

    action: Action
    fault: Fault
    retryable: bool  # true only when the same call, unchanged, can succeed later
    # An int stays an int (the agent reads `60`, not `60.0`).
    retry_after_seconds: int | float | None
    fix_fields: tuple[str, ...]


class Failure(BaseModel):
    """A failure as decided, once, by `guide()`: what happened (`error`, whose code is the row applied), what
    to do about it (`guidance`), our two sentences and the call to make next. Nothing changes it afterwards:
    it is the result, less the meta."""

    model_config = ConfigDict(frozen=True)

    error: ErrorRecord
    guidance: Guidance
    summary: str
    next_step: str
    next_call: NextCall | None

    @property
    def code(self) -> ErrorCode:
        return self.error.code


# -- the vocabulary of a row ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arg:
    """An argument of the failed call, as short printable text (an integer becomes text)."""

    name: str

    def value(self, _record: ErrorRecord, context: CallContext) -> JsonValue:
        return _argument(context, self.name)


@dataclass(frozen=True, slots=True)
class IntArg:
    """An integer argument of the failed call, kept an integer."""

    name: str

    def value(self, _record: ErrorRecord, context: CallContext) -> JsonValue:
        given = context.arguments.get(self.name)
        return given if isinstance(given, int) and not isinstance(given, bool) else None


@dataclass(frozen=True, slots=True)
class Found:
    """What the enrichment step found (see `Evidence`)."""

    name: EvidenceName

    def value(self, _record: ErrorRecord, context: CallContext) -> JsonValue:
        found: str | None = getattr(context.evidence, self.name)
        return found


@dataclass(frozen=True, slots=True)
class RevisionDescription:
    """A description for revise_api with the evidence: endpoint, input, status, error kind; never a snippet."""

    def value(self, record: ErrorRecord, context: CallContext) -> JsonValue:
        return describe_for_revision(record, context)


@dataclass(frozen=True, slots=True)
class ScraperParamsWithRender:
    """The call's scraper_params with `render` set to true."""

    def value(self, _record: ErrorRecord, context: CallContext) -> JsonValue:
        params = context.arguments.get("scraper_params")
        return {**(params if isinstance(params, dict) else {}), "render": True}


Source = Arg | IntArg | Found | RevisionDescription | ScraperParamsWithRender


@dataclass(frozen=True, slots=True, kw_only=True)
class NextCallSpec:
    """The call a row prepares. `tool` None is the tool that failed; `same_arguments` starts from the failed
    call's arguments. Each of `arguments` must have a value or no call is prepared; each of `optional` is
    added when it has one."""

    tool: str | None = None
    same_arguments: bool = False
    arguments: Mapping[str, Source] = field(default_factory=dict)
    optional: Mapping[str, Source] = field(default_factory=dict)

    def build(self, record: ErrorRecord, context: CallContext) -> NextCall | None:
        built: dict[str, JsonValue] = dict(context.arguments) if self.same_arguments else {}
        for name, source in self.arguments.items():
            value = source.value(record, context)
            if value is None or value == "":
                return None
            built[name] = value
        for name, source in self.optional.items():
            value = source.value(record, context)
            if value is not None:
                built[name] = value
        return NextCall.offer(self.tool or context.tool, built)

    def evidence(self) -> frozenset[EvidenceName]:
        sources = [*self.arguments.values(), *self.optional.values()]
        return frozenset(source.name for source in sources if isinstance(source, Found))


@dataclass(frozen=True, slots=True, kw_only=True)
class Wait:
    """Advise a wait: the service's own figure (Retry-After, retry_after), else `default_seconds`."""

    default_seconds: float | None = None


# Where `fix_fields` comes from when it is not a fixed tuple of names.
FieldsRule = Literal[
    "params_named_in_message",  # the endpoint's declared params the record or message names
    "named_in_record",  # the record's own field names (our checks, a validation error's loc)
    "arguments_named",  # the call's arguments that the record or the service's message names
    "render_unless_set",  # scraper_params.render, unless the call already set it
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Instead:
    """Wording and next call that replace a row's own when the enrichment step found `evidence`."""

    evidence: EvidenceName
    summary: str
    next_step: str
    next_call: NextCallSpec | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    cause: str  # what produces it, for the README's table
    action: Action
    fault: Fault
    retryable: bool  # whether the agent may make the same call again unchanged (later, after `wait`)
    wait: Wait | None = None
    # Whether this server repeats the request by itself first, inside the call (`policy.retry`): only where a
    # repeat cannot cost twice.
    repeat: Repeat = "never"
    fix_fields: tuple[str, ...] | FieldsRule = ()
    summary: str
    next_step: str
    next_call: NextCallSpec | None = None
    # What to do instead when `next_step` points at a call that cannot be prepared (the evidence it needs was
    # not found, or its tool is not listed): words and call must stay in step.
    next_step_without_call: str | None = None
    instead_when_found: Instead | None = None
    # The row that applies instead when the enrichment step read the parser's status: the state decides, never
    # the wording of the service's message.
    decided_by_status: Mapping[str, ErrorCode] = field(default_factory=dict)
    basis: Basis = "documented"

    def evidence(self) -> frozenset[EvidenceName]:
        """What the enrichment step may look up for this row (nothing, for most)."""
        wanted = self.next_call.evidence() if self.next_call is not None else frozenset()
        if self.instead_when_found is not None:
            wanted |= {self.instead_when_found.evidence}
        if self.decided_by_status:
            wanted |= {"parser_status"}
        return wanted


# Backoffs the server chooses where the service gives no figure (contract section 4).
UPSTREAM_BACKOFF_SECONDS: Final = 30.0
SERVICE_BACKOFF_SECONDS: Final = 15.0
NETWORK_BACKOFF_SECONDS: Final = 5.0
# A Redis that went away is usually back within seconds (a restart, a failover); the client reconnects by itself.
STATE_BACKOFF_SECONDS: Final = 5.0
BURST_FALLBACK_SECONDS: Final = 5.0
# A block the service calls solvable but gives no usable wait for: a minute, the order of waits it documents.
BLOCKED_FALLBACK_SECONDS: Final = 60.0
# A 429 whose limit type the reference does not list: not a burst (refilled in seconds, and repeated here by the
# server itself), nor a day (asks the user); a minute before looking again, the cautious middle.
UNLISTED_LIMIT_FALLBACK_SECONDS: Final = 60.0

_WAIT_NOW = "Wait {wait}, then make the same call again unchanged."
_NO_REVISION = (
    "No revision can be prepared here (this API has no build task in this account, or revise_api is not listed): "
    "tell the user that {endpoint} is broken and needs a revision in the Parse.bot dashboard, and use another "
    "endpoint or API meanwhile."
)
_REVISE = (
    "Call revise_api with the description prepared in next_call, then wait_for_task before calling {endpoint} again."
)
SAME_CALL: Final = NextCallSpec(same_arguments=True)
PREPARED_REVISION: Final = NextCallSpec(
    tool="revise_api", arguments={"task_id": Found("task_id"), "description": RevisionDescription()}
)
SCRAPER_PARAMS_WITH_RENDER: Final = ScraperParamsWithRender()

# -- the table -----------------------------------------------------------------------------------------

ROWS: Final[Mapping[ErrorCode, Row]] = {
    "input_invalid": Row(
        cause="422 `stale_input`, kind `input_format_invalid` or none",
        action="fix_input",
        fault="caller",
        retryable=False,
        fix_fields="params_named_in_message",
        summary="The scraper rejected the input of {endpoint} (HTTP 422 stale_input): {fields_phrase} not valid.",
        next_step=(
            "Correct {fields_or_input} against the endpoint's input_params (error.message says what is expected), "
            "then call again."
        ),
        next_call=NextCallSpec(tool="describe_api", arguments={"scraper_id": Arg("scraper_id")}),
    ),
    "input_not_found": Row(
        cause="422 `stale_input`, kind `input_not_found`",
        action="change_input",
        fault="caller",
        retryable=False,
        summary="The target site confirmed that what this input names no longer exists (HTTP 422 input_not_found).",
        next_step="Call {endpoint} only with a different input; this one will keep failing.",
    ),
    "upstream_not_found": Row(
        cause="502 `upstream_error`, upstream 404 or 410",
        action="change_input",
        fault="target_site",
        retryable=False,
        summary="The target site answered HTTP {upstream}: the input points at nothing that exists there.",
        next_step="Do not retry this input; call {endpoint} again only with an input that exists on the site.",
    ),
    "upstream_auth": Row(
        cause="502 `upstream_error`, upstream 401 or 403",
        action="revise_api",
        fault="scraper",
        retryable=False,
        summary="The target site refused the scraper with HTTP {upstream}: the API's stored credentials or request "
        "setup need attention.",
        next_step=_REVISE,
        next_step_without_call=_NO_REVISION,
        next_call=PREPARED_REVISION,
    ),
    "upstream_transient": Row(
        cause="502 `upstream_error`, upstream 429 or 5xx (and 408, 425: inferred, transient by RFC 9110)",
        action="retry_later",
        fault="target_site",
        retryable=True,
        wait=Wait(default_seconds=UPSTREAM_BACKOFF_SECONDS),
        summary="The target site failed temporarily (HTTP {upstream}).",
        next_step=_WAIT_NOW,
        next_call=SAME_CALL,
    ),
    "upstream_other": Row(
        cause="502 `upstream_error`, any other upstream status",
        action="do_not_retry",
        fault="target_site",
        retryable=False,
        summary="The target site answered HTTP {upstream}, which a retry will not change.",
        next_step="Do not retry this call; change the input, or tell the user what the site answered.",
    ),
    "blocked_transient": Row(
        cause="503 `blocked` with `retry_after`; or (inferred) with a wait sent but unusable, or a kind that is "
        "`antibot_solvable` or not in the reference",
        action="retry_later",
        fault="anti_bot",
        retryable=True,
        wait=Wait(default_seconds=BLOCKED_FALLBACK_SECONDS),
        summary="The site's bot protection blocked every proxy; a retry in {wait} may pass.",
        next_step=_WAIT_NOW,
        next_call=SAME_CALL,
    ),
    "blocked": Row(
        cause="503 `blocked` without `retry_after` or `Retry-After`, kind `antibot_unsolvable`, `ip_burned` or none",
        action="do_not_retry",
        fault="anti_bot",
        retryable=False,
        summary="The site's bot protection blocked every proxy{kind_phrase} and retrying soon will not help.",
        next_step=(
            "Do not retry now; if the block persists, call revise_api with the description prepared in next_call."
        ),
        next_call=PREPARED_REVISION,
        next_step_without_call="Do not retry now. " + _NO_REVISION,
    ),
    "scraper_bug": Row(
        cause="500 `error` (`scraper_bug`)",
        action="revise_api",
        fault="scraper",
        retryable=False,
        summary=(
            "The scraper behind {endpoint} crashed (HTTP 500 scraper_bug): the API itself is broken, not the input."
        ),
        next_step=_REVISE,
        next_step_without_call=_NO_REVISION,
        next_call=PREPARED_REVISION,
    ),
    "rate_limited_burst": Row(
        cause="429, `limit_type: burst` (AI Parser: any 429)",
        action="retry_later",
        fault="rate_limit",
        retryable=True,
        repeat="always",
        wait=Wait(default_seconds=BURST_FALLBACK_SECONDS),
        summary="The short-term rate limit is spent (HTTP 429); the next request is allowed in {wait}.",
        next_step=_WAIT_NOW,
        next_call=SAME_CALL,
    ),
    "rate_limited_daily": Row(
        cause="429, `limit_type: daily`",
        action="ask_user",
        fault="rate_limit",
        retryable=True,
        wait=Wait(),
        summary="The account's daily request cap is reached (HTTP 429); it resets at 00:00 UTC, in {wait}.",
        next_step=(
            "Tell the user the daily cap is reached and resets at 00:00 UTC (in {wait}); make no calls until then."
        ),
    ),
    "rate_limited_unlisted": Row(
        cause="429 with a `limit_type` the reference does not list",
        action="retry_later",
        fault="rate_limit",
        retryable=True,
        wait=Wait(default_seconds=UNLISTED_LIMIT_FALLBACK_SECONDS),
        summary="A rate limit this server does not know{limit_phrase} refused the call (HTTP 429); the service "
        "did not run it.",
        next_step="Wait {wait}, then make the same call once more; if it is refused the same way again, tell the "
        "user the account has hit a limit this server does not know.",
        next_call=SAME_CALL,
        basis="inferred",
    ),
    "bad_snapshot_version": Row(
        cause="400, invalid `API-Snapshot-Version`",
        action="fix_input",
        fault="caller",
        retryable=False,
        fix_fields=("snapshot_version",),
        summary="The service rejected snapshot_version (HTTP 400): it must be a positive release number.",
        next_step="Correct snapshot_version, or leave it out to use the latest release, then call again.",
    ),
    "session_pair": Row(
        cause="400, session id and key not sent together",
        action="login",
        fault="caller",
        retryable=False,
        summary="The service received only half of a login session (HTTP 400): it needs the session id and its key.",
        next_step="Call login for this API to get a fresh session handle, then call again with it.",
        next_call=NextCallSpec(tool="login", arguments={"scraper_id": Arg("scraper_id")}),
    ),
    "bad_request": Row(
        cause="400, any other reason",
        action="report_bug",
        fault="client",
        retryable=False,
        summary="{service} called the request malformed (HTTP 400); this server built it, so the bug is here.",
        next_step="Do not retry; report the failure with error.request_id.",
    ),
    "unauthorized": Row(
        cause="401, key missing, invalid or expired",
        action="ask_user",
        fault="account",
        retryable=False,
        summary="{service} refused the API key (HTTP 401): it is missing, invalid or expired.",
        next_step="Ask the user to check {key_variable} in this server's environment; do not retry until it is fixed.",
    ),
    "session_expired": Row(
        cause="401, login session expired",
        action="login",
        fault="caller",
        retryable=False,
        summary="The login session has expired (HTTP 401).",
        next_step=(
            "Call login for this API again (at most 3 attempts an hour), then repeat the call with the new session."
        ),
        next_call=NextCallSpec(tool="login", arguments={"scraper_id": Arg("scraper_id")}),
    ),
    "credits_exhausted": Row(
        cause="402",
        action="ask_user",
        fault="account",
        retryable=False,
        summary="The {service} account has run out of credits (HTTP 402){tier_phrase}.",
        next_step="Tell the user the credits are exhausted{tier_phrase}; make no more paid calls until they top up.",
    ),
    "forbidden": Row(
        cause="403",
        action="ask_user",
        fault="account",
        retryable=False,
        summary="The account's plan does not allow this call (HTTP 403).",
        next_step="Tell the user their plan does not allow this call; do not retry.",
    ),
    "id_not_found": Row(
        cause='404 `{"error": "Scraper with ID … not found"}`',
        action="check_id",
        fault="caller",
        retryable=False,
        summary="No API with id {scraper_id}{version_phrase} exists for this key (HTTP 404).",
        next_step="Look the id up with list_apis and call again with an id from there.",
        next_call=NextCallSpec(tool="list_apis"),
        instead_when_found=Instead(
            evidence="scraper_for_task",
            summary=(
                "{scraper_id} is a task id, not a scraper id (HTTP 404); the API that task built is {scraper_for_task}."
            ),
            next_step="Call again with scraper_id {scraper_for_task} (the task's result_scraper_id).",
            next_call=NextCallSpec(same_arguments=True, arguments={"scraper_id": Found("scraper_for_task")}),
        ),
    ),
    "path_not_found": Row(
        cause='404 `{"detail": "Not Found"}`',
        action="report_bug",
        fault="client",
        retryable=False,
        summary="{service} says the path does not exist (HTTP 404 Not Found): this server called a wrong URL.",
        next_step="Do not retry; report it with error.request_id, and check the base URL setting if it was changed.",
    ),
    "unexpected_status": Row(
        cause="any other HTTP status",
        action="report_bug",
        fault="client",
        retryable=False,
        summary="{service} answered HTTP {http}, which its documentation does not describe for this call.",
        next_step="Do not retry; report it with error.request_id.",
    ),
    "service_unavailable": Row(
        cause="5xx without an envelope (proxy page, gateway timeout)",
        action="retry_later",
        fault="service",
        retryable=True,
        repeat="reads",
        wait=Wait(default_seconds=SERVICE_BACKOFF_SECONDS),
        summary="{service} itself failed (HTTP {http} without its error envelope, such as a gateway error).",
        next_step=_WAIT_NOW,
        next_call=SAME_CALL,
    ),
    "network_read": Row(
        cause="connection failure or timeout (reads)",
        action="retry_later",
        fault="network",
        retryable=True,
        wait=Wait(default_seconds=NETWORK_BACKOFF_SECONDS),
        summary="No answer from {service}: {network_phrase}.",
        next_step=_WAIT_NOW,
        next_call=SAME_CALL,
    ),
    "network_write": Row(
        cause="timeout or broken answer on a build or revision",
        action="do_not_retry",
        fault="network",
        retryable=False,
        summary="No answer from {service}, and the request may have started work that is charged.",
        next_step="Do not repeat it: call list_tasks to see whether it was created before trying again.",
        next_call=NextCallSpec(tool="list_tasks"),
    ),
    "unexpected_response": Row(
        cause="2xx body the API does not document",
        action="report_bug",
        fault="service",
        retryable=False,
        summary="{service} answered HTTP {http} with a body its documentation does not describe.",
        next_step="Do not retry; report it with error.request_id.",
    ),
    "login_limited": Row(
        cause="429 `limit_type: login`, or a 4th login within the hour (this server)",
        action="retry_later",
        fault="rate_limit",
        retryable=True,
        wait=Wait(default_seconds=3600.0),
        summary="Logins to this API are capped at 3 an hour for the whole account (the service counts every client's "
        "attempts together), and the cap is spent; the next attempt is allowed in {wait}.",
        next_step="Wait {wait}, then call login again; meanwhile reuse a session handle you already have.",
    ),
    "login_refused": Row(
        cause="502 `upstream_error` 401 or 403 on `login`",
        action="ask_user",
        fault="caller",
        retryable=False,
        summary="The site refused these credentials (HTTP {upstream} on login).",
        next_step="Ask the user for the right credentials; each attempt counts against 3 logins an hour.",
    ),
    "login_declined": Row(
        cause="the user declined or cancelled the login form (this server)",
        action="ask_user",
        fault="caller",
        retryable=False,
        summary="The user closed the login form for API {scraper_id} without logging in{kind_phrase}: nothing was "
        "sent, and none of the 3 logins an hour was spent.",
        next_step="Ask the user whether they want to log in; call login again only if they say so.",
        basis="this server",
    ),
    "listing_not_found": Row(
        cause="404 on a marketplace listing id or slug",
        action="check_id",
        fault="caller",
        retryable=False,
        summary="No marketplace listing has the id or slug {listing} (HTTP 404).",
        next_step="Find the listing with search_marketplace and call again with its id or slug.",
        next_call=NextCallSpec(tool="search_marketplace"),
    ),
    "task_not_found": Row(
        cause="404 on a dispatch task id",
        action="check_id",
        fault="caller",
        retryable=False,
        summary="No task with id {task_id} exists for this key (HTTP 404).",
        next_step="Look the id up with list_tasks and call again with an id from there.",
        next_call=NextCallSpec(tool="list_tasks"),
    ),
    "task_not_ready": Row(
        cause="409 on `revise_api`: the task has no API yet",
        action="wait_for_completion",
        fault="caller",
        retryable=True,
        summary="Task {task_id} has no API to revise yet (HTTP 409): its build has not completed.",
        next_step="Call wait_for_task until it completes, then revise it.",
        next_call=NextCallSpec(tool="wait_for_task", arguments={"task_id": Arg("task_id")}),
        basis="inferred",
    ),
    "parser_bad_request": Row(
        cause="AI Parser 400, and the parser's status (read after it) is neither GENERATING nor FAILED",
        action="fix_input",
        fault="caller",
        retryable=False,
        fix_fields="arguments_named",
        summary="{service} refused the request (HTTP 400): {fields_phrase} not valid.",
        next_step="Correct {fields_or_input} (error.message says what is expected), then call again.",
        decided_by_status={"GENERATING": "parser_generating", "FAILED": "parser_failed"},
    ),
    "parser_not_found": Row(
        cause="AI Parser 404: no such parser or version",
        action="check_id",
        fault="caller",
        retryable=False,
        summary="No parser with id {parser_id}{version_phrase} exists for this key (HTTP 404).",
        next_step="Look the id up with list_parsers and call again with an id from there.",
        next_call=NextCallSpec(tool="list_parsers"),
    ),
    "parser_generating": Row(
        cause="AI Parser 400, and the parser's status reads GENERATING",
        action="wait_for_completion",
        fault="caller",
        retryable=True,
        summary="Parser {parser_id}{version_phrase} is still generating and cannot be used yet (HTTP 400).",
        next_step="Call wait_for_parser until it is FINISHED, then make this call again.",
        next_call=NextCallSpec(
            tool="wait_for_parser", arguments={"parser_id": Arg("parser_id")}, optional={"version": IntArg("version")}
        ),
        basis="inferred",
    ),
    "parser_failed": Row(
        cause="AI Parser 400, and the parser's status reads FAILED",
        action="recreate_parser",
        fault="caller",
        retryable=False,
        summary="Parser {parser_id}{version_phrase} failed to generate, so it cannot be used (HTTP 400).",
        next_step="Read why in error.message (the service's words), then create a new parser with other example URLs "
        "or scraper_params (it costs 30,000 credits: confirm with the user first).",
        basis="inferred",
    ),
    "extraction_failed": Row(
        cause="AI Parser 500 on `parse_url`: extraction failed",
        action="retry_later",
        fault="target_site",
        retryable=True,
        wait=Wait(default_seconds=UPSTREAM_BACKOFF_SECONDS),
        fix_fields="render_unless_set",
        summary="{service} could not extract data from that URL (HTTP 500){render_phrase}.",
        next_step="Wait {wait} and call again{render_step}; if it keeps failing, check the URL is the same page type "
        "as the parser's examples.",
        next_call=NextCallSpec(same_arguments=True, arguments={"scraper_params": SCRAPER_PARAMS_WITH_RENDER}),
    ),
    "missing_key": Row(
        cause="no key configured (this server)",
        action="ask_user",
        fault="account",
        retryable=False,
        summary="No {service} API key is configured on this server.",
        next_step="Ask the user to set {key_variable} in this server's environment, or to start it with "
        "`parse-mcp --sandbox` to rehearse without an account.",
        basis="this server",
    ),
    "invalid_arguments": Row(
        cause="arguments refused by this server's checks",
        action="fix_input",
        fault="caller",
        retryable=False,
        fix_fields="named_in_record",
        summary="The arguments were refused before anything was sent: {local_message}",
        next_step="Correct {fields_or_input} and call again.",
        next_call=NextCallSpec(tool="describe_api", arguments={"scraper_id": Arg("scraper_id")}),
        basis="this server",
    ),
    "unknown_endpoint": Row(
        cause="endpoint not in the API's schema (this server)",
        action="fix_input",
        fault="caller",
        retryable=False,
        fix_fields=("endpoint",),
        summary="API {scraper_id} has no endpoint named {endpoint}; {endpoints_phrase}.",
        next_step="Call again with one of its endpoint names (describe_api shows them and their parameters).",
        next_call=NextCallSpec(tool="describe_api", arguments={"scraper_id": Arg("scraper_id")}),
        basis="this server",
    ),
    "unknown_session": Row(
        cause="session handle unknown or expired (this server)",
        action="login",
        fault="caller",
        retryable=False,
        summary="The session handle is unknown to this server, has expired, or belongs to another client "
        "(a handle works only for the client that logged in).",
        next_step="Call login for this API to get a new session handle, then call again with it.",
        next_call=NextCallSpec(tool="login", arguments={"scraper_id": Arg("scraper_id")}),
        basis="this server",
    ),
    "unknown_result": Row(
        cause="result_id not given to this client (this server)",
        action="check_id",
        fault="caller",
        retryable=False,
        fix_fields=("result_id",),
        summary="This server gave this client no result with that result_id: a kept answer is read only by the "
        "client whose call was cut, and an id from elsewhere is worth nothing.",
        next_step="Use the result_id from the meta of one of your own cut results (there is no list of kept answers "
        "to look it up in).",
        basis="this server",
    ),
    "result_expired": Row(
        cause="the kept answer expired or was dropped for room (this server)",
        action="change_input",
        fault="caller",
        retryable=False,
        summary="The answer kept under this result_id is gone: answers are kept for 15 minutes, and the oldest go "
        "first when this server needs the room.",
        next_step="To see the rest, make the original call again ({rerun_phrase}), then read its pages with "
        "read_result.",
        basis="this server",
    ),
    "spend_limit_reached": Row(
        cause="a call would pass a daily credit limit set by the user (this server)",
        action="ask_user",
        fault="account",
        retryable=True,
        wait=Wait(),
        summary="Nothing was sent: {local_message}",
        next_step="Tell the user the day's credit limit is reached; it resets at 00:00 UTC (in {wait}), or they can "
        "raise the variable named above.",
        basis="this server",
    ),
    "spend_declined": Row(
        cause="the user declined the spend in the confirmation form (this server)",
        action="ask_user",
        fault="caller",
        retryable=False,
        summary="The user did not agree to the credits this call would spend, so nothing was sent and nothing spent.",
        next_step="Ask the user what they want instead; do not make the same call again unless they agree to it.",
        basis="this server",
    ),
    "spend_price_unknown": Row(
        cause="another call is learning this endpoint's price under a credit limit (this server)",
        action="retry_later",
        fault="account",
        retryable=True,
        wait=Wait(default_seconds=1.0),
        summary="Nothing was sent: a credit limit is set and another call to this endpoint is finding out its "
        "price, which this call could not wait for.",
        next_step=_WAIT_NOW,
        next_call=SAME_CALL,
        basis="this server",
    ),
    "state_unavailable": Row(
        cause="the shared state (Redis) did not answer (this server)",
        action="retry_later",
        fault="service",
        retryable=True,
        wait=Wait(default_seconds=STATE_BACKOFF_SECONDS),
        summary="This server's shared state (Redis) did not answer, so it cannot tell what it holds for this call "
        "(such as a session); nothing was sent to {service} and nothing was spent.",
        next_step=_WAIT_NOW,
        next_call=SAME_CALL,
        basis="this server",
    ),
    "internal_error": Row(
        cause="this server failed",
        action="report_bug",
        fault="client",
        retryable=False,
        summary="This server failed while handling the call; nothing suggests the call itself was wrong.",
        next_step="Do not retry; report it (the server's log on stderr has the details).",
        basis="this server",
    ),
}


# -- applying a row --------------------------------------------------------------------------------------


def guide(record: ErrorRecord, context: CallContext, *, repeats: int = 0) -> Failure:
    """The one decision about a failure: pure, total over `ErrorCode`, never raises, the same steps for every
    row. Its inputs are all there is to know:

    - `record`: what happened (a reply classified, a transport fault, or a local refusal);
    - `context`: the call (tool, arguments, what is listed) and the evidence read for it, where the row asks
      for any: a status the evidence read may hand the record to another row (`decided_code`), and then the
      status document's own words on why replace the reply's message;
    - `repeats`: how many times in a row this client's call has now failed this way (the breaker's count,
      taken with `decided_code`): from `STOP_AFTER`, the verdict is to stop and ask the user.
    """
    code = decided_code(record.code, context.evidence)
    if code != record.code:
        changes: dict[str, object] = {"code": code}
        if context.evidence.parser_error is not None:
            changes["message"] = context.evidence.parser_error
        record = record.model_copy(update=changes)
    row = ROWS[code]
    wait = _wait(row, record)
    fix_fields = _fix_fields(row, record, context)
    values = _values(record, context, wait, fix_fields)
    summary, next_step, next_call = row.summary, row.next_step, row.next_call
    instead = row.instead_when_found
    if instead is not None and Found(instead.evidence).value(record, context) is not None:
        summary, next_step, next_call = instead.summary, instead.next_step, instead.next_call
    prepared = next_call.build(record, context) if next_call is not None else None
    if prepared is not None and prepared.tool not in context.listed_tools:
        prepared = None
    if prepared is None and next_call is not None and row.next_step_without_call is not None:
        next_step = row.next_step_without_call
    failure = Failure(
        error=record,
        guidance=Guidance(
            action=row.action, fault=row.fault, retryable=row.retryable, retry_after_seconds=wait, fix_fields=fix_fields
        ),
        summary=summary.format_map(values),
        next_step=next_step.format_map(values),
        next_call=prepared,
    )
    return _stopped(failure, repeats) if repeats >= STOP_AFTER else failure


def decided_code(code: ErrorCode, evidence: Evidence) -> ErrorCode:
    """The row that applies: `code`'s own, or the one its row names for the status the evidence read."""
    status = evidence.parser_status
    if status is None:
        return code
    return ROWS[code].decided_by_status.get(status, code)


def _stopped(failure: Failure, count: int) -> Failure:
    """The breaker's verdict: the same call has failed the same way `count` times, so stop, and ask the user."""
    return Failure(
        error=failure.error,
        guidance=failure.guidance.model_copy(
            update={"action": "ask_user", "retryable": False, "retry_after_seconds": None}
        ),
        summary=f"This call has now failed {count} times in a row the same way ({failure.code}). {failure.summary}",
        next_step=(
            f"Stop repeating this call and ask the user how to go on; the advice for this failure was: "
            f"{failure.next_step}"
        ),
        next_call=None,
    )


def describe_for_revision(record: ErrorRecord, context: CallContext) -> str:
    """A sentence the revision service can act on: endpoint, input, status, error kind; no snippet."""
    named = _argument(context, "endpoint")
    endpoint = f"The {named} endpoint" if named else "An endpoint"
    shown = _params_for_revision(context.arguments.get("params"))
    kind = speakable(record.kind)
    if record.code == "upstream_auth":
        problem = f"the target site refuses the scraper with HTTP {record.upstream_status_code} (upstream_error)"
        want = "Update the stored credentials or request headers so the site accepts the scraper again."
    elif record.code == "blocked":
        problem = f"the site's bot protection blocks every proxy (blocked{', ' + kind if kind else ''})"
        want = "Make the scraper get past the site's protection reliably."
    else:
        problem = f"it fails with HTTP {record.http_status} ({kind or speakable(record.status) or record.code})"
        want = "Fix the endpoint so it returns data for valid input."
    return f"{endpoint} fails when called with {shown}: {problem}. {want}"


def _params_for_revision(params: JsonValue) -> str:
    """The call's params for a revision's description, as JSON: those whose names may be said and whose values
    are plain (a nested value may hold names of its own); the others are counted."""
    if not isinstance(params, dict) or not params:
        return "no parameters"
    named = {name: value for name, value in params.items() if speakable(name) and not isinstance(value, dict | list)}
    left_out = len(params) - len(named)
    shown = json.dumps(named, sort_keys=True, ensure_ascii=False)[:300]
    return shown + (f" and {left_out} more parameters" if left_out else "")


def _wait(row: Row, record: ErrorRecord) -> float | None:
    if row.wait is None:
        return None
    if record.retry_after is not None:
        return record.retry_after
    return row.wait.default_seconds


def _fix_fields(row: Row, record: ErrorRecord, context: CallContext) -> tuple[str, ...]:
    """The names to fix, each one we may say (`voice.field_name`): a declared parameter whose name may not be
    said is named by its place; any other unsayable name is left out."""
    named = _named_fields(row, record, context)
    return tuple(dict.fromkeys(name for name in map(field_name, named) if name is not None))


def _named_fields(row: Row, record: ErrorRecord, context: CallContext) -> tuple[str, ...]:
    rule = row.fix_fields
    if isinstance(rule, tuple):
        return rule
    if rule == "named_in_record":
        return record.fields
    if rule == "arguments_named":
        # Only a name the call itself has: a word of the service's message is never taken for a field.
        known = (*context.arguments, *context.evidence.known_params)
        return tuple(dict.fromkeys(n for n in known if n in record.fields or _mentions(record.message, n)))
    if rule == "render_unless_set":
        return () if _render_set(context) else ("scraper_params.render",)
    declared = context.evidence.known_params
    if not declared:
        return record.fields
    return tuple(
        speakable(name) or position(INPUT_PARAMS, index + 1)
        for index, name in enumerate(declared)
        if name in record.fields or _mentions(record.message, name)
    )


def _render_set(context: CallContext) -> bool:
    params = context.arguments.get("scraper_params")
    return isinstance(params, dict) and params.get("render") is True


def _mentions(message: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) is not None


def _values(
    record: ErrorRecord, context: CallContext, wait: float | None, fix_fields: tuple[str, ...]
) -> dict[str, str]:
    version = _argument(context, "snapshot_version") or _argument(context, "version")
    kind = speakable(record.kind)
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
        "fields_or_input": _fields_or_input(fix_fields),
        "kind_phrase": f" ({kind})" if kind else "",
        "limit_phrase": f" ({limit_type})" if (limit_type := speakable(record.limit_type)) else "",
        "tier_phrase": _tier_phrase(record),
        "network_phrase": _network_phrase(record),
        "endpoints_phrase": _endpoints_phrase(context.evidence.endpoint_names),
        "local_message": _sentence(record.message or "they do not match what the tool accepts"),
        "rerun_phrase": (
            "it costs its credits again"
            if record.rerun_credits is None
            else f"running it again costs about {record.rerun_credits} credits"
        ),
        "parser_id": _argument(context, "parser_id") or "given",
        "listing": _argument(context, "listing") or "given",
        "task_id": _argument(context, "task_id") or "given",
        "scraper_for_task": context.evidence.scraper_for_task or "unknown",
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


def _fields_or_input(fields: tuple[str, ...]) -> str:
    if not fields:
        return "the input"
    note = f" ({POSITION_NOTE})" if any(is_position(name) for name in fields) else ""
    return ", ".join(fields) + note


def _endpoints_phrase(names: tuple[str, ...]) -> str:
    """The API's endpoints for a sentence: named when every name may be said, else counted."""
    if not names:
        return "this server has not read its endpoints"
    shown = listed(names)
    if shown is not None:
        return f"its endpoints are: {shown}"
    return f"it has {counted(len(names), 'endpoint')}, and some of their names are not repeated here: see describe_api"


def _tier_phrase(record: ErrorRecord) -> str:
    """The next plan, from the service's 402: its name when it may be said, its credits and price when they
    are numbers (any other value is the service's text, shown only in `error.next_tier`)."""
    tier = record.next_tier or {}
    name = speakable(tier.get("display_name"))
    if name is None:
        return ""
    credits, price = _number(tier.get("credits")), _number(tier.get("price"))
    extra = f": {credits} credits for {price}" if credits is not None and price is not None else ""
    return f"; the next tier is {name}{extra}"


def _number(value: object) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)
    return None


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
    if isinstance(value, int):
        return str(value)
    return speakable(value)
