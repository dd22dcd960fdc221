"""Shared fixtures: every test talks to a real sandbox on 127.0.0.1 with a manual clock."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
