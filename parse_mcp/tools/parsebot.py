"""Parse.bot tools: thin adapters from MCP arguments to one client call and one `ToolResult`.

No `from __future__ import annotations` here: the SDK reads these signatures at run time to build
each tool's input schema.
"""

from typing import Annotated, Any

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.types import CallToolResult
from pydantic import AfterValidator, BaseModel, Field

from parse_mcp.errors import RejectedLocally
from parse_mcp.guidance import refusals
from parse_mcp.guidance.table import NextCall
from parse_mcp.json_types import JsonValue
from parse_mcp.policy.caller import current_client
from parse_mcp.results import ToolResult
from parse_mcp.services.login import LoggedIn, LoginWorkflow
from parse_mcp.services.parsebot import ParseBotClient
from parse_mcp.services.specs import MAX_OBJECT_KEYS, EndpointSpec, bounded_object, condensed, names
from parse_mcp.tools import confirm
from parse_mcp.tools.common import AppState, ToolCall, run_parsebot, state_of
from parse_mcp.tools.confirm import go_ahead, supports_form
from parse_mcp.tools.keeping import Fields
from parse_mcp.voice import counted, listed, said, speakable

ScraperId = Annotated[
    str,
    Field(min_length=1, max_length=200, description="The API's scraper id, from list_apis (a task id is not one)."),
]


async def execute_endpoint(
    scraper_id: ScraperId,
    endpoint: Annotated[str, Field(min_length=1, max_length=200, description="The endpoint's name.")],
    ctx: Context[AppState, Any],
    agreed: Annotated[ElicitationResult[Any], Resolve(confirm.before_execute_endpoint)],
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
    fields: Fields = None,
) -> Annotated[CallToolResult, ToolResult]:
    """Run one endpoint of a Parse.bot API and return its data. Spends the endpoint's price in credits.

    Use this to get data from your APIs or a marketplace API (preview_update runs an update not yet
    merged; parse_url is for ScraperAPI AI parsers). The server picks GET or POST from the endpoint's
    spec and checks params before any credit is spent. Ids from list_apis, parameters from describe_api.
    A big answer is cut to fit and the rest kept: read_result reads it, free. fields keeps only what you name.
    """
    state = state_of(ctx)
    arguments = _given(
        scraper_id=scraper_id,
        endpoint=endpoint,
        params=params,
        snapshot_version=snapshot_version,
        session=session,
        fields=_listed(fields),
    )

    async def run(client: ParseBotClient) -> ToolResult:
        go_ahead(agreed)
        outcome = await _workflow(state, client).run_endpoint(
            scraper_id, endpoint, params, snapshot_version=snapshot_version, session=session
        )
        if isinstance(outcome, LoggedIn):  # a login endpoint called directly: its session stays here too
            return _logged_in(outcome)
        summary = f"{said(endpoint, 'The endpoint')} returned {_shape(outcome.data)}."
        return ToolResult.success(summary, outcome.data, outcome.meta)

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
    arguments = _given(query=query or None)

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
    arguments = _given(scraper_id=scraper_id, version=version)

    async def run(client: ParseBotClient) -> ToolResult:
        api, meta = await client.describe_api(scraper_id, version)
        data: JsonValue = dict(api.raw)  # type: ignore[arg-type]
        # Endpoint names come from the service: only plain identifiers are repeated in our own sentences.
        shown = listed(names(api.endpoints)) if api.endpoints else None
        listing = f": {shown}" if shown else ""
        summary = f"API {said(scraper_id, 'given')} has {counted(len(api.endpoints), 'endpoint')}{listing}."
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
        return f"a list of {counted(len(data), 'item')}"
    if isinstance(data, dict):
        return f"an object with {counted(len(data), 'field')}"
    if data is None:
        return "no data"
    return f"a {type(data).__name__} value"


def _given(**arguments: JsonValue) -> dict[str, JsonValue]:
    """A call's arguments as given, for the breaker and the guidance: those left out (None) are not there."""
    return {name: value for name, value in arguments.items() if value is not None}


def _listed(fields: list[str] | None) -> list[JsonValue] | None:
    return None if fields is None else list(fields)


def _workflow(state: AppState, client: ParseBotClient) -> LoginWorkflow:
    """The login workflow for the client making this call."""
    return LoginWorkflow(client, state.sessions, state.logins, state.runtime.clock, current_client())


Credentials = Annotated[dict[str, Any], Field(max_length=MAX_OBJECT_KEYS), AfterValidator(bounded_object)]


async def ask_for_credentials(
    scraper_id: str, endpoint: str, credentials: dict[str, Any] | None, ctx: Context[AppState, Any]
) -> Elicit[BaseModel] | None:
    """The form that asks the user for the login endpoint's declared fields, so the password goes from the user
    to this server and never through the model; None when the call gives credentials, or no form can be shown
    (the client cannot elicit; or, `LoginWorkflow.form` says, the key, id or spec is unusable or the hourly
    logins are spent): `login` then works, or fails, without one."""
    state = state_of(ctx)
    if credentials is not None or state.parsebot is None or not supports_form(ctx.client_capabilities):
        return None
    form = await _workflow(state, state.parsebot).form(scraper_id, endpoint)
    return _elicit(scraper_id, endpoint, form)


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
    state = state_of(ctx)

    async def run(client: ParseBotClient) -> ToolResult:
        given = _credentials_given(asked, credentials)
        return _logged_in(await _workflow(state, client).log_in(scraper_id, endpoint, given))

    # The credentials are never part of what is echoed back (next_call, error, breaker key).
    return await run_parsebot(state, ToolCall("login", _given(scraper_id=scraper_id, endpoint=endpoint)), run)


def _credentials_given(
    asked: ElicitationResult[Any], credentials: dict[str, Any] | None
) -> dict[str, JsonValue] | None:
    """What the user typed into the form (under the declared names), else the `credentials` argument. A form
    closed without an answer is the user's last word: refused here, before anything is sent or any login
    attempt is spent."""
    if not isinstance(asked, AcceptedElicitation):
        raise RejectedLocally(refusals.login_declined("declined" if asked.action == "decline" else "cancelled"))
    if isinstance(asked.data, BaseModel):
        typed: dict[str, JsonValue] = asked.data.model_dump(mode="json", by_alias=True, exclude_none=True)
        return typed
    return credentials


def _logged_in(outcome: LoggedIn) -> ToolResult:
    next_call = None
    if outcome.protected is not None:
        arguments: dict[str, JsonValue] = {
            "scraper_id": outcome.scraper_id,
            "endpoint": outcome.protected,
            "params": {},
            "session": outcome.handle,
        }
        next_call = NextCall.offer("execute_endpoint", arguments)
    return ToolResult.success(
        f"Logged in to {said(outcome.scraper_id, 'the API')}; the session handle is {outcome.handle}.",
        outcome.data,
        outcome.meta,
        next_step="Pass session to execute_endpoint for the endpoints that need it.",
        next_call=next_call,
    )


# -- the login form (elicitation) ----------------------------------------------------------------------


def credentials_form(scraper_id: str, spec: EndpointSpec | None) -> Elicit[BaseModel] | None:
    """The login form of an endpoint spec (`EndpointSpec.login_form`, from the builder of its params check);
    None when it declares none, or one a form cannot ask."""
    return _elicit(scraper_id, spec.name if spec is not None else "", spec.login_form if spec is not None else None)


def _elicit(scraper_id: str, endpoint: str, form: type[BaseModel] | None) -> Elicit[BaseModel] | None:
    if form is None:
        return None
    message = (
        f"Log in to the Parse.bot API {said(scraper_id, 'you asked for')} ({said(endpoint, 'its login endpoint')}). "
        "What you type goes to this server and on to the API's login only; the assistant never sees it."
    )
    return Elicit(message, form)
