"""The repair loop's memory: which failed call prompted a revision, so that once the revision completes the agent is
offered that very call again, not some endpoint of the API.

Three steps, each a client's own (another client never takes what one remembered):

- `remember(client, task_id, call)`: a call failed and its guidance prepared a revision of the task `task_id`;
- `follow(client, task_id, revision_id)`: the client asked for that revision, and the service queued `revision_id`;
- `take(client, revision_id)`: the revision completed: the call to make again, once.

A call is remembered for a day at most, and only when small enough to be worth offering again
(`MAX_CALL_CHARS`). In memory the tables are bounded per client (`state.bounded`); in Redis each entry is sealed
(a call may carry a session handle) and expires by itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Protocol

from parse_mcp.json_types import JsonValue
from parse_mcp.state.bounded import ClientTables

# A failed call worth offering again is a few parameters; a larger one is not remembered (the agent still has it).
MAX_CALL_CHARS = 16_000
# A revision completes within minutes; a day covers an agent that comes back later.
REMEMBERED_SECONDS = 24 * 3600.0
# A client repairs a few APIs at once; the total bounds many clients.
MAX_REPAIRS_PER_CLIENT = 32
MAX_REPAIRS = 10_000

Call = dict[str, JsonValue]


class RepairMemory(Protocol):
    async def remember(self, client: str, task_id: str, call: Mapping[str, JsonValue]) -> None:
        """A call of `client` failed, and its guidance prepared a revision of `task_id`."""
        ...

    async def follow(self, client: str, task_id: str, revision_id: str) -> None:
        """`client` asked for a revision of `task_id`, queued as `revision_id`."""
        ...

    async def take(self, client: str, revision_id: str) -> Call | None:
        """The call that prompted the revision `revision_id` of `client`, once; None when there is none."""
        ...


def worth_remembering(call: Mapping[str, JsonValue]) -> str | None:
    """The call as JSON when it is small enough to offer again; None otherwise."""
    encoded = json.dumps(call, sort_keys=True, ensure_ascii=False)
    return encoded if len(encoded) <= MAX_CALL_CHARS else None


class MemoryRepairMemory:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        # (kind, task id) -> (expires at, the call as JSON)
        self._entries: ClientTables[tuple[str, str], tuple[float, str]] = ClientTables(
            MAX_REPAIRS_PER_CLIENT, MAX_REPAIRS
        )

    async def remember(self, client: str, task_id: str, call: Mapping[str, JsonValue]) -> None:
        encoded = worth_remembering(call)
        if encoded is not None:
            self._entries.put(client, ("task", task_id), (self._clock() + REMEMBERED_SECONDS, encoded))

    async def follow(self, client: str, task_id: str, revision_id: str) -> None:
        entry = self._entries.pop(client, ("task", task_id))
        if entry is not None:
            self._entries.put(client, ("revision", revision_id), entry)

    async def take(self, client: str, revision_id: str) -> Call | None:
        entry = self._entries.pop(client, ("revision", revision_id))
        if entry is None or entry[0] <= self._clock():
            return None
        call: Call = json.loads(entry[1])
        return call
