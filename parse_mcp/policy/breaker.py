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

A call is known by a digest of its tool and arguments, never by the arguments themselves: arguments reach
the breaker at any size (they may be what the call failed for), and a streak outlives its call by up to
the window. The stores that keep streaks are in `parse_mcp.state.streaks`; this module only decides.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

STOP_AFTER = 3
WINDOW_SECONDS = 15 * 60.0
# An agent reads an answer before it repeats a call: a repeat closer than this to the failure it repeats
# was sent before that failure was read.
MIN_GAP_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call, as the breaker sees it: who made it, which call it was (`call_digest`), and when (in start/end
    order) it began."""

    client: str
    call: str
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


def call_digest(tool: str, arguments: Mapping[str, object]) -> str:
    """What makes two calls the same call: the tool, and the arguments in a stable order, as 64 hex digits."""
    text = json.dumps([tool, arguments], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def streak_name(attempt: Attempt) -> str:
    """The streak a call belongs to, across clients: the client, and which call it was."""
    return "\x00".join((attempt.client, attempt.call))
