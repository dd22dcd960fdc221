"""The account's request budget: a token bucket, a daily cap that resets at UTC midnight, and credits."""

from __future__ import annotations

import math

from parse_mcp.sandbox.clock import Clock
from parse_mcp.sandbox.config import SandboxConfig
from parse_mcp.sandbox.parsebot.envelopes import out_of_credits, rate_limited

SECONDS_PER_DAY = 86_400
# Refill arithmetic is in floats (e.g. 5/60 tokens a second); this keeps 12 s x 5/60 counting as one whole token.
_EPSILON = 1e-9


def seconds_until_utc_midnight(now: float) -> int:
    """Whole seconds until the next 00:00 UTC, never 0 so a caller told to wait always waits."""
    return max(1, math.ceil(SECONDS_PER_DAY - now % SECONDS_PER_DAY - _EPSILON))


class TokenBucket:
    """`capacity` tokens, refilled continuously at `per_minute`; one request takes one token."""

    def __init__(self, capacity: int, per_minute: float, now: float) -> None:
        self._capacity = capacity
        self._per_second = per_minute / 60.0
        self._tokens = float(capacity)
        self._updated = now

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self._capacity), self._tokens + elapsed * self._per_second)
        self._updated = now

    def remaining(self) -> int:
        return math.floor(self._tokens + _EPSILON)

    def take(self) -> None:
        self._tokens = max(0.0, self._tokens - 1.0)

    def seconds_until_next_token(self) -> float:
        """Time until `remaining()` grows by one; 0 when the bucket is already full."""
        if self.remaining() >= self._capacity:
            return 0.0
        return max(0.0, (self.remaining() + 1 - self._tokens) / self._per_second)

    def retry_after(self) -> int:
        """Whole seconds a rejected caller must wait for one token, at least 1."""
        return max(1, math.ceil((1.0 - self._tokens) / self._per_second - _EPSILON))


class DailyCap:
    """At most `limit` requests per UTC day; the count starts again at midnight."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._day = -1
        self._used = 0

    def _roll(self, now: float) -> None:
        day = int(now // SECONDS_PER_DAY)
        if day != self._day:
            self._day = day
            self._used = 0

    def remaining(self, now: float) -> int:
        self._roll(now)
        return max(0, self.limit - self._used)

    def count(self, now: float) -> None:
        self._roll(now)
        self._used += 1


class CreditLedger:
    """The credit balance; only successful calls are charged."""

    def __init__(self, balance: int, limit: int) -> None:
        self.balance = balance
        self.limit = limit

    def require(self, price: int) -> None:
        if self.balance < price:
            raise out_of_credits()

    def charge(self, price: int) -> None:
        self.balance -= price


class Account:
    """The one account the sandbox serves, and the headers that describe its budget."""

    def __init__(self, config: SandboxConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._bucket = TokenBucket(config.burst, config.refill_per_minute, clock.now())
        self._daily = DailyCap(config.daily_limit) if config.daily_limit is not None else None
        self.credits = CreditLedger(config.credits, config.credits_limit)

    def admit(self) -> None:
        """Spend one token and one daily request, or raise the 429 without spending anything."""
        now = self._clock.now()
        self._bucket.refill(now)
        if self._daily is not None and self._daily.remaining(now) == 0:
            raise rate_limited("daily", seconds_until_utc_midnight(now))
        if self._bucket.remaining() == 0:
            raise rate_limited("burst", self._bucket.retry_after())
        self._bucket.take()
        if self._daily is not None:
            self._daily.count(now)

    def rate_headers(self) -> dict[str, str]:
        now = self._clock.now()
        self._bucket.refill(now)
        headers = {
            "X-RateLimit-Limit": str(self._config.burst),
            "X-RateLimit-Burst": str(self._config.burst),
            "X-RateLimit-Remaining": str(self._bucket.remaining()),
            "X-RateLimit-Reset": str(math.ceil(now + self._bucket.seconds_until_next_token())),
            "X-RateLimit-Refill-Per-Min": _number(self._config.refill_per_minute),
        }
        if self._daily is not None:
            headers["X-RateLimit-Daily-Limit"] = str(self._daily.limit)
            headers["X-RateLimit-Daily-Remaining"] = str(self._daily.remaining(now))
            headers["X-RateLimit-Daily-Reset"] = str(seconds_until_utc_midnight(now))
        return headers

    def credit_headers(self, charged: int) -> dict[str, str]:
        return {
            "X-Credits-Charged": str(charged),
            "X-Credits-Remaining": str(self.credits.balance),
            "X-Credits-Limit": str(self.credits.limit),
        }


def _number(value: float) -> str:
    """`60` rather than `60.0`, so a whole refill rate reads like the service's integer headers."""
    return str(int(value)) if value.is_integer() else str(value)
