"""Pacing: one shared picture of the rate-limit budget, so concurrent calls wait their turn instead of
spending requests on 429s.

The picture comes from the `X-RateLimit-*` headers of every answer (burst size, refill per minute,
tokens left, daily requests left and when the day resets). Each call reserves a token before it is
sent; when none is left it is told how long to wait, and the reservations of calls already waiting
push later calls further back, like a queue. If the wait is longer than the call may wait, the call is
refused before it is sent: the request would only be rejected and, on a daily cap, spend the day.

The headers come from a service we do not control, so nothing they say can stop the server for long:
every wait taken from them is bounded by a day, figures beyond it count as unknown, and only a 429 that
says the day is spent refuses calls for the day, never later than the next UTC midnight plus a minute,
with one probe every 15 minutes to notice a plan upgrade. A call that gives up before it is sent gives
back exactly what it took, so cancelled calls never push later ones back.

Pure apart from the state it keeps: time is passed in, nothing here sleeps. The state saves to a plain,
versioned, JSON-able snapshot (`Pacer.snapshot`, `Pacer.restored`), so that a shared store can run each
decision on the picture every process sees: load, decide here, save.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from parse_mcp.json_types import JsonValue
from parse_mcp.meta import LONGEST_TRUSTED_WAIT_SECONDS, RateSnapshot

# The service counts tokens continuously; arriving a hair early would be a 429, so aim a little late.
SAFETY_SECONDS = 0.05
# No wait computed here is longer, and a figure from a header that implies a longer one counts as unknown.
MAX_WAIT_SECONDS = LONGEST_TRUSTED_WAIT_SECONDS
# A burst 429 whose Retry-After is missing or beyond a day: the bucket refills within seconds, so a short
# pause and a retry costs little, while believing a hostile figure would stop every call for a day.
DEFAULT_BURST_RETRY_SECONDS = 1.0
# How long the one call sent to learn the bucket holds the others back: longer than a healthy first
# answer takes, far shorter than a stalled connection's timeout.
PROBE_TIMEOUT_SECONDS = 5.0
# While the day is locked, one call this often is let through, so a plan upgrade or an early reset is
# noticed without a restart.
DAILY_PROBE_INTERVAL_SECONDS = 900.0
# The service's day may roll over a little after ours.
DAILY_RESET_GRACE_SECONDS = 60.0

# The snapshot's layout: a store that meets another version starts a fresh picture rather than misread it.
SNAPSHOT_VERSION = 1
# The fields a snapshot holds, in the order `Pacer.__init__` sets them (attribute names without the underscore).
_FLOAT_FIELDS = ("probe_sent_at", "level", "capacity", "per_second", "updated", "blocked_until")
_DAILY_FIELDS = ("daily_reset_at", "locked_until", "next_daily_probe_at")

# "learn": the one call in flight while the budget is unknown (no picture yet, or the day's count spent
# by the headers); the others wait for its answer. "daily_lock": the one call let through a daily lock.
ProbeKind = Literal["learn", "daily_lock"]


@dataclass(frozen=True, slots=True)
class Go:
    """Send after waiting `wait` seconds (0: at once). The other fields say what this call took, so that
    `Pacer.release` can give back exactly that if the call is never sent."""

    wait: float
    token: bool = False  # one burst token
    daily_unit: bool = False  # one of the day's requests
    probe: ProbeKind | None = None  # the probe slot: the answer of this call is what the others wait for


@dataclass(frozen=True, slots=True)
class Learn:
    """Wait for the first answer: until the service has described its bucket, only one call is in flight,
    so a burst of concurrent first calls cannot overrun a bucket smaller than the burst.

    `retry_at` (on the clock passed to `reserve`, always later than the `now` passed) is when to ask
    again even if no answer has come: a stalled probe stops holding the others then."""

    retry_at: float


@dataclass(frozen=True, slots=True)
class Refuse:
    """Do not send: the budget frees up in `retry_after` seconds, later than this call may wait."""

    limit_type: Literal["burst", "daily"]
    retry_after: float


class Pacer:
    def __init__(self, probe_timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
        # Configuration, not state: it is not in the snapshot, so each process holds others back by its own.
        self._probe_timeout = probe_timeout
        self._unpaced = False  # the service sends no rate-limit headers: nothing to pace by
        self._probe_sent_at: float | None = None  # when the outstanding "learn" probe goes out
        # The bucket's tokens are `_level - _taken`: reservations are counted apart, as a whole number,
        # so taking and giving one back leaves the float exactly as it was.
        self._level: float | None = None  # unknown until the service has described its bucket
        self._taken = 0
        self._capacity: float | None = None
        self._per_second: float | None = None
        self._updated = 0.0
        self._blocked_until = 0.0
        self._daily_remaining: int | None = None
        self._daily_reset_at: float | None = None
        self._locked_until: float | None = None  # the day is spent, a daily 429 said so
        self._next_daily_probe_at = 0.0

    def snapshot(self) -> dict[str, JsonValue]:
        """Everything this pacer knows, as plain JSON values, tagged with `SNAPSHOT_VERSION`."""
        return {
            "version": SNAPSHOT_VERSION,
            "unpaced": self._unpaced,
            "taken": self._taken,
            "daily_remaining": self._daily_remaining,
            **{name: getattr(self, "_" + name) for name in _FLOAT_FIELDS + _DAILY_FIELDS},
        }

    @classmethod
    def restored(cls, snapshot: object, probe_timeout: float = PROBE_TIMEOUT_SECONDS) -> Pacer:
        """A pacer with the state `snapshot` describes; a fresh one (no picture yet) for anything that is not a
        snapshot of this version: an unknown picture only means one probe, a misread one could block calls."""
        pacer = cls(probe_timeout)
        if not isinstance(snapshot, dict) or snapshot.get("version") != SNAPSHOT_VERSION:
            return pacer
        try:
            unpaced, taken = snapshot["unpaced"], snapshot["taken"]
            daily_remaining = _optional_int(snapshot["daily_remaining"])
            floats = {name: _optional_float(snapshot[name]) for name in _FLOAT_FIELDS + _DAILY_FIELDS}
        except (KeyError, TypeError):
            return pacer
        if not isinstance(unpaced, bool) or not isinstance(taken, int) or isinstance(taken, bool):
            return pacer
        for name in ("updated", "blocked_until", "next_daily_probe_at"):
            if floats[name] is None:
                return pacer
        pacer._unpaced, pacer._taken, pacer._daily_remaining = unpaced, taken, daily_remaining
        for name, value in floats.items():
            setattr(pacer, "_" + name, value)
        return pacer

    def reserve(self, now: float, max_wait: float) -> Go | Learn | Refuse:
        """Take what a call needs, if it may wait at most `max_wait` seconds before it is sent."""
        self._refill(now)
        if self._locked_until is not None:
            return self._reserve_in_daily_lock(now, max_wait)
        if self._budget_unknown():
            if self._probe_sent_at is not None and now < self._probe_sent_at + self._probe_timeout:
                return Learn(self._probe_sent_at + self._probe_timeout)
            return self._take(now, max_wait, probe="learn")
        return self._take(now, max_wait, probe=None)

    def release(self, now: float, go: Go) -> None:
        """Give back what `go` took: its call was cancelled or failed before its request was sent."""
        self._refill(now)
        if go.token and self._level is not None:
            self._taken -= 1
            if self._capacity is not None:
                self._level = min(self._level, self._capacity + self._taken)
        if go.daily_unit and self._daily_remaining is not None:
            self._daily_remaining += 1
        if go.probe == "learn":
            self._probe_sent_at = None
        elif go.probe == "daily_lock" and self._locked_until is not None:
            # The probe was never sent: the next call may probe in its place.
            self._next_daily_probe_at = min(self._next_daily_probe_at, now)

    def no_picture(self, *, answered: bool) -> None:
        """The probe ended without rate-limit headers. If the service answered, it does not send them and
        there is nothing to pace by; if no answer came at all, the next call probes again."""
        self._probe_sent_at = None
        if answered and self._level is None:
            self._unpaced = True

    def observe(self, snapshot: RateSnapshot) -> None:
        """Fold in what one answer said. Our own count stays when it is lower: it includes calls in flight
        that the service has not counted yet; a lower figure from the service means someone else spends too."""
        now = snapshot.observed_at
        self._refill(now)
        self._probe_sent_at = None
        self._unpaced = False
        if snapshot.burst is not None and snapshot.burst > 0:
            self._capacity = float(snapshot.burst)
        if snapshot.refill_per_minute is not None:
            self._per_second = _sane_rate(snapshot.refill_per_minute / 60.0)
        if snapshot.remaining is not None:
            tokens = float(snapshot.remaining)
            if self._level is not None:
                tokens = min(self._level - self._taken, tokens)
            self._level = tokens + self._taken
        if snapshot.daily_remaining is not None:
            self._observe_daily(now, snapshot.daily_remaining, snapshot.daily_reset_in)

    def rejected(self, now: float, limit_type: str | None, retry_after: float | None) -> None:
        """The service answered 429 after all: believe it, within bounds, and hold everyone back."""
        self._refill(now)
        self._probe_sent_at = None
        if limit_type == "daily":
            self._lock_day(now, retry_after)
            return
        told = _sane_seconds(retry_after)
        wait = told if told is not None else DEFAULT_BURST_RETRY_SECONDS
        if self._level is not None:
            self._level = min(self._level, float(self._taken))  # no token left, whatever our count said
        self._blocked_until = max(self._blocked_until, now + wait)

    def _reserve_in_daily_lock(self, now: float, max_wait: float) -> Go | Refuse:
        """One call every 15 minutes goes as a probe; the others are refused.

        A refused call is told the time until the lock ends, not until the next probe. The probe is one
        call for the whole server, so an agent told to come back in 15 minutes would most likely be
        refused again, and again, each time spending a turn; the lock's end is the earliest time a call is
        sure to be let through. If a probe finds the day open earlier (a plan upgrade, an early reset),
        the lock lifts at once and calls go through sooner than they were told, which costs nothing."""
        assert self._locked_until is not None
        if now >= self._next_daily_probe_at:
            return self._take(now, max_wait, probe="daily_lock")
        return Refuse("daily", self._locked_until - now)

    def _take(self, now: float, max_wait: float, *, probe: ProbeKind | None) -> Go | Refuse:
        wait = self._wait_for_token(now)
        if wait > max_wait:
            return Refuse("burst", wait)
        token = self._level is not None
        if token:
            self._taken += 1
        daily_unit = self._daily_remaining is not None
        if self._daily_remaining is not None:
            self._daily_remaining -= 1
        if probe == "learn":
            self._probe_sent_at = now + wait
        elif probe == "daily_lock":
            self._next_daily_probe_at = now + DAILY_PROBE_INTERVAL_SECONDS
        return Go(wait, token=token, daily_unit=daily_unit, probe=probe)

    def _wait_for_token(self, now: float) -> float:
        wait = max(0.0, self._blocked_until - now)
        if self._level is not None and self._per_second is not None:
            shortfall = 1.0 - (self._level - self._taken)
            if shortfall > 0:
                wait = max(wait, shortfall / self._per_second + SAFETY_SECONDS)
        return min(wait, MAX_WAIT_SECONDS)

    def _budget_unknown(self) -> bool:
        """Only one call at a time goes while the service has not described its bucket, or while the
        headers say the day is spent: its answer either describes the budget or locks the day. Headers
        alone never refuse a call: a wrong or hostile figure would otherwise stop the server."""
        bucket_unknown = self._level is None and not self._unpaced
        day_spent = self._daily_remaining is not None and self._daily_remaining <= 0
        return bucket_unknown or day_spent

    def _observe_daily(self, now: float, remaining: int, reset_in: float | None) -> None:
        known = self._daily_remaining
        # A figure above ours once ours is spent is a new day or a bigger plan, not a stale count.
        self._daily_remaining = remaining if known is None or known <= 0 else min(known, remaining)
        if remaining > 0:
            self._locked_until = None  # the service says the day is open again (a plan upgrade, a reset)
        # A reset beyond the day's end is not believed: the count is forgotten when the UTC day ends.
        told = _sane_seconds(reset_in)
        day_ends = _until_day_ends(now)
        self._daily_reset_at = now + (min(told, day_ends) if told is not None else day_ends)

    def _lock_day(self, now: float, retry_after: float | None) -> None:
        latest = _until_day_ends(now)
        told = _sane_seconds(retry_after)
        lock = min(told, latest) if told is not None else latest
        self._locked_until = now + lock
        self._next_daily_probe_at = now + DAILY_PROBE_INTERVAL_SECONDS
        self._daily_remaining = 0
        self._daily_reset_at = self._locked_until

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._updated = max(self._updated, now)
        if self._level is not None and self._per_second is not None and self._capacity is not None:
            self._level = min(self._capacity + self._taken, self._level + elapsed * self._per_second)
        if self._locked_until is not None and now >= self._locked_until:
            self._locked_until = None
        if self._daily_reset_at is not None and now >= self._daily_reset_at:
            # A new UTC day: the cap is whole again, and the next answer will say by how much.
            self._daily_remaining = None
            self._daily_reset_at = None


def _optional_float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError("not a number")
    return float(value)


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def _until_day_ends(now: float) -> float:
    """The longest the day can still last for the service: to the next UTC midnight plus a grace minute,
    and never more than a day."""
    return min(seconds_to_utc_midnight(now) + DAILY_RESET_GRACE_SECONDS, MAX_WAIT_SECONDS)


def _sane_seconds(value: float | None) -> float | None:
    """A duration from a header, or None when it is missing or beyond a day (unknown, not believed)."""
    if value is None or not math.isfinite(value) or value < 0 or value > MAX_WAIT_SECONDS:
        return None
    return value


def _sane_rate(per_second: float) -> float | None:
    """A refill rate, or None (no pacing by it) when one token would take longer than a day to come."""
    if not math.isfinite(per_second) or per_second <= 0 or 1.0 / per_second > MAX_WAIT_SECONDS:
        return None
    return per_second


def seconds_to_utc_midnight(now: float) -> float:
    """Seconds from `now` (epoch s) to the next UTC midnight, when the daily caps reset."""
    moment = datetime.fromtimestamp(now, tz=UTC)
    seconds_today = moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6
    return float(math.ceil(86_400 - seconds_today))
