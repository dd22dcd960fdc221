"""The account the sandbox emulates: burst bucket, daily cap and credit balance."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SandboxConfig:
    """Limits of the emulated Parse.bot account; the defaults are generous so rehearsals rarely hit them."""

    burst: int = 30
    refill_per_minute: float = 60.0
    daily_limit: int | None = 1000
    credits: int = 10_000
    credits_limit: int = 10_000

    def __post_init__(self) -> None:
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        if self.refill_per_minute <= 0:
            raise ValueError("refill_per_minute must be positive, or the bucket would never refill")
        if self.daily_limit is not None and self.daily_limit < 0:
            raise ValueError("daily_limit must be None (no cap) or at least 0")
        if self.credits < 0 or self.credits_limit < 0:
            raise ValueError("credits and credits_limit cannot be negative")
