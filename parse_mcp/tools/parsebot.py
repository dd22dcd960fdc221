"""Parse.bot tools: thin adapters from MCP arguments to one client call and one `ToolResult`.

No `from __future__ import annotations` here: the SDK reads these signatures at run time to build
each tool's input schema.
"""

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.types import CallToolResult, ClientCapabilities
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from parse_mcp.errors import CallFailed, ErrorRecord, RejectedLocally
from parse_mcp.guidance import refusals
from parse_mcp.guidance.table import NextCall
from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Meta
from parse_mcp.results import ToolResult
from parse_mcp.services.parsebot import ParseBotClient, session_of
from parse_mcp.services.paths import path_segment
from parse_mcp.services.specs import (
    MAX_OBJECT_KEYS,
    EndpointSpec,
    ParamSpec,
    bounded_object,
    condensed,
    names,
)
from parse_mcp.state.sessions import SessionCredentials
from parse_mcp.tools.common import AppState, ToolCall, current_client, run_parsebot, state_of
from parse_mcp.voice import listed, said, speakable, visible

logger = logging.getLogger(__name__)

# The longest a login session is kept, whatever the service's `expires_in` says; the Redis store keeps a session
# that states no expiry as long.
LONGEST_SESSION_SECONDS = 7 * 24 * 3600

ScraperId = Annotated[
    str,
    Field(min_length=1, max_length=200, description="The API's scraper id, from list_apis (a task id is not one)."),
]


async def execute_endpoint(
    scraper_id: ScraperId,
    endpoint: Annotated[str, Field(min_length=1, max_length=200, description="The endpoint's name.")],
    ctx: Context[AppState, Any],
    params: Annotated[
        dict[str, Any],
        Field(
            default_factory=dict,
            max_length=MAX_OBJECT_KEYS,
            description="The endpoint's input parameters, as its input_params declare (see describe_api).",
        ),
        # Sizes and depth are checked against the endpoint's spec (check_params), naming the parameter.
    ],
    snapshot_version: Annotated[
        int | None, Field(description="Pin a marketplace release (a positive integer); omit for the latest.")
    ] = None,
    session: Annotated[
        str | None, Field(max_length=200, description="A session handle from login, for authenticated endpoints.")
    ] = None,
) -> Annotated[CallToolResult, ToolResult]:
    """Run one endpoint of a Parse.bot API and return its data. Spends the endpoint's price in credits.

    Use this to get data from your APIs or a marketplace API (preview_update runs an update not yet
    merged; parse_url is for ScraperAPI AI parsers). The server picks GET or POST from the endpoint's
    spec and checks params before any credit is spent. Ids from list_apis, parameters from describe_api.
    """
    given = params
    arguments: dict[str, JsonValue] = {"scraper_id": scraper_id, "endpoint": endpoint, "params": given}
    if snapshot_version is not None:
        arguments["snapshot_version"] = snapshot_version
    if session is not None:
        arguments["session"] = session
    state = state_of(ctx)

    async def run(client: ParseBotClient) -> ToolResult:
        credentials = None
        if session is not None:
            credentials = await state.sessions.get(current_client(), session, scraper_id)
            if credentials is None:
                raise RejectedLocally(refusals.unknown_session())
        data, meta = await client.run_endpoint(
            scraper_id, endpoint, given, snapshot_version=snapshot_version, session=credentials
        )
        session_made = session_of(data)
        if session_made is not None and isinstance(data, dict):
            # A login endpoint called directly: its session stays here, as with the login tool.
            return await _logged_in(state, scraper_id, data, session_made, meta, protected=None)
        return ToolResult.success(f"{said(endpoint, 'The endpoint')} returned {_shape(data)}.", data, meta)

    return await run_parsebot(state, ToolCall("execute_endpoint", arguments), run)


async def list_apis(
    ctx: Context[AppState, Any],
    query: Annotated[
        str | None, Field(max_length=200, description="Only APIs whose name, slug or id contains this text.")
    ] = None,
) -> Annotated[CallToolResult, ToolResult]:
    """List the Parse.bot APIs this key can call, with their endpoints in brief.

    Use this first to find a scraper_id and endpoint names; then describe_api for one API's full
    parameters, or execute_endpoint to call one.
    """
    arguments: dict[str, JsonValue] = {"query": query} if query else {}

    async def run(client: ParseBotClient) -> ToolResult:
        apis, meta = await client.list_apis()
        needle = (query or "").strip().lower()
        chosen = [a for a in apis if needle in f"{a.name} {a.slug} {a.scraper_id}".lower()]
        data: JsonValue = {"apis": [condensed(a) for a in chosen], "total": len(apis)}
        matching = f" matching {said(query, 'the query')}" if needle else ""
        summary = f"{len(chosen)} of {len(apis)} APIs{matching}."
        only = speakable(chosen[0].scraper_id) if len(chosen) == 1 else None
        if only is not None:
            return ToolResult.success(
                summary,
                data,
                meta,
                next_step="Call describe_api for this API's parameters, then execute_endpoint.",
                next_call=NextCall.offer("describe_api", {"scraper_id": only}),
            )
        next_step = (
            "Pick an API and call describe_api with its scraper_id."
            if chosen
            else "Call list_apis without a query to see every API."
        )
        return ToolResult.success(summary, data, meta, next_step=next_step)

    return await run_parsebot(state_of(ctx), ToolCall("list_apis", arguments), run)


async def describe_api(
    scraper_id: ScraperId,
    ctx: Context[AppState, Any],
    version: Annotated[
        int | None, Field(ge=1, description="A pinned marketplace release; omit for the latest.")
    ] = None,
) -> Annotated[CallToolResult, ToolResult]:
    """Show one Parse.bot API in full: each endpoint's method, input_params and return_schema.

    Use this before execute_endpoint to learn the exact parameters, their types, which are required
    and which values are allowed.
    """
    arguments: dict[str, JsonValue] = {"scraper_id": scraper_id}
    if version is not None:
        arguments["version"] = version

    async def run(client: ParseBotClient) -> ToolResult:
        api, meta = await client.describe_api(scraper_id, version)
        data: JsonValue = dict(api.raw)  # type: ignore[arg-type]
        # Endpoint names come from the service: only plain identifiers are repeated in our own sentences.
        shown = listed(names(api.endpoints)) if api.endpoints else None
        listing = f": {shown}" if shown else ""
        summary = f"API {said(scraper_id, 'given')} has {len(api.endpoints)} endpoints{listing}."
        ready = next(
            (e for e in api.endpoints if not any(p.required for p in e.params) and speakable(e.name) == e.name), None
        )
        if ready is not None:
            call_args: dict[str, JsonValue] = {"scraper_id": scraper_id, "endpoint": ready.name, "params": {}}
            if version is not None:
                call_args["snapshot_version"] = version
            return ToolResult.success(
                summary,
                data,
                meta,
                next_step="Call execute_endpoint with one of these endpoints and its parameters.",
                next_call=NextCall.offer("execute_endpoint", call_args),
            )
        return ToolResult.success(
            summary, data, meta, next_step="Call execute_endpoint with an endpoint and its required params."
        )

    return await run_parsebot(state_of(ctx), ToolCall("describe_api", arguments), run)


def _shape(data: JsonValue) -> str:
    if isinstance(data, list):
        return f"a list of {len(data)} items"
    if isinstance(data, dict):
        return f"an object with {len(data)} fields"
    if data is None:
        return "no data"
    return f"a {type(data).__name__} value"


Credentials = Annotated[dict[str, Any], Field(max_length=MAX_OBJECT_KEYS), AfterValidator(bounded_object)]


async def ask_for_credentials(
    scraper_id: str, endpoint: str, credentials: dict[str, Any] | None, ctx: Context[AppState, Any]
) -> Elicit[BaseModel] | None:
    """The form that asks the user for the login endpoint's declared fields, so the password goes from the user
    to this server and never through the model; None when the call gives credentials, or no form can be shown
    (the client cannot elicit, the key, id or spec is unusable, the hourly logins are spent): `login` then
    works, or fails, without one."""
    state = state_of(ctx)
    if credentials is not None or state.parsebot is None or not supports_form(ctx.client_capabilities):
        return None
    if await state.logins.wait_before_next(scraper_id, state.runtime.clock()) is not None:
        return None
    try:
        path_segment(scraper_id, "scraper_id")
        path_segment(endpoint, "endpoint")
        api = await state.parsebot.api_spec(scraper_id)
    except CallFailed:
        return None
    return credentials_form(scraper_id, api.endpoint(endpoint))


async def login(
    scraper_id: ScraperId,
    ctx: Context[AppState, Any],
    asked: Annotated[ElicitationResult[Any], Resolve(ask_for_credentials)],
    credentials: Annotated[
        Credentials | None,
        Field(
            description="What the login endpoint takes, e.g. username and password. Leave it out when this client "
            "can show the user a form (elicitation): the server then asks the user itself, so the password never "
            "passes through the conversation."
        ),
    ] = None,
    endpoint: Annotated[
        str, Field(min_length=1, max_length=200, description="The API's login endpoint (describe_api names it).")
    ] = "login",
) -> Annotated[CallToolResult, ToolResult]:
    """Log in to an authenticated Parse.bot API; returns a session handle for execute_endpoint.

    Use it when guidance says login. The session and its key stay in this server; the user types the
    credentials into a form when the client supports it. At most 3 attempts an hour per API: never
    guess credentials.
    """
    # The credentials are never part of what is echoed back (next_call, error, breaker key).
    arguments: dict[str, JsonValue] = {"scraper_id": scraper_id, "endpoint": endpoint}
    state = state_of(ctx)

    async def run(client: ParseBotClient) -> ToolResult:
        # A refused id must not spend one of the API's three logins an hour.
        path_segment(scraper_id, "scraper_id")
        path_segment(endpoint, "endpoint")
        now = state.runtime.clock()
        _refuse_when_capped(await state.logins.wait_before_next(scraper_id, now))
        given = _credentials_given(asked, credentials)
        if given is None:
            # A failure to read the API (a wrong key or id) says more than a missing argument: it goes first.
            api = await client.api_spec(scraper_id)
            raise RejectedLocally(_credentials_needed(api.endpoint(endpoint)))
        # Checked again as it is counted: another process may have taken the last attempt while the form was open.
        _refuse_when_capped(await state.logins.claim(scraper_id, now))
        answer, session_made, meta = await client.login(scraper_id, endpoint, given)
        protected = await _protected_endpoint(client, scraper_id)
        return await _logged_in(state, scraper_id, answer, session_made, meta, protected=protected)

    return await run_parsebot(state, ToolCall("login", arguments), run)


def _refuse_when_capped(wait: float | None) -> None:
    if wait is not None:
        raise RejectedLocally(refusals.login_limited(wait))


def _credentials_given(
    asked: ElicitationResult[Any], credentials: dict[str, Any] | None
) -> dict[str, JsonValue] | None:
    """What the user typed into the form, else the `credentials` argument; a form closed without an answer is
    the user's choice, refused here before anything is sent or any login attempt is spent."""
    if not isinstance(asked, AcceptedElicitation):
        raise RejectedLocally(refusals.login_declined("declined" if asked.action == "decline" else "cancelled"))
    if isinstance(asked.data, BaseModel):
        typed: dict[str, JsonValue] = asked.data.model_dump(mode="json", exclude_none=True)
        return typed
    return credentials


def _credentials_needed(spec: EndpointSpec | None) -> ErrorRecord:
    declared = [p.name for p in spec.params if speakable(p.name) == p.name] if spec is not None else []
    named = f" ({', '.join(declared)})" if declared else ""
    message = (
        f"credentials is required: no login form could be shown to the user, so ask the user for the login "
        f"endpoint's fields{named} and pass them."
    )
    return refusals.invalid_arguments(message, "credentials")


# -- the login form (elicitation) ----------------------------------------------------------------------

# Fields whose value is a secret: the form marks them `writeOnly` (JSON Schema's mark for a value never shown
# back), since the elicitation schema has no password format; a client may mask them.
_SECRET_WORDS = ("password", "passwd", "secret", "token", "pin", "otp", "passcode", "key")
# What a form can ask: the spec's primitive types (an array or object parameter cannot be typed into a form).
_FORM_TYPES: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool, "any": str}
_FORM_DESCRIPTION_LIMIT = 200


def supports_form(capabilities: ClientCapabilities | None) -> bool:
    """Whether the client declared form elicitation (a bare `elicitation: {}`, from before modes, counts)."""
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def credentials_form(scraper_id: str, spec: EndpointSpec | None) -> Elicit[BaseModel] | None:
    """A form with the fields the login endpoint declares (its input_params), built from its spec at run time;
    None when it declares none, or one a form cannot ask."""
    if spec is None or not spec.params or len(spec.params) > MAX_OBJECT_KEYS:
        return None
    fields: dict[str, Any] = {}
    for param in spec.params:
        if speakable(param.name) != param.name or not param.name.isidentifier() or param.name.startswith("_"):
            return None
        python_type = _FORM_TYPES.get(param.type)
        if python_type is None:
            return None
        fields[param.name] = _form_field(param, python_type)
    model = create_model("LoginCredentials", __config__=ConfigDict(extra="forbid", str_max_length=2000), **fields)
    message = (
        f"Log in to the Parse.bot API {said(scraper_id, 'you asked for')} ({said(spec.name, 'its login endpoint')}). "
        "What you type goes to this server and on to the API's login only; the assistant never sees it."
    )
    return Elicit(message, model)


def _form_field(param: ParamSpec, python_type: type) -> tuple[Any, Any]:
    secret = any(word in param.name.lower() for word in _SECRET_WORDS)
    extra: dict[str, Any] = {"writeOnly": True} if secret else {}
    description = visible(param.description)[:_FORM_DESCRIPTION_LIMIT] or None
    if param.required:
        return (python_type, Field(description=description, json_schema_extra=extra or None))
    return (python_type | None, Field(default=None, description=description, json_schema_extra=extra or None))


async def _logged_in(
    state: AppState,
    scraper_id: str,
    answer: dict[str, JsonValue],
    session: SessionCredentials,
    meta: Meta,
    *,
    protected: str | None,
) -> ToolResult:
    """Keep a login answer's session here, under a handle only this client can use; answer with the handle."""
    expires_at, clamped = _expiry(answer, state.runtime.clock())
    handle = await state.sessions.add(current_client(), scraper_id, session, expires_at)
    data: dict[str, JsonValue] = {"session": handle, "expires_at": _iso(expires_at), "data": answer.get("data")}
    if clamped:
        data["expires_in_clamped_to"] = LONGEST_SESSION_SECONDS
    next_call = None
    if protected is not None:
        next_call = NextCall.offer(
            "execute_endpoint", {"scraper_id": scraper_id, "endpoint": protected, "params": {}, "session": handle}
        )
    return ToolResult.success(
        f"Logged in to {said(scraper_id, 'the API')}; the session handle is {handle}.",
        data,
        meta,
        next_step="Pass session to execute_endpoint for the endpoints that need it.",
        next_call=next_call,
    )


async def _protected_endpoint(client: ParseBotClient, scraper_id: str) -> str | None:
    """A protected endpoint with no required parameters, to offer as the ready next call."""
    try:
        api = await client.api_spec(scraper_id)
    except CallFailed:
        return None
    ready = (
        e
        for e in api.endpoints
        if e.needs_session and not any(p.required for p in e.params) and speakable(e.name) == e.name
    )
    return next((e.name for e in ready), None)


def _expiry(answer: dict[str, JsonValue], now: float) -> tuple[float | None, bool]:
    """When the session ends by the service's `expires_in`, and whether that was clamped to
    `LONGEST_SESSION_SECONDS` (a figure past it, `1e12` or `inf` say, would overflow a date or a Redis TTL and
    lose the handle of a login that worked)."""
    expires_in = answer.get("expires_in")
    if not isinstance(expires_in, int | float) or isinstance(expires_in, bool) or not expires_in > 0:
        return None, False
    if expires_in > LONGEST_SESSION_SECONDS:  # also true for inf; NaN failed `> 0` above
        logger.warning(
            "login answer's expires_in is beyond %d s: the session is kept that long", LONGEST_SESSION_SECONDS
        )
        return now + LONGEST_SESSION_SECONDS, True
    return now + float(expires_in), False


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, tz=UTC).isoformat().replace("+00:00", "Z")
