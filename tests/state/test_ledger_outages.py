"""The spend ledger when its store is away for a while: a SQLite file another process holds is still read, a batch it
could not take is written with the next one (with what came meanwhile), and the file is opened afresh afterwards;
the failover ledger waits exactly its recheck period before trying the store again, settles with the error code
on the store, and forgets the reservations it made in memory once they end. Also: a day past the retention is
forgotten whole, and a call reserved without an estimate is expected to cost one credit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from parse_mcp.state.ledger import (
    LEDGER_FILE,
    RECHECK_SECONDS,
    RETENTION_DAYS,
    LedgerUnavailable,
    Limits,
    MemoryLedger,
    Reservation,
    SqliteLedger,
    open_ledger,
    unreserved,
)
from tests.state.test_ledger import MORNING, Clock, admitted, books

pytestmark = pytest.mark.anyio

DAY = 86_400


async def test_a_batch_a_locked_sqlite_file_could_not_take_is_written_later_with_what_came_meanwhile(
    tmp_path: Path,
) -> None:
    path = tmp_path / LEDGER_FILE
    ledger = SqliteLedger(path, Limits(daily_credits=100), Clock())
    ledger.BUSY_TIMEOUT_MS = 100  # how long a write waits for another process's lock; 5 s by default
    held = [await admitted(ledger, books(endpoint=f"endpoint-{n}"), 2) for n in range(3)]
    other_process = sqlite3.connect(path, isolation_level=None)
    try:
        other_process.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        # Reads go on meanwhile: one snapshot, no lock to wait for.
        assert (await ledger.spent_today("client-a")).spent["parsebot"] == 0
        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:

                async def first_write() -> None:
                    with pytest.raises(LedgerUnavailable):
                        await ledger.settle(held[0], 1, None)

                group.start_soon(first_write)
                await anyio.wait_all_tasks_blocked()  # the first write waits on the lock
                await ledger.settle(held[1], 1, None)  # queued behind it: returns at once
        other_process.execute("COMMIT")
        # The file is opened afresh, and the batch that failed goes with the next one, and so does what came meanwhile.
        await ledger.settle(held[2], 1, None)
        today = await ledger.spent_today("client-a")
        assert (today.spent["parsebot"], (await ledger.usage(1))[0].calls) == (3, 3)
    finally:
        other_process.close()
        await ledger.aclose()


async def test_the_failover_ledger_tries_a_repaired_store_again_after_exactly_its_recheck_period(
    tmp_path: Path,
) -> None:
    clock = Clock()
    path = tmp_path / LEDGER_FILE
    path.write_bytes(b"not a SQLite file " * 100)
    ledger = open_ledger(Limits(daily_credits=10), clock, state_dir=tmp_path)
    lost_at = clock.now
    await admitted(ledger, books(endpoint="first"))
    assert ledger.degraded
    path.unlink()  # repaired
    clock.now = lost_at + RECHECK_SECONDS - 0.5
    await admitted(ledger, books(endpoint="second"))
    assert ledger.degraded, "not tried again so soon"
    clock.now = lost_at + RECHECK_SECONDS
    await admitted(ledger, books(endpoint="third"))
    assert not ledger.degraded
    await ledger.aclose()


async def test_a_failure_settled_on_the_store_through_the_failover_ledger_keeps_its_error_code(tmp_path: Path) -> None:
    ledger = open_ledger(Limits(daily_credits=10), Clock(), state_dir=tmp_path)
    await ledger.settle(await admitted(ledger, books()), 0, "upstream_error")
    assert not ledger.degraded
    assert (await ledger.store.usage(1))[0].failures == {"upstream_error": 1}
    await ledger.aclose()


async def test_reservations_made_in_memory_are_forgotten_once_settled_or_released(tmp_path: Path) -> None:
    (tmp_path / LEDGER_FILE).write_bytes(b"not a SQLite file " * 100)
    ledger = open_ledger(Limits(daily_credits=10), Clock(), state_dir=tmp_path)
    settled, released = await admitted(ledger, books(endpoint="one")), await admitted(ledger, books(endpoint="two"))
    assert ledger.degraded
    await ledger.settle(settled, 1, None)
    await ledger.release(released)
    assert ledger._in_memory == set(), "an outage leaves nothing behind"
    await ledger.aclose()


async def test_a_call_reserved_without_an_estimate_through_the_failover_ledger_or_in_memory_expects_one_credit(
    tmp_path: Path,
) -> None:
    ledger = open_ledger(Limits(daily_credits=10), Clock(), state_dir=tmp_path)
    on_store = await ledger.reserve(books())
    assert isinstance(on_store, Reservation)
    assert on_store.estimate == 1
    await ledger.aclose()
    in_memory = MemoryLedger(Limits(daily_credits=10), Clock()).reserve_now(books())
    assert isinstance(in_memory, Reservation)
    assert in_memory.estimate == 1


async def test_a_memory_ledger_forgets_the_spend_of_a_day_past_the_retention_and_keeps_the_oldest_day_kept() -> None:
    clock = Clock(MORNING - RETENTION_DAYS * DAY)
    ledger = MemoryLedger(Limits(), clock)
    for _ in range(2):  # a day past the retention, then the oldest day kept
        await ledger.settle(unreserved(books(), clock.now), 3, None)
        clock.now += DAY
    clock.now = MORNING
    await ledger.settle(unreserved(books(), clock.now), 5, None)  # today's first charge drops the old days

    # Read back on those days (a clock turned back): what each day's spend is now.
    clock.now = MORNING - RETENTION_DAYS * DAY
    assert (await ledger.spent_today("client-a")).spent["parsebot"] == 0
    clock.now += DAY
    assert (await ledger.spent_today("client-a")).spent["parsebot"] == 3
