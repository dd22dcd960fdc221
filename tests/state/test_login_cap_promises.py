"""The login cap's wait, exactly, in memory and on a real redis-server: the seconds until the oldest of the last three
attempts leaves the hour, however few."""

from __future__ import annotations

import pytest

from parse_mcp.state import Stores
from parse_mcp.state.logins import LOGIN_ATTEMPTS, LOGIN_WINDOW_SECONDS

pytestmark = pytest.mark.anyio


async def test_the_wait_for_a_login_is_the_time_until_the_oldest_attempt_leaves_the_hour_even_under_a_second(
    stores: Stores,
) -> None:
    start = 1_000_000.0
    for n in range(LOGIN_ATTEMPTS):
        assert await stores.logins.claim("api-1", start + n) is None
    first_frees_at = start + LOGIN_WINDOW_SECONDS
    assert await stores.logins.wait_before_next("api-1", first_frees_at - 0.25) == pytest.approx(0.25)
    assert await stores.logins.claim("api-1", first_frees_at - 0.25) == pytest.approx(0.25)
    assert await stores.logins.claim("api-1", first_frees_at) is None
