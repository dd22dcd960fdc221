"""Pacing: one shared picture of the rate-limit budget, so concurrent calls wait their turn instead of
spending requests on 429s.

The picture comes from the `X-RateLimit-*` headers of every answer (burst size, refill per minute,
tokens left, daily requests left and when the day resets). Each call reserves a token before it is
sent; when none is left it is told how long to wait, and the reservations of calls already waiting
push later calls further back, like a queue. If the wait is longer than the call may wait, the call is
refused before it is sent: the request would only be rejected and, on a daily cap, spend the day.

Pure apart from the state it keeps: time is passed in, nothing here sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass

from parse_mcp.meta import RateSnapshot

# The service counts tokens continuously; arriving a hair early would be a 429, so aim a little late.
SAFETY_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Go:
    """Send after waiting `wait` seconds (0: at once); a token is reserved."""

    wait: float


@dataclass(frozen=True, slots=True)
class Learn:
    """Wait for the first answer: until the service has described its bucket, only one call is in flight,
    so a burst of concurrent first calls cannot overrun a bucket smaller than the burst."""


@dataclass(frozen=True, slots=True)
class Refuse:
    """Do not send: the budget frees up in `retry_after` seconds, later than this call may wait."""

    limit_type: str  # "burst" or "daily"
    retry_after: float


class Pacer:
    def __init__(self) -> None:
        self._probing = False
        self._unpaced = False  # the service sends no rate-limit headers: nothing to pace by
        self._tokens: float | None = None  # unknown until the service has described its bucket
        self._capacity: float | None = None
        self._per_second: float | None = None
        self._updated = 0.0
        self._blocked_until = 0.0
        self._daily_remaining: int | None = None
        self._daily_reset_at: float | None = None

    def reserve(self, now: float, max_wait: float) -> Go | Learn | Refuse:
        """Take a token for a call that may wait at most `max_wait` seconds before it is sent."""
        knows_nothing = self._tokens is None and self._daily_remaining is None and self._blocked_until <= now
        if knows_nothing and not self._unpaced:
            if self._probing:
                return Learn()
            self._probing = True
            return Go(0.0)
        if self._daily_exhausted(now):
            assert self._daily_reset_at is not None
            return Refuse("daily", self._daily_reset_at - now)
        self._refill(now)
        wait = max(0.0, self._blocked_until - now)
        if self._tokens is not None and self._per_second:
            shortfall = 1.0 - self._tokens
            if shortfall > 0:
                wait = max(wait, shortfall / self._per_second + SAFETY_SECONDS)
        if wait > max_wait:
            return Refuse("burst", wait)
        if self._tokens is not None:
            self._tokens -= 1.0
        if self._daily_remaining is not None:
            self._daily_remaining -= 1
        return Go(wait)

    def release(self, now: float) -> None:
        """Give back a reservation that was never sent (the caller gave up before sending)."""
        self._refill(now)
        if self._tokens is not None and self._capacity is not None:
            self._tokens = min(self._capacity, self._tokens + 1.0)
        if self._daily_remaining is not None:
            self._daily_remaining += 1

    def no_picture(self, *, answered: bool) -> None:
        """The probe ended without rate-limit headers. If the service answered, it does not send them and
        there is nothing to pace by; if no answer came at all, the next call probes again."""
        self._probing = False
        if answered and self._tokens is None:
            self._unpaced = True

    def observe(self, snapshot: RateSnapshot) -> None:
        """Fold in what one answer said. Our own count stays when it is lower: it includes calls in flight
        that the service has not counted yet; a lower figure from the service means someone else spends too."""
        now = snapshot.observed_at
        self._probing = False
        self._unpaced = False
        self._refill(now)
        if snapshot.burst is not None and snapshot.burst > 0:
            self._capacity = float(snapshot.burst)
        if snapshot.refill_per_minute is not None and snapshot.refill_per_minute > 0:
            self._per_second = snapshot.refill_per_minute / 60.0
        if snapshot.remaining is not None:
            self._tokens = float(snapshot.remaining) if self._tokens is None else min(self._tokens, snapshot.remaining)
        if snapshot.daily_remaining is not None:
            known = self._daily_remaining
            self._daily_remaining = snapshot.daily_remaining if known is None else min(known, snapshot.daily_remaining)
        if snapshot.daily_reset_in is not None:
            self._daily_reset_at = now + snapshot.daily_reset_in

    def rejected(self, now: float, limit_type: str | None, retry_after: float | None) -> None:
        """The service answered 429 after all: believe it, and hold everyone back until it says."""
        self._refill(now)
        wait = retry_after if retry_after is not None else 1.0
        if limit_type == "daily":
            self._daily_remaining = 0
            self._daily_reset_at = now + wait
            return
        if self._tokens is not None:
            self._tokens = min(self._tokens, 0.0)
        self._blocked_until = max(self._blocked_until, now + wait)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._updated = max(self._updated, now)
        if self._tokens is not None and self._per_second and self._capacity is not None:
            self._tokens = min(self._capacity, self._tokens + elapsed * self._per_second)
        if self._daily_reset_at is not None and now >= self._daily_reset_at:
            # A new UTC day: the cap is whole again, and the next answer will say by how much.
            self._daily_remaining = None
            self._daily_reset_at = None

    def _daily_exhausted(self, now: float) -> bool:
        self._refill(now)
        return self._daily_remaining is not None and self._daily_remaining <= 0 and self._daily_reset_at is not None
