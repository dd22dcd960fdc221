"""Shared fixtures: a real sandbox on 127.0.0.1 with a manual clock, and real MCP clients on top."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from mcp import Client

from parse_mcp.sandbox import PARSEBOT_KEY, ManualClock, SandboxConfig, create_app, running_sandbox
from parse_mcp.server import build_server
from parse_mcp.settings import Secret, Settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Sandbox:
    url: str
    clock: ManualClock

    def settings(self, key: str = PARSEBOT_KEY, base_path: str = "") -> Settings:
        return Settings(parse_api_key=Secret(key), parse_base_url=self.url + base_path)


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Generous defaults so that only the tests about limits meet them; override per module."""
    return SandboxConfig()


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[Sandbox]:
    clock = ManualClock()
    async with running_sandbox(create_app(sandbox_config, clock)) as url:
        yield Sandbox(url, clock)


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[Client]:
    async with Client(build_server(sandbox.settings(), clock=sandbox.clock.now), raise_exceptions=True) as connected:
        yield connected
