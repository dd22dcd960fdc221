"""The spend ledger in Redis: one budget for every process and replica on the account.

Each decision is one Lua script, and Redis runs a script alone: the check against what is spent and reserved
and the reservation itself happen with nothing in between, on every replica at once. Keys, under the ledger's
prefix (the account's `Keyspace.key("ledger")`):

    spent:<day>     hash  "<service>\\x1fa" (the account) and "<service>\\x1fc<client>" -> credits settled that day
    rows:<day>      hash  "c<row>" -> credits, "n<row>" -> calls, where <row> is the charge row as JSON
                          [service, tool, api, endpoint, client, error code]: what `usage` reads
    reserved        hash  "<day>\\x1f<service>\\x1fa" and "...\\x1fc<client>" -> credits held by calls in flight
    reservations    hash  id -> the reservation (day, service, client, estimate, endpoint, learning)
    held            zset  id scored by when the reservation expires
    learning        hash  endpoint -> the id of the one call learning its price
    prices          hash  endpoint -> the last charge seen

Every key expires `RETENTION_DAYS` after its last write, so the day keys of old days leave by themselves.

**Reservations that are never settled expire.** Each reservation is in `held`, scored by the moment (on the
caller's clock) it stops counting: `RESERVATION_TTL_SECONDS` after it was made, longer than any tool call. Every
script first sweeps `held` up to now: an expired reservation gives its estimate back and frees its learning
slot. So a process that crashed mid-call holds budget for a few minutes at most, whichever replica calls next
does the sweeping, and a sweep costs nothing when nothing has expired. Clocks of replicas that disagree by a few
seconds move an expiry by as much, no more.

Faults: a command waits at most `OPERATION_TIMEOUT_SECONDS`, and never past the tool call's budget (the client's
own socket timeouts are shorter); anything that goes wrong reaching Redis is `LedgerUnavailable`, which
`FailoverLedger` turns into one warning and a ledger in memory.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import anyio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from parse_mcp.policy.deadline import time_left
from parse_mcp.state.ledger import (
    LEARN_RETRY_SECONDS,
    RESERVATION_TTL_SECONDS,
    RETENTION_DAYS,
    SECONDS_PER_DAY,
    Call,
    DayUsage,
    LearnFirst,
    LedgerUnavailable,
    Limits,
    Refused,
    Reservation,
    RowKey,
    Service,
    Today,
    new_reservation_id,
    recent_days,
    refusal,
    teaches_price,
    today_from,
    usage_from,
    utc_day,
)

OPERATION_TIMEOUT_SECONDS = 3.0
# The least a command is given inside a call whose budget is (nearly) spent.
MIN_SECONDS = 0.25
RETENTION_SECONDS = RETENTION_DAYS * SECONDS_PER_DAY

T = TypeVar("T")

# KEYS: 1 reserved, 2 held, 3 reservations, 4 learning, 5 prices. Sweeps the expired reservations (ARGV[1] is
# now) and defines `forget(id)`, which gives a reservation's estimate back and frees its learning slot.
_PRELUDE = """
local function forget(id)
  redis.call('ZREM', KEYS[2], id)
  local raw = redis.call('HGET', KEYS[3], id)
  if not raw then return end
  local r = cjson.decode(raw)
  local scope = r.d .. '\\31' .. r.s .. '\\31'
  for _, f in ipairs({scope .. 'a', scope .. 'c' .. r.c}) do
    -- '%d': a Lua -0 would be written "-0", which HINCRBY refuses
    if redis.call('HINCRBY', KEYS[1], f, string.format('%d', -r.e)) <= 0 then redis.call('HDEL', KEYS[1], f) end
  end
  if r.l == 1 and redis.call('HGET', KEYS[4], r.p) == id then redis.call('HDEL', KEYS[4], r.p) end
  redis.call('HDEL', KEYS[3], id)
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])) do forget(id) end
local function keep(first, last)
  for i = first, last do redis.call('EXPIRE', KEYS[i], RETENTION) end
end
"""

# KEYS 6: spent:<day>. ARGV: now, day, service, client, endpoint, estimate, account limit, client limit (-1: none),
# reservation id, expires at. Returns {'learn'}, {'refused', cost, spent, reserved, client spent, client reserved},
# or {'ok', cost, learning}.
_RESERVE = (
    _PRELUDE
    + """
local day, service, client, endpoint = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local price = redis.call('HGET', KEYS[5], endpoint)
local learning = (not price) and (ARGV[7] ~= '-1' or ARGV[8] ~= '-1')
if learning and redis.call('HEXISTS', KEYS[4], endpoint) == 1 then return {'learn'} end
local cost = tonumber(price or ARGV[6])
local account, mine = service .. '\\31a', service .. '\\31c' .. client
local today = day .. '\\31'
local spent = tonumber(redis.call('HGET', KEYS[6], account) or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], today .. account) or '0')
local spent_c = tonumber(redis.call('HGET', KEYS[6], mine) or '0')
local reserved_c = tonumber(redis.call('HGET', KEYS[1], today .. mine) or '0')
if (ARGV[7] ~= '-1' and spent + reserved + cost > tonumber(ARGV[7]))
   or (ARGV[8] ~= '-1' and spent_c + reserved_c + cost > tonumber(ARGV[8])) then
  return {'refused', tostring(cost), tostring(spent), tostring(reserved), tostring(spent_c), tostring(reserved_c)}
end
redis.call('HINCRBY', KEYS[1], today .. account, cost)
redis.call('HINCRBY', KEYS[1], today .. mine, cost)
local flag = learning and 1 or 0
redis.call('HSET', KEYS[3], ARGV[9], cjson.encode({d = day, s = service, c = client, e = cost, p = endpoint, l = flag}))
redis.call('ZADD', KEYS[2], ARGV[10], ARGV[9])
if learning then redis.call('HSET', KEYS[4], endpoint, ARGV[9]) end
keep(1, 4)
return {'ok', tostring(cost), tostring(flag)}
"""
)

# KEYS 6: spent:<day>, 7: rows:<day>. ARGV: now, id, service, client, endpoint, credits, row, teaches (1/0).
_SETTLE = (
    _PRELUDE
    + """
local service, client, credits = ARGV[3], ARGV[4], tonumber(ARGV[6])
forget(ARGV[2])
redis.call('HINCRBY', KEYS[6], service .. '\\31a', credits)
redis.call('HINCRBY', KEYS[6], service .. '\\31c' .. client, credits)
redis.call('HINCRBY', KEYS[7], 'c' .. ARGV[7], credits)
redis.call('HINCRBY', KEYS[7], 'n' .. ARGV[7], 1)
if ARGV[8] == '1' then redis.call('HSET', KEYS[5], ARGV[5], credits) end
keep(1, 7)
return 1
"""
)

# ARGV: now, id.
_RELEASE = _PRELUDE + "\nforget(ARGV[2])\nreturn 1\n"

# KEYS 6: spent:<day>. ARGV: now, day, client. What is spent and reserved today, account-wide per service and by
# the client on Parse.bot.
_TODAY = (
    _PRELUDE
    + """
local out = {}
for _, f in ipairs({'parsebot\\31a', 'scraperapi\\31a', 'parsebot\\31c' .. ARGV[3]}) do
  table.insert(out, redis.call('HGET', KEYS[6], f) or '0')
  table.insert(out, redis.call('HGET', KEYS[1], ARGV[2] .. '\\31' .. f) or '0')
end
return out
"""
)


def _script(body: str) -> str:
    return body.replace("RETENTION", str(RETENTION_SECONDS))


class RedisLedger:
    """The `Ledger` in Redis under `prefix` (see the module's docstring for the keys and the scripts)."""

    def __init__(self, client: Redis, prefix: str, limits: Limits, clock: Callable[[], float]) -> None:
        self._redis = client
        self._prefix = prefix
        self._limits = limits
        self._clock = clock
        self._reserve = client.register_script(_script(_RESERVE))
        self._settle = client.register_script(_script(_SETTLE))
        self._release = client.register_script(_script(_RELEASE))
        self._today = client.register_script(_script(_TODAY))
        self._fixed = [self.key(name) for name in ("reserved", "held", "reservations", "learning", "prices")]

    def key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    @property
    def limits(self) -> Limits:
        return self._limits

    async def reserve(self, call: Call, estimate: int = 1) -> Reservation | Refused | LearnFirst:
        now = self._clock()
        day = utc_day(now)
        account, per_client = self._limits.applying(call.service)
        reservation_id = new_reservation_id()
        arguments = (
            repr(now),
            day,
            call.service,
            call.client,
            _endpoint(call.service, call.api, call.endpoint),
            estimate,
            -1 if account is None else account[1],
            -1 if per_client is None else per_client[1],
            reservation_id,
            repr(now + RESERVATION_TTL_SECONDS),
        )
        keys = [*self._fixed, self.key("spent", day)]
        answer = await self._within(lambda: self._reserve(keys=keys, args=arguments))
        outcome = [_text(part) for part in answer]
        if outcome[0] == "learn":
            return LearnFirst(LEARN_RETRY_SECONDS)
        cost = int(float(outcome[1]))
        if outcome[0] == "refused":
            numbers = [int(float(part)) for part in outcome[2:6]]
            used = ((numbers[0], numbers[1]), (numbers[2], numbers[3]))
            refused = refusal(self._limits, call.service, cost, used, now)
            if refused is None:  # pragma: no cover  # the script and `refusal` apply one rule
                raise AssertionError("unreachable: the script refused a call `refusal` admits")
            return refused
        return Reservation(reservation_id, call, day, cost, outcome[2] == "1")

    async def settle(self, reservation: Reservation, actual_credits: int, error_code: str | None) -> None:
        now = self._clock()
        day, call = utc_day(now), reservation.call
        row = json.dumps([call.service, call.tool, call.api, call.endpoint, call.client, error_code or ""])
        arguments = (
            repr(now),
            reservation.id,
            call.service,
            call.client,
            _endpoint(call.service, call.api, call.endpoint),
            actual_credits,
            row,
            "1" if teaches_price(actual_credits, error_code) else "0",
        )
        keys = [*self._fixed, self.key("spent", day), self.key("rows", day)]
        await self._within(lambda: self._settle(keys=keys, args=arguments))

    async def release(self, reservation: Reservation) -> None:
        arguments = (repr(self._clock()), reservation.id)
        await self._within(lambda: self._release(keys=self._fixed, args=arguments))

    async def spent_today(self, client: str) -> Today:
        now = self._clock()
        day = utc_day(now)
        keys = [*self._fixed, self.key("spent", day)]
        answer = await self._within(lambda: self._today(keys=keys, args=(repr(now), day, client)))
        n = [int(float(_text(part))) for part in answer]
        spent: dict[Service, int] = {"parsebot": n[0], "scraperapi": n[2]}
        reserved: dict[Service, int] = {"parsebot": n[1], "scraperapi": n[3]}
        return today_from(self._limits, now, spent, (n[4], n[5]), reserved)

    async def last_charge(self, service: Service, api: str, endpoint: str) -> int | None:
        raw = await self._within(lambda: self._redis.hget(self.key("prices"), _endpoint(service, api, endpoint)))
        return None if raw is None else int(float(_text(raw)))

    async def usage(self, days: int) -> list[DayUsage]:
        wanted = recent_days(self._clock(), days)

        async def read() -> list[dict[bytes, bytes]]:
            async with self._redis.pipeline(transaction=False) as pipe:
                for day in wanted:
                    pipe.hgetall(self.key("rows", day))
                found: list[dict[bytes, bytes]] = await pipe.execute()
                return found

        tables = await self._within(read)
        rows: list[tuple[RowKey, int, int]] = []
        for day, table in zip(wanted, tables, strict=True):
            for field, credits in table.items():
                name = _text(field)
                if name.startswith("c"):
                    service, tool, api, endpoint, client, code = (str(part) for part in json.loads(name[1:]))
                    calls = int(table.get(b"n" + field[1:], b"0"))
                    rows.append(((day, service, tool, api, endpoint, client, code), int(credits), calls))
        return usage_from(wanted, rows)

    async def aclose(self) -> None:
        """The connection is the caller's (the other Redis stores share it): nothing to close here."""

    async def _within(self, command: Callable[[], Awaitable[T]]) -> T:
        # Never past the tool call's budget, like every Redis command on a call's path (a frozen Redis costs the
        # call its ledger, which fails over to memory, never its time); a charge to record once the answer is in
        # still gets a moment, so a call that ends at its budget's edge is not lost for that alone.
        left = time_left(self._clock())
        seconds = OPERATION_TIMEOUT_SECONDS if left is None else min(OPERATION_TIMEOUT_SECONDS, max(left, MIN_SECONDS))
        with _redis_faults(), anyio.fail_after(seconds):
            return await command()


def _endpoint(service: str, api: str, endpoint: str) -> str:
    return f"{service}\x1f{api}\x1f{endpoint}"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@contextmanager
def _redis_faults() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:  # OSError covers TimeoutError: a Redis that does not answer in time
        raise LedgerUnavailable(type(exc).__name__) from exc
