"""Helpers for talking to a sandbox app, called in-process through `httpx2.ASGITransport`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx2

from parse_mcp.sandbox import (
    BOOKS_API_ID,
    FAILURE_LAB_ID,
    MEMBERS_API_ID,
    PARSEBOT_KEY,
    QUOTES_API_ID,
    WEATHER_CANONICAL_ID,
    WEATHER_COPY_ID,
    ManualClock,
    SandboxConfig,
    create_app,
)
from tests.conftest import IN_PROCESS_URL

KEY = {"X-API-Key": PARSEBOT_KEY}
START_SECONDS_TO_MIDNIGHT = 57_600  # ManualClock() starts at 1_800_000_000, 08:00:00 UTC
BUDGET_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Burst",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Refill-Per-Min",
    "X-RateLimit-Daily-Limit",
    "X-RateLimit-Daily-Remaining",
    "X-RateLimit-Daily-Reset",
    "X-Credits-Charged",
    "X-Credits-Remaining",
    "X-Credits-Limit",
)


@asynccontextmanager
async def sandbox_client(
    config: SandboxConfig | None = None,
    clock: ManualClock | None = None,
    headers: Mapping[str, str] = KEY,
) -> AsyncIterator[httpx2.AsyncClient]:
    """A client of a fresh sandbox, which it calls in-process (no socket: nothing to time out on)."""
    app = create_app(config, clock or ManualClock())
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url=IN_PROCESS_URL, headers=dict(headers)) as client:
        yield client


def books(endpoint: str) -> str:
    return f"/scraper/{BOOKS_API_ID}/{endpoint}"


def lab(endpoint: str) -> str:
    return f"/scraper/{FAILURE_LAB_ID}/{endpoint}"


def quotes(endpoint: str) -> str:
    return f"/scraper/{QUOTES_API_ID}/{endpoint}"


def members(endpoint: str) -> str:
    return f"/scraper/{MEMBERS_API_ID}/{endpoint}"


def canonical(endpoint: str) -> str:
    return f"/scraper/{WEATHER_CANONICAL_ID}/{endpoint}"


def weather_copy(endpoint: str) -> str:
    return f"/scraper/{WEATHER_COPY_ID}/{endpoint}"


async def task(client: httpx2.AsyncClient, task_id: str) -> dict[str, Any]:
    reply = await client.get(f"/dispatch/tasks/{task_id}")
    assert reply.status_code == 200
    record: dict[str, Any] = reply.json()
    return record


def base_url(client: httpx2.AsyncClient) -> str:
    return str(client.base_url).rstrip("/")
