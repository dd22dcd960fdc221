"""An AI Parser emulator with default limits on the shared manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from parse_mcp.sandbox import ManualClock
from tests.sandbox.aiparser.support import AiParser, aiparser_sandbox


@pytest.fixture
async def ai(clock: ManualClock) -> AsyncIterator[AiParser]:
    async with aiparser_sandbox(clock=clock) as emulator:
        yield emulator
