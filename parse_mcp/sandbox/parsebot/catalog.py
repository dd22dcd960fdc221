"""The sandbox account's built-in APIs, one per scenario, each with the completed dispatch task that built it."""

from __future__ import annotations

from parse_mcp.sandbox.parsebot.apis import ScraperApi
from parse_mcp.sandbox.scenarios.books.api import BOOKS_API
from parse_mcp.sandbox.scenarios.lab.api import FAILURE_LAB
from parse_mcp.sandbox.scenarios.members.api import MEMBERS_API
from parse_mcp.sandbox.scenarios.quotes.api import QUOTES_API
from parse_mcp.sandbox.scenarios.weather.api import WEATHER_CANONICAL, WEATHER_COPY

# This account's APIs, in the order `/sdk/schemas` lists them, and the shared canonicals it can call.
ACCOUNT_APIS: tuple[ScraperApi, ...] = (BOOKS_API, FAILURE_LAB, QUOTES_API, MEMBERS_API, WEATHER_COPY)
CANONICAL_APIS: tuple[ScraperApi, ...] = (WEATHER_CANONICAL,)
