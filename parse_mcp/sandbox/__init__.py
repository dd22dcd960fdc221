"""A local emulator of the Parse.bot API and of a target website its scrapers read.

It follows the service's error reference to the letter, runs on an injectable clock, and exposes a
Failure Lab API with one deterministic endpoint per documented failure. Builds, revisions, marketplace copies
and updates, and login sessions are emulated too (see `parsebot/dispatch.py` for the task lifecycle).

The rooms, by what they emulate:

* `parsebot/`: the Parse.bot service (keys, limits, credits, dispatch, marketplace, sessions, schemas, execution);
* `aiparser/`: ScraperAPI's AI Parser service;
* `site/`: the target web site every scraper and parser reads (its page model, HTML reader and router);
* `scenarios/<api>/`: one package per built-in API (books, lab, quotes, members, weather), its API and its pages;
* here: the clock, the configuration, the app that mounts them all and the embedded server.

Nothing here imports the rest of `parse_mcp`: the sandbox stands in for the services the client calls.
"""

from parse_mcp.sandbox.app import create_app
from parse_mcp.sandbox.clock import Clock, ManualClock, SystemClock
from parse_mcp.sandbox.config import SandboxConfig
from parse_mcp.sandbox.parsebot.keys import EXPIRED_PARSEBOT_KEY, PARSEBOT_KEY
from parse_mcp.sandbox.scenarios.books.api import BOOKS_API_ID, BOOKS_TASK_ID
from parse_mcp.sandbox.scenarios.lab.api import FAILURE_LAB_ID, FAILURE_LAB_TASK_ID
from parse_mcp.sandbox.scenarios.members.api import MEMBERS_API_ID, MEMBERS_LISTING_ID, MEMBERS_TASK_ID
from parse_mcp.sandbox.scenarios.members.pages import DEMO_PASSWORD, DEMO_USERNAME
from parse_mcp.sandbox.scenarios.quotes.api import QUOTES_API_ID, QUOTES_TASK_ID
from parse_mcp.sandbox.scenarios.weather.api import (
    WEATHER_CANONICAL_ID,
    WEATHER_COPY_ID,
    WEATHER_COPY_TASK_ID,
    WEATHER_LISTING_ID,
)
from parse_mcp.sandbox.serve import running_sandbox

__all__ = [
    "BOOKS_API_ID",
    "BOOKS_TASK_ID",
    "DEMO_PASSWORD",
    "DEMO_USERNAME",
    "EXPIRED_PARSEBOT_KEY",
    "FAILURE_LAB_ID",
    "FAILURE_LAB_TASK_ID",
    "MEMBERS_API_ID",
    "MEMBERS_LISTING_ID",
    "MEMBERS_TASK_ID",
    "PARSEBOT_KEY",
    "QUOTES_API_ID",
    "QUOTES_TASK_ID",
    "WEATHER_CANONICAL_ID",
    "WEATHER_COPY_ID",
    "WEATHER_COPY_TASK_ID",
    "WEATHER_LISTING_ID",
    "Clock",
    "ManualClock",
    "SandboxConfig",
    "SystemClock",
    "create_app",
    "running_sandbox",
]
