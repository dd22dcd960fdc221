"""`parse://usage/today`: what is spent today and what is left, for the agent that reads it.

The same picture as `parse-mcp usage` for today (`parse_mcp.usage.today_json`): spend by service and by endpoint,
the reading client's own spend beside the account's total (never another client's name), what is left under each
limit set, and the seconds until the limits reset at UTC midnight. Reading it asks no service and costs nothing.

A resource without URI variables gets no `Context` from the SDK, so the server hands it the connection's state
for the length of each `resources/read` (`reading`, set by `server.CallScope`, which also says whose read it is).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from mcp.server.mcpserver.exceptions import ResourceError

from parse_mcp.policy.caller import current_client
from parse_mcp.tools.common import AppState
from parse_mcp.usage import today_json
from parse_mcp.voice import printable_json

USAGE_URI = "parse://usage/today"
USAGE_TITLE = "Credits spent today and left"
USAGE_DESCRIPTION = (
    "Today's spend (UTC): credits by service and by API endpoint, yours beside the account's total, what is left "
    "under each daily limit set, and the seconds until the limits reset at UTC midnight. Free: no request is sent."
)

_reading: ContextVar[AppState | None] = ContextVar("parse_mcp_reading", default=None)


@contextmanager
def reading(state: AppState) -> Iterator[None]:
    """While a resource is read: the state of the connection it is read on."""
    token = _reading.set(state)
    try:
        yield
    finally:
        _reading.reset(token)


async def usage_today() -> str:
    """The resource: today's picture for the reading client, as JSON."""
    state = _reading.get()
    if state is None:  # read outside a request the server scoped: nothing to read it from
        raise ResourceError("The usage is read through the server's resources/read only.")
    client = current_client()
    # The server's ledger goes on in memory when its store fails (state.ledger.FailoverLedger): it answers.
    today = await state.ledger.spent_today(client)
    day = (await state.ledger.usage(1))[-1]
    return printable_json(today_json(today, day, client))
