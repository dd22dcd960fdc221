"""The spend ledger: what agents may still spend today, what they spent, and on what.

Every call that costs credits goes through three steps:

- `reserve(call, estimate)`: atomically, check the day's limits against what is spent *and* reserved by the
  calls in flight, and reserve this call's expected cost. The answer is a `Reservation`, or `Refused` (which
  limit, what is used of it, the seconds until the next UTC midnight), or `LearnFirst` (below);
- `settle(reservation, actual_credits, error_code)`: the answer came: the estimate is replaced by the actual
  charge (0 when nothing was charged) and the charge row is recorded;
- `release(reservation)`: the call was never sent; its estimate is given back.

**What a call is expected to cost.** The last charge the ledger saw for that endpoint (`last_charge`), else the
caller's `estimate` (the marketplace's listed price, the documented price, or 1 credit). A failure that charged
nothing does not teach a price: the endpoint stays unknown.

**The unknown-cost rule.** While no charge has been seen for an endpoint and a limit applies to the call, the
endpoint admits one call at a time: a second call gets `LearnFirst` with a short `retry_after_seconds`, and may
ask again after it (the first call's answer teaches the price). So calls at once overshoot a limit only by what
the calls in flight underestimated: the check counts every reservation, and with a fixed price only the one
learning call per endpoint can underestimate. The exact bound, property-tested in `tests/state/test_ledger.py`:
what is spent never exceeds a limit by more than the underestimates of the calls that were in flight together
when the last call was admitted; for an endpoint with a fixed price, that is at most one call.

**A reservation that is never settled** (a process killed mid-call) expires after `RESERVATION_TTL_SECONDS`,
longer than any tool call's budget: its estimate stops counting, and its learning slot is freed. A settle after
that still records the charge.

**Days are UTC days** of the injected clock (epoch seconds). Limits reset at the next UTC midnight; the rows
stay for `RETENTION_DAYS` for `usage`.

**Three stores, one behaviour** (the same tests run on each):

    store        where                              shared by                         atomic check-and-reserve
    memory       this process                       this process's tasks              no await inside a decision
    SQLite       a file under the state directory   every process on the machine     BEGIN IMMEDIATE transaction
    (default)    (WAL mode; survives restarts)                                        (state/ledger.py)
    Redis        PARSE_MCP_REDIS_URL                every process and replica         one Lua script
                                                                                      (state/ledger_redis.py)

**When the store is gone, calls go on.** A store that cannot be opened, read or written (a full or read-only disk,
a Redis that is down) costs one warning, and the ledger goes on in this process's memory (`FailoverLedger`),
trying the store again every `RECHECK_SECONDS`. That is a trade-off, chosen on purpose: failing closed would
stop every agent on the machine because a disk is full, which is worse than what it protects against. The cost
is that, during the outage, the limits count only this process's calls from the moment the store went away
(charges made then are not in the shared ledger afterwards), so the agents of several processes may together
spend more than a limit while it lasts.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

import anyio
import anyio.to_thread

from parse_mcp.policy.pacing import seconds_to_utc_midnight

if TYPE_CHECKING:
    import sqlite3

    from redis.asyncio import Redis

logger = logging.getLogger(__name__)

Service = Literal["parsebot", "scraperapi"]
LimitName = Literal["daily", "client_daily", "scraperapi_daily"]

# The variable that raises each limit: a refusal names it.
LIMIT_VARIABLES: dict[LimitName, str] = {
    "daily": "PARSE_MCP_DAILY_CREDITS",
    "client_daily": "PARSE_MCP_CLIENT_DAILY_CREDITS",
    "scraperapi_daily": "PARSE_MCP_SCRAPERAPI_DAILY_CREDITS",
}

SECONDS_PER_DAY = 86_400
# A tool call lasts 45 s at most (policy/deadline.py); a reservation still unsettled long after that belongs to a
# process that died mid-call, and stops holding budget.
RESERVATION_TTL_SECONDS = 300.0
# How long a call told `LearnFirst` waits before asking again: a first answer usually takes about this long.
LEARN_RETRY_SECONDS = 0.25
# Rows (and Redis day keys) are kept this long for `usage`.
RETENTION_DAYS = 35
# While the store is unreachable, how often the ledger tries it again.
RECHECK_SECONDS = 30.0
LEDGER_FILE = "ledger.sqlite3"

T = TypeVar("T")


class LedgerUnavailable(Exception):  # a state of the store, like StateUnavailable
    """The store could not be opened, read or written (each store turns its own faults into this)."""


# -- what goes in and what comes out ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """One call that may cost credits: what a charge row is recorded under."""

    service: Service
    tool: str
    api: str  # the scraper id, or the AI parser id
    endpoint: str  # the endpoint's name, or the AI Parser operation
    client: str  # the token's principal, or the one local client


@dataclass(frozen=True, slots=True)
class Limits:
    """Most credits per UTC day; None is no limit."""

    daily_credits: int | None = None  # Parse.bot, every client on the key together
    client_daily_credits: int | None = None  # Parse.bot, each client
    scraperapi_daily_credits: int | None = None  # ScraperAPI (AI Parser)

    def applying(self, service: Service) -> tuple[tuple[LimitName, int] | None, tuple[LimitName, int] | None]:
        """The account-wide and the per-client limit on a call to `service` (either may be None)."""
        if service == "scraperapi":
            total = self.scraperapi_daily_credits
            return (None if total is None else ("scraperapi_daily", total)), None
        account, client = self.daily_credits, self.client_daily_credits
        return (None if account is None else ("daily", account)), (None if client is None else ("client_daily", client))

    def any_for(self, service: Service) -> bool:
        return self.applying(service) != (None, None)


@dataclass(frozen=True, slots=True)
class Reservation:
    """A call's expected cost, held until it is settled or released (or expires)."""

    id: str
    call: Call
    day: str  # the UTC day the estimate counts on
    estimate: int
    learning: bool  # this call will teach the endpoint's price: others wait for it


@dataclass(frozen=True, slots=True)
class Refused:
    """The call would pass a limit: send nothing."""

    limit: LimitName
    limit_credits: int
    spent: int  # settled today, in this limit's scope
    reserved: int  # held today by calls in flight, in this limit's scope
    estimate: int  # what this call was expected to cost
    retry_after_seconds: float  # until the next UTC midnight, when the limit resets

    @property
    def variable(self) -> str:
        return LIMIT_VARIABLES[self.limit]

    @property
    def used(self) -> int:
        return self.spent + self.reserved


@dataclass(frozen=True, slots=True)
class LearnFirst:
    """The endpoint's price is still unknown and another call is learning it: ask again after the hint."""

    retry_after_seconds: float


@dataclass(frozen=True, slots=True)
class Standing:
    """One limit today: its size, what is spent and reserved of it, what is left."""

    limit: LimitName
    limit_credits: int
    spent: int
    reserved: int

    @property
    def left(self) -> int:
        return max(0, self.limit_credits - self.spent - self.reserved)

    @property
    def variable(self) -> str:
        return LIMIT_VARIABLES[self.limit]


@dataclass(frozen=True, slots=True)
class Today:
    """What is spent today, account-wide per service and by one client, and where each limit set stands."""

    day: str
    spent: dict[Service, int]
    client_spent: int  # Parse.bot credits this client spent
    standings: tuple[Standing, ...]  # one per limit set
    seconds_to_midnight: float

    def left(self) -> dict[LimitName, int]:
        """What is left of each limit set."""
        return {standing.limit: standing.left for standing in self.standings}

    def left_for(self, limits: Limits, service: Service) -> int | None:
        """What is left today for a call to `service` (a result's `meta.credits_left_today`): the smaller of the
        account's and the client's limit when both apply; None when none does."""
        left = self.left()
        figures = [left[named[0]] for named in limits.applying(service) if named is not None and named[0] in left]
        return min(figures) if figures else None


@dataclass(slots=True)
class DayUsage:
    """One UTC day: credits by service, by (service, API, endpoint), by client, by tool; failures by error code."""

    day: str
    calls: int = 0
    by_service: dict[str, int] = field(default_factory=dict)
    by_endpoint: dict[tuple[str, str, str], int] = field(default_factory=dict)
    by_client: dict[str, int] = field(default_factory=dict)
    by_tool: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # error code -> calls

    @property
    def credits(self) -> int:
        return sum(self.by_service.values())


# A charge row as the stores aggregate it: (day, service, tool, api, endpoint, client, error_code or "").
RowKey = tuple[str, str, str, str, str, str, str]


class Ledger(Protocol):
    """The day's spend and its limits, kept in this process, in a SQLite file, or in Redis."""

    @property
    def limits(self) -> Limits: ...

    async def reserve(self, call: Call, estimate: int = 1) -> Reservation | Refused | LearnFirst:
        """Check the limits and reserve the call's expected cost, atomically (see the module's docstring)."""
        ...

    async def settle(self, reservation: Reservation, actual_credits: int, error_code: str | None) -> None:
        """Replace the estimate by the actual charge (0 when nothing was charged) and record the charge row."""
        ...

    async def release(self, reservation: Reservation) -> None:
        """The call was never sent: give its estimate back."""
        ...

    async def spent_today(self, client: str) -> Today: ...

    async def last_charge(self, service: Service, api: str, endpoint: str) -> int | None:
        """The last charge seen for the endpoint (the first source of an estimate), or None while unknown."""
        ...

    async def usage(self, days: int) -> list[DayUsage]:
        """The last `days` UTC days, oldest first, today included, each even when nothing was spent."""
        ...

    async def aclose(self) -> None: ...


# -- what every store shares -----------------------------------------------------------------------------------


def utc_day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).date().isoformat()


def recent_days(now: float, days: int) -> list[str]:
    today = datetime.fromtimestamp(now, UTC).date()
    return [(today - timedelta(days=back)).isoformat() for back in range(max(1, days) - 1, -1, -1)]


def new_reservation_id() -> str:
    return secrets.token_hex(8)


def refusal(
    limits: Limits, service: Service, estimate: int, used: tuple[tuple[int, int], tuple[int, int]], now: float
) -> Refused | None:
    """The first limit the call would pass, or None. `used` is (spent, reserved) account-wide, then the client's.

    A call passes a limit when what is used of it plus the call's estimate would be more than the limit."""
    for applied, (spent, reserved) in zip(limits.applying(service), used, strict=True):
        if applied is not None and spent + reserved + estimate > applied[1]:
            name, size = applied
            return Refused(name, size, spent, reserved, estimate, seconds_to_utc_midnight(now))
    return None


def teaches_price(actual_credits: int, error_code: str | None) -> bool:
    """A charge teaches an endpoint's price when the call succeeded, or when a failure cost something."""
    return error_code is None or actual_credits > 0


def today_from(
    limits: Limits,
    now: float,
    spent: dict[Service, int],
    client: tuple[int, int],
    reserved: dict[Service, int],
) -> Today:
    """`client` is the client's (spent, reserved) Parse.bot credits; `spent`/`reserved` are account-wide."""
    standings: list[Standing] = []
    for service in ("parsebot", "scraperapi"):
        account, per_client = limits.applying(service)
        if account is not None:
            standings.append(Standing(account[0], account[1], spent.get(service, 0), reserved.get(service, 0)))
        if per_client is not None:
            standings.append(Standing(per_client[0], per_client[1], client[0], client[1]))
    return Today(utc_day(now), dict(spent), client[0], tuple(standings), seconds_to_utc_midnight(now))


def usage_from(days: list[str], rows: Iterable[tuple[RowKey, int, int]]) -> list[DayUsage]:
    """Fold aggregated rows ((key), credits, calls) into one `DayUsage` per day asked for."""
    by_day = {day: DayUsage(day) for day in days}
    for (day, service, tool, api, endpoint, client, error_code), credits, calls in rows:
        usage = by_day.get(day)
        if usage is None:
            continue
        usage.calls += calls
        _add(usage.by_service, service, credits)
        _add(usage.by_endpoint, (service, api, endpoint), credits)
        _add(usage.by_client, client, credits)
        _add(usage.by_tool, tool, credits)
        if error_code:
            _add(usage.failures, error_code, calls)
    return list(by_day.values())


K = TypeVar("K")


def _add(totals: dict[K, int], key: K, amount: int) -> None:
    totals[key] = totals.get(key, 0) + amount


ACCOUNT = "a"  # the scope of the whole account, beside "c" + each client's name


def _scope(client: str) -> str:
    return "c" + client


def row_key(day: str, call: Call, error_code: str | None) -> RowKey:
    return (day, call.service, call.tool, call.api, call.endpoint, call.client, error_code or "")


# -- in this process ---------------------------------------------------------------------------------------------


class MemoryLedger:
    """One process's ledger: nothing in a decision awaits, so no other task comes between the check and the
    reservation. Also what `FailoverLedger` goes on with while the store is gone."""

    def __init__(self, limits: Limits, clock: Callable[[], float]) -> None:
        self._limits = limits
        self._clock = clock
        self._reservations: dict[str, tuple[Reservation, float]] = {}  # id -> (reservation, expires at)
        self._learning: dict[tuple[str, str, str], str] = {}  # endpoint -> the learning reservation's id
        self._prices: dict[tuple[str, str, str], int] = {}
        # (day, service, scope) -> credits, where the scope is ACCOUNT or "c" + the client (any name, "" too).
        self._spent: dict[tuple[str, str, str], int] = defaultdict(int)
        self._rows: dict[RowKey, list[int]] = {}  # -> [credits, calls]
        self._swept_on = ""  # the day old rows were last dropped

    @property
    def limits(self) -> Limits:
        return self._limits

    async def reserve(self, call: Call, estimate: int = 1) -> Reservation | Refused | LearnFirst:
        return self.reserve_now(call, estimate)

    def reserve_now(self, call: Call, estimate: int = 1) -> Reservation | Refused | LearnFirst:
        now = self._clock()
        self._sweep(now)
        day = utc_day(now)
        endpoint = (call.service, call.api, call.endpoint)
        price = self._prices.get(endpoint)
        limited = self._limits.any_for(call.service)
        learning = price is None and limited
        if learning and endpoint in self._learning:
            return LearnFirst(LEARN_RETRY_SECONDS)
        cost = estimate if price is None else price
        used = (self._used(day, call.service, None), self._used(day, call.service, call.client))
        refused = refusal(self._limits, call.service, cost, used, now)
        if refused is not None:
            return refused
        reservation = Reservation(new_reservation_id(), call, day, cost, learning)
        self._reservations[reservation.id] = (reservation, now + RESERVATION_TTL_SECONDS)
        if learning:
            self._learning[endpoint] = reservation.id
        return reservation

    async def settle(self, reservation: Reservation, actual_credits: int, error_code: str | None) -> None:
        self.settle_now(reservation, actual_credits, error_code)

    def settle_now(self, reservation: Reservation, actual_credits: int, error_code: str | None) -> None:
        now = self._clock()
        self._forget(reservation.id)
        call, day = reservation.call, utc_day(now)
        self._spent[(day, call.service, ACCOUNT)] += actual_credits
        self._spent[(day, call.service, _scope(call.client))] += actual_credits
        row = self._rows.setdefault(row_key(day, call, error_code), [0, 0])
        row[0] += actual_credits
        row[1] += 1
        if teaches_price(actual_credits, error_code):
            self._prices[(call.service, call.api, call.endpoint)] = actual_credits
        self._drop_old_days(now)

    async def release(self, reservation: Reservation) -> None:
        self._forget(reservation.id)

    async def spent_today(self, client: str) -> Today:
        now = self._clock()
        self._sweep(now)
        day = utc_day(now)
        spent: dict[Service, int] = {s: self._spent.get((day, s, ACCOUNT), 0) for s in ("parsebot", "scraperapi")}
        reserved: dict[Service, int] = {s: self._used(day, s, None)[1] for s in ("parsebot", "scraperapi")}
        return today_from(self._limits, now, spent, self._used(day, "parsebot", client), reserved)

    async def last_charge(self, service: Service, api: str, endpoint: str) -> int | None:
        return self._prices.get((service, api, endpoint))

    async def usage(self, days: int) -> list[DayUsage]:
        rows = ((key, credits, calls) for key, (credits, calls) in self._rows.items())
        return usage_from(recent_days(self._clock(), days), rows)

    async def aclose(self) -> None:
        return None

    def _used(self, day: str, service: Service, client: str | None) -> tuple[int, int]:
        spent = self._spent.get((day, service, ACCOUNT if client is None else _scope(client)), 0)
        reserved = sum(
            held.estimate
            for held, _ in self._reservations.values()
            if held.day == day and held.call.service == service and (client is None or held.call.client == client)
        )
        return spent, reserved

    def _forget(self, reservation_id: str) -> None:
        held = self._reservations.pop(reservation_id, None)
        if held is None:
            return
        endpoint = (held[0].call.service, held[0].call.api, held[0].call.endpoint)
        if self._learning.get(endpoint) == reservation_id:
            del self._learning[endpoint]

    def _sweep(self, now: float) -> None:
        for expired in [key for key, (_, expires_at) in self._reservations.items() if expires_at <= now]:
            self._forget(expired)

    def _drop_old_days(self, now: float) -> None:
        """Once a day: what is older than the retention period goes."""
        day = utc_day(now)
        if day == self._swept_on:
            return
        self._swept_on = day
        oldest = recent_days(now, RETENTION_DAYS)[0]
        if self._rows and min(key[0] for key in self._rows) < oldest:
            self._rows = {key: row for key, row in self._rows.items() if key[0] >= oldest}
            self._spent = defaultdict(int, {key: n for key, n in self._spent.items() if key[0] >= oldest})


# -- in a SQLite file ---------------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (
    id INTEGER PRIMARY KEY,
    day TEXT NOT NULL, at REAL NOT NULL,
    service TEXT NOT NULL, tool TEXT NOT NULL, api TEXT NOT NULL, endpoint TEXT NOT NULL, client TEXT NOT NULL,
    credits INTEGER NOT NULL, error_code TEXT
);
CREATE INDEX IF NOT EXISTS charges_by_day ON charges (day);
-- What is spent per day, service and scope ('a' for the whole account, 'c' || client for a client): the limits
-- read two rows, not a sum.
CREATE TABLE IF NOT EXISTS spent (
    day TEXT NOT NULL, service TEXT NOT NULL, scope TEXT NOT NULL, credits INTEGER NOT NULL,
    PRIMARY KEY (day, service, scope)
) WITHOUT ROWID;
-- Only the calls in flight: a few rows, read whole faster than an index is kept up to date on every call.
CREATE TABLE IF NOT EXISTS reservations (
    id TEXT PRIMARY KEY, day TEXT NOT NULL, service TEXT NOT NULL, api TEXT NOT NULL, endpoint TEXT NOT NULL,
    client TEXT NOT NULL, estimate INTEGER NOT NULL, learning INTEGER NOT NULL, expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS prices (
    service TEXT NOT NULL, api TEXT NOT NULL, endpoint TEXT NOT NULL, credits INTEGER NOT NULL,
    PRIMARY KEY (service, api, endpoint)
) WITHOUT ROWID;
"""


class _WouldWait:
    """What `SqliteLedger._at_once` returns when SQLite would have had to wait: the work goes to the thread."""


_WOULD_WAIT = _WouldWait()


class SqliteLedger:
    """The ledger in one SQLite file, shared by every process on the machine and kept across restarts.

    WAL mode lets readers go on while one process writes. Each decision is one `BEGIN IMMEDIATE` transaction: it
    takes the database's write lock before it reads, so two processes never both read the same "10 left" and both
    reserve it. `synchronous=NORMAL`: a commit survives the process being killed (the WAL is in the OS's hands),
    not a power cut, at a fraction of the cost.

    **Where the statements run.** A decision takes about 0.02 ms of SQL, while a trip to a worker thread and back
    costs the event loop several times that: so the statements run on the event loop when nothing can make them
    wait. The file is open, no worker thread of this process is using it, and SQLite's write lock is free at once
    (the connection's busy timeout is 0: a lock held by another process is an immediate `SQLITE_BUSY`, nothing
    done). A commit then appends to the WAL, in the OS's cache, and syncs nothing. Everything that may wait goes
    to a worker thread: opening the file, a statement that found the lock taken (there it waits up to
    `BUSY_TIMEOUT_MS`), the checkpoints (where WAL mode syncs to disk; the connection never checkpoints by itself,
    one runs in the thread every `CHECKPOINT_EVERY` statements) and closing. One connection per ledger, used by one
    thread at a time."""

    BUSY_TIMEOUT_MS = 5_000
    CHECKPOINT_EVERY = 1_000  # a decision commits a few pages: about 16 MB of WAL at 4 KB a page
    JOURNAL_LIMIT_BYTES = 4 * 1024 * 1024

    def __init__(self, path: Path, limits: Limits, clock: Callable[[], float]) -> None:
        self.path = path
        self._limits = limits
        self._clock = clock
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._one_at_a_time = anyio.CapacityLimiter(1)
        self._queued: list[tuple[Reservation, int, str | None]] = []
        self._writing = anyio.Lock()
        self._since_checkpoint = 0

    @property
    def limits(self) -> Limits:
        return self._limits

    async def reserve(self, call: Call, estimate: int = 1) -> Reservation | Refused | LearnFirst:
        return await self._run(self._reserve, call, estimate)

    async def settle(self, reservation: Reservation, actual_credits: int, error_code: str | None) -> None:
        """Queued, and written in batches: the call that finds no batch being written writes every queued
        settlement (its own and those that come meanwhile) in one transaction a batch, and the others return at
        once. A reservation stays held until its batch is written, so limits only ever count an estimate a little
        longer; a batch the file cannot take now goes back to the queue (one that can never be written, none: it
        is not retried for ever)."""
        self._queued.append((reservation, actual_credits, error_code))
        if self._writing.locked():
            return
        # Taken without yielding (`async with` would let every other task run first): a batch written on the
        # event loop is written now, before the calls that come meanwhile could pile up behind it.
        self._writing.acquire_nowait()
        try:
            await self._write_queued()
        finally:
            self._writing.release()

    async def _write_queued(self) -> None:
        while self._queued:
            batch, self._queued = self._queued, []
            try:
                await self._run(self._settle_many, batch)
            except LedgerUnavailable:  # the file is gone or locked for now: the batch waits for the next write
                self._queued[:0] = batch
                raise

    async def release(self, reservation: Reservation) -> None:
        await self._run(self._release, reservation)

    async def spent_today(self, client: str) -> Today:
        return await self._run(self._spent_today, client)

    async def last_charge(self, service: Service, api: str, endpoint: str) -> int | None:
        return await self._run(self._last_charge, service, api, endpoint)

    async def usage(self, days: int) -> list[DayUsage]:
        return await self._run(self._usage, days)

    async def aclose(self) -> None:
        async with self._writing:  # what is queued is written before the file is closed
            try:
                await self._write_queued()
            finally:
                # In the thread: the last connection to close checkpoints the WAL and removes it.
                await self._in_thread(self._close)

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` on the event loop if it cannot wait there, else in the worker thread (see the class)."""
        at_once: T | _WouldWait = _WOULD_WAIT
        if self._lock.acquire(blocking=False):
            try:
                # Judged under the lock: a worker thread may have closed the file since, and opening it may wait.
                if self._connection is not None:
                    at_once = self._at_once(work, args)
            finally:
                self._lock.release()
        done = await self._in_thread(self._waiting, work, *args) if isinstance(at_once, _WouldWait) else at_once
        self._since_checkpoint += 1
        if self._since_checkpoint >= self.CHECKPOINT_EVERY:
            self._since_checkpoint = 0
            await self._in_thread(self._checkpoint)
        return done

    async def _in_thread(self, work: Callable[..., T], *args: object) -> T:
        # One worker thread at a time: the connection serves one anyway, and twenty calls' threads queued on its
        # lock (each holding a share of the GIL while it waits) cost more CPU than the statements themselves.
        return await anyio.to_thread.run_sync(work, *args, limiter=self._one_at_a_time)

    # Each of these runs holding the connection's lock: `_at_once` on the event loop, the others in the thread.

    def _at_once(self, work: Callable[..., T], args: tuple[object, ...]) -> T | _WouldWait:
        import sqlite3  # here, not at the top: a server that never opens the file never loads it

        with _sqlite_faults():
            try:
                return work(*args)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
                    return _WOULD_WAIT  # nothing was done (a transaction that began is rolled back): go and wait
                self._close()
                raise
            except (sqlite3.Error, OSError):
                self._close()  # the next call opens the file afresh (it may have been replaced or repaired)
                raise

    def _waiting(self, work: Callable[..., T], *args: object) -> T:
        import sqlite3

        with self._lock, _sqlite_faults():
            try:
                db = self._db()
                db.execute(f"PRAGMA busy_timeout = {self.BUSY_TIMEOUT_MS}")
                try:
                    return work(*args)
                finally:
                    db.execute("PRAGMA busy_timeout = 0")  # back on the event loop, a lock taken is not waited for
            except (sqlite3.Error, OSError):
                self._close()
                raise

    def _checkpoint(self) -> None:
        import sqlite3

        with self._lock:
            if self._connection is None:
                return
            try:
                # PASSIVE: copies what no reader still needs, and waits for no one.
                self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:  # upkeep: the next one tries again, and the calls go on meanwhile
                logger.debug("spend ledger checkpoint failed: %s", type(exc).__name__)

    def _db(self) -> sqlite3.Connection:
        import sqlite3

        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
            try:
                # Opening may wait for another process (the schema and the sweep below write). `_waiting`, which
                # opens it, sets the timeout back to 0 once done: on the event loop, nothing waits.
                connection.execute(f"PRAGMA busy_timeout = {self.BUSY_TIMEOUT_MS}")
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = NORMAL")
                connection.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpoints run in the thread: `_run`
                connection.execute(f"PRAGMA journal_size_limit = {self.JOURNAL_LIMIT_BYTES}")
                # executescript commits whatever is open first: the transaction is in the script itself.
                connection.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
                oldest = recent_days(self._clock(), RETENTION_DAYS)[0]
                with _transaction(connection):
                    connection.execute("DELETE FROM charges WHERE day < ?", (oldest,))
                    connection.execute("DELETE FROM spent WHERE day < ?", (oldest,))
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _reserve(self, call: Call, estimate: int) -> Reservation | Refused | LearnFirst:
        db = self._db()
        now = self._clock()
        day = utc_day(now)
        endpoint = (call.service, call.api, call.endpoint)
        with _transaction(db):
            db.execute("DELETE FROM reservations WHERE expires_at <= ?", (now,))
            price = db.execute(
                "SELECT credits FROM prices WHERE service = ? AND api = ? AND endpoint = ?", endpoint
            ).fetchone()
            learning = price is None and self._limits.any_for(call.service)
            if (
                learning
                and db.execute(
                    "SELECT 1 FROM reservations WHERE service = ? AND api = ? AND endpoint = ? AND learning = 1",
                    endpoint,
                ).fetchone()
            ):
                return LearnFirst(LEARN_RETRY_SECONDS)
            cost = estimate if price is None else int(price[0])
            used = (self._used(db, now, day, call.service, None), self._used(db, now, day, call.service, call.client))
            refused = refusal(self._limits, call.service, cost, used, now)
            if refused is not None:
                return refused
            reservation = Reservation(new_reservation_id(), call, day, cost, learning)
            db.execute(
                "INSERT INTO reservations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (reservation.id, day, *endpoint, call.client, cost, int(learning), now + RESERVATION_TTL_SECONDS),
            )
        return reservation

    def _used(self, db: sqlite3.Connection, now: float, day: str, service: str, client: str | None) -> tuple[int, int]:
        spent = db.execute(
            "SELECT credits FROM spent WHERE day = ? AND service = ? AND scope = ?",
            (day, service, ACCOUNT if client is None else _scope(client)),
        ).fetchone()
        # Reservations past their expiry no longer count, whether or not a reservation has swept them yet.
        if client is None:
            reserved = db.execute(
                "SELECT TOTAL(estimate) FROM reservations WHERE day = ? AND service = ? AND expires_at > ?",
                (day, service, now),
            ).fetchone()
        else:
            reserved = db.execute(
                "SELECT TOTAL(estimate) FROM reservations"
                " WHERE day = ? AND service = ? AND client = ? AND expires_at > ?",
                (day, service, client, now),
            ).fetchone()
        return (0 if spent is None else int(spent[0])), int(reserved[0])

    def _settle_many(self, batch: list[tuple[Reservation, int, str | None]]) -> None:
        db = self._db()
        with _transaction(db):
            for reservation, actual_credits, error_code in batch:
                self._settle_one(db, reservation, actual_credits, error_code)

    def _settle_one(
        self, db: sqlite3.Connection, reservation: Reservation, actual_credits: int, error_code: str | None
    ) -> None:
        now = self._clock()
        day, call = utc_day(now), reservation.call
        db.execute("DELETE FROM reservations WHERE id = ?", (reservation.id,))
        db.execute(
            "INSERT INTO charges (day, at, service, tool, api, endpoint, client, credits, error_code)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (day, now, call.service, call.tool, call.api, call.endpoint, call.client, actual_credits, error_code),
        )
        db.executemany(
            "INSERT INTO spent VALUES (?, ?, ?, ?)"
            " ON CONFLICT (day, service, scope) DO UPDATE SET credits = credits + excluded.credits",
            (
                (day, call.service, ACCOUNT, actual_credits),
                (day, call.service, _scope(call.client), actual_credits),
            ),
        )
        if teaches_price(actual_credits, error_code):
            # A price that did not change writes nothing: one page less to commit.
            db.execute(
                "INSERT INTO prices VALUES (?, ?, ?, ?) ON CONFLICT (service, api, endpoint)"
                " DO UPDATE SET credits = excluded.credits WHERE credits != excluded.credits",
                (call.service, call.api, call.endpoint, actual_credits),
            )

    def _release(self, reservation: Reservation) -> None:
        self._db().execute("DELETE FROM reservations WHERE id = ?", (reservation.id,))

    def _spent_today(self, client: str) -> Today:
        db = self._db()
        now = self._clock()
        day = utc_day(now)
        with _transaction(db, "DEFERRED"):  # one snapshot for the five reads
            spent: dict[Service, int] = {}
            reserved: dict[Service, int] = {}
            for service in ("parsebot", "scraperapi"):
                spent[service], reserved[service] = self._used(db, now, day, service, None)
            mine = self._used(db, now, day, "parsebot", client)
        return today_from(self._limits, now, spent, mine, reserved)

    def _last_charge(self, service: Service, api: str, endpoint: str) -> int | None:
        row = (
            self._db()
            .execute(
                "SELECT credits FROM prices WHERE service = ? AND api = ? AND endpoint = ?", (service, api, endpoint)
            )
            .fetchone()
        )
        return None if row is None else int(row[0])

    def _usage(self, days: int) -> list[DayUsage]:
        wanted = recent_days(self._clock(), days)
        cursor = self._db().execute(
            "SELECT day, service, tool, api, endpoint, client, COALESCE(error_code, ''), SUM(credits), COUNT(*)"
            " FROM charges WHERE day >= ? GROUP BY day, service, tool, api, endpoint, client, error_code",
            (wanted[0],),
        )
        return usage_from(wanted, ((tuple(row[:7]), int(row[7]), int(row[8])) for row in cursor))

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@contextmanager
def _transaction(db: sqlite3.Connection, mode: str = "IMMEDIATE") -> Iterator[None]:
    """`IMMEDIATE` takes the write lock before the first read: the check and the write see one state."""
    db.execute(f"BEGIN {mode}")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # SQLite may have rolled back by itself (a full disk, say)
            db.execute("ROLLBACK")
        raise


@contextmanager
def _sqlite_faults() -> Iterator[None]:
    import sqlite3

    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise LedgerUnavailable(type(exc).__name__) from exc


# -- going on without the store ---------------------------------------------------------------------------------


class FailoverLedger:
    """A store (SQLite or Redis), and this process's memory for when it fails: one warning per outage, then every
    call goes on in memory, and the store is tried again every `RECHECK_SECONDS`. A reservation is settled or
    released where it was made; a charge on a store that went away in between is recorded in memory."""

    def __init__(self, store: Ledger, clock: Callable[[], float]) -> None:
        self.store = store
        self.fallback = MemoryLedger(store.limits, clock)
        self._clock = clock
        self._retry_store_at: float | None = None  # set while the store is gone
        self._in_memory: set[str] = set()  # reservations made in memory

    @property
    def limits(self) -> Limits:
        return self.store.limits

    @property
    def degraded(self) -> bool:
        """Whether calls go on in memory because the store failed."""
        return self._retry_store_at is not None

    async def reserve(self, call: Call, estimate: int = 1) -> Reservation | Refused | LearnFirst:
        if self._store_usable():
            try:
                decided = await self.store.reserve(call, estimate)
            except LedgerUnavailable as exc:
                self._lost(exc)
            else:
                self._back()
                return decided
        decided = self.fallback.reserve_now(call, estimate)
        if isinstance(decided, Reservation):
            self._in_memory.add(decided.id)
        return decided

    async def settle(self, reservation: Reservation, actual_credits: int, error_code: str | None) -> None:
        if reservation.id not in self._in_memory and self._store_usable():
            try:
                await self.store.settle(reservation, actual_credits, error_code)
            except LedgerUnavailable as exc:
                self._lost(exc)
            else:
                self._back()
                return
        self._in_memory.discard(reservation.id)
        self.fallback.settle_now(reservation, actual_credits, error_code)

    async def release(self, reservation: Reservation) -> None:
        if reservation.id in self._in_memory:
            self._in_memory.discard(reservation.id)
            await self.fallback.release(reservation)
            return
        if not self._store_usable():
            return  # the reservation expires in the store by itself
        try:
            await self.store.release(reservation)
        except LedgerUnavailable as exc:
            self._lost(exc)

    async def spent_today(self, client: str) -> Today:
        return await self._read(lambda ledger: ledger.spent_today(client))

    async def last_charge(self, service: Service, api: str, endpoint: str) -> int | None:
        return await self._read(lambda ledger: ledger.last_charge(service, api, endpoint))

    async def usage(self, days: int) -> list[DayUsage]:
        return await self._read(lambda ledger: ledger.usage(days))

    async def aclose(self) -> None:
        try:
            await self.store.aclose()
        except LedgerUnavailable:
            return

    async def _read(self, read: Callable[[Ledger], Awaitable[T]]) -> T:
        if self._store_usable():
            try:
                result = await read(self.store)
            except LedgerUnavailable as exc:
                self._lost(exc)
            else:
                self._back()
                return result
        return await read(self.fallback)

    def _store_usable(self) -> bool:
        return self._retry_store_at is None or self._clock() >= self._retry_store_at

    def _lost(self, exc: LedgerUnavailable) -> None:
        if self._retry_store_at is None:
            # Once per outage; the message names the fault, never a path or URL that might hold a secret.
            logger.warning(
                "the spend ledger's store failed (%s): limits now count this process's calls only, in memory; "
                "trying the store again every %.0f s",
                exc,
                RECHECK_SECONDS,
            )
        self._retry_store_at = self._clock() + RECHECK_SECONDS

    def _back(self) -> None:
        if self._retry_store_at is not None:
            self._retry_store_at = None
            logger.info("the spend ledger's store answers again: limits are shared again")


# -- choosing the store -------------------------------------------------------------------------------------------


def unreserved(call: Call, now: float) -> Reservation:
    """What a charge with no limit to hold it is settled against: a reservation no store holds. Every store records
    such a settlement as it records one whose reservation expired, in one write, so a call that no limit applies to
    costs the ledger one step instead of two."""
    return Reservation(new_reservation_id(), call, utc_day(now), 0, learning=False)


def open_ledger(
    limits: Limits,
    clock: Callable[[], float],
    *,
    state_dir: Path | None = None,
    redis: Redis | None = None,
    redis_prefix: str = "",
) -> FailoverLedger:
    """The ledger for a server: in Redis when given a client (keys under `redis_prefix`, e.g. the account's
    `Keyspace.key("ledger")`), else in SQLite under `state_dir`, either one failing over to memory; in this
    process's memory alone without either. Opening touches nothing yet: the first call does, and a fault then
    costs a warning."""
    if redis is not None:
        from parse_mcp.state.ledger_redis import RedisLedger

        return FailoverLedger(RedisLedger(redis, redis_prefix, limits, clock), clock)
    if state_dir is None:
        return FailoverLedger(MemoryLedger(limits, clock), clock)
    return FailoverLedger(SqliteLedger(state_dir / LEDGER_FILE, limits, clock), clock)
