"""What happens to a big answer between the service and the agent: the fields asked for are kept, the rest of
a cut answer is kept here, and the result says how to read it.

Both steps cost nothing upstream: projection works on the answer already paid for, and the pages of a cut answer
are read from this server's store by `read_result`, with no request, no credit and no rate-limit token.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Annotated

from pydantic import Field

from parse_mcp.guidance.table import NextCall
from parse_mcp.json_types import JsonValue
from parse_mcp.policy.kept import pack
from parse_mcp.policy.pages import cursor_of, paged_list, resolve
from parse_mcp.policy.projection import MAX_FIELD_CHARS, MAX_FIELDS, check_fields, project
from parse_mcp.results import ToolResult
from parse_mcp.state import ResultStore, StateUnavailable
from parse_mcp.state.results import StoredResult

logger = logging.getLogger(__name__)

# The tools whose answers are data an agent pages through; the others answer with small documents of the service.
PAGED_TOOLS = frozenset({"execute_endpoint", "parse_url"})
# The `fields` argument of the tools whose answers are paged, and of read_result.
Fields = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=MAX_FIELD_CHARS)]] | None,
    Field(
        max_length=MAX_FIELDS,
        description='Dot paths to keep from the data\'s root, e.g. ["rows.title"] (each item of a list). '
        "Applied here: no extra credits.",
    ),
]
READ_STEP = (
    "Call read_result with next_call's arguments to read the rest, a page at a time: it sends no request and "
    "spends no credits."
)


def fields_asked(arguments: Mapping[str, JsonValue]) -> list[str] | None:
    """The `fields` argument, checked, or None when it is absent; raises `FieldsError` when it cannot be used.
    Called before anything is sent, so a wrong path costs no credit."""
    fields = arguments.get("fields")
    if fields is None:
        return None
    asked = [path for path in fields if isinstance(path, str)] if isinstance(fields, list) else []
    check_fields(asked)
    return asked


def projected(outcome: ToolResult, asked: Sequence[str]) -> ToolResult:
    """The outcome with only the fields asked for, and the paths that matched nothing named in its meta."""
    data, unmatched = project(outcome.data, check_fields(asked))
    meta = outcome.meta
    if unmatched:
        meta = meta.model_copy(update={"unmatched_fields": tuple(asked[index] for index in unmatched)})
    return outcome.model_copy(update={"data": data, "meta": meta})


async def keep_the_rest(
    results: ResultStore,
    client: str,
    *,
    service: str,
    tool: str,
    arguments: Mapping[str, JsonValue],
    whole: JsonValue,
    outcome: ToolResult,
    now: float,
) -> ToolResult:
    """The cut outcome with the way to read the rest: the list `whole` (what was fitted) was cut in, kept for
    this client (`policy.kept`), and the result's meta and next call pointing at its next page. Unchanged when
    there is no list to page, when the answer is too large to keep, or when the store cannot be reached (the cut
    answer is still an answer)."""
    cuts = outcome.meta.omitted or ()
    paged = paged_list(whole, cuts)
    if paged is None:
        return outcome
    shown, listed = resolve(outcome.data, paged.path), resolve(whole, paged.path)
    if shown is None or listed is None or not isinstance(shown[0], list) or not isinstance(listed[0], list):
        return outcome
    stored = StoredResult(
        body=pack(listed[0]),
        service=service,
        tool=tool,
        api=_text(arguments.get("scraper_id") or arguments.get("parser_id")),
        endpoint=_text(arguments.get("endpoint")),
        list_path=paged.path,
        created_at=now,
    )
    try:
        result_id = await results.put(client, stored)
    except StateUnavailable:
        logger.info("a cut answer could not be kept: the shared state did not answer")
        return outcome
    if result_id is None:
        return outcome
    cursor = cursor_of(len(shown[0]))
    meta = outcome.meta.model_copy(
        update={
            "result_id": result_id,
            "next_cursor": cursor,
            "page_of": paged.path,
            "page_start": 0,
            "page_total": paged.total,
        }
    )
    return outcome.model_copy(
        update={
            "meta": meta,
            "next_step": READ_STEP,
            "next_call": NextCall.offer("read_result", {"result_id": result_id, "cursor": cursor}),
        }
    )


def _text(value: JsonValue) -> str:
    return value if isinstance(value, str) else ""
