"""AI Parser tools (ScraperAPI): thin adapters from MCP arguments to one client call and one `ToolResult`.

A value read from the service appears in `summary`, `next_step` or `next_call` only when it is a safe
token (an id, a status) or a number; anything else it says (an error, the example URLs) stays in `data`,
which the text fences.

No `from __future__ import annotations` here: the SDK reads these signatures at run time.
"""

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, Resolve
from mcp.types import CallToolResult
from pydantic import BaseModel, ConfigDict, Field, model_validator

from parse_mcp.errors import RejectedLocally
from parse_mcp.guidance import refusals
from parse_mcp.guidance.table import NextCall
from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Meta
from parse_mcp.results import ToolResult
from parse_mcp.services.aiparser import AiParserClient
from parse_mcp.tools import confirm
from parse_mcp.tools.common import AppState, ToolCall, run_aiparser, state_of
from parse_mcp.tools.confirm import go_ahead
from parse_mcp.tools.documents import field_of, integer_of, token_of
from parse_mcp.tools.keeping import Fields
from parse_mcp.tools.waiting import wait_until_settled
from parse_mcp.voice import said

FINISHED, FAILED, GENERATING = "FINISHED", "FAILED", "GENERATING"

# The documented causes of a FAILED generation, and the words of an error that point at each.
FAILURE_CAUSES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("inaccessible", "blocked"), "the example URLs were inaccessible or blocked (try premium or ultra_premium)"),
    (("different", "type"), "the example URLs are of different page types (use 1 to 3 URLs of one type)"),
    (("javascript", "js ", "render"), "the site needs JavaScript rendering (set scraper_params.render to true)"),
)


# How many fields one parser call may name; far above a page's useful fields, well below a body too large.
MAX_FIELDS = 100
FieldName = Annotated[str, Field(min_length=1, max_length=200)]
ExampleUrl = Annotated[str, Field(min_length=1, max_length=2000)]


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="Dot notation nests: products.price")
    description: str = Field(min_length=1, max_length=1000)
    type: Literal["string", "number", "array"] | None = None
    selector: str | None = Field(default=None, max_length=500, description="CSS or XPath hint")


class Rename(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    new_name: str = Field(min_length=1, max_length=200)


class ScraperParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    render: bool | None = None
    country_code: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    premium: bool | None = None
    ultra_premium: bool | None = None
    session_number: int | None = Field(default=None, ge=1)
    keep_headers: bool | None = None
    device_type: Literal["desktop", "mobile"] | None = None
    follow_redirect: bool | None = None
    retry_404: bool | None = None

    @model_validator(mode="after")
    def one_proxy_tier(self) -> "ScraperParams":
        if self.premium and self.ultra_premium:
            raise ValueError("premium and ultra_premium cannot be used together")
        return self

    def sent(self) -> dict[str, JsonValue]:
        return self.model_dump(exclude_none=True)


ParserId = Annotated[str, Field(min_length=1, max_length=200, description="The parser's id.")]
ScraperParamsArgument = Annotated[
    ScraperParams | None,
    Field(
        description="How ScraperAPI fetches the pages: render true for pages built by JavaScript, premium or "
        "ultra_premium proxies for protected sites (each costs more credits), country_code, device_type."
    ),
]
Version = Annotated[int | None, Field(ge=0, description="A version (0 is the first); omit for the latest.")]


async def create_parser(
    name: Annotated[str, Field(min_length=1, max_length=200, description="A name to find the parser by later.")],
    urls: Annotated[
        list[ExampleUrl], Field(min_length=1, max_length=3, description="1 to 3 example URLs of one site.")
    ],
    ctx: Context[AppState, Any],
    agreed: Annotated[ElicitationResult[Any], Resolve(confirm.before_create_parser)],
    fields: Annotated[
        list[FieldSpec] | None, Field(max_length=MAX_FIELDS, description="Omit to let the AI choose.")
    ] = None,
    scraper_params: ScraperParamsArgument = None,
) -> Annotated[CallToolResult, ToolResult]:
    """Create an AI parser from 1-3 example pages of one type. Costs 30,000 ScraperAPI credits.

    Use it once per page type, then parse any similar URL with parse_url. It generates for about a
    minute: follow with wait_for_parser. Reuse a parser from list_parsers rather than paying again.
    The user is asked first when the client can show a form; otherwise the daily limits alone apply.
    """
    sent: dict[str, JsonValue] = {"name": name, "urls": list(urls)}
    if fields:
        sent["fields"] = [f.model_dump(exclude_none=True) for f in fields]
    if scraper_params:
        sent["scraper_params"] = scraper_params.sent()

    async def run(client: AiParserClient) -> ToolResult:
        go_ahead(agreed)
        _check_urls(urls)
        created, meta = await client.create_parser(
            name,
            urls,
            [f.model_dump(exclude_none=True) for f in fields] if fields else None,
            scraper_params.sent() if scraper_params else None,
        )
        parser_id = token_of(field_of(created, "id"))
        if parser_id is None:
            return ToolResult.success(
                "A parser (version 0) was created and is generating; data has its id.",
                created,
                meta,
                next_step="Call wait_for_parser with the parser id in data until it is FINISHED.",
            )
        return ToolResult.success(
            f"Parser {parser_id} (version 0) was created and is generating.",
            created,
            meta,
            next_step="Call wait_for_parser until it is FINISHED.",
            next_call=NextCall.offer("wait_for_parser", {"parser_id": parser_id}),
        )

    return await run_aiparser(state_of(ctx), ToolCall("create_parser", sent), run)


async def get_parser(
    parser_id: ParserId, ctx: Context[AppState, Any], version: Version = None
) -> Annotated[CallToolResult, ToolResult]:
    """Show one AI parser: its status, fields, example results and error.

    Use it to check a parser once; wait_for_parser waits for generation to end. A FAILED status is a
    normal answer here (ok), with the likely causes in next_step.
    """
    arguments = _ids(parser_id, version)

    async def run(client: AiParserClient) -> ToolResult:
        details, meta = await client.get_parser(parser_id, version)
        return parser_observation(parser_id, version, details, meta)

    return await run_aiparser(state_of(ctx), ToolCall("get_parser", arguments), run)


async def list_parsers(ctx: Context[AppState, Any]) -> Annotated[CallToolResult, ToolResult]:
    """List this account's AI parsers: id, name, latest version and status.

    Use it to find a parser to reuse before creating one (creating costs 30,000 credits), or to look
    up an id.
    """

    async def run(client: AiParserClient) -> ToolResult:
        parsers, meta = await client.list_parsers()
        count = len(parsers) if isinstance(parsers, list) else 0
        return ToolResult.success(
            f"{count} parsers.", parsers, meta, next_step="Call parse_url with a FINISHED parser's id."
        )

    return await run_aiparser(state_of(ctx), ToolCall("list_parsers", {}), run)


async def update_parser(
    parser_id: ParserId,
    ctx: Context[AppState, Any],
    version: Version = None,
    add_fields: Annotated[
        list[FieldSpec] | None, Field(max_length=MAX_FIELDS, description="New fields to extract (regenerates).")
    ] = None,
    modify_fields: Annotated[
        list[FieldSpec] | None, Field(max_length=MAX_FIELDS, description="Fields to extract differently (regenerates).")
    ] = None,
    rename_fields: Annotated[
        list[Rename] | None, Field(max_length=MAX_FIELDS, description="Fields to rename, keeping how they are read.")
    ] = None,
    remove_fields: Annotated[
        list[FieldName] | None, Field(max_length=MAX_FIELDS, description="Names of fields to stop extracting.")
    ] = None,
) -> Annotated[CallToolResult, ToolResult]:
    """Change an AI parser's fields, as a new version (older versions stay usable).

    Rename and remove apply at once; add and modify regenerate the parser (follow with
    wait_for_parser). Use it to fix a field that extracts wrongly instead of creating a new parser.
    """
    changes: dict[str, JsonValue] = {}
    if add_fields:
        changes["add_fields"] = [f.model_dump(exclude_none=True) for f in add_fields]
    if modify_fields:
        changes["modify_fields"] = [f.model_dump(exclude_none=True) for f in modify_fields]
    if rename_fields:
        changes["rename_fields"] = [r.model_dump() for r in rename_fields]
    if remove_fields:
        changes["remove_fields"] = list(remove_fields)
    arguments: dict[str, JsonValue] = {**_ids(parser_id, version), **changes}

    async def run(client: AiParserClient) -> ToolResult:
        if not changes:
            message = "Send at least one of add_fields, modify_fields, rename_fields or remove_fields."
            raise RejectedLocally(refusals.invalid_arguments(message, "add_fields"))
        status, updated, meta = await client.update_parser(parser_id, version, changes)
        new_version = _version(updated)
        parser = said(parser_id, "the parser")
        label = f"Parser {parser} version {new_version}" if new_version is not None else f"A new version of {parser}"
        if status == 202:
            waiting: dict[str, JsonValue] = {"parser_id": parser_id}
            if new_version is not None:
                waiting["version"] = new_version
            return ToolResult.success(
                f"{label} is generating with the new fields.",
                updated,
                meta,
                next_step="Call wait_for_parser for the new version.",
                next_call=NextCall.offer("wait_for_parser", waiting),
            )
        return ToolResult.success(f"{label} is ready.", updated, meta)

    return await run_aiparser(state_of(ctx), ToolCall("update_parser", arguments), run)


async def delete_parser(parser_id: ParserId, ctx: Context[AppState, Any]) -> Annotated[CallToolResult, ToolResult]:
    """Delete an AI parser and all its versions, for good.

    Only when the user asked for it: it cannot be undone, and a new parser costs 30,000 credits. To
    drop a field, use update_parser with remove_fields instead.
    """

    async def run(client: AiParserClient) -> ToolResult:
        meta = await client.delete_parser(parser_id)
        return ToolResult.success(f"Parser {said(parser_id, 'given')} was deleted with all its versions.", None, meta)

    return await run_aiparser(state_of(ctx), ToolCall("delete_parser", {"parser_id": parser_id}), run)


async def parse_url(
    parser_id: ParserId,
    url: Annotated[str, Field(min_length=1, max_length=2000, description="A page like the parser's examples.")],
    ctx: Context[AppState, Any],
    agreed: Annotated[ElicitationResult[Any], Resolve(confirm.before_parse_url)],
    version: Version = None,
    scraper_params: ScraperParamsArgument = None,
    fields: Fields = None,
) -> Annotated[CallToolResult, ToolResult]:
    """Extract structured data from one URL with a FINISHED AI parser.

    Use it for every page of the type the parser was made for (1 credit, more with render or premium
    proxies). The result is keyed by the parser's fields. A big answer is cut to fit and the rest kept:
    read_result reads it, free. fields keeps only what you name.
    """
    arguments: dict[str, JsonValue] = {**_ids(parser_id, version), "url": url}
    if scraper_params:
        arguments["scraper_params"] = scraper_params.sent()
    if fields is not None:
        arguments["fields"] = list(fields)

    async def run(client: AiParserClient) -> ToolResult:
        go_ahead(agreed)
        parsed, meta = await client.parse_url(
            parser_id, url, version, scraper_params.sent() if scraper_params else None
        )
        return ToolResult.success(f"Parsed the page with parser {said(parser_id, 'given')}.", parsed, meta)

    return await run_aiparser(state_of(ctx), ToolCall("parse_url", arguments), run)


async def wait_for_parser(
    parser_id: ParserId,
    ctx: Context[AppState, Any],
    version: Version = None,
    timeout_seconds: Annotated[int, Field(ge=1, le=45, description="How long to wait at most.")] = 30,
) -> Annotated[CallToolResult, ToolResult]:
    """Wait until an AI parser version stops GENERATING, with progress notifications.

    Use it after create_parser or an update_parser that regenerates. It returns within timeout_seconds;
    if still generating, next_call waits again. FINISHED or FAILED are both ok answers.
    """
    arguments: dict[str, JsonValue] = {**_ids(parser_id, version), "timeout_seconds": timeout_seconds}
    state = state_of(ctx)

    async def run(client: AiParserClient) -> ToolResult:
        waited = await wait_until_settled(
            lambda: client.get_parser(parser_id, version),
            lambda status: status != GENERATING,
            budget_seconds=timeout_seconds,
            runtime=state.runtime,
            ctx=ctx,
            label=f"parser {said(parser_id, 'given')}",
        )
        if not waited.settled:
            return waited.keep_waiting(f"Parser {said(parser_id, 'given')}", "wait_for_parser", arguments)
        return parser_observation(parser_id, version, waited.document, waited.meta)

    return await run_aiparser(state, ToolCall("wait_for_parser", arguments), run)


def parser_observation(parser_id: str, version: int | None, details: JsonValue, meta: Meta) -> ToolResult:
    """A parser's state as an ok answer: FINISHED leads to parse_url, FAILED to its likely causes, GENERATING to
    waiting, and a state the references do not list to looking again, never to parsing."""
    status = field_of(details, "status")
    shown = _version(details)
    known = shown if shown is not None else version
    label = f"Parser {said(parser_id, 'given')}" + (f" version {known}" if known is not None else "")
    if status == FAILED:
        # The service's words choose among our causes; they are never repeated outside data.
        causes = _causes(str(field_of(details, "error") or ""))
        return ToolResult.success(
            f"{label} FAILED to generate; data.error has the service's words.",
            details,
            meta,
            next_step=f"Most likely {causes}; fixing it needs a new parser (30,000 credits): ask the user first.",
        )
    if status == GENERATING:
        return ToolResult.success(
            f"{label} is still generating.",
            details,
            meta,
            next_step="Call wait_for_parser until it is FINISHED.",
            next_call=NextCall.offer("wait_for_parser", _ids(parser_id, version)),
        )
    if status == FINISHED:
        # The example URLs are the service's text: named in data, not copied into a ready call.
        return ToolResult.success(
            f"{label} is FINISHED.",
            details,
            meta,
            next_step="Call parse_url with a page of this type (data.urls has the examples it was made from).",
        )
    # A state neither reference lists is read the cautious way: not ready (parsing may fail and spend credits).
    named = token_of(status)
    return ToolResult.success(
        f"{label} is in a state this server does not know" + (f" ({named})." if named else "."),
        details,
        meta,
        next_step="Do not parse with it yet: look again with get_parser in a minute, and report it if the state "
        "stays unknown.",
        next_call=NextCall.offer("get_parser", _ids(parser_id, version)),
    )


def _causes(error: str) -> str:
    lowered = error.lower()
    matching = [cause for words, cause in FAILURE_CAUSES if any(word in lowered for word in words)]
    return "; or ".join(matching or [cause for _, cause in FAILURE_CAUSES])


def _check_urls(urls: list[str]) -> None:
    hosts: set[str] = set()
    for index, url in enumerate(urls):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            message = f"urls[{index}] is not an absolute http(s) URL."
            raise RejectedLocally(refusals.invalid_arguments(message, "urls"))
        hosts.add(parts.hostname.lower().removeprefix("www."))
    if len(hosts) > 1:
        message = "The example URLs must come from one site; these come from " + ", ".join(sorted(hosts)) + "."
        raise RejectedLocally(refusals.invalid_arguments(message, "urls"))


def _ids(parser_id: str, version: int | None) -> dict[str, JsonValue]:
    return {"parser_id": parser_id} if version is None else {"parser_id": parser_id, "version": version}


def _version(document: JsonValue) -> int | None:
    return integer_of(field_of(document, "version"))
