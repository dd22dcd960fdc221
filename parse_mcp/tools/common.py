"""What every tool adapter shares: the server's state, and the one place failures become results."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from parse_mcp.errors import CallFailed, ErrorRecord
from parse_mcp.guidance.table import ROWS, CallContext, guide, repeated
from parse_mcp.json_types import JsonValue
from parse_mcp.policy.breaker import STOP_AFTER, RepeatedFailures
from parse_mcp.results import Outcome, limit_size, render
from parse_mcp.runtime import Runtime
from parse_mcp.services.aiparser import AiParserClient
from parse_mcp.services.parsebot import ParseBotClient
from parse_mcp.sessions import LoginAttempts, SessionStore
from parse_mcp.settings import Settings

logger = logging.getLogger(__name__)

ClientT = TypeVar("ClientT")


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    key_variable: str


PARSEBOT = Service("Parse.bot", "PARSE_API_KEY")
AIPARSER = Service("ScraperAPI AI Parser", "SCRAPERAPI_API_KEY")


@dataclass
class AppState:
    """Owned by the server's lifespan: one of each per process (per connection in-memory)."""

    settings: Settings
    parsebot: ParseBotClient | None
    aiparser: AiParserClient | None
    sessions: SessionStore
    logins: LoginAttempts
    listed_tools: frozenset[str]
    breaker: RepeatedFailures
    runtime: Runtime


@dataclass
class Notes:
    """What an adapter learned during a call that sharpens the guidance if the call fails."""

    known_params: tuple[str, ...] = ()
    endpoint_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolCall:
    tool: str
    arguments: Mapping[str, JsonValue] = field(default_factory=dict)


def state_of(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


# Who is calling: what belongs to a client (its login sessions, its count of repeated failures) is kept
# under this name. The server sets it for each tool call; "local" is the one client of stdio or in-memory.
LOCAL_CLIENT = "local"
_client: ContextVar[str] = ContextVar("parse_mcp_client", default=LOCAL_CLIENT)


def current_client() -> str:
    return _client.get()


@contextmanager
def acting_for(client: str) -> Iterator[None]:
    token = _client.set(client)
    try:
        yield
    finally:
        _client.reset(token)


async def run_parsebot(
    state: AppState, call: ToolCall, action: Callable[[ParseBotClient, Notes], Awaitable[Outcome]]
) -> CallToolResult:
    """Run one Parse.bot action and render its outcome; every `CallFailed` becomes guidance."""

    async def sharpen(context: CallContext, record: ErrorRecord, client: ParseBotClient) -> CallContext:
        return await _parsebot_context(state, call, context, record, client)

    return await _run(state, call, PARSEBOT, state.parsebot, action, sharpen)


async def run_aiparser(
    state: AppState, call: ToolCall, action: Callable[[AiParserClient, Notes], Awaitable[Outcome]]
) -> CallToolResult:
    """Run one AI Parser action and render its outcome; every `CallFailed` becomes guidance."""
    return await _run(state, call, AIPARSER, state.aiparser, action, None)


async def _run(
    state: AppState,
    call: ToolCall,
    service: Service,
    client: ClientT | None,
    action: Callable[[ClientT, Notes], Awaitable[Outcome]],
    sharpen: Callable[[CallContext, ErrorRecord, ClientT], Awaitable[CallContext]] | None,
) -> CallToolResult:
    notes = Notes()
    if client is None:
        return render(failure(ErrorRecord(code="missing_key"), state.listed_tools, call, notes, service))
    attempt = state.breaker.begin(current_client(), call.tool, call.arguments, state.runtime.clock())
    try:
        outcome = await action(client, notes)
    except CallFailed as exc:
        context = _base_context(state.listed_tools, call, notes, service)
        if sharpen is not None:
            context = await sharpen(context, exc.record, client)
        guidance = guide(exc.record, context)
        count = state.breaker.failed(attempt, exc.record.code, state.runtime.clock())
        if count >= STOP_AFTER:
            guidance = repeated(guidance, exc.record, count)
        outcome = Outcome.failure(exc.record, guidance, exc.meta)
        logger.info("%s failed: %s", call.tool, exc.record.code)
    else:
        state.breaker.succeeded(attempt)
        outcome = limit_size(outcome, state.settings.max_data_chars)
    return render(outcome)


def failure(
    record: ErrorRecord,
    listed_tools: frozenset[str],
    call: ToolCall,
    notes: Notes | None = None,
    service: Service = PARSEBOT,
) -> Outcome:
    """An outcome for a failure found without the service (a missing key, rejected arguments, a crash)."""
    return Outcome.failure(record, guide(record, _base_context(listed_tools, call, notes or Notes(), service)))


def _base_context(listed_tools: frozenset[str], call: ToolCall, notes: Notes, service: Service) -> CallContext:
    return CallContext(
        tool=call.tool,
        arguments=call.arguments,
        listed_tools=listed_tools,
        service=service.name,
        key_variable=service.key_variable,
        known_params=notes.known_params,
        endpoint_names=notes.endpoint_names,
    )


async def _parsebot_context(
    state: AppState, call: ToolCall, context: CallContext, record: ErrorRecord, client: ParseBotClient
) -> CallContext:
    """What the task list says, when the guidance needs a task id or a scraper id."""
    scraper_id = call.arguments.get("scraper_id")
    if not isinstance(scraper_id, str):
        return context
    try:
        if record.code == "id_not_found":
            return replace(context, scraper_for_task=await client.scraper_of_task(scraper_id))
        if ROWS[record.code].follow == "revise_api" and "revise_api" in state.listed_tools:
            return replace(context, task_id=await client.task_of_scraper(scraper_id))
    except CallFailed as exc:
        # The lookup only sharpens the guidance; without it the guidance is still right, just less specific.
        logger.info("task lookup for guidance failed: %s", exc.record.code)
    return context
