"""The optional step between classification and guidance: what the server can find out about a failed
call's ids, so that the guidance names them.

It never changes the record. It reads what the client already holds (the endpoint's spec, cached when
the call checked its parameters) and, only for a row that asks for it (`Row.evidence()`), makes one
lookup: in the task list, the task behind a scraper (for a prepared `revise_api`) or the scraper behind
a task id given as a scraper id; for an AI Parser 400, the parser's status, from which the table decides
whether it was still generating, had failed, or the request was wrong (`Row.decided_by_status`). A
lookup that fails leaves the guidance less specific, never wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from parse_mcp.errors import CallFailed, ErrorRecord
from parse_mcp.guidance.table import ROWS, Evidence
from parse_mcp.json_types import JsonValue
from parse_mcp.services.aiparser import AiParserClient
from parse_mcp.services.parsebot import ParseBotClient
from parse_mcp.services.specs import names
from parse_mcp.voice import speakable

logger = logging.getLogger(__name__)


async def parsebot_evidence(
    client: ParseBotClient, record: ErrorRecord, arguments: Mapping[str, JsonValue], listed_tools: frozenset[str]
) -> Evidence:
    """Evidence about the call's `scraper_id` and `endpoint` for the guidance of `record`."""
    scraper_id = arguments.get("scraper_id")
    if not isinstance(scraper_id, str):
        return Evidence()
    known_params: tuple[str, ...] = ()
    endpoint_names: tuple[str, ...] = ()
    api = client.cached_spec(scraper_id, _pinned_version(arguments))
    if api is not None:
        endpoint_names = names(api.endpoints)
        endpoint = arguments.get("endpoint")
        spec = api.endpoint(endpoint) if isinstance(endpoint, str) else None
        known_params = tuple(p.name for p in spec.params) if spec is not None else ()
    wanted = ROWS[record.code].evidence()
    task_id = scraper_for_task = None
    try:
        if "scraper_for_task" in wanted:
            scraper_for_task = speakable(await client.scraper_of_task(scraper_id))
        if "task_id" in wanted and "revise_api" in listed_tools:
            task_id = speakable(await client.task_of_scraper(scraper_id))
    except CallFailed as exc:
        logger.info("task lookup for guidance failed: %s", exc.record.code)
    return Evidence(
        known_params=known_params,
        endpoint_names=endpoint_names,
        task_id=task_id,
        scraper_for_task=scraper_for_task,
    )


async def aiparser_evidence(
    client: AiParserClient, record: ErrorRecord, arguments: Mapping[str, JsonValue]
) -> Evidence:
    """For a row decided by the parser's state: its status at the version the call named (the latest when it
    named none), read with `GET /parsers/{id}[/{version}]`, and the `error` that status document gives."""
    parser_id = arguments.get("parser_id")
    if "parser_status" not in ROWS[record.code].evidence() or not isinstance(parser_id, str):
        return Evidence()
    version = arguments.get("version")
    try:
        state = await client.parser_state(parser_id, version if isinstance(version, int) else None)
    except CallFailed as exc:
        logger.info("parser status lookup for guidance failed: %s", exc.record.code)
        return Evidence()
    return Evidence(parser_status=state.status, parser_error=state.error)


def _pinned_version(arguments: Mapping[str, JsonValue]) -> int | None:
    """The release the call pinned, as the client caches its spec (a version below 1 has none)."""
    version = arguments.get("snapshot_version", arguments.get("version"))
    if isinstance(version, int) and not isinstance(version, bool) and version >= 1:
        return version
    return None
