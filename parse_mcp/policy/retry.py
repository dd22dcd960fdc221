"""When this server may repeat a request by itself, and after how long. Pure: no clock, no sleep.

Only where a repeat cannot cost twice (contract section 5):
- a 429 (the service did not run the request), when the wait it asks for fits the call's budget;
- a connection that never reached the service;
- a 5xx without the service's envelope (a proxy or gateway failing), on a GET only.
Never a POST that may have run, and never `upstream_error`, `blocked` or `scraper_bug`: those are
the target site's or the scraper's answers, and repeating them spends credits for the same answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from parse_mcp.errors import CallFailed, TransportFailure

# What the guidance table's row of a failure says of repeating its request here (`Row.repeat`): never, always
# (the service did not run it: a 429), or for reads only (a proxy's 5xx: a write may have run).
Repeat = Literal["never", "always", "reads"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    max_attempts: int = 3
    # Waiting (pacing and retries together) stops here, so that with the request itself a tool call
    # stays under the 60 s many clients allow.
    wait_budget_seconds: float = 15.0
    initial_delay: float = 0.5
    max_delay: float = 8.0


DEFAULT_RETRY = RetryPolicy()


def retry_delay(
    failure: CallFailed,
    *,
    repeat: Repeat,
    method: str,
    attempt: int,
    waited: float,
    policy: RetryPolicy,
    random: Callable[[], float],
) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None to give the failure to the agent now."""
    if attempt >= policy.max_attempts:
        return None
    delay = _delay_for(failure, repeat=repeat, method=method, attempt=attempt, policy=policy, random=random)
    if delay is None or waited + delay > policy.wait_budget_seconds:
        return None
    return delay


def backoff(attempt: int, policy: RetryPolicy, random: Callable[[], float]) -> float:
    """Exponential from `initial_delay`, capped, with up to 25 % jitter taken off so callers spread out."""
    base = min(policy.initial_delay * 2.0 ** (attempt - 1), policy.max_delay)
    return base * (1 - 0.25 * random())


def _delay_for(
    failure: CallFailed, *, repeat: Repeat, method: str, attempt: int, policy: RetryPolicy, random: Callable[[], float]
) -> float | None:
    if isinstance(failure, TransportFailure):
        # A request that never reached the service cannot have run, whatever it was.
        return backoff(attempt, policy, random) if not failure.reached else None
    if repeat == "always" or (repeat == "reads" and method == "GET"):
        retry_after = failure.record.retry_after
        return retry_after if retry_after is not None else backoff(attempt, policy, random)
    return None
