"""What every tool adapter shares: the server's state, and the one place failures become results.

A failure goes: what happened (a reply classified, a transport fault, or a local refusal: an `ErrorRecord`)
-> the evidence (`tools.evidence`, optional: what the server can find out about the call's ids) -> the
breaker's count of this client's repeats -> `guide()`, which decides the `Failure` from all three, once.
The result is that failure, as it is."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from parse_mcp.errors import CallFailed, ErrorRecord
from parse_mcp.guidance import refusals
from parse_mcp.guidance.table import CallContext, Evidence, NextCall, decided_code, guide
from parse_mcp.json_types import JsonValue
from parse_mcp.policy.caller import current_client
from parse_mcp.policy.projection import FieldsError
from parse_mcp.results import ToolResult, limit_size, render
from parse_mcp.runtime import Runtime
from parse_mcp.services.aiparser import AiParserClient
from parse_mcp.services.parsebot import ParseBotClient
from parse_mcp.settings import Settings
from parse_mcp.state import (
    FailureStreaks,
    Ledger,
    LoginAttempts,
    RepairMemory,
    ResultStore,
    SessionStore,
    StateUnavailable,
)
from parse_mcp.state.ledger import Service as LedgerService
from parse_mcp.tools.evidence import aiparser_evidence, parsebot_evidence
from parse_mcp.tools.keeping import PAGED_TOOLS, fields_asked, keep_the_rest, projected

logger = logging.getLogger(__name__)

ClientT = TypeVar("ClientT")


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    key_variable: str
    ledger_name: LedgerService | None = None  # how the spend ledger names it; None for this server itself


PARSEBOT = Service("Parse.bot", "PARSE_API_KEY", "parsebot")
AIPARSER = Service("ScraperAPI AI Parser", "SCRAPERAPI_API_KEY", "scraperapi")
# What this server answers by itself, from what it keeps (no service is asked, no key is needed).
HERE = Service("this server", "")


@dataclass
class AppState:
    """Owned by the server's lifespan: one of each per process (per connection in-memory)."""

    settings: Settings
    parsebot: ParseBotClient | None
    aiparser: AiParserClient | None
    sessions: SessionStore
    logins: LoginAttempts
    listed_tools: frozenset[str]
    breaker: FailureStreaks
    runtime: Runtime
    repairs: RepairMemory
    results: ResultStore
    ledger: Ledger


@dataclass(frozen=True, slots=True)
class ToolCall:
    tool: str
    arguments: Mapping[str, JsonValue] = field(default_factory=dict)


def state_of(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


async def run_parsebot(
    state: AppState, call: ToolCall, action: Callable[[ParseBotClient], Awaitable[ToolResult]]
) -> CallToolResult:
    """Run one Parse.bot action and render its outcome; every `CallFailed` becomes guidance."""

    async def evidence(client: ParseBotClient, record: ErrorRecord) -> Evidence:
        return await parsebot_evidence(client, record, call.arguments, state.listed_tools)

    return await _run(state, call, PARSEBOT, state.parsebot, action, evidence)


async def run_aiparser(
    state: AppState, call: ToolCall, action: Callable[[AiParserClient], Awaitable[ToolResult]]
) -> CallToolResult:
    """Run one AI Parser action and render its outcome; every `CallFailed` becomes guidance."""

    async def evidence(client: AiParserClient, record: ErrorRecord) -> Evidence:
        return await aiparser_evidence(client, record, call.arguments)

    return await _run(state, call, AIPARSER, state.aiparser, action, evidence)


async def _run(
    state: AppState,
    call: ToolCall,
    service: Service,
    client: ClientT | None,
    action: Callable[[ClientT], Awaitable[ToolResult]],
    find_evidence: Callable[[ClientT, ErrorRecord], Awaitable[Evidence]] | None,
) -> CallToolResult:
    if client is None:
        return render(failure(refusals.missing_key(), state.listed_tools, call, service=service))
    try:
        asked = fields_asked(call.arguments)
    except FieldsError as refused:
        return render(
            failure(refusals.invalid_arguments(str(refused), "fields"), state.listed_tools, call, service=service)
        )
    attempt = await state.breaker.begin(current_client(), call.tool, call.arguments, state.runtime.clock())
    try:
        outcome = await action(client)
    except CallFailed as exc:
        evidence = await find_evidence(client, exc.record) if find_evidence is not None else Evidence()
        context = _context(state.listed_tools, call, service, evidence)
        # The breaker counts the row that applies, which the evidence may have decided; `guide` then takes the
        # count as one more input of its one decision.
        code = decided_code(exc.record.code, evidence)
        repeats = await state.breaker.failed(attempt, code, state.runtime.clock())
        decided = guide(exc.record, context, repeats=repeats)
        await _remember_for_repair(state, call, decided.next_call)
        outcome = ToolResult.failure(decided, exc.meta)
        logger.info("%s failed: %s", call.tool, decided.code)
    else:
        await state.breaker.succeeded(attempt)
        outcome = await _fitted(state, call, service, outcome, asked)
    outcome = await _with_credits_left(state, service, outcome)
    return render(offered_only_if_listed(outcome, state.listed_tools))


async def _with_credits_left(state: AppState, service: Service, outcome: ToolResult) -> ToolResult:
    """When a daily limit applies to the service, the outcome's meta says what is left of it today (the smallest,
    when the account's and the client's both apply)."""
    if service.ledger_name is None or not state.ledger.limits.any_for(service.ledger_name):
        return outcome
    today = await state.ledger.spent_today(current_client())
    left = today.left_for(state.ledger.limits, service.ledger_name)
    if left is None:
        return outcome
    return outcome.model_copy(update={"meta": outcome.meta.model_copy(update={"credits_left_today": left})})


async def _fitted(
    state: AppState, call: ToolCall, service: Service, outcome: ToolResult, asked: list[str] | None
) -> ToolResult:
    """A success as the agent gets it: the fields asked for, then cut to size, the rest kept to read by pages."""
    if asked is not None:
        outcome = projected(outcome, asked)
    fitted = limit_size(outcome, state.settings.max_data_chars)
    if not fitted.meta.truncated or call.tool not in PAGED_TOOLS or "read_result" not in state.listed_tools:
        return fitted
    return await keep_the_rest(
        state.results,
        current_client(),
        service=service.ledger_name or service.name,  # as the ledger names it: what re-running costs is read there
        tool=call.tool,
        arguments=call.arguments,
        whole=outcome.data,
        outcome=fitted,
        now=state.runtime.clock(),
    )


async def run_here(state: AppState, call: ToolCall, action: Callable[[], Awaitable[ToolResult]]) -> CallToolResult:
    """Run an action that asks no service (reading what this server keeps); a refusal becomes guidance."""
    try:
        outcome = await action()
    except CallFailed as exc:
        outcome = ToolResult.failure(guide(exc.record, _context(state.listed_tools, call, HERE, Evidence())), exc.meta)
    return render(offered_only_if_listed(outcome, state.listed_tools))


async def _remember_for_repair(state: AppState, call: ToolCall, prepared: NextCall | None) -> None:
    """When a failed endpoint call's guidance prepared a revision, remember the call: once that revision
    completes, it is the one to make again (`tools.tasks`). A memory that cannot be reached costs only that offer."""
    if call.tool != "execute_endpoint" or prepared is None or prepared.tool != "revise_api":
        return
    task_id = prepared.arguments.get("task_id")
    if not isinstance(task_id, str):
        return
    try:
        await state.repairs.remember(current_client(), task_id, {"tool": call.tool, "arguments": dict(call.arguments)})
    except StateUnavailable:
        logger.info("the call to repair could not be remembered")


def offered_only_if_listed(outcome: ToolResult, listed_tools: frozenset[str]) -> ToolResult:
    """The result without its next call, and the sentence asking for it, when this server does not list that
    tool: under `--read-only` or `--toolsets`, describe_api's ready execute_endpoint or a build's first call
    may name a tool this client cannot call. The guidance table checks its own calls; this covers the ones
    the tools build, in one place."""
    if outcome.next_call is None or outcome.next_call.tool in listed_tools:
        return outcome
    return outcome.model_copy(update={"next_call": None, "next_step": None})


def failure(
    record: ErrorRecord, listed_tools: frozenset[str], call: ToolCall, *, service: Service = PARSEBOT
) -> ToolResult:
    """An outcome for a failure found without the service (a missing key, rejected arguments, a crash)."""
    return ToolResult.failure(guide(record, _context(listed_tools, call, service, Evidence())))


def _context(listed_tools: frozenset[str], call: ToolCall, service: Service, evidence: Evidence) -> CallContext:
    return CallContext(
        tool=call.tool,
        arguments=call.arguments,
        listed_tools=listed_tools,
        service=service.name,
        key_variable=service.key_variable,
        evidence=evidence,
    )
