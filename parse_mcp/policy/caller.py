"""Who is calling, and with which tool: set once per tool call by the server (`server.CallScope`), read where state
is kept per client and where a charge is recorded, so that neither needs the MCP layer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# What belongs to a client (its login sessions, kept answers, count of repeated failures, share of the spend) is
# kept under this name. "local" is the one client of stdio or in-memory.
LOCAL_CLIENT = "local"
_client: ContextVar[str] = ContextVar("parse_mcp_client", default=LOCAL_CLIENT)
_tool: ContextVar[str] = ContextVar("parse_mcp_tool", default="")


def current_client() -> str:
    return _client.get()


def current_tool() -> str:
    """The tool being called, for the ledger's rows; empty outside a tool call."""
    return _tool.get()


@contextmanager
def acting_for(client: str, tool: str = "") -> Iterator[None]:
    client_token, tool_token = _client.set(client), _tool.set(tool)
    try:
        yield
    finally:
        _tool.reset(tool_token)
        _client.reset(client_token)
