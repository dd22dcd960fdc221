"""The spend ledger's exact promises, on every store where they are shared (memory, SQLite, a real Redis): what is
left for a call, which charges teach a price, what counts against the AI Parser's own limit, the days kept, and the
ledger that fails over to memory settling and releasing where each reservation was made."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from parse_mcp.state.ledger import (
    LEDGER_FILE,
    RECHECK_SECONDS,
    RETENTION_DAYS,
    Call,
    LearnFirst,
    Limits,
    MemoryLedger,
    Reservation,
    SqliteLedger,
    open_ledger,
    unreserved,
    utc_day,
)
from tests.state.test_ledger import MORNING, PARSER, Clock, Stores, admitted, books, stores, teach

pytestmark = pytest.mark.anyio

__all__ = ["stores"]  # the three stores' fixture, shared with tests/state/test_ledger.py

DAY = 86_400
LIMITED = Limits(daily_credits=50, client_daily_credits=20, scraperapi_daily_credits=70)


async def test_what_is_left_for_a_call_is_the_smaller_of_the_limits_that_apply_to_its_service(stores: Stores) -> None:
    ledger = stores.open(LIMITED)
    await ledger.settle(await admitted(ledger, books(), 5), 5, None)
    await ledger.settle(await admitted(ledger, PARSER, 3), 3, None)

    today = await ledger.spent_today("client-a")

    assert today.left_for(LIMITED, "parsebot") == 15  # the client's 20 - 5, below the account's 50 - 5
    assert today.left_for(LIMITED, "scraperapi") == 67
    assert today.left_for(Limits(daily_credits=50), "parsebot") == 45
    assert today.left_for(Limits(client_daily_credits=20), "scraperapi") is None
    assert today.left_for(Limits(), "parsebot") is None
    if stores.kind != "memory":  # another process, with the account's limit alone: the client's has no standing
        only_account = await stores.open(Limits(daily_credits=50)).spent_today("client-a")
        assert only_account.left_for(LIMITED, "parsebot") == 45


async def test_a_failure_that_charged_even_one_credit_teaches_the_endpoints_price(stores: Stores) -> None:
    ledger = stores.open(Limits(daily_credits=100))
    await ledger.settle(await admitted(ledger, books(endpoint="a"), 9), 1, "upstream_error")
    await ledger.settle(await admitted(ledger, books(endpoint="b"), 9), 0, "upstream_error")

    assert await ledger.last_charge("parsebot", "api-books", "a") == 1
    assert await ledger.last_charge("parsebot", "api-books", "b") is None


async def test_an_ai_parser_limit_alone_makes_an_unknown_operation_admit_one_call_at_a_time(stores: Stores) -> None:
    ledger = stores.open(Limits(scraperapi_daily_credits=100_000))

    first = await admitted(ledger, PARSER, 30_000)

    assert first.learning
    assert isinstance(await ledger.reserve(PARSER, 30_000), LearnFirst)


async def test_what_an_ai_parser_call_in_flight_holds_counts_against_the_ai_parser_limit_today(stores: Stores) -> None:
    ledger = stores.open(LIMITED)
    await admitted(ledger, PARSER, 30)

    today = await ledger.spent_today("client-a")

    standing = {standing.limit: standing for standing in today.standings}["scraperapi_daily"]
    assert (standing.spent, standing.reserved, standing.left) == (0, 30, 40)


async def test_a_call_reserved_without_an_estimate_is_expected_to_cost_one_credit_on_the_day_it_was_made(
    stores: Stores,
) -> None:
    ledger = stores.open(Limits(daily_credits=10))

    reservation = await ledger.reserve(books())

    assert isinstance(reservation, Reservation)
    assert reservation.estimate == 1
    assert reservation.day == utc_day(stores.clock.now) == "2026-03-14"


async def test_a_charge_no_limit_held_is_recorded_like_any_other(stores: Stores) -> None:
    ledger = stores.open(Limits())

    await ledger.settle(unreserved(books(), stores.clock.now), 4, None)

    assert (await ledger.spent_today("client-a")).spent["parsebot"] == 4
    assert (await ledger.usage(1))[0].by_client == {"client-a": 4}


async def test_usage_of_today_counts_todays_charges_after_yesterdays(stores: Stores) -> None:
    ledger = stores.open(Limits())
    await teach(ledger, stores.clock, books(), 7)  # a charge yesterday, recorded first
    await ledger.settle(await admitted(ledger, books()), 7, None)

    (today,) = await ledger.usage(1)

    assert (today.day, today.credits, today.calls) == ("2026-03-14", 7, 1)


async def test_a_day_is_the_utc_day_whatever_the_local_time_zone(far_from_utc: None) -> None:
    late = datetime(2026, 3, 14, 23, 30, tzinfo=UTC).timestamp()  # already the 15th in UTC+14
    ledger = MemoryLedger(Limits(), Clock(late))
    await ledger.settle(unreserved(books(), late), 2, None)

    assert utc_day(late) == "2026-03-14"
    assert [day.day for day in await ledger.usage(2)] == ["2026-03-13", "2026-03-14"]


# -- the days kept ---------------------------------------------------------------------------------------------------


async def test_a_memory_ledger_keeps_the_last_35_days_and_forgets_older_ones_and_todays_spend_stays() -> None:
    clock = Clock(MORNING - RETENTION_DAYS * DAY)
    ledger = MemoryLedger(Limits(), clock)
    for _ in range(2):  # a day past the retention, then the oldest day kept
        await ledger.settle(unreserved(books(), clock.now), 3, None)
        clock.now += DAY
    clock.now = MORNING
    await ledger.settle(unreserved(books(), clock.now), 5, None)
    await ledger.settle(unreserved(books(client="client-b"), clock.now), 1, None)

    days = await ledger.usage(RETENTION_DAYS + 5)

    credits = {day.day: day.credits for day in days if day.credits}
    assert credits == {"2026-02-08": 3, "2026-03-14": 6}
    assert (await ledger.spent_today("client-a")).spent["parsebot"] == 6
    assert (await ledger.spent_today("client-a")).client_spent == 5


async def test_a_sqlite_ledger_opened_again_forgets_the_days_past_the_retention_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    clock = Clock(MORNING - RETENTION_DAYS * DAY)
    ledger = SqliteLedger(tmp_path / LEDGER_FILE, Limits(), clock)
    for _ in range(2):
        await ledger.settle(unreserved(books(), clock.now), 3, None)
        clock.now += DAY
    await ledger.aclose()
    clock.now = MORNING
    reopened = SqliteLedger(tmp_path / LEDGER_FILE, Limits(), clock)
    try:
        days = await reopened.usage(RETENTION_DAYS + 5)
    finally:
        await reopened.aclose()

    assert {day.day: day.credits for day in days if day.credits} == {"2026-02-08": 3}


async def test_the_sqlite_ledger_makes_its_state_directory_however_deep(tmp_path: Path) -> None:
    ledger = open_ledger(Limits(daily_credits=10), Clock(), state_dir=tmp_path / "a" / "b" / "state")

    await ledger.settle(await admitted(ledger, books()), 1, None)

    assert not ledger.degraded
    assert (tmp_path / "a" / "b" / "state" / LEDGER_FILE).is_file()
    await ledger.aclose()


# -- failing over to memory and back ---------------------------------------------------------------------------------


async def test_a_call_released_while_the_store_is_gone_gives_its_budget_back_in_memory(tmp_path: Path) -> None:
    clock = Clock()
    (tmp_path / LEDGER_FILE).write_bytes(b"not a SQLite file " * 100)
    ledger = open_ledger(Limits(daily_credits=10), clock, state_dir=tmp_path)

    held = await admitted(ledger, books(), 8)
    assert ledger.degraded
    assert held.estimate == 8
    await ledger.release(held)

    assert (await admitted(ledger, books(), 8)).estimate == 8
    await ledger.aclose()


async def test_a_call_released_on_the_store_gives_its_budget_back_there(tmp_path: Path) -> None:
    ledger = open_ledger(Limits(daily_credits=10), Clock(), state_dir=tmp_path)

    await ledger.release(await admitted(ledger, books(), 8))

    assert (await admitted(ledger, books(), 8)).estimate == 8
    assert not ledger.degraded
    await ledger.aclose()


async def test_a_failure_settled_while_the_store_is_gone_is_recorded_in_memory_with_its_code(tmp_path: Path) -> None:
    (tmp_path / LEDGER_FILE).write_bytes(b"not a SQLite file " * 100)
    ledger = open_ledger(Limits(daily_credits=10), Clock(), state_dir=tmp_path)

    await ledger.settle(await admitted(ledger, books()), 0, "upstream_error")

    assert ledger.degraded
    assert (await ledger.usage(1))[0].failures == {"upstream_error": 1}
    await ledger.aclose()


async def test_a_call_reserved_in_memory_is_settled_in_memory_even_once_the_store_is_back(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / LEDGER_FILE
    path.write_bytes(b"not a SQLite file " * 100)
    ledger = open_ledger(Limits(daily_credits=10), clock, state_dir=tmp_path)
    held = await admitted(ledger, books(), 3)
    assert ledger.degraded

    path.unlink()  # the file is repaired; the store is tried again after RECHECK_SECONDS
    clock.now += RECHECK_SECONDS
    assert isinstance(await ledger.reserve(books(client="client-b")), Reservation)
    assert not ledger.degraded
    await ledger.settle(held, 3, None)

    assert (await ledger.fallback.spent_today("client-a")).spent["parsebot"] == 3
    assert (await ledger.store.spent_today("client-a")).spent["parsebot"] == 0
    await ledger.aclose()


async def test_what_a_client_spent_is_read_through_the_failover_ledger_for_that_client(tmp_path: Path) -> None:
    ledger = open_ledger(Limits(client_daily_credits=10), Clock(), state_dir=tmp_path)
    await ledger.settle(await admitted(ledger, books(), 4), 4, None)

    assert (await ledger.spent_today("client-a")).client_spent == 4
    assert (await ledger.spent_today("client-b")).client_spent == 0
    await ledger.aclose()


async def test_an_estimate_passes_through_the_failover_ledger_to_the_store_and_to_memory(tmp_path: Path) -> None:
    ledger = open_ledger(Limits(daily_credits=100), Clock(), state_dir=tmp_path / "good")
    assert (await admitted(ledger, books(), 6)).estimate == 6
    await ledger.aclose()

    (tmp_path / LEDGER_FILE).write_bytes(b"not a SQLite file " * 100)
    broken = open_ledger(Limits(daily_credits=100), Clock(), state_dir=tmp_path)
    assert (await admitted(broken, books(), 6)).estimate == 6
    assert (await admitted(broken, Call("parsebot", "t", "api", "other", "c"))).estimate == 1
    assert broken.degraded
    await broken.aclose()
