"""The server factory: which tools are listed, and the lifespan that owns the HTTP clients."""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, get_args

import anyio
import httpx2
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool as RegisteredTool
from mcp.types import (
    CallToolResult,
    Completion,
    CompletionArgument,
    CompletionContext,
    InputRequiredResult,
    Tool,
    ToolAnnotations,
)
from pydantic import ValidationError
from starlette.requests import HTTPConnection

from parse_mcp import __version__, metrics
from parse_mcp.errors import ConfigError, ErrorRecord
from parse_mcp.guidance import refusals
from parse_mcp.guidance.classify import classify_transport
from parse_mcp.guidance.table import Action
from parse_mcp.http_security import principal_of
from parse_mcp.json_types import JsonValue
from parse_mcp.policy.caller import LOCAL_CLIENT, acting_for
from parse_mcp.policy.deadline import DEFAULT_CALL_BUDGET_SECONDS, call_budget
from parse_mcp.policy.pacing import PROBE_TIMEOUT_SECONDS
from parse_mcp.policy.progress import CallProgress, reporting_progress
from parse_mcp.policy.retry import DEFAULT_RETRY, RetryPolicy
from parse_mcp.prompts import load_templates
from parse_mcp.results import ToolResult, render
from parse_mcp.runtime import REAL_TIME, Runtime
from parse_mcp.services.aiparser import AiParserClient
from parse_mcp.services.parsebot import ParseBotClient
from parse_mcp.settings import Settings
from parse_mcp.state import opened_stores
from parse_mcp.state.pacing import pacing_store
from parse_mcp.tools import aiparser, marketplace, pages, parsebot, resources, tasks, usage
from parse_mcp.tools.common import AppState, ToolCall, failure
from parse_mcp.tools.completions import MAX_VALUES, complete
from parse_mcp.tools.keeping import PAGED_TOOLS
from parse_mcp.voice import speakable

logger = logging.getLogger(__name__)

INSTRUCTIONS = f"""\
Runs and repairs Parse.bot scraper APIs and ScraperAPI AI parsers. Every result has the same shape: ok,
summary, next_step, next_call, and on failure guidance.action ({", ".join(get_args(Action))}).
Follow guidance.action; when next_call is set it is a ready call. Start with list_apis, then describe_api,
then execute_endpoint. Calls that spend credits are held to the user's daily limits (meta.credits_left_today),
and a big one asks the user first when this client can show a form."""


# `--toolsets` (contract section 1): named groups of tools, so a deployment can hand out a subset.
Toolset = Literal["apis", "tasks", "marketplace", "parsers"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolSpec:
    """One tool, said once: its function (whose name, signature and docstring the SDK reads), its title and
    annotations, its toolset, and whether a call starts paid work (then a call cut short may have started it)."""

    fn: Callable[..., Any]
    title: str
    annotations: ToolAnnotations
    toolset: Toolset | None
    creates_work: bool = False
    # A companion belongs to no toolset: it is listed whenever one of the tools it serves is.
    serves: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.fn.__name__


def _tool(
    fn: Callable[..., Any],
    title: str,
    toolset: Toolset | None,
    *,
    read_only: bool,
    idempotent: bool,
    destructive: bool = False,
    creates_work: bool = False,
    open_world: bool = True,
    serves: frozenset[str] = frozenset(),
) -> ToolSpec:
    # Every tool but a companion reaching only what this server keeps reaches the outside world (a service
    # that scrapes third-party sites).
    hints = ToolAnnotations(
        read_only_hint=read_only, destructive_hint=destructive, idempotent_hint=idempotent, open_world_hint=open_world
    )
    return ToolSpec(fn=fn, title=title, annotations=hints, toolset=toolset, creates_work=creates_work, serves=serves)


AIPARSER_TOOLS: tuple[ToolSpec, ...] = (
    # Creating spends 30,000 credits and makes a new parser each time: neither read-only nor idempotent.
    _tool(
        aiparser.create_parser, "Create an AI parser", "parsers", read_only=False, idempotent=False, creates_work=True
    ),
    _tool(aiparser.get_parser, "Show an AI parser", "parsers", read_only=True, idempotent=True),
    _tool(aiparser.list_parsers, "List AI parsers", "parsers", read_only=True, idempotent=True),
    _tool(aiparser.update_parser, "Change an AI parser's fields", "parsers", read_only=False, idempotent=False),
    # The one destructive tool: it is never offered in a next_call.
    _tool(aiparser.delete_parser, "Delete an AI parser", "parsers", read_only=False, idempotent=True, destructive=True),
    # Each parse spends credits: not read-only, whatever it leaves unchanged upstream.
    _tool(aiparser.parse_url, "Parse a URL with an AI parser", "parsers", read_only=False, idempotent=False),
    _tool(aiparser.wait_for_parser, "Wait for an AI parser", "parsers", read_only=True, idempotent=True),
)

PARSEBOT_TOOLS: tuple[ToolSpec, ...] = (
    # Executing may spend credits and, for POST endpoints, act on the site: not read-only, not idempotent.
    _tool(parsebot.execute_endpoint, "Run a Parse.bot endpoint", "apis", read_only=False, idempotent=False),
    _tool(parsebot.list_apis, "List Parse.bot APIs", "apis", read_only=True, idempotent=True),
    _tool(parsebot.describe_api, "Describe a Parse.bot API", "apis", read_only=True, idempotent=True),
    _tool(
        marketplace.search_marketplace,
        "Search the Parse.bot marketplace",
        "marketplace",
        read_only=True,
        idempotent=True,
    ),
    _tool(marketplace.get_marketplace_api, "Show a marketplace API", "marketplace", read_only=True, idempotent=True),
    # Builds and revisions start paid work on each call.
    _tool(tasks.create_api, "Build an API from a URL", "tasks", read_only=False, idempotent=False, creates_work=True),
    _tool(tasks.list_tasks, "List build tasks", "tasks", read_only=True, idempotent=True),
    _tool(tasks.get_task, "Show a build task", "tasks", read_only=True, idempotent=True),
    _tool(tasks.wait_for_task, "Wait for a build task", "tasks", read_only=True, idempotent=True),
    _tool(tasks.revise_api, "Revise an API", "tasks", read_only=False, idempotent=False, creates_work=True),
    _tool(tasks.check_updates, "Check marketplace updates", "marketplace", read_only=True, idempotent=True),
    _tool(tasks.preview_update, "Preview a marketplace update", "marketplace", read_only=False, idempotent=False),
    _tool(tasks.merge_updates, "Merge marketplace updates", "marketplace", read_only=False, idempotent=True),
    _tool(parsebot.login, "Log in to an authenticated API", "apis", read_only=False, idempotent=False),
)


# Reads what this server kept of a cut answer: no request, no credit; listed with the tools whose answers it pages.
COMPANION_TOOLS: tuple[ToolSpec, ...] = (
    _tool(
        pages.read_result,
        "Read the rest of a cut answer",
        None,
        read_only=True,
        idempotent=True,
        open_world=False,
        serves=PAGED_TOOLS,
    ),
)

TOOLSETS: Mapping[str, frozenset[str]] = {
    toolset: frozenset(spec.name for spec in (*PARSEBOT_TOOLS, *AIPARSER_TOOLS) if spec.toolset == toolset)
    for toolset in get_args(Toolset)
}
# Tools whose request starts paid work: a call cut short may still have started it.
CREATES_WORK = frozenset(spec.name for spec in (*PARSEBOT_TOOLS, *AIPARSER_TOOLS) if spec.creates_work)


def parse_toolsets(text: str | None) -> frozenset[str] | None:
    """`--toolsets apis,marketplace` as toolset names (None: every toolset); an unknown name is a
    `ConfigError` naming the ones that exist, so a typo never starts a server with fewer tools than meant."""
    if text is None:
        return None
    names = frozenset(name.strip() for name in text.split(",") if name.strip())
    choices = f"choose from {', '.join(TOOLSETS)}, separated by commas"
    if not names:
        raise ConfigError(f"--toolsets names no toolset: {choices}")
    unknown = sorted(names - TOOLSETS.keys())
    if unknown:
        raise ConfigError(f"unknown toolset {', '.join(unknown)}: {choices}")
    return names


def selected(specs: Sequence[ToolSpec], *, read_only: bool, toolsets: Collection[str] | None) -> tuple[ToolSpec, ...]:
    """The tools a server lists: in the chosen toolsets (all when None) and, under read-only, only the ones
    whose `readOnlyHint` is true. Both filters combine."""
    chosen = None if toolsets is None else frozenset().union(*(TOOLSETS[name] for name in toolsets))
    kept = tuple(
        spec
        for spec in specs
        if (chosen is None or spec.name in chosen) and (not read_only or spec.annotations.read_only_hint)
    )
    names = {spec.name for spec in kept}
    return kept + tuple(spec for spec in COMPANION_TOOLS if spec.serves & names)


class ParseMCPServer(MCPServer[AppState]):
    """`MCPServer` whose every tool result has the contract's shape, even a rejected or crashed call.

    The SDK answers argument-validation failures and crashes with plain text; agents would then see
    two result shapes. Here both become the structured result with `fix_input` or `report_bug`.
    """

    def __init__(
        self, *, listed_tools: frozenset[str], runtime: Runtime, call_budget_seconds: float, **options: Any
    ) -> None:
        super().__init__("parse-mcp", **options)
        self.listed_tools = listed_tools
        self.runtime = runtime
        self.call_budget_seconds = call_budget_seconds
        self.middleware.append(CallScope(self))
        self.completion()(self._complete)  # type: ignore[no-untyped-call]  # the SDK's decorator is unannotated

    async def _complete(
        self, _ref: object, argument: CompletionArgument, context: CompletionContext | None
    ) -> Completion:
        """Values for an argument being typed, from what this connection's clients have already read (the
        Parse.bot client of the message's lifespan, which `CallScope` hands over)."""
        known = (context.arguments if context is not None else None) or {}
        values = complete(_completing.get(), argument.name, argument.value, known)
        shown = values[:MAX_VALUES]
        return Completion(values=shown, total=len(values), has_more=len(values) > len(shown))

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[AppState, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        """The SDK's call, with a rejected or crashed one shaped as the contract's result too."""
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            logger.exception("tool %s crashed", name)
            return self._shape(name, arguments, refusals.internal_error())
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                return self._shape(name, arguments, _argument_record(exc.__cause__))
            if name not in self.listed_tools:
                message = f"There is no tool named {name[:80]!r}; list the tools to see which exist."
                return self._shape(name, {}, refusals.invalid_arguments(message, "name"))
            raise

    def answer_late(self, name: str, arguments: Mapping[str, Any]) -> CallToolResult:
        """The answer to a call that outlived its budget: the guidance of a request that ran out of time."""
        logger.warning("tool %s outlived its %.0f s budget", name, self.call_budget_seconds)
        return self._shape(name, arguments, classify_transport("deadline", creates_work=name in CREATES_WORK))

    async def list_tools(self) -> list[Tool]:
        """The tools with their input schemas (derived by the SDK from the arguments) compacted, and the one
        output schema every tool shares: `ToolResult`'s, compacted."""
        return [
            tool.model_copy(
                update={"input_schema": compact_schema(tool.input_schema), "output_schema": output_schema()}
            )
            for tool in await super().list_tools()
        ]

    def _shape(self, name: str, arguments: Mapping[str, Any], record: ErrorRecord) -> CallToolResult:
        # Credentials are never echoed back (a next_call repeating the call would carry the password).
        safe: dict[str, JsonValue] = {k: v for k, v in arguments.items() if isinstance(k, str) and k not in PRIVATE}
        return render(failure(record, self.listed_tools, ToolCall(name, safe)))


# The Parse.bot client of the connection a `completion/complete` arrived on, while it is answered.
_completing: ContextVar[ParseBotClient | None] = ContextVar("parse_mcp_completing", default=None)


class CallScope:
    """The per-message context, as the SDK's context-tier middleware (`ServerMiddleware`): each `tools/call`
    runs for one client, under one time budget (contract section 5), its waits reported through one
    `CallProgress` (so values a client receives only increase); a `completion/complete` gets its connection's
    Parse.bot client. The budget is enforced where a call waits or sends; the backstop here answers even if
    something else should ever hang."""

    def __init__(self, server: ParseMCPServer) -> None:
        self._server = server

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "completion/complete":
            # The SDK hands a completion handler the request's arguments only: the client it reads goes along.
            state: AppState = ctx.lifespan_context
            token = _completing.set(state.parsebot)
            try:
                return await call_next(ctx)
            finally:
                _completing.reset(token)
        if ctx.method == "resources/read":
            # A resource reads whose it is, as a tool does (kept answers, usage), and a static one its state.
            with acting_for(client_of(ctx.request)), usage.reading(ctx.lifespan_context):
                return await call_next(ctx)
        if ctx.method != "tools/call":
            return await call_next(ctx)
        server = self._server
        budget = server.call_budget_seconds
        progress = CallProgress(ctx.session.report_progress, server.runtime.clock)
        params = ctx.params or {}
        with (
            acting_for(client_of(ctx.request), str(params.get("name", ""))),
            call_budget(server.runtime.clock(), budget),
            reporting_progress(progress),
            anyio.move_on_after(budget + BACKSTOP_GRACE_SECONDS),
        ):
            return observed(server, params, await call_next(ctx))
        arguments = params.get("arguments")
        late = server.answer_late(str(params.get("name", "")), arguments if isinstance(arguments, dict) else {})
        return observed(server, params, late)


def observed(server: ParseMCPServer, params: Mapping[str, Any], result: HandlerResult) -> HandlerResult:
    """Every tool call's answer, counted (`metrics`: by tool and code, once HTTP serving installed them) and put on
    the SDK's span of the call: here, where refusals of arguments, crashes and late answers pass too."""
    name = params.get("name")
    tool = name if isinstance(name, str) and name in server.listed_tools else metrics.UNKNOWN_TOOL
    if isinstance(result, CallToolResult):
        metrics.tool_called(tool, result.structured_content)
    elif isinstance(result, dict) and isinstance(result.get("structuredContent"), dict):
        metrics.tool_called(tool, result["structuredContent"])
    return result


PRIVATE = frozenset({"credentials"})
BACKSTOP_GRACE_SECONDS = 1.0


def client_of(request: object) -> str:
    """Whose call this is, as a short name that reveals nothing: the bearer token's principal over HTTP,
    else the MCP session (the legacy era's `Mcp-Session-Id`), else the one local client (stdio, in-memory,
    or a sessionless HTTP request without a token, which has no identity to tell apart)."""
    principal = principal_of(request)
    if principal is not None:
        return principal
    session_id = request.headers.get("mcp-session-id") if isinstance(request, HTTPConnection) else None
    if session_id:
        return "mcp-session:" + hashlib.sha256(session_id.encode()).hexdigest()[:16]
    return LOCAL_CLIENT


@functools.cache
def output_schema() -> dict[str, Any]:
    """What `tools/list` advertises as every tool's outputSchema: `ToolResult`'s JSON schema, compacted."""
    return compact_schema(ToolResult.model_json_schema())


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema as pydantic writes it, minus what only repeats and costs every agent context on every turn:
    `title` keys (they restate the names), the root's `description` (a model's docstring: the tool has its own
    description), `"default": null` and `additionalProperties: true` (both what JSON Schema assumes anyway).

    Nullable values keep pydantic's `anyOf [X, {"type": "null"}]`: the shorter `type: [X, "null"]` is legal
    but less portable (the MCP Inspector's `--strict` check warns that single-`type` dialects, such as Gemini's
    function declarations, reject it or drop the constraint), and it is wrong beside an `enum` without null.
    """

    def compact(node: object) -> object:
        if isinstance(node, list):
            return [compact(item) for item in node]
        if not isinstance(node, dict):
            return node
        return {
            key: compact(value)
            for key, value in node.items()
            if not (key == "title" and isinstance(value, str))
            and not (key == "default" and value is None)
            and not (key == "additionalProperties" and value is True)
        }

    compacted = compact({key: value for key, value in schema.items() if key != "description"})
    assert isinstance(compacted, dict)
    return compacted


def _argument_record(error: ValidationError) -> ErrorRecord:
    problems: list[str] = []
    fields: list[str] = []
    for item in error.errors()[:8]:
        # A key inside an object argument is the caller's text: said only when it is a name (see `voice`).
        where = ".".join(speakable(str(part)) or "…" for part in item["loc"]) or "arguments"
        fields.append(where)
        problems.append(f"{where}: {item['msg']}")
    message = "; ".join(problems)[:300] + "."
    return refusals.invalid_arguments(message, *dict.fromkeys(fields))


# Each tool's registration, by name (a `ToolSpec` holds a pydantic model, which cannot be hashed).
_REGISTERED: dict[str, RegisteredTool] = {}


def _registration(spec: ToolSpec) -> RegisteredTool:
    """The SDK's description of one tool: its argument model and input schema, read from the function's signature
    and docstring. Built once a process, not once a server: nothing in it depends on the server, and building it is
    most of what building a server costs (22 ms of the 24 ms it took with 22 tools; tests build hundreds of servers)."""
    if spec.name not in _REGISTERED:
        _REGISTERED[spec.name] = RegisteredTool.from_function(
            spec.fn,
            title=spec.title,
            description=inspect.cleandoc(spec.fn.__doc__ or ""),
            annotations=spec.annotations,
            # Every tool returns a `CallToolResult` whose structuredContent is a `ToolResult`: one output schema,
            # derived once (`output_schema`), instead of the SDK deriving the same one again for each tool.
            structured_output=False,
        )
    return _REGISTERED[spec.name]


def build_server(
    settings: Settings,
    *,
    parsebot_transport: httpx2.AsyncBaseTransport | None = None,
    aiparser_transport: httpx2.AsyncBaseTransport | None = None,
    runtime: Runtime = REAL_TIME,
    retry: RetryPolicy = DEFAULT_RETRY,
    call_budget_seconds: float = DEFAULT_CALL_BUDGET_SECONDS,
    probe_timeout_seconds: float = PROBE_TIMEOUT_SECONDS,
    read_only: bool = False,
    toolsets: Collection[str] | None = None,
) -> ParseMCPServer:
    """The server for `settings`. `read_only` and `toolsets` (names from `TOOLSETS`) narrow the tools listed;
    a tool not listed is not registered at all, so calling it is refused like any unknown tool.
    `probe_timeout_seconds` is how long a first call holds the others back while the rate-limit budget is
    unknown (`parse_mcp.policy.pacing.PROBE_TIMEOUT_SECONDS`)."""
    unknown = sorted(set(toolsets or ()) - TOOLSETS.keys())
    if unknown:
        raise ConfigError(f"unknown toolset {', '.join(unknown)}: choose from {', '.join(TOOLSETS)}")
    # Parse.bot tools are always listed (without a key they answer ask_user, naming the variable to set);
    # AI Parser tools only with their key, so a Parse.bot-only setup does not pay for them in context.
    available = PARSEBOT_TOOLS + (AIPARSER_TOOLS if settings.scraperapi_key is not None else ())
    specs = selected(available, read_only=read_only, toolsets=toolsets)
    listed = frozenset(spec.name for spec in specs)
    if not specs:
        logger.warning("no tool is listed: the toolsets chosen have no tool this configuration offers")

    @asynccontextmanager
    async def lifespan(_server: MCPServer[AppState]) -> AsyncIterator[AppState]:
        # Memory, or Redis when the settings name it: chosen once, here, for the server's lifetime.
        async with opened_stores(settings, runtime.clock) as stores:
            ledger = metrics.counting(stores.ledger)  # counts charges and refusals for /metrics when serving HTTP
            parsebot_client = None
            aiparser_client = None
            if settings.parse_api_key is not None:
                parsebot_client = ParseBotClient.from_settings(
                    settings,
                    settings.parse_api_key,
                    transport=parsebot_transport,
                    runtime=runtime,
                    retry=retry,
                    pacing=pacing_store(stores, settings.parse_api_key, runtime, probe_timeout_seconds),
                    ledger=ledger,
                )
            if settings.scraperapi_key is not None:
                aiparser_client = AiParserClient.from_settings(
                    settings,
                    settings.scraperapi_key,
                    transport=aiparser_transport,
                    runtime=runtime,
                    retry=retry,
                    pacing=pacing_store(stores, settings.scraperapi_key, runtime, probe_timeout_seconds),
                    ledger=ledger,
                )
            try:
                yield AppState(
                    settings,
                    parsebot_client,
                    aiparser_client,
                    stores.sessions,
                    stores.logins,
                    listed,
                    stores.streaks,
                    runtime,
                    stores.repairs,
                    stores.results,
                    ledger,
                )
            finally:
                for client in (parsebot_client, aiparser_client):
                    if client is not None:
                        await client.aclose()

    server = ParseMCPServer(
        listed_tools=listed,
        runtime=runtime,
        call_budget_seconds=call_budget_seconds,
        title="parse-mcp",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        tools=[_registration(spec) for spec in specs],
    )
    every_tool = [spec.name for spec in PARSEBOT_TOOLS + AIPARSER_TOOLS + COMPANION_TOOLS]
    for template in load_templates():
        # A prompt that walks an agent through a tool this server does not list would send it astray.
        if template.tools_named(every_tool) <= listed:
            server.add_prompt(template.as_prompt())
    # The schemas are Parse.bot's: with the Parse.bot tools left out, so is the resource that mirrors them.
    if listed & TOOLSETS["apis"]:
        server.resource(
            resources.API_SCHEMA_URI,
            title=resources.API_SCHEMA_TITLE,
            description=resources.API_SCHEMA_DESCRIPTION,
            mime_type="application/json",
        )(resources.api_schema)
    server.resource(
        usage.USAGE_URI, title=usage.USAGE_TITLE, description=usage.USAGE_DESCRIPTION, mime_type="application/json"
    )(usage.usage_today)
    if "read_result" in listed:
        server.resource(
            pages.RESULT_URI,
            title=pages.RESULT_TITLE,
            description=pages.RESULT_DESCRIPTION,
            mime_type="application/json",
        )(pages.first_page)
    return server
