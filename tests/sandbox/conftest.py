"""Fixtures for the sandbox tests: a manual clock and a client of a sandbox running on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from parse_mcp.sandbox import ManualClock
from tests.sandbox.support import sandbox_client


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def client(clock: ManualClock) -> AsyncIterator[httpx2.AsyncClient]:
    async with sandbox_client(clock=clock) as sandbox:
        yield sandbox
