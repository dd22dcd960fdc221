"""Repeated-failure breaker: notice one client repeating the same failing call, so blind retries stop.

Agents and some clients retry a failed call unchanged, and each repeat may spend credits. The same
client calling the same tool, with the same arguments, and failing with the same error code is counted;
from the third time the guidance says so and tells the agent to stop and ask the user. A success of
that call, or a quiet `window_seconds`, starts the count again.

Only *sequential* repeats count: a call that started before the previous failure of the same call had
ended, or so soon after it that the answer cannot have been read (`MIN_GAP_SECONDS`), is a concurrent
duplicate (an agent's parallel calls, all held back by the rate limit and only having to wait), not a
retry after reading the guidance. A server handles requests that arrived together one after another,
so the order of starts and ends alone cannot tell them apart: the gap does.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

STOP_AFTER = 3
WINDOW_SECONDS = 15 * 60.0
# Bounded so that an agent looping over many distinct calls cannot grow the server's memory.
MAX_TRACKED = 1024
# An agent reads an answer before it repeats a call: a repeat closer than this to the failure it repeats
# was sent before that failure was read.
MIN_GAP_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call, as the breaker sees it: who made it, what it was, and when (in start/end order) it began."""

    client: str
    tool: str
    arguments: Mapping[str, object]
    started: int  # the order mark of its start
    started_at: float


@dataclass(frozen=True, slots=True)
class Streak:
    """The failures in a row of one client's call: their code, how many, when the last one was counted, and
    its order mark (`ended`)."""

    code: str
    count: int
    last: float
    ended: int


def next_streak(previous: Streak | None, attempt: Attempt, code: str, now: float, ended: int, window: float) -> Streak:
    """The breaker's rule: the same code inside the window continues a streak, and only a call made after the
    last counted failure had ended and could have been read adds to it. `ended` is this failure's order mark."""
    if previous is None or previous.code != code or now - previous.last > window:
        previous = Streak(code, 0, now, ended)
    follows = attempt.started > previous.ended and attempt.started_at - previous.last >= MIN_GAP_SECONDS
    if previous.count == 0 or follows:
        return Streak(code, previous.count + 1, now, ended)
    return Streak(code, previous.count, now, previous.ended)


def streak_name(attempt: Attempt) -> str:
    """What makes two calls the same call: the client, the tool, and the arguments in a stable order."""
    arguments = json.dumps(attempt.arguments, sort_keys=True, default=str)
    return "\x00".join((attempt.client, attempt.tool, arguments))


@dataclass
class RepeatedFailures:
    window_seconds: float = WINDOW_SECONDS
    _streaks: dict[str, Streak] = field(default_factory=dict)
    _marks: itertools.count[int] = field(default_factory=itertools.count)

    def begin(self, client: str, tool: str, arguments: Mapping[str, object], now: float) -> Attempt:
        """Mark the start of a call; pass the attempt back to `failed` or `succeeded` when it ends."""
        return Attempt(client, tool, arguments, next(self._marks), now)

    def failed(self, attempt: Attempt, code: str, now: float) -> int:
        """Count one failure; the number of times in a row this client's call has now failed this way."""
        key = streak_name(attempt)
        streak = next_streak(self._streaks.pop(key, None), attempt, code, now, next(self._marks), self.window_seconds)
        self._streaks[key] = streak  # re-inserted last: the dict's order is least recent first
        while len(self._streaks) > MAX_TRACKED:
            del self._streaks[next(iter(self._streaks))]
        return streak.count

    def succeeded(self, attempt: Attempt) -> None:
        self._streaks.pop(streak_name(attempt), None)
