"""Where the SQLite ledger's statements run: on the event loop when nothing can make them wait, in a worker thread
when something can (opening the file, another process holding the write lock, a checkpoint), and the WAL stays
bounded although the connection never checkpoints by itself."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import anyio
import pytest

from parse_mcp.state.ledger import LEDGER_FILE, Limits, Reservation, SqliteLedger
from tests.state.test_ledger import MORNING, admitted, books

pytestmark = pytest.mark.anyio


class ThreadNotingClock:
    """The ledger reads its clock inside each decision: this one notes which thread each read ran on."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def __call__(self) -> float:
        self.threads.append(threading.get_ident())
        return MORNING


async def test_once_the_file_is_open_decisions_and_settlements_run_on_the_event_loop(tmp_path: Path) -> None:
    clock = ThreadNotingClock()
    ledger = SqliteLedger(tmp_path / LEDGER_FILE, Limits(daily_credits=100), clock)
    try:
        await admitted(ledger, books(endpoint="first"))
        opened_in = set(clock.threads)
        clock.threads.clear()
        for n in range(5):
            await ledger.settle(await admitted(ledger, books(endpoint=f"endpoint-{n}")), 1, None)
        assert (await ledger.spent_today("client-a")).spent["parsebot"] == 5
    finally:
        await ledger.aclose()
    loop_thread = threading.get_ident()
    assert loop_thread not in opened_in, "the file is opened in a worker thread"
    assert clock.threads, "each decision reads the clock"
    assert set(clock.threads) == {loop_thread}


async def test_a_decision_that_finds_another_process_writing_waits_for_it_in_a_worker_thread(tmp_path: Path) -> None:
    clock = ThreadNotingClock()
    path = tmp_path / LEDGER_FILE
    ledger = SqliteLedger(path, Limits(daily_credits=100), clock)
    await admitted(ledger, books(endpoint="first"))  # the file is open
    other_process = sqlite3.connect(path, isolation_level=None)
    decided: list[Reservation] = []
    try:
        other_process.execute("BEGIN IMMEDIATE")
        clock.threads.clear()
        with anyio.fail_after(2):  # on the event loop the lock would have been waited for: 5 s
            async with anyio.create_task_group() as group:

                async def decide() -> None:
                    decided.append(await admitted(ledger, books(endpoint="second")))

                group.start_soon(decide)
                await anyio.wait_all_tasks_blocked()  # waiting on the lock, and not on the event loop
                assert not decided
                other_process.execute("COMMIT")
        assert (await ledger.spent_today("client-a")).left()["daily"] == 98  # both reservations hold
    finally:
        other_process.close()
        await ledger.aclose()
    assert len(decided) == 1
    assert set(clock.threads) - {threading.get_ident()}, "the decision that waited ran in a worker thread"


async def test_the_wal_is_checkpointed_every_few_statements_so_it_stays_small(tmp_path: Path) -> None:
    path = tmp_path / LEDGER_FILE
    ledger = SqliteLedger(path, Limits(daily_credits=100_000), lambda: MORNING)
    ledger.CHECKPOINT_EVERY = 20
    try:
        for n in range(600):  # without a checkpoint, about 5 MB of WAL
            await ledger.settle(await admitted(ledger, books(endpoint=f"endpoint-{n}")), 1, None)
        wal_bytes = path.with_name(path.name + "-wal").stat().st_size
    finally:
        await ledger.aclose()
    assert wal_bytes < 600_000, f"the WAL grew to {wal_bytes} bytes"


async def test_while_a_worker_thread_waits_for_the_file_the_event_loop_goes_on_and_so_do_other_reads(
    tmp_path: Path,
) -> None:
    path = tmp_path / LEDGER_FILE
    ledger = SqliteLedger(path, Limits(daily_credits=100), lambda: MORNING)
    # Were the event loop to wait for the worker, nothing would commit for the other process, and the first decision
    # would give up after this long.
    ledger.BUSY_TIMEOUT_MS = 3_000
    await admitted(ledger, books(endpoint="first"))
    other_process = sqlite3.connect(path, isolation_level=None)
    decided: list[Reservation] = []
    read: list[int] = []
    try:
        other_process.execute("BEGIN IMMEDIATE")
        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:

                async def decide() -> None:
                    decided.append(await admitted(ledger, books(endpoint="second")))

                async def look() -> None:
                    read.append((await ledger.spent_today("client-a")).left()["daily"])

                group.start_soon(decide)
                await anyio.wait_all_tasks_blocked()  # the worker thread holds the connection, waiting
                group.start_soon(look)  # finds the connection taken: queued for the thread, not waited for here
                await anyio.wait_all_tasks_blocked()
                assert (decided, read) == ([], [])
                other_process.execute("COMMIT")
    finally:
        other_process.close()
        await ledger.aclose()
    assert len(decided) == 1
    assert read == [98]


class CountingCheckpoints(SqliteLedger):
    """The SQLite ledger, counting the checkpoints it runs."""

    checkpoints = 0

    def _checkpoint(self) -> None:
        self.checkpoints += 1
        super()._checkpoint()


async def test_a_checkpoint_runs_once_every_checkpoint_every_statements_counted_from_the_first(tmp_path: Path) -> None:
    ledger = CountingCheckpoints(tmp_path / LEDGER_FILE, Limits(daily_credits=100), lambda: MORNING)
    ledger.CHECKPOINT_EVERY = 10
    seen: list[int] = []
    try:
        for _ in range(20):
            await ledger.last_charge("parsebot", "api-books", "list_books")  # one statement each
            seen.append(ledger.checkpoints)
    finally:
        await ledger.aclose()
    assert seen == [0] * 9 + [1] * 10 + [2]


async def test_a_settlement_written_on_the_event_loop_is_counted_before_any_other_task_runs(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / LEDGER_FILE, Limits(daily_credits=100), lambda: MORNING)
    held = await admitted(ledger, books())
    seen: list[int] = []

    async def look() -> None:
        seen.append((await ledger.spent_today("client-a")).spent["parsebot"])

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(ledger.settle, held, 1, None)
            group.start_soon(look)  # runs once the settlement yields, if it ever does before writing
    finally:
        await ledger.aclose()
    assert seen == [1]
