"""Promises of the stores that only an exact test holds: the stores chosen from the settings, the caps they refuse,
the pacer's decisions passed on unchanged, the ids of cut answers at their edges, a remembered call at its size and
time limits, and the names of keys."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
import redis
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from parse_mcp.json_types import JsonValue
from parse_mcp.meta import RateSnapshot
from parse_mcp.policy.pacing import Go, Learn, Pacer
from parse_mcp.runtime import Runtime
from parse_mcp.settings import Secret, Settings
from parse_mcp.state import Stores, memory_stores, opened_stores
from parse_mcp.state.bounded import ClientTables
from parse_mcp.state.keys import Keyspace
from parse_mcp.state.ledger import Call, FailoverLedger, Limits, MemoryLedger, Reservation, utc_day
from parse_mcp.state.pacing import MemoryPacing, PacingStore, pacing_store
from parse_mcp.state.redis_stores import redis_stores
from parse_mcp.state.repairs import MAX_CALL_CHARS, REMEMBERED_SECONDS, MemoryRepairMemory
from parse_mcp.state.results import (
    MAX_ORIGINS,
    ORIGIN_TTL_SECONDS,
    MemoryResultStore,
    Missing,
    Origin,
    ResultIds,
    ResultStore,
    StoredResult,
    check_caps,
)
from parse_mcp.state.results_redis import RedisResultStore, result_ids_from_secrets
from parse_mcp.state.sealing import Sealer
from tests.redis_server import RedisServer
from tests.state.conftest import SESSION_SECRET, Clock, OpenStores, fresh_prefix, redis_settings

pytestmark = pytest.mark.anyio

WAIT_SECONDS = 10.0
LIMITED = Limits(daily_credits=50, client_daily_credits=20, scraperapi_daily_credits=70)


def answer(n: int = 0) -> StoredResult:
    return StoredResult(b'{"rows": [%d]}' % n, "parsebot", "execute_endpoint", "api-1", "list_books", "$.rows", 5.0)


# -- the stores the settings choose ---------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["memory", "redis"])
async def test_the_ledger_of_the_stores_opened_counts_against_the_three_limits_the_settings_set(
    where: str, request: pytest.FixtureRequest, clock: Clock
) -> None:
    if where == "memory":
        settings = Settings(parse_api_key=Secret("pmx_account_one"))
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        settings = redis_settings(server.url, fresh_prefix())
    settings = dataclasses.replace(settings, daily_credits=50, client_daily_credits=20, scraperapi_daily_credits=70)
    with anyio.fail_after(WAIT_SECONDS):
        async with opened_stores(settings, clock) as stores:
            assert stores.ledger.limits == LIMITED


def test_memory_stores_keep_the_ledger_they_are_given() -> None:
    ledger = FailoverLedger(MemoryLedger(LIMITED, Clock()), Clock())

    assert memory_stores(Clock(), ledger).ledger is ledger


async def test_memory_stores_without_a_ledger_open_one_with_no_limit_on_their_clock() -> None:
    clock = Clock(1_773_482_400.0)  # 2026-03-14 10:00 UTC
    stores = memory_stores(clock)

    assert stores.ledger.limits == Limits()
    reservation = await stores.ledger.reserve(Call("parsebot", "execute_endpoint", "api-1", "get", "client-a"), 4)
    assert isinstance(reservation, Reservation)
    assert reservation.day == utc_day(clock.now) == "2026-03-14"
    assert reservation.estimate == 4


# -- caps refused when they make no sense ---------------------------------------------------------------------------


@pytest.mark.parametrize(("per_client", "total"), [(1, 1), (1, 10), (10, 10)])
def test_a_client_table_takes_any_positive_per_client_cap_up_to_the_total(per_client: int, total: int) -> None:
    table: ClientTables[str, int] = ClientTables(per_client, total)
    for n in range(per_client + 1):
        table.put("client-a", f"k{n}", n)

    assert table.count("client-a") == per_client


@pytest.mark.parametrize(("per_client", "total"), [(0, 10), (-1, 10), (11, 10)])
def test_a_client_table_refuses_a_cap_of_zero_or_one_above_the_total_saying_why(per_client: int, total: int) -> None:
    with pytest.raises(ValueError, match=r"^the caps must be positive, and a client's no larger than the total$"):
        ClientTables(per_client, total)


@pytest.mark.parametrize(("ttl", "per_client", "total"), [(0.5, 1, 1), (1, 1, 10), (900, 10, 10)])
def test_a_result_store_takes_any_positive_time_to_live_and_caps(ttl: float, per_client: int, total: int) -> None:
    check_caps(ttl, per_client, total)
    MemoryResultStore(Clock(), ttl=ttl, per_client=per_client, total=total)


@pytest.mark.parametrize(
    ("ttl", "per_client", "total"), [(0, 10, 10), (-1, 10, 10), (900, 0, 10), (900, 11, 10), (0, 0, 10)]
)
def test_a_result_store_refuses_a_time_to_live_or_cap_that_is_not_positive_saying_why(
    ttl: float, per_client: int, total: int
) -> None:
    with pytest.raises(ValueError, match=r"^the time-to-live and the caps must be positive, and a client's cap no"):
        MemoryResultStore(Clock(), ttl=ttl, per_client=per_client, total=total)


def test_result_ids_take_keys_of_16_bytes_and_refuse_shorter_ones_or_none() -> None:
    ids = ResultIds([b"k" * 16])
    issued, _ = ids.issue("client-a", 1_000_000.0)
    assert ids.check("client-a", issued) is not None

    for keys in ([], [b"k" * 15], [b"k" * 16, b"k" * 15]):
        with pytest.raises(ValueError, match=r"^at least one key of 16 bytes or more is needed$"):
            ResultIds(keys)


def test_a_sealer_needs_a_secret_and_says_so() -> None:
    with pytest.raises(ValueError, match=r"^at least one session secret is needed$"):
        Sealer([])


def test_what_is_sealed_under_a_secret_opens_with_the_documented_derivation_of_its_key() -> None:
    """HKDF-SHA256 with no salt and the context b"parse-mcp session store v1": sessions sealed by an earlier release
    stay readable, and a deliberate change of context is the only reset."""
    secret = "a-session-secret-of-enough-length-123"
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"parse-mcp session store v1").derive(
        secret.encode()
    )
    sealed_elsewhere = Fernet(base64.urlsafe_b64encode(derived)).encrypt(b"sealed by a replica")

    assert Sealer([secret]).open(sealed_elsewhere) == b"sealed by a replica"
    assert Sealer(["another-secret-of-enough-length-456"]).open(sealed_elsewhere) is None


# -- the ids of cut answers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "issued_at"),
    [(1_000_000.9, 1_000_000), (0.5, 0), (-5.0, 0), (2.0**31 + 7.5, 2**31 + 7), (2.0**33, 2**32 - 1)],
)
def test_an_id_says_when_it_was_issued_in_whole_seconds_within_four_bytes(now: float, issued_at: int) -> None:
    ids = ResultIds.random()
    result_id, issued = ids.issue("client-a", now)

    assert issued.issued_at == issued_at
    checked = ids.check("client-a", result_id)
    assert checked is not None
    assert checked.issued_at == issued_at
    assert checked.token == issued.token


def test_an_issued_id_under_another_prefix_or_of_another_type_is_not_an_id() -> None:
    ids = ResultIds.random()
    result_id, _ = ids.issue("client-a", 1_000_000.0)

    assert ids.check("client-a", "abc_" + result_id[4:]) is None
    assert ids.check("client-a", "res-" + result_id[4:]) is None
    for not_text in (None, 12345, result_id.encode(), [result_id]):
        assert ids.check("client-a", not_text) is None


async def test_an_answer_kept_after_2038_is_read_back_by_its_client(open_store_any: OpenStoreAny) -> None:
    clock = Clock(2.0**31 + 100)
    async with open_store_any(clock) as store:
        result_id = await store.put("client-a", answer())
        assert result_id is not None
        clock.now += 60
        assert await store.get("client-a", result_id) == answer()


async def test_where_an_answer_came_from_is_forgotten_exactly_a_day_after_it_was_kept(
    open_store_any: OpenStoreAny,
) -> None:
    clock = Clock()
    async with open_store_any(clock) as store:
        result_id = await store.put("client-a", answer())
        assert result_id is not None
        clock.now += ORIGIN_TTL_SECONDS - 0.5
        assert await store.origin("client-a", result_id) == Origin("parsebot", "api-1", "list_books")
        clock.now += 0.5
        assert await store.origin("client-a", result_id) is None


async def test_a_process_remembers_where_its_last_ten_thousand_answers_came_from_and_forgets_the_oldest() -> None:
    clock = Clock()
    store = MemoryResultStore(clock)
    ids = []
    for n in range(MAX_ORIGINS + 1):
        result_id = await store.put(f"client-{n % 7}", answer(n))
        assert result_id is not None
        ids.append((f"client-{n % 7}", result_id))

    assert await store.origin(*ids[0]) is None
    for kept in (ids[1], ids[-1]):
        assert await store.origin(*kept) == Origin("parsebot", "api-1", "list_books")


async def test_an_id_whose_answer_has_surely_expired_reads_as_expired_without_asking_an_absent_redis(
    tmp_path: Path, clock: Clock
) -> None:
    clock.now = 1_000_000.0  # a whole second: the id says exactly when it was issued
    with RedisServer(tmp_path) as server, anyio.fail_after(WAIT_SECONDS):
        async with redis_stores(redis_settings(server.url, fresh_prefix())) as (shared, sealer):
            store = RedisResultStore(shared, sealer, result_ids_from_secrets([SESSION_SECRET]), clock, ttl=60)
            result_id = await store.put("client-a", answer())
            assert result_id is not None
            server.stop()
            clock.now += 1 + 60  # the issue second, then the whole time-to-live

            assert await store.get("client-a", result_id) is Missing.EXPIRED


# -- the pacer's decisions, passed on unchanged -----------------------------------------------------------------------


async def decisions(store: PacingStore, now: float) -> Go:
    """The same five decisions on any store, each changing the picture; the last `Go` taken."""
    await store.no_picture(answered=False)
    await store.observe(RateSnapshot(observed_at=now, remaining=5, burst=30, refill_per_minute=60.0))
    go = await store.reserve(now, 10.0)
    assert isinstance(go, Go)
    assert go.token
    await store.release(now + 1, go)
    await store.rejected(now + 2, "burst", 7.0)
    return go


def twin(now: float) -> Pacer:
    pacer = Pacer()
    pacer.no_picture(answered=False)
    pacer.observe(RateSnapshot(observed_at=now, remaining=5, burst=30, refill_per_minute=60.0))
    go = pacer.reserve(now, 10.0)
    assert isinstance(go, Go)
    pacer.release(now + 1, go)
    pacer.rejected(now + 2, "burst", 7.0)
    return pacer


async def test_the_memory_pacing_store_decides_exactly_as_the_pacer_it_was_given() -> None:
    pacer = Pacer()
    await decisions(MemoryPacing(pacer), 1_000_000.0)

    assert pacer.snapshot() == twin(1_000_000.0).snapshot()


async def test_a_service_that_answers_without_a_picture_is_not_paced_by_either_store(open_stores: OpenStores) -> None:
    clock = Clock()
    async with open_stores() as stores:
        store = pacing_store(stores, Secret("pmx_account_one"), Runtime(clock=clock))
        await store.no_picture(answered=True)
        unpaced = [await store.reserve(clock.now, 0.0) for _ in range(3)]

    assert all(isinstance(go, Go) and go.wait == 0 and not go.token for go in unpaced), unpaced


async def test_the_redis_pacing_store_keeps_exactly_the_picture_the_pacer_would_have(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    async with opened_stores(redis_settings(redis_server.url, prefix), clock) as stores:
        await decisions(pacing_store(stores, Secret("pmx_account_one"), Runtime(clock=clock)), clock.now)
    account = Keyspace.for_key(prefix, "pmx_account_one")
    with redis.Redis(host="127.0.0.1", port=redis_server.port) as raw:
        stored = json.loads(raw.get(account.key("pacing")) or b"null")

    assert stored == twin(clock.now).snapshot()


async def test_either_store_holds_the_calls_behind_a_first_call_for_the_probe_timeout_it_was_given(
    open_stores: OpenStores,
) -> None:
    clock = Clock()
    async with open_stores() as stores:
        store = pacing_store(stores, Secret("pmx_account_one"), Runtime(clock=clock), probe_timeout=1.5)
        first = await store.reserve(clock.now, 30.0)
        behind = await store.reserve(clock.now + 1, 30.0)

    assert first == Go(0.0, probe="learn")
    assert behind == Learn(clock.now + 1.5)


async def test_waiting_for_a_first_answer_ends_at_once_when_its_time_has_come_on_either_store(
    open_stores: OpenStores,
) -> None:
    clock = Clock()
    async with open_stores() as stores:
        store = pacing_store(stores, Secret("pmx_account_one"), Runtime(clock=clock))
        for retry_at in (clock.now, clock.now - 30):
            with anyio.fail_after(0.2):
                await store.await_answer(clock.now, Learn(retry_at))


async def test_waiting_for_a_first_answer_in_memory_ends_when_the_answer_comes() -> None:
    store = MemoryPacing()
    with anyio.fail_after(WAIT_SECONDS):
        async with anyio.create_task_group() as group:
            group.start_soon(store.await_answer, 1_000_000.0, Learn(1_000_000.0 + 3_600))
            await anyio.wait_all_tasks_blocked()
            await store.observe(RateSnapshot(observed_at=1_000_000.0, remaining=5, burst=30, refill_per_minute=60.0))


# -- a call to repair -----------------------------------------------------------------------------------------------


async def test_a_call_of_exactly_the_size_limit_is_remembered_counting_characters_not_escapes(stores: Stores) -> None:
    def of_size(chars: int) -> dict[str, JsonValue]:
        call: dict[str, JsonValue] = {"tool": "execute_endpoint", "arguments": {"q": ""}}
        overhead = len(json.dumps(call, ensure_ascii=False))
        return {"tool": "execute_endpoint", "arguments": {"q": "é" * (chars - overhead)}}

    await stores.repairs.remember("client-a", "task-1", of_size(MAX_CALL_CHARS))
    await stores.repairs.follow("client-a", "task-1", "rev-1")
    await stores.repairs.remember("client-a", "task-2", of_size(MAX_CALL_CHARS + 1))
    await stores.repairs.follow("client-a", "task-2", "rev-2")

    assert await stores.repairs.take("client-a", "rev-1") == of_size(MAX_CALL_CHARS)
    assert await stores.repairs.take("client-a", "rev-2") is None


async def test_a_remembered_call_comes_back_with_its_keys_in_one_order_whatever_order_it_was_made_in(
    stores: Stores,
) -> None:
    await stores.repairs.remember("client-a", "task-1", {"tool": "t", "arguments": {"b": 1, "a": 2}})
    await stores.repairs.follow("client-a", "task-1", "rev-1")

    taken = await stores.repairs.take("client-a", "rev-1")
    assert taken is not None
    assert list(taken) == ["arguments", "tool"]
    arguments = taken["arguments"]
    assert isinstance(arguments, dict)
    assert list(arguments) == ["a", "b"]


async def test_a_call_remembered_in_memory_is_gone_exactly_a_day_later() -> None:
    clock = Clock()
    repairs = MemoryRepairMemory(clock)
    call: dict[str, JsonValue] = {"tool": "t", "arguments": {}}
    for revision, after in (("rev-1", REMEMBERED_SECONDS - 0.5), ("rev-2", REMEMBERED_SECONDS)):
        await repairs.remember("client-a", "task-1", call)
        await repairs.follow("client-a", "task-1", revision)
        clock.now += after
        taken = await repairs.take("client-a", revision)
        assert (taken == call) is (revision == "rev-1")


# -- key names ------------------------------------------------------------------------------------------------------


def test_an_account_is_named_in_redis_by_16_hex_digits_of_its_keys_hash() -> None:
    keys = Keyspace.for_key("parse-mcp", "pmx_account_one")

    assert keys.key("session", "h") == f"parse-mcp:{hashlib.sha256(b'pmx_account_one').hexdigest()[:16]}:session:h"


# -- a result store of either kind, on a clock of the test's own ------------------------------------------------------


class OpenStoreAny:
    def __init__(self, server: RedisServer | None) -> None:
        self.server = server

    @asynccontextmanager
    async def __call__(self, clock: Clock) -> AsyncIterator[ResultStore]:
        with anyio.fail_after(WAIT_SECONDS):
            if self.server is None:
                yield MemoryResultStore(clock)
                return
            async with redis_stores(redis_settings(self.server.url, fresh_prefix())) as (shared, sealer):
                yield RedisResultStore(shared, sealer, result_ids_from_secrets([SESSION_SECRET]), clock)


@pytest.fixture(params=["memory", "redis"])
def open_store_any(request: pytest.FixtureRequest) -> OpenStoreAny:
    return OpenStoreAny(None if request.param == "memory" else request.getfixturevalue("redis_server"))
