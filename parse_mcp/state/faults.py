"""The one failure a shared store adds: it could not be reached."""

from __future__ import annotations

from parse_mcp.errors import RejectedLocally
from parse_mcp.guidance import refusals


class StateUnavailable(RejectedLocally):
    """The shared state (Redis) did not answer in time: nothing was sent upstream, nothing was spent, and no
    answer about the state (such as "this session does not exist") can be given honestly."""

    def __init__(self) -> None:
        super().__init__(refusals.state_unavailable())
