"""`read_result`: the rest of a cut answer, a page at a time, from what this server kept; and the same pages as
the resource `parse://results/{result_id}`.

No `from __future__ import annotations` here: the SDK reads these signatures at run time.
"""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import CallToolResult
from pydantic import Field

from parse_mcp.errors import RejectedLocally
from parse_mcp.guidance import refusals
from parse_mcp.guidance.table import CallContext, NextCall, guide
from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Meta
from parse_mcp.policy.caller import current_client
from parse_mcp.policy.kept import Kept, item_fields
from parse_mcp.policy.pages import Page, cursor_of, page, parse_cursor
from parse_mcp.policy.projection import FieldsError, check_fields, project
from parse_mcp.results import ToolResult
from parse_mcp.state import StateUnavailable
from parse_mcp.state.ledger import Service as LedgerService
from parse_mcp.state.results import RESULT_ID_CHARS, Missing
from parse_mcp.tools.common import HERE, AppState, ToolCall, run_here, state_of
from parse_mcp.tools.keeping import Fields
from parse_mcp.voice import printable_json

RESULT_URI = "parse://results/{result_id}"
RESULT_TITLE = "A kept answer's first page"
RESULT_DESCRIPTION = (
    "The first page of an answer this server cut and kept (meta.result_id of a cut result), fitted like a tool's "
    "data; read_result reads the pages after it. Only the client whose call was cut can read it."
)

ResultId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=RESULT_ID_CHARS,
        description="meta.result_id of one of your cut results (kept 15 minutes).",
    ),
]
Cursor = Annotated[str, Field(min_length=1, max_length=12, description="meta.next_cursor: where the page starts.")]


async def read_result(
    result_id: ResultId, cursor: Cursor, ctx: Context[AppState, Any], fields: Fields = None
) -> Annotated[CallToolResult, ToolResult]:
    """Read the next page of an answer this server cut to fit: free, no request, no credits.

    Use the result_id and cursor in meta (or next_call) of a cut execute_endpoint or parse_url result.
    Pages come in order, none lost or repeated, until next_cursor is absent. Kept 15 minutes, for the
    client that made the call only.
    """
    state = state_of(ctx)
    arguments: dict[str, JsonValue] = {"result_id": result_id, "cursor": cursor}
    if fields is not None:
        arguments["fields"] = list(fields)

    async def run() -> ToolResult:
        current, path, total, unmatched = await _page(state, result_id, cursor, fields)
        count = len(current.items) if isinstance(current.items, list) else 0
        following = cursor_of(current.next_start)
        meta = Meta(
            truncated=True if current.cuts else None,
            omitted=current.cuts or None,
            result_id=result_id,
            next_cursor=following,
            page_of=path,
            page_start=current.start,
            page_total=total,
            unmatched_fields=tuple(unmatched) or None,
        )
        first = current.start + 1
        summary = f"Items {first} to {current.start + count} of {total} of the kept answer (no request, no credits)."
        if following is None:
            return ToolResult.success(summary, current.items, meta, next_step="This was the last page.")
        return ToolResult.success(
            summary,
            current.items,
            meta,
            next_step="Call read_result with next_call's arguments for the next page.",
            next_call=NextCall.offer("read_result", {**arguments, "cursor": following}),
        )

    return await run_here(state, ToolCall("read_result", arguments), run)


async def _page(
    state: AppState, result_id: str, cursor: str, fields: list[str] | None
) -> tuple[Page, str, int, list[str]]:
    """The page a cursor points at in a kept answer (its items projected to `fields`), the list's path and length,
    and the fields that named nothing in it; a refusal (`RejectedLocally`) for an id or cursor that names nothing
    here, or fields that cannot be walked."""
    try:
        paths = check_fields(fields) if fields is not None else None
    except FieldsError as refused:
        raise RejectedLocally(refusals.invalid_arguments(str(refused), "fields")) from None
    try:
        stored = await state.results.get(current_client(), result_id)
    except StateUnavailable:
        raise RejectedLocally(refusals.state_unavailable()) from None
    if stored is Missing.UNKNOWN:
        raise RejectedLocally(refusals.unknown_result())
    if isinstance(stored, Missing):
        raise RejectedLocally(refusals.result_expired(await _rerun_cost(state, result_id)))
    kept = Kept.opened(stored.body)
    if kept is None:  # not a body this server wrote: as good as gone
        raise RejectedLocally(refusals.result_expired())
    start = parse_cursor(cursor, kept.count)
    if start is None or (start == kept.count and kept.count):
        message = f"cursor is not a place in this list of {kept.count} items: use meta.next_cursor as given."
        raise RejectedLocally(refusals.invalid_arguments(message, "cursor"))
    window = kept.window(start, state.settings.max_data_chars)
    unmatched: list[str] = []
    if fields is not None and paths is not None:
        inside, elsewhere = item_fields(fields, stored.list_path)
        unmatched = [fields[index] for index in elsewhere]
        if inside is not None and inside:
            projected, missed = project(window, check_fields(inside))
            window = projected if isinstance(projected, list) else [None] * len(window)
            unmatched += [inside[index] for index in missed]
    current = page(window, start, kept.count, state.settings.max_data_chars, stored.list_path)
    return current, stored.list_path, kept.count, unmatched


async def _rerun_cost(state: AppState, result_id: str) -> int | None:
    """What the call behind a gone answer cost the last time the ledger saw it, when the store still knows where
    the answer came from."""
    try:
        origin = await state.results.origin(current_client(), result_id)
    except StateUnavailable:
        return None
    if origin is None or origin.service not in ("parsebot", "scraperapi"):
        return None
    service: LedgerService = "parsebot" if origin.service == "parsebot" else "scraperapi"
    return await state.ledger.last_charge(service, origin.api, origin.endpoint)


async def first_page(result_id: str, ctx: Context[AppState, Any]) -> str:
    """The resource: a kept answer's first page and its meta as JSON; a refusal is a resource error in our words."""
    state = state_of(ctx)
    try:
        current, path, total, _ = await _page(state, result_id, "0", None)
    except RejectedLocally as refused:
        context = CallContext("read_result", {"result_id": result_id}, frozenset(), service=HERE.name)
        sentence = guide(refused.record, context).summary
        error = ResourceNotFoundError if refused.record.code in ("unknown_result", "result_expired") else ResourceError
        raise error(sentence) from None
    meta = Meta(
        result_id=result_id,
        next_cursor=cursor_of(current.next_start),
        page_of=path,
        page_start=0,
        page_total=total,
    )
    return printable_json({"data": current.items, "meta": meta.model_dump(mode="json")})
