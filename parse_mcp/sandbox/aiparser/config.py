"""The ScraperAPI account the AI Parser emulator serves: its key, credit balance, prices and pace."""

from __future__ import annotations

from dataclasses import dataclass

# The one ScraperAPI key the sandbox accepts; every other key is answered 401, as the service does.
AIPARSER_KEY = "sandbox"


@dataclass(frozen=True)
class AiParserConfig:
    """Prices follow the service (30,000 credits to create, 1 to parse, 10 with render); time is the clock's."""

    credits: int = 200_000
    generation_seconds: float = 60.0
    requests_per_minute: int = 60
    create_cost: int = 30_000
    parse_cost: int = 1
    render_cost: int = 10

    def __post_init__(self) -> None:
        if self.credits < 0:
            raise ValueError("credits cannot be negative")
        if self.generation_seconds < 0:
            raise ValueError("generation_seconds cannot be negative")
        if self.requests_per_minute < 1:
            raise ValueError("requests_per_minute must be at least 1, or no parse could ever run")
        if min(self.create_cost, self.parse_cost, self.render_cost) < 0:
            raise ValueError("prices cannot be negative")
