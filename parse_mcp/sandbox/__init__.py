"""A local emulator of the Parse.bot API and of a target website its scrapers read.

It follows the service's error reference to the letter, runs on an injectable clock, and exposes a
Failure Lab API with one deterministic endpoint per documented failure.
"""

from parse_mcp.sandbox.app import create_app
from parse_mcp.sandbox.catalog import BOOKS_API_ID, BOOKS_TASK_ID, FAILURE_LAB_ID, FAILURE_LAB_TASK_ID
from parse_mcp.sandbox.clock import Clock, ManualClock, SystemClock
from parse_mcp.sandbox.config import SandboxConfig
from parse_mcp.sandbox.parsebot import EXPIRED_PARSEBOT_KEY, PARSEBOT_KEY
from parse_mcp.sandbox.serve import running_sandbox

__all__ = [
    "BOOKS_API_ID",
    "BOOKS_TASK_ID",
    "EXPIRED_PARSEBOT_KEY",
    "FAILURE_LAB_ID",
    "FAILURE_LAB_TASK_ID",
    "PARSEBOT_KEY",
    "Clock",
    "ManualClock",
    "SandboxConfig",
    "SystemClock",
    "create_app",
    "running_sandbox",
]
