"""The spend ledger: the same behaviour from the three stores (memory, a SQLite file, a real Redis), what only the
shared stores promise (one budget for several processes, kept across restarts, keys that expire), and a store that
is gone costing one warning, not a call."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parse_mcp.state.ledger import (
    LEARN_RETRY_SECONDS,
    LEDGER_FILE,
    RECHECK_SECONDS,
    RESERVATION_TTL_SECONDS,
    RETENTION_DAYS,
    Call,
    LearnFirst,
    Ledger,
    Limits,
    MemoryLedger,
    Refused,
    Reservation,
    SqliteLedger,
    open_ledger,
    unreserved,
)
from parse_mcp.state.ledger_redis import RedisLedger
from parse_mcp.state.redis_stores import connect
from tests.redis_server import RedisServer
from tests.state.conftest import fresh_prefix

pytestmark = pytest.mark.anyio

# 2026-03-14 10:00:00 UTC: fourteen hours before a midnight.
MORNING = datetime(2026, 3, 14, 10, tzinfo=UTC).timestamp()
MIDNIGHT = datetime(2026, 3, 15, tzinfo=UTC).timestamp()


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self, now: float = MORNING) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def books(client: str = "client-a", endpoint: str = "list_books") -> Call:
    return Call("parsebot", "execute_endpoint", "api-books", endpoint, client)


PARSER = Call("scraperapi", "create_parser", "", "create_parser", "client-a")


@dataclass
class Stores:
    """Opens ledgers on one store: on SQLite and Redis, each `open` is another process's view of the same
    state; in memory there is one process, so every `open` is the same ledger."""

    kind: str
    clock: Clock
    open: Callable[[Limits], Ledger]
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    clock = Clock()
    async with AsyncExitStack() as stack:
        if request.param == "memory":
            memory: dict[str, MemoryLedger] = {}

            def open_memory(limits: Limits) -> Ledger:
                return memory.setdefault("one", MemoryLedger(limits, clock))

            yield Stores("memory", clock, open_memory, stack)
        elif request.param == "sqlite":

            def open_sqlite(limits: Limits) -> Ledger:
                ledger = SqliteLedger(tmp_path / LEDGER_FILE, limits, clock)
                stack.push_async_callback(ledger.aclose)
                return ledger

            yield Stores("sqlite", clock, open_sqlite, stack)
        else:
            server: RedisServer = request.getfixturevalue("redis_server")
            prefix = fresh_prefix() + ":ledger"

            def open_redis(limits: Limits) -> Ledger:
                client = connect(server.url)
                stack.push_async_callback(client.aclose)
                return RedisLedger(client, prefix, limits, clock)

            yield Stores("redis", clock, open_redis, stack)


async def teach(ledger: Ledger, clock: Clock, call: Call, price: int) -> None:
    """Let the ledger see one charge of `price` for the call's endpoint, yesterday: today's budget stays whole."""
    today = clock.now
    clock.now -= 86_400
    reservation = await ledger.reserve(call)
    assert isinstance(reservation, Reservation)
    await ledger.settle(reservation, price, None)
    clock.now = today


async def admitted(ledger: Ledger, call: Call, estimate: int = 1) -> Reservation:
    decided = await ledger.reserve(call, estimate)
    assert isinstance(decided, Reservation), decided
    return decided


# -- the same behaviour from every store -------------------------------------------------------------------------


async def test_twelve_concurrent_calls_of_a_known_price_under_a_limit_of_ten_are_charged_at_most_thirteen(
    stores: Stores,
) -> None:
    ledger = stores.open(Limits(daily_credits=10))
    await teach(ledger, stores.clock, books(), 3)
    outcomes: list[Reservation | Refused | LearnFirst] = []

    async def one_call() -> None:
        decided = await ledger.reserve(books())
        outcomes.append(decided)
        if isinstance(decided, Reservation):
            await ledger.settle(decided, 3, None)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for _ in range(12):
                group.start_soon(one_call)

    charged = (await ledger.spent_today("client-a")).spent["parsebot"]
    refused = [outcome for outcome in outcomes if isinstance(outcome, Refused)]
    assert charged <= 13
    assert charged == 9  # three calls fit in ten; the fourth would have passed it
    assert len(refused) == 9
    assert {(r.limit, r.limit_credits, r.estimate) for r in refused} == {("daily", 10, 3)}


async def test_twelve_concurrent_calls_of_an_unknown_price_wait_for_the_first_charge_and_stay_within_one_call(
    stores: Stores,
) -> None:
    ledger = stores.open(Limits(daily_credits=10))
    settled = anyio.Event()
    outcomes: list[Reservation | Refused] = []

    async def one_call() -> None:
        nonlocal settled
        while True:
            before = settled  # a charge that comes while this call asks sets it: the call asks again at once
            decided = await ledger.reserve(books(), estimate=1)
            if not isinstance(decided, LearnFirst):
                break
            assert decided.retry_after_seconds == LEARN_RETRY_SECONDS
            await before.wait()  # the caller would sleep retry_after_seconds; the test waits for the charge itself
        outcomes.append(decided)
        if isinstance(decided, Reservation):
            await ledger.settle(decided, 3, None)
            settled.set()
            settled = anyio.Event()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for _ in range(12):
                group.start_soon(one_call)

    charged = (await ledger.spent_today("client-a")).spent["parsebot"]
    reservations = [outcome for outcome in outcomes if isinstance(outcome, Reservation)]
    assert charged <= 13
    assert charged == 9
    assert sum(r.learning for r in reservations) == 1  # only the first call learned; the others reserved 3
    assert sorted(r.estimate for r in reservations) == [1, 3, 3]
    assert len(outcomes) - len(reservations) == 9


async def test_a_price_learned_from_an_underestimate_overshoots_the_limit_by_less_than_that_one_call(
    stores: Stores,
) -> None:
    ledger = stores.open(Limits(daily_credits=10))
    first = await admitted(ledger, books(), estimate=1)

    assert await ledger.reserve(books()) == LearnFirst(LEARN_RETRY_SECONDS)
    await ledger.settle(first, 12, None)

    refused = await ledger.reserve(books())
    assert isinstance(refused, Refused)
    assert (refused.spent, refused.reserved, refused.estimate) == (12, 0, 12)
    assert (await ledger.spent_today("client-a")).spent["parsebot"] - 10 < 12


async def test_a_refusal_names_the_limit_what_is_spent_and_reserved_and_the_seconds_to_utc_midnight(
    stores: Stores,
) -> None:
    ledger = stores.open(Limits(daily_credits=10))
    await teach(ledger, stores.clock, books(), 4)
    spent = await admitted(ledger, books())
    await ledger.settle(spent, 4, None)
    await admitted(ledger, books())  # in flight

    refused = await ledger.reserve(books())

    assert refused == Refused("daily", 10, spent=4, reserved=4, estimate=4, retry_after_seconds=MIDNIGHT - MORNING)
    assert refused.variable == "PARSE_MCP_DAILY_CREDITS"
    assert refused.used == 8


async def test_a_per_client_limit_holds_for_one_client_while_another_still_spends(stores: Stores) -> None:
    ledger = stores.open(Limits(daily_credits=100, client_daily_credits=6))
    await teach(ledger, stores.clock, books(), 3)
    for _ in range(2):
        await ledger.settle(await admitted(ledger, books("client-a")), 3, None)

    refused = await ledger.reserve(books("client-a"))
    other = await ledger.reserve(books("client-b"))

    assert isinstance(refused, Refused)
    assert (refused.limit, refused.variable, refused.spent) == ("client_daily", "PARSE_MCP_CLIENT_DAILY_CREDITS", 6)
    assert isinstance(other, Reservation)
    today = await ledger.spent_today("client-b")
    assert today.client_spent == 0
    assert today.left() == {"daily": 100 - 6 - 3, "client_daily": 6 - 3}


async def test_a_client_with_an_empty_name_counts_once_against_its_own_limit_and_the_accounts(
    stores: Stores,
) -> None:
    ledger = stores.open(Limits(daily_credits=10, client_daily_credits=10))
    await ledger.settle(await admitted(ledger, books(client="")), 4, None)

    today = await ledger.spent_today("")
    assert (today.spent["parsebot"], today.client_spent, today.left()) == (4, 4, {"daily": 6, "client_daily": 6})
    assert (await ledger.spent_today("client-b")).left() == {"daily": 6, "client_daily": 10}


async def test_scraperapi_credits_have_their_own_limit_and_do_not_count_against_parsebot(stores: Stores) -> None:
    ledger = stores.open(Limits(daily_credits=10, scraperapi_daily_credits=50_000))
    await teach(ledger, stores.clock, PARSER, 30_000)

    await ledger.settle(await admitted(ledger, PARSER, estimate=30_000), 30_000, None)
    refused = await ledger.reserve(PARSER)
    parsebot_call = await ledger.reserve(books(), estimate=5)

    assert isinstance(refused, Refused)
    assert (refused.limit, refused.variable, refused.spent) == (
        "scraperapi_daily",
        "PARSE_MCP_SCRAPERAPI_DAILY_CREDITS",
        30_000,
    )
    assert isinstance(parsebot_call, Reservation)
    today = await ledger.spent_today("client-a")
    assert today.spent == {"parsebot": 0, "scraperapi": 30_000}
    assert today.left() == {"daily": 5, "scraperapi_daily": 20_000}


async def test_releasing_a_call_never_sent_gives_its_budget_back(stores: Stores) -> None:
    ledger = stores.open(Limits(daily_credits=10))
    await teach(ledger, stores.clock, books(), 6)
    held = await admitted(ledger, books())
    assert isinstance(await ledger.reserve(books()), Refused)

    await ledger.release(held)

    assert (await ledger.spent_today("client-a")).left() == {"daily": 10}
    await ledger.settle(await admitted(ledger, books()), 6, None)
    assert (await ledger.spent_today("client-a")).left() == {"daily": 4}


async def test_settling_replaces_the_estimate_by_the_actual_charge_and_teaches_the_price(stores: Stores) -> None:
    ledger = stores.open(Limits(daily_credits=100))
    reservation = await admitted(ledger, books(), estimate=5)
    assert (reservation.estimate, reservation.learning) == (5, True)
    assert (await ledger.spent_today("client-a")).standings[0].reserved == 5

    await ledger.settle(reservation, 2, None)

    today = await ledger.spent_today("client-a")
    assert (today.spent["parsebot"], today.client_spent, today.standings[0].reserved) == (2, 2, 0)
    assert await ledger.last_charge("parsebot", "api-books", "list_books") == 2
    assert (await admitted(ledger, books(), estimate=5)).estimate == 2


async def test_an_unknown_price_admits_one_call_at_a_time_until_a_charge_teaches_it(stores: Stores) -> None:
    ledger = stores.open(Limits(daily_credits=100))
    first = await admitted(ledger, books())

    assert await ledger.reserve(books()) == LearnFirst(LEARN_RETRY_SECONDS)
    assert await ledger.reserve(books("client-b")) == LearnFirst(LEARN_RETRY_SECONDS)
    other_endpoint = await admitted(ledger, books(endpoint="get_book"))
    assert other_endpoint.learning

    # A failure that charged nothing teaches nothing: the next call learns in its place.
    await ledger.settle(first, 0, "upstream_error")
    assert await ledger.last_charge("parsebot", "api-books", "list_books") is None
    second = await admitted(ledger, books())
    assert second.learning
    assert await ledger.reserve(books()) == LearnFirst(LEARN_RETRY_SECONDS)

    await ledger.settle(second, 4, None)
    together = [await admitted(ledger, books()) for _ in range(3)]
    assert [(r.estimate, r.learning) for r in together] == [(4, False)] * 3


async def test_without_a_limit_nothing_is_refused_and_unknown_prices_do_not_queue(stores: Stores) -> None:
    ledger = stores.open(Limits())
    calls = [await admitted(ledger, books(), estimate=1_000_000) for _ in range(3)]
    for reservation in calls:
        await ledger.settle(reservation, 700, None)

    today = await ledger.spent_today("client-a")
    assert (today.spent["parsebot"], today.standings, today.left()) == (2_100, (), {})


async def test_a_reservation_never_settled_stops_holding_budget_and_the_learning_slot_after_its_ttl(
    stores: Stores,
) -> None:
    ledger = stores.open(Limits(daily_credits=10))
    await admitted(ledger, books(), estimate=8)  # its process dies mid-call
    assert await ledger.reserve(books()) == LearnFirst(LEARN_RETRY_SECONDS)

    stores.clock.now += RESERVATION_TTL_SECONDS

    again = await admitted(ledger, books(), estimate=8)
    assert again.learning
    assert (await ledger.spent_today("client-a")).standings[0].reserved == 8


async def test_the_day_rolls_over_at_utc_midnight_and_the_limit_starts_afresh(stores: Stores) -> None:
    ledger = stores.open(Limits(daily_credits=10))
    await teach(ledger, stores.clock, books(), 5)
    for _ in range(2):
        await ledger.settle(await admitted(ledger, books()), 5, None)
    stores.clock.now = MIDNIGHT - 1
    refused = await ledger.reserve(books())
    assert isinstance(refused, Refused)
    assert refused.retry_after_seconds == 1

    stores.clock.now = MIDNIGHT

    today = await ledger.spent_today("client-a")
    assert (today.day, today.spent["parsebot"], today.left(), today.seconds_to_midnight) == (
        "2026-03-15",
        0,
        {"daily": 10},
        86_400,
    )
    assert isinstance(await ledger.reserve(books()), Reservation)


async def test_usage_totals_each_day_by_service_endpoint_client_tool_and_failures_by_code(stores: Stores) -> None:
    ledger = stores.open(Limits())
    stores.clock.now = MORNING - 86_400
    await ledger.settle(await admitted(ledger, books()), 3, None)
    stores.clock.now = MORNING
    await ledger.settle(await admitted(ledger, books()), 3, None)
    await ledger.settle(await admitted(ledger, books("client-b", "get_book")), 2, "upstream_error")
    await ledger.settle(await admitted(ledger, books("client-b", "get_book")), 0, "upstream_error")
    await ledger.settle(await admitted(ledger, PARSER), 30_000, None)
    await ledger.settle(await admitted(ledger, PARSER), 0, "parser_failed")

    days = await ledger.usage(3)

    assert [day.day for day in days] == ["2026-03-12", "2026-03-13", "2026-03-14"]
    assert (days[0].calls, days[0].credits, days[1].calls, days[1].credits) == (0, 0, 1, 3)
    today = days[2]
    assert today.calls == 5
    assert today.by_service == {"parsebot": 5, "scraperapi": 30_000}
    assert today.by_endpoint == {
        ("parsebot", "api-books", "list_books"): 3,
        ("parsebot", "api-books", "get_book"): 2,
        ("scraperapi", "", "create_parser"): 30_000,
    }
    assert today.by_client == {"client-a": 30_003, "client-b": 2}
    assert today.by_tool == {"execute_endpoint": 5, "create_parser": 30_000}
    assert today.failures == {"upstream_error": 2, "parser_failed": 1}
    assert [day.day for day in await ledger.usage(1)] == ["2026-03-14"]


# -- what only a shared store promises ----------------------------------------------------------------------------


@pytest.mark.parametrize("stores", ["sqlite", "redis"], indirect=True)
async def test_two_ledgers_on_one_store_share_the_limit_like_two_processes(stores: Stores) -> None:
    limits = Limits(daily_credits=10, client_daily_credits=8)
    first, second = stores.open(limits), stores.open(limits)
    await teach(first, stores.clock, books(), 3)
    await first.settle(await admitted(first, books()), 3, None)
    held = await admitted(second, books())

    refused = await first.reserve(books())

    assert isinstance(refused, Refused)
    assert (refused.limit, refused.spent, refused.reserved) == ("client_daily", 3, 3)
    await second.settle(held, 3, None)
    assert (await first.spent_today("client-a")).left() == {"daily": 4, "client_daily": 2}
    assert await second.last_charge("parsebot", "api-books", "list_books") == 3
    assert (await first.usage(1))[0].calls == 2


@pytest.mark.parametrize("stores", ["sqlite", "redis"], indirect=True)
async def test_an_unknown_price_admits_one_call_at_a_time_across_processes(stores: Stores) -> None:
    limits = Limits(daily_credits=100)
    first, second = stores.open(limits), stores.open(limits)
    learning = await admitted(first, books())

    assert await second.reserve(books()) == LearnFirst(LEARN_RETRY_SECONDS)
    await first.settle(learning, 7, None)
    assert (await admitted(second, books())).estimate == 7


async def test_a_reopened_sqlite_ledger_still_sees_todays_spend_and_prices(tmp_path: Path) -> None:
    clock = Clock()
    limits = Limits(daily_credits=10)
    before = SqliteLedger(tmp_path / "state" / LEDGER_FILE, limits, clock)
    await before.settle(await admitted(before, books(), estimate=4), 4, None)
    await before.aclose()

    after = SqliteLedger(tmp_path / "state" / LEDGER_FILE, limits, clock)
    try:
        assert (await after.spent_today("client-a")).left() == {"daily": 6}
        assert (await admitted(after, books())).estimate == 4
        assert isinstance(await after.reserve(books()), Refused)
    finally:
        await after.aclose()


_CHILD = """
import sys, anyio
from parse_mcp.state.ledger import Call, Limits, Reservation, SqliteLedger
path, now, calls = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
async def main():
    ledger = SqliteLedger(__import__("pathlib").Path(path), Limits(daily_credits=10), lambda: now)
    spent = 0
    for _ in range(calls):
        decided = await ledger.reserve(Call("parsebot", "execute_endpoint", "api-books", "list_books", "local"))
        if isinstance(decided, Reservation):
            await ledger.settle(decided, 3, None)
            spent += 3
    await ledger.aclose()
    print(spent)
anyio.run(main)
"""


async def test_two_os_processes_on_one_sqlite_file_share_the_limit(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / LEDGER_FILE
    ledger = SqliteLedger(path, Limits(daily_credits=10), clock)
    await teach(ledger, clock, Call("parsebot", "execute_endpoint", "api-books", "list_books", "local"), 3)
    await ledger.aclose()
    command = [sys.executable, "-c", _CHILD, str(path), repr(clock.now), "6"]

    outputs: list[bytes] = []

    async def child() -> None:
        outputs.append((await anyio.run_process(command, check=True)).stdout)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for _ in range(2):
                group.start_soon(child)

    spent_by_each = [int(output) for output in outputs]
    assert sum(spent_by_each) == 9  # three calls of 3 under 10, whichever process made them
    reopened = SqliteLedger(path, Limits(daily_credits=10), clock)
    try:
        assert (await reopened.spent_today("local")).spent["parsebot"] == 9
    finally:
        await reopened.aclose()


async def test_redis_day_keys_expire_after_the_retention_period(redis_server: RedisServer) -> None:
    clock = Clock()
    prefix = fresh_prefix() + ":ledger"
    client = connect(redis_server.url)
    try:
        ledger = RedisLedger(client, prefix, Limits(daily_credits=10), clock)
        await ledger.settle(await admitted(ledger, books()), 2, None)
        await admitted(ledger, books())
    finally:
        await client.aclose()

    with redis.Redis(host="127.0.0.1", port=redis_server.port) as raw:
        keys = sorted(key.decode() for key in raw.scan_iter(match=f"{prefix}:*"))
        ttls = {key.removeprefix(prefix + ":"): raw.ttl(key) for key in keys}
    # ("learning" is gone: the first charge taught the price, and nothing learns any more.)
    assert set(ttls) == {"spent:2026-03-14", "rows:2026-03-14", "reserved", "held", "reservations", "prices"}
    retention = RETENTION_DAYS * 86_400
    assert all(retention - 60 < ttl <= retention for ttl in ttls.values()), ttls


async def test_a_redis_reservation_stores_only_what_its_expiry_sweep_needs_and_expires_on_the_callers_clock(
    redis_server: RedisServer,
) -> None:
    """What a reservation stores in Redis is what the sweep needs, as JSON, and nothing else."""
    clock = Clock()
    prefix = fresh_prefix() + ":ledger"
    client = connect(redis_server.url)
    try:
        held = await admitted(RedisLedger(client, prefix, Limits(daily_credits=10), clock), books())
    finally:
        await client.aclose()
    with redis.Redis(host="127.0.0.1", port=redis_server.port) as raw:
        stored = json.loads(raw.hget(f"{prefix}:reservations", held.id) or b"{}")
        expires = raw.zscore(f"{prefix}:held", held.id)
    assert stored == {
        "d": "2026-03-14",
        "s": "parsebot",
        "c": "client-a",
        "e": 1,
        "p": "parsebot\x1fapi-books\x1flist_books",
        "l": 1,
    }
    assert expires == MORNING + RESERVATION_TTL_SECONDS


# -- the store gone: one warning, and the calls go on ------------------------------------------------------------


async def test_an_unwritable_sqlite_ledger_costs_one_warning_and_calls_go_on_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="parse_mcp.state.ledger")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the state directory should be")
    clock = Clock()
    ledger = open_ledger(Limits(daily_credits=10), clock, state_dir=blocker / "parse-mcp")

    first = await admitted(ledger, books(), estimate=3)
    await ledger.settle(first, 3, None)
    for _ in range(2):
        await ledger.settle(await admitted(ledger, books()), 3, None)
    refused = await ledger.reserve(books())

    assert ledger.degraded
    assert isinstance(refused, Refused)  # the limit still holds, counted in this process
    assert (await ledger.spent_today("client-a")).spent["parsebot"] == 9
    assert (await ledger.usage(1))[0].calls == 3
    warnings = [record for record in caplog.records if record.name == "parse_mcp.state.ledger"]
    assert len(warnings) == 1
    assert "in memory" in warnings[0].getMessage()
    assert str(blocker) not in warnings[0].getMessage()
    await ledger.aclose()


async def test_a_ledger_file_that_is_not_a_database_fails_over_to_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="parse_mcp.state.ledger")
    (tmp_path / LEDGER_FILE).write_bytes(b"not a SQLite file: a ledger overwritten by something else " * 100)
    ledger = open_ledger(Limits(daily_credits=10), Clock(), state_dir=tmp_path)

    reservation = await ledger.reserve(books())

    assert isinstance(reservation, Reservation)
    assert ledger.degraded
    assert len([r for r in caplog.records if r.name == "parse_mcp.state.ledger"]) == 1
    await ledger.aclose()


async def test_a_stopped_redis_costs_one_warning_then_the_ledger_goes_back_to_it_when_it_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="parse_mcp.state.ledger")
    clock = Clock()
    with RedisServer(tmp_path) as server:
        client = connect(server.url)
        try:
            ledger = open_ledger(Limits(daily_credits=10), clock, redis=client, redis_prefix="stopped:ledger")
            await ledger.settle(await admitted(ledger, books(), estimate=2), 2, None)
            held = await admitted(ledger, books())  # made in Redis, settled after it stopped
            server.stop()

            with anyio.fail_after(10):
                await ledger.settle(held, 2, None)
                for _ in range(4):
                    await ledger.settle(await admitted(ledger, books()), 2, None)
                assert isinstance(await ledger.reserve(books()), Refused)  # the limit holds, in this process
            assert ledger.degraded
            assert (await ledger.spent_today("client-a")).spent["parsebot"] == 10

            server.start()
            clock.now += RECHECK_SECONDS
            back = await admitted(ledger, books())
        finally:
            await client.aclose()

    assert not ledger.degraded
    assert back.estimate == 1  # Redis came back empty: nothing learned there yet
    messages = [record.getMessage() for record in caplog.records if record.name == "parse_mcp.state.ledger"]
    assert [m.startswith("the spend ledger's store failed") for m in messages] == [True, False]
    assert "answers again" in messages[1]


async def test_open_ledger_keeps_the_embedded_ledger_in_a_file_under_the_state_directory(tmp_path: Path) -> None:
    clock = Clock()
    ledger = open_ledger(Limits(daily_credits=10), clock, state_dir=tmp_path / "state")
    await ledger.settle(await admitted(ledger, books()), 1, None)
    await ledger.aclose()

    assert isinstance(ledger.store, SqliteLedger)
    assert (tmp_path / "state" / LEDGER_FILE).is_file()
    assert not ledger.degraded


# -- the bound, for any sequence of operations --------------------------------------------------------------------


Operation = tuple[str, int, int, int, bool]  # (kind, client, endpoint, estimate or position, fails)

_reserve = st.tuples(st.just("reserve"), st.integers(0, 1), st.integers(0, 1), st.integers(0, 6), st.just(False))
# Mostly successes (they teach prices), some failures that charge nothing.
_settle = st.tuples(
    st.just("settle"), st.just(0), st.just(0), st.integers(0, 20), st.sampled_from([False] * 3 + [True])
)
_release = st.tuples(st.just("release"), st.just(0), st.just(0), st.integers(0, 20), st.just(False))
# Long enough that prices get learned and several calls are in flight at once (checked: removing the unknown-cost
# rule, or counting only what is spent and not what is reserved, fails within a few dozen examples).
operations = st.lists(st.one_of(_reserve, _reserve, _reserve, _settle, _settle, _release), min_size=8, max_size=60)


@dataclass
class Scope:
    """One limit's scope in the model: what the bound allows beyond the limit."""

    allowance: int = 0


async def run_sequence(
    ledger: Ledger, limits: Limits, prices: tuple[int, int], sequence: list[Operation]
) -> tuple[int, dict[str, int], int, dict[str, int]]:
    """Run the operations; return what was settled account-wide and per client, and the bounds' allowances."""
    in_flight: list[tuple[Reservation, int]] = []  # with the endpoint's true price
    account, clients = Scope(), {"a": Scope(), "b": Scope()}
    settled_total, settled_by = 0, {"a": 0, "b": 0}
    for kind, client_index, endpoint_index, number, fails in sequence:
        client = "ab"[client_index]
        if kind == "reserve":
            decided = await ledger.reserve(books(client, f"e{endpoint_index}"), estimate=number)
            if isinstance(decided, Reservation):
                # Right after an admission, what is spent and reserved fits in every limit on the call.
                for standing in (await ledger.spent_today(client)).standings:
                    assert standing.spent + standing.reserved <= standing.limit_credits, standing
                in_flight.append((decided, prices[endpoint_index]))
                under = [(r, max(0, price - r.estimate)) for r, price in in_flight]
                account.allowance = max(account.allowance, sum(u for _, u in under))
                mine = sum(u for r, u in under if r.call.client == client)
                clients[client].allowance = max(clients[client].allowance, mine)
                # At most one call per endpoint in flight underestimates: the learning one.
                for endpoint in ("e0", "e1"):
                    assert sum(1 for r, u in under if u > 0 and r.call.endpoint == endpoint) <= 1
        elif in_flight:
            reservation, price = in_flight.pop(number % len(in_flight))
            if kind == "settle":
                charge = 0 if fails else price
                await ledger.settle(reservation, charge, "upstream_error" if fails else None)
                settled_total += charge
                settled_by[reservation.call.client] += charge
            else:
                await ledger.release(reservation)
    return settled_total, settled_by, account.allowance, {c: s.allowance for c, s in clients.items()}


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sequence=operations,
    prices=st.tuples(st.integers(1, 6), st.integers(0, 6)),
    daily=st.integers(0, 12),
    per_client=st.one_of(st.none(), st.integers(0, 12)),
)
def test_for_any_sequence_spend_passes_a_limit_by_no_more_than_the_underestimates_in_flight(
    kind: str,
    request: pytest.FixtureRequest,
    sequence: list[Operation],
    prices: tuple[int, int],
    daily: int,
    per_client: int | None,
) -> None:
    """The bound: what is spent passes a limit by at most the underestimates of the calls that were in flight
    together when a call was last admitted in that limit's scope. A known price is estimated exactly, so only
    the one learning call per endpoint underestimates: with one endpoint at a fixed price, at most one call."""
    limits = Limits(daily_credits=daily, client_daily_credits=per_client)
    url = request.getfixturevalue("redis_server").url if kind == "redis" else ""

    async def check() -> None:
        clock = Clock()
        with tempfile.TemporaryDirectory() as directory:
            async with AsyncExitStack() as stack:
                ledger: Ledger
                if kind == "memory":
                    ledger = MemoryLedger(limits, clock)
                elif kind == "sqlite":
                    ledger = SqliteLedger(Path(directory) / LEDGER_FILE, limits, clock)
                    stack.push_async_callback(ledger.aclose)
                else:
                    client = connect(url)
                    stack.push_async_callback(client.aclose)
                    ledger = RedisLedger(client, fresh_prefix() + ":ledger", limits, clock)
                total, by_client, allowance, client_allowance = await run_sequence(ledger, limits, prices, sequence)
                today = await ledger.spent_today("a")
                assert today.spent["parsebot"] == total
                assert total <= daily + allowance
                if per_client is not None:
                    for client_name, spent in by_client.items():
                        assert spent <= per_client + client_allowance[client_name]

    anyio.run(check)


async def test_settlements_at_once_on_sqlite_are_written_in_batches_and_every_one_is_kept(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "ledger.sqlite3"
    ledger = SqliteLedger(path, Limits(), clock)
    call = Call("parsebot", "execute_endpoint", "api-1", "rows", "client-a")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for _ in range(50):
                group.start_soon(ledger.settle, unreserved(call, clock()), 2, None)
        await ledger.aclose()  # what is still queued is written before the file closes
        reopened = SqliteLedger(path, Limits(), clock)
        [today] = await reopened.usage(1)
        await reopened.aclose()
    assert (today.calls, today.credits) == (50, 100)
