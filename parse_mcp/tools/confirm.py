"""Asking the user before a call spends many credits: a form (elicitation) when the call is expected to cost at
least `PARSE_MCP_CONFIRM_CREDITS`, shown only by clients that declared they can show one. Without such a client
the daily limits alone govern (the tools' descriptions say so).

Each paid tool takes `agreed: Annotated[ElicitationResult[Any], Resolve(...)]`: the SDK runs the tool's resolver
before the tool (asking the user if the resolver returns a question), so a decline is known before anything is
reserved or sent. A resolver that asks nothing gives an accepted answer without data.

No `from __future__ import annotations` here: the SDK reads the resolvers' signatures at run time.
"""

from typing import Any

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, Elicit
from mcp.types import ClientCapabilities
from pydantic import BaseModel, Field

from parse_mcp.errors import CallFailed, RejectedLocally
from parse_mcp.guidance import refusals
from parse_mcp.json_types import JsonValue
from parse_mcp.policy.caller import current_client
from parse_mcp.services.spend import BUILD_CREDITS, PARSER_CREATE_CREDITS, Charge, parse_price
from parse_mcp.tools.common import AppState, state_of
from parse_mcp.voice import said


class GoAhead(BaseModel):
    """The one question of the form."""

    go_ahead: bool = Field(description="Spend these credits and make the call.")


def supports_form(capabilities: ClientCapabilities | None) -> bool:
    """Whether the client declared form elicitation (a bare `elicitation: {}`, from before modes, counts)."""
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def go_ahead(agreed: ElicitationResult[Any]) -> None:
    """Refuse (`spend_declined`) unless the user agreed, or was not asked; before anything is reserved or sent."""
    if not isinstance(agreed, AcceptedElicitation):
        raise RejectedLocally(refusals.spend_declined("declined" if agreed.action == "decline" else "cancelled"))
    if isinstance(agreed.data, GoAhead) and not agreed.data.go_ahead:
        raise RejectedLocally(refusals.spend_declined("declined"))


async def _question(ctx: Context[AppState, Any], tool: str, charge: Charge, expected: int) -> Elicit[GoAhead] | None:
    state = state_of(ctx)
    if expected < state.settings.confirm_credits:
        return None
    service = "ScraperAPI" if charge.service == "scraperapi" else "Parse.bot"
    left = ""
    if state.ledger.limits.any_for(charge.service):
        today = await state.ledger.spent_today(current_client())
        remaining = today.left_for(state.ledger.limits, charge.service)
        if remaining is not None:
            left = f" ({remaining:,} left today)"
    return Elicit(f"{tool} will spend about {expected:,} {service} credits{left}. Go ahead?", GoAhead)


async def _asked(
    ctx: Context[AppState, Any], tool: str, charge: Charge, expected: int | None = None
) -> Elicit[GoAhead] | None:
    if not supports_form(ctx.client_capabilities):
        return None
    state = state_of(ctx)
    client = state.aiparser if charge.service == "scraperapi" else state.parsebot
    if client is None:
        return None
    return await _question(ctx, tool, charge, expected if expected is not None else await client.expected(charge))


# -- one resolver a paid tool (named after the tool's arguments, which the SDK passes by name) -----------------


async def before_create_parser(ctx: Context[AppState, Any]) -> Elicit[GoAhead] | None:
    charge = Charge("scraperapi", "", "create_parser", price=PARSER_CREATE_CREDITS, told_by_header=False)
    return await _asked(ctx, "create_parser", charge)


async def before_parse_url(
    parser_id: str, ctx: Context[AppState, Any], scraper_params: Any = None
) -> Elicit[GoAhead] | None:
    sent: dict[str, JsonValue] = scraper_params.sent() if scraper_params is not None else {}
    price = parse_price(sent.get("render") is True, sent.get("premium") is True)
    return await _asked(ctx, "parse_url", Charge("scraperapi", parser_id, "parse", price=price, told_by_header=False))


async def before_create_api(ctx: Context[AppState, Any]) -> Elicit[GoAhead] | None:
    return await _asked(ctx, "create_api", Charge("parsebot", "", "build", price=BUILD_CREDITS, charged_later=True))


async def before_revise_api(task_id: str, ctx: Context[AppState, Any]) -> Elicit[GoAhead] | None:
    charge = Charge("parsebot", task_id, "revise", price=BUILD_CREDITS, charged_later=True)
    return await _asked(ctx, "revise_api", charge)


async def before_execute_endpoint(
    scraper_id: str, endpoint: str, ctx: Context[AppState, Any], snapshot_version: int | None = None
) -> Elicit[GoAhead] | None:
    """The question before an endpoint whose price (the last charge, else its listing's) reaches the threshold;
    none when its spec cannot be read now (the call then fails or runs on its own)."""
    parsebot = state_of(ctx).parsebot
    if parsebot is None or not supports_form(ctx.client_capabilities):
        return None
    try:
        spec = await parsebot.endpoint_spec(scraper_id, endpoint, snapshot_version)
    except CallFailed:
        return None
    tool = f"execute_endpoint ({said(endpoint, 'this endpoint')})"
    return await _asked(ctx, tool, parsebot.charge_of(scraper_id, spec))


async def before_preview_update(task_id: str, endpoint: str, ctx: Context[AppState, Any]) -> Elicit[GoAhead] | None:
    return await _asked(ctx, "preview_update", Charge("parsebot", task_id, f"preview:{endpoint}"))
