"""The stores under test: each store test runs once in memory and once on a real Redis."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest

from parse_mcp.settings import Secret, Settings
from parse_mcp.state import Stores, opened_stores
from tests.redis_server import RedisServer

SESSION_SECRET = "test-session-secret-" + "k3V9x2Q7m1Z8p4L6w0R5"
_prefixes = itertools.count()


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def redis_settings(url: str, prefix: str, key: str = "pmx_account_one") -> Settings:
    return Settings(
        parse_api_key=Secret(key), redis_url=Secret(url), redis_prefix=prefix, session_secrets=(Secret(SESSION_SECRET),)
    )


def fresh_prefix() -> str:
    """A prefix of its own for each test: the tests of one worker share one Redis and must not meet."""
    return f"test-{next(_prefixes)}"


OpenStores = Callable[[], AbstractAsyncContextManager[Stores]]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "redis"])
def open_stores(request: pytest.FixtureRequest, clock: Clock) -> OpenStores:
    """Opens the stores one server process would have; called twice, two processes' views of one state
    (in memory, two views of nothing shared: only the tests about one process use it twice there)."""
    if request.param == "memory":
        settings = Settings(parse_api_key=Secret("pmx_account_one"))
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        settings = redis_settings(server.url, fresh_prefix())
    return lambda: opened_stores(settings, clock)


@pytest.fixture
async def stores(open_stores: OpenStores) -> AsyncIterator[Stores]:
    async with open_stores() as opened:
        yield opened
