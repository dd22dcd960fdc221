"""The account the sandbox emulates: burst bucket, daily cap, credits, build times and login sessions."""

from __future__ import annotations

from dataclasses import dataclass, field

from parse_mcp.sandbox.aiparser.config import AiParserConfig


@dataclass(frozen=True)
class SandboxConfig:
    """Limits of the emulated Parse.bot account; the defaults are generous so rehearsals rarely hit them.

    Task timings are in seconds of the sandbox clock: a build is `queued` for `queue_seconds`, then
    `running` for `build_seconds` (a revision for `revision_seconds`), then finished.
    """

    burst: int = 30
    refill_per_minute: float = 60.0
    daily_limit: int | None = 1000
    credits: int = 10_000
    credits_limit: int = 10_000
    queue_seconds: float = 2.0
    build_seconds: float = 30.0
    revision_seconds: float = 20.0
    # One measured private build cost 75 credits (parsebot-api.md, section 8).
    build_price: int = 75
    session_ttl_seconds: float = 1800.0
    # The documented cap on login endpoints, per API (errors reference: 3 attempts an hour).
    login_attempts_per_hour: int = 3
    # The ScraperAPI AI Parser account served on the same port.
    aiparser: AiParserConfig = field(default_factory=AiParserConfig)

    def __post_init__(self) -> None:
        # Integers are welcome (a refill of 300 a minute); the header arithmetic works in floats.
        object.__setattr__(self, "refill_per_minute", float(self.refill_per_minute))
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        if self.refill_per_minute <= 0:
            raise ValueError("refill_per_minute must be positive, or the bucket would never refill")
        if self.daily_limit is not None and self.daily_limit < 0:
            raise ValueError("daily_limit must be None (no cap) or at least 0")
        if self.credits < 0 or self.credits_limit < 0:
            raise ValueError("credits and credits_limit cannot be negative")
        if min(self.queue_seconds, self.build_seconds, self.revision_seconds) < 0:
            raise ValueError("queue_seconds, build_seconds and revision_seconds cannot be negative")
        if self.build_price < 0:
            raise ValueError("build_price cannot be negative")
        if self.session_ttl_seconds <= 0:
            raise ValueError("session_ttl_seconds must be positive, or every session would be born expired")
        if self.login_attempts_per_hour < 1:
            raise ValueError("login_attempts_per_hour must be at least 1, or no one could ever log in")
