"""A local emulator of the Parse.bot API and of a target website its scrapers read.

It follows the service's error reference to the letter, runs on an injectable clock, and exposes a
Failure Lab API with one deterministic endpoint per documented failure. Builds, revisions, marketplace copies
and updates, and login sessions are emulated too (see `dispatch.py` for the task lifecycle).
"""

from parse_mcp.sandbox.app import create_app
from parse_mcp.sandbox.catalog import BOOKS_API_ID, BOOKS_TASK_ID, FAILURE_LAB_ID, FAILURE_LAB_TASK_ID
from parse_mcp.sandbox.clock import Clock, ManualClock, SystemClock
from parse_mcp.sandbox.config import SandboxConfig
from parse_mcp.sandbox.members import MEMBERS_API_ID, MEMBERS_LISTING_ID, MEMBERS_TASK_ID
from parse_mcp.sandbox.members_site import DEMO_PASSWORD, DEMO_USERNAME
from parse_mcp.sandbox.quotes import QUOTES_API_ID, QUOTES_TASK_ID
from parse_mcp.sandbox.serve import running_sandbox
from parse_mcp.sandbox.weather import (
    WEATHER_CANONICAL_ID,
    WEATHER_COPY_ID,
    WEATHER_COPY_TASK_ID,
    WEATHER_LISTING_ID,
)
from parse_mcp.sandbox.web import EXPIRED_PARSEBOT_KEY, PARSEBOT_KEY

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
