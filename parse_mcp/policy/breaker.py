"""Repeated-failure breaker: notice the same call failing the same way, so blind retries stop.

Agents and some clients retry a failed call unchanged, and each repeat may spend credits. The same
tool, with the same arguments, failing with the same error code is counted per process; from the
third time the guidance says so and tells the agent to stop and ask the user. A success of that call,
or a quiet `window_seconds`, starts the count again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

STOP_AFTER = 3
WINDOW_SECONDS = 15 * 60.0
# Bounded so that an agent looping over many distinct calls cannot grow the server's memory.
MAX_TRACKED = 1024


@dataclass
class _Streak:
    code: str
    count: int
    last: float


@dataclass
class RepeatedFailures:
    window_seconds: float = WINDOW_SECONDS
    _streaks: dict[str, _Streak] = field(default_factory=dict)

    def failed(self, tool: str, arguments: Mapping[str, object], code: str, now: float) -> int:
        """Count one failure; the number of times in a row this call has now failed this way."""
        key = _key(tool, arguments)
        streak = self._streaks.pop(key, None)
        if streak is None or streak.code != code or now - streak.last > self.window_seconds:
            streak = _Streak(code, 0, now)
        streak.count += 1
        streak.last = now
        self._streaks[key] = streak  # re-inserted last: the dict's order is least recent first
        while len(self._streaks) > MAX_TRACKED:
            del self._streaks[next(iter(self._streaks))]
        return streak.count

    def succeeded(self, tool: str, arguments: Mapping[str, object]) -> None:
        self._streaks.pop(_key(tool, arguments), None)


def _key(tool: str, arguments: Mapping[str, object]) -> str:
    return tool + "\x00" + json.dumps(arguments, sort_keys=True, default=str)
