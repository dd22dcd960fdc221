from __future__ import annotations

import pytest

from parse_mcp.sandbox import SandboxConfig
from tests.sandbox.support import books, lab, sandbox_client

pytestmark = pytest.mark.anyio

OUT_OF_CREDITS = {
    "error": {
        "message": "You have run out of credits.",
        "next_tier": {"display_name": "Hobby", "credits": 1000, "price": 30},
    },
    "status_code": 402,
}


async def test_only_successful_calls_are_charged() -> None:
    async with sandbox_client(SandboxConfig(credits=50, credits_limit=200)) as client:
        success = await client.get(books("list_books"))
        failure = await client.get(books("list_books"), params={"page": 9})
        stale = await client.get(books("list_books"), params={"page": "x"})
    assert [r.headers["X-Credits-Charged"] for r in (success, failure, stale)] == ["1", "0", "0"]
    assert [r.headers["X-Credits-Remaining"] for r in (success, failure, stale)] == ["49", "49", "49"]
    assert {r.headers["X-Credits-Limit"] for r in (success, failure, stale)} == {"200"}


async def test_an_empty_balance_answers_402_with_the_next_tier() -> None:
    async with sandbox_client(SandboxConfig(credits=1)) as client:
        last = await client.post(books("get_book"), json={"slug": "a-light-in-the-attic_1000"})
        refused = await client.post(books("get_book"), json={"slug": "a-light-in-the-attic_1000"})
    assert (last.status_code, last.headers["X-Credits-Remaining"]) == (200, "0")
    assert (refused.status_code, refused.json()) == (402, OUT_OF_CREDITS)
    assert (refused.headers["X-Credits-Charged"], refused.headers["X-Credits-Remaining"]) == ("0", "0")


async def test_the_real_and_simulated_402_bodies_are_identical() -> None:
    async with sandbox_client(SandboxConfig(credits=0)) as client:
        real = await client.get(books("list_books"))
    async with sandbox_client() as client:
        simulated = await client.post(lab("credits_exhausted"))
    assert real.json() == simulated.json() == OUT_OF_CREDITS


async def test_a_malformed_request_is_refused_before_credits_are_checked() -> None:
    async with sandbox_client(SandboxConfig(credits=0)) as client:
        reply = await client.get(books("list_books"), headers={"API-Snapshot-Version": "latest"})
    assert reply.status_code == 400
