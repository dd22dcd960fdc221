from __future__ import annotations

import pytest

from parse_mcp.sandbox import ManualClock, SandboxConfig
from tests.sandbox.support import START_SECONDS_TO_MIDNIGHT, books, lab, sandbox_client

pytestmark = pytest.mark.anyio

START = 1_800_000_000
# Three tokens, one more every 10 seconds: small enough to spend in a test.
SMALL_BUCKET = SandboxConfig(burst=3, refill_per_minute=6.0, daily_limit=None)


def _burst_429(seconds: int) -> dict[str, object]:
    return {
        "error": {
            "error": "Rate limit exceeded",
            "message": f"Too many requests in a short burst. Retry in {seconds}s.",
            "limit_type": "burst",
            "retry_after": seconds,
        },
        "status_code": 429,
    }


async def test_a_success_carries_every_budget_header() -> None:
    async with sandbox_client() as client:
        reply = await client.get(books("list_books"))
    assert {name: reply.headers[name] for name in reply.headers if name.lower().startswith("x-")} == {
        "x-ratelimit-limit": "30",
        "x-ratelimit-burst": "30",
        "x-ratelimit-remaining": "29",
        "x-ratelimit-reset": str(START + 1),
        "x-ratelimit-refill-per-min": "60",
        "x-ratelimit-daily-limit": "1000",
        "x-ratelimit-daily-remaining": "999",
        "x-ratelimit-daily-reset": str(START_SECONDS_TO_MIDNIGHT),
        "x-credits-charged": "1",
        "x-credits-remaining": "9999",
        "x-credits-limit": "10000",
        "x-railway-request-id": "sbx-req-00000001",
    }


async def test_a_spent_bucket_answers_a_burst_429_with_retry_after() -> None:
    async with sandbox_client(SMALL_BUCKET) as client:
        spent = [await client.get(books("list_books")) for _ in range(3)]
        rejected = await client.get(books("list_books"))
    assert [reply.headers["X-RateLimit-Remaining"] for reply in spent] == ["2", "1", "0"]
    assert rejected.status_code == 429
    assert rejected.json() == _burst_429(10)
    assert rejected.headers["Retry-After"] == "10"
    assert rejected.headers["X-RateLimit-Remaining"] == "0"
    assert rejected.headers["X-RateLimit-Reset"] == str(START + 10)
    assert rejected.headers["X-Credits-Charged"] == "0"


async def test_retry_after_counts_down_with_the_clock_and_a_token_returns_when_it_reaches_zero() -> None:
    clock = ManualClock()
    async with sandbox_client(SMALL_BUCKET, clock) as client:
        for _ in range(3):
            await client.get(books("list_books"))
        clock.advance(4)
        waiting = await client.get(books("list_books"))
        clock.advance(6)
        refilled = await client.get(books("list_books"))
        empty_again = await client.get(books("list_books"))
    assert (waiting.status_code, waiting.json(), waiting.headers["Retry-After"]) == (429, _burst_429(6), "6")
    assert refilled.status_code == 200
    assert empty_again.json() == _burst_429(10)


async def test_a_429_does_not_spend_a_token() -> None:
    clock = ManualClock()
    async with sandbox_client(SMALL_BUCKET, clock) as client:
        for _ in range(3):
            await client.get(books("list_books"))
        rejected = [await client.get(books("list_books")) for _ in range(5)]
        clock.advance(10)
        after = await client.get(books("list_books"))
    assert {reply.status_code for reply in rejected} == {429}
    assert after.status_code == 200


async def test_the_bucket_refills_to_its_burst_and_no_further() -> None:
    clock = ManualClock()
    async with sandbox_client(SMALL_BUCKET, clock) as client:
        for _ in range(3):
            await client.get(books("list_books"))
        clock.advance(3600)
        reply = await client.get(books("list_books"))
    assert reply.headers["X-RateLimit-Remaining"] == "2"


async def test_a_fractional_refill_rate_still_grants_a_whole_token_on_time() -> None:
    clock = ManualClock()
    config = SandboxConfig(burst=1, refill_per_minute=5.0, daily_limit=None)
    async with sandbox_client(config, clock) as client:
        await client.get(books("list_books"))
        rejected = await client.get(books("list_books"))
        clock.advance(12)
        refilled = await client.get(books("list_books"))
    assert rejected.json() == _burst_429(12)
    assert rejected.headers["X-RateLimit-Refill-Per-Min"] == "5"
    assert refilled.status_code == 200


async def test_errors_after_the_key_check_carry_budget_headers_and_spend_a_token() -> None:
    async with sandbox_client(SMALL_BUCKET) as client:
        unknown = await client.get("/scraper/nope/list_books")
        wrong_method = await client.post(books("list_books"))
    assert unknown.headers["X-RateLimit-Remaining"] == "2"
    assert wrong_method.headers["X-RateLimit-Remaining"] == "1"
    assert wrong_method.headers["X-Credits-Charged"] == "0"


async def test_the_daily_cap_answers_a_daily_429_until_utc_midnight() -> None:
    clock = ManualClock()
    async with sandbox_client(SandboxConfig(daily_limit=2), clock) as client:
        allowed = [await client.get(books("list_books")) for _ in range(2)]
        capped = await client.get(books("list_books"))
    assert [reply.headers["X-RateLimit-Daily-Remaining"] for reply in allowed] == ["1", "0"]
    assert capped.status_code == 429
    assert capped.headers["Retry-After"] == str(START_SECONDS_TO_MIDNIGHT)
    assert capped.headers["X-RateLimit-Daily-Reset"] == str(START_SECONDS_TO_MIDNIGHT)
    assert capped.json() == {
        "error": {
            "error": "Rate limit exceeded",
            "message": "You have reached your daily request cap. It resets at 00:00 UTC (in 57600s).",
            "limit_type": "daily",
            "retry_after": START_SECONDS_TO_MIDNIGHT,
        },
        "status_code": 429,
    }


async def test_the_daily_cap_resets_at_utc_midnight_and_not_a_second_before() -> None:
    clock = ManualClock()
    async with sandbox_client(SandboxConfig(daily_limit=1), clock) as client:
        await client.get(books("list_books"))
        clock.advance(START_SECONDS_TO_MIDNIGHT - 1)
        last_second = await client.get(books("list_books"))
        clock.advance(1)
        new_day = await client.get(books("list_books"))
    assert (last_second.status_code, last_second.json()["error"]["retry_after"]) == (429, 1)
    assert new_day.status_code == 200
    assert new_day.headers["X-RateLimit-Daily-Remaining"] == "0"
    assert new_day.headers["X-RateLimit-Daily-Reset"] == "86400"


async def test_the_daily_cap_is_checked_before_the_bucket_and_spends_nothing() -> None:
    clock = ManualClock()
    async with sandbox_client(SandboxConfig(burst=1, daily_limit=1), clock) as client:
        await client.get(books("list_books"))
        capped = await client.get(books("list_books"))
    assert capped.json()["error"]["limit_type"] == "daily"
    assert capped.headers["X-RateLimit-Remaining"] == "0"


async def test_without_a_daily_cap_there_are_no_daily_headers() -> None:
    async with sandbox_client(SMALL_BUCKET) as client:
        reply = await client.get(books("list_books"))
    assert not [name for name in reply.headers if name.lower().startswith("x-ratelimit-daily")]


async def test_simulated_and_real_burst_429s_have_the_same_shape() -> None:
    async with sandbox_client(SandboxConfig(burst=1, refill_per_minute=12.0)) as client:
        simulated = await client.post(lab("burst_limit"))
        real = await client.post(lab("burst_limit"))
    assert simulated.json() == real.json() == _burst_429(5)
    assert simulated.headers["Retry-After"] == real.headers["Retry-After"] == "5"
