"""Each Parse.bot API's schema as an MCP resource, `parse://apis/{scraper_id}`.

A client that shows resources (or lets the person attach one) gets the same schema `describe_api` reads,
fetched through the Parse.bot client once and then served from its cache, so attaching it costs no
repeated request. A failure is a resource error whose message is the guidance sentence, never the key.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from parse_mcp.errors import CallFailed
from parse_mcp.guidance.table import CallContext, guide
from parse_mcp.tools.common import PARSEBOT, AppState, state_of
from parse_mcp.voice import printable_json

API_SCHEMA_URI = "parse://apis/{scraper_id}"
API_SCHEMA_TITLE = "A Parse.bot API's schema"
API_SCHEMA_DESCRIPTION = (
    "The schema of one Parse.bot API, as describe_api reads it: its endpoints, their parameters and methods."
)
# The failures that mean "there is no such API" rather than "it could not be read now".
_NOT_FOUND = frozenset({"id_not_found", "path_not_found", "invalid_arguments"})


async def api_schema(scraper_id: str, ctx: Context[AppState, Any]) -> str:
    """The API's schema as JSON, from the client's cache when it holds it."""
    state = state_of(ctx)
    if state.parsebot is None:
        raise ResourceError(f"{PARSEBOT.key_variable} is not set: no Parse.bot API can be read.")
    try:
        spec = await state.parsebot.api_spec(scraper_id)
    except CallFailed as exc:
        context = CallContext(
            tool="describe_api",
            arguments={"scraper_id": scraper_id},
            listed_tools=frozenset(),
            service=PARSEBOT.name,
            key_variable=PARSEBOT.key_variable,
        )
        sentence = guide(exc.record, context).summary
        error = ResourceNotFoundError if exc.record.code in _NOT_FOUND else ResourceError
        raise error(sentence) from None
    # The schema's author wrote every string in it: bidi and zero-width characters, line separators and the
    # like are escaped (JSON reads them back the same), so what a person or a model sees is what is there.
    return printable_json(spec.raw)
