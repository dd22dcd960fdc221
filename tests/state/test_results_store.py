"""Cut answers kept for their client: the same behaviour in memory (one process) and in a real Redis (any number
of replicas), on an injected clock."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from parse_mcp.state.faults import StateUnavailable
from parse_mcp.state.redis_stores import redis_stores
from parse_mcp.state.results import (
    MAX_RESULT_BYTES,
    MAX_RESULT_BYTES_PER_CLIENT,
    ORIGIN_TTL_SECONDS,
    PREFIX,
    RESULT_ID_CHARS,
    RESULT_OVERHEAD_BYTES,
    RESULT_TTL_SECONDS,
    MemoryResultStore,
    Missing,
    Origin,
    ResultIds,
    ResultStore,
    StoredResult,
)
from parse_mcp.state.results_redis import RedisResultStore, result_ids_from_secrets
from parse_mcp.state.sealing import Sealer
from tests.redis_server import RedisServer
from tests.state.conftest import SESSION_SECRET, Clock, fresh_prefix, redis_settings

pytestmark = pytest.mark.anyio

# No store operation here waits on anything but a local Redis: a second is generous.
WAIT_SECONDS = 10.0
BODY_BYTES = 10_000
CHARGED = BODY_BYTES + RESULT_OVERHEAD_BYTES
_answers = itertools.count()


def answer(body_bytes: int = BODY_BYTES) -> StoredResult:
    """A distinct answer of exactly `body_bytes` bytes of JSON."""
    head = b'{"n": %d, "rows": ["' % next(_answers)
    filler = b"x" * (body_bytes - len(head) - 3)
    return StoredResult(head + filler + b'"]}', "parsebot", "execute_endpoint", "api-1", "list_books", "$.rows", 5.0)


OpenStore = Callable[..., AbstractAsyncContextManager[ResultStore]]


@pytest.fixture(params=["memory", "redis"])
def open_store(request: pytest.FixtureRequest, clock: Clock) -> OpenStore:
    """Opens one store as one server process would have it; in Redis, each call is another replica on the same
    state (its own connection), in memory a store of its own."""

    if request.param == "memory":

        @asynccontextmanager
        async def in_memory(
            per_client: int = MAX_RESULT_BYTES_PER_CLIENT, total: int = MAX_RESULT_BYTES
        ) -> AsyncIterator[ResultStore]:
            yield MemoryResultStore(clock, per_client=per_client, total=total)

        return in_memory

    server: RedisServer = request.getfixturevalue("redis_server")
    settings = redis_settings(server.url, fresh_prefix())

    @asynccontextmanager
    async def in_redis(
        per_client: int = MAX_RESULT_BYTES_PER_CLIENT, total: int = MAX_RESULT_BYTES
    ) -> AsyncIterator[ResultStore]:
        async with redis_stores(settings) as (shared, sealer):
            ids = result_ids_from_secrets([SESSION_SECRET])
            yield RedisResultStore(shared, sealer, ids, clock, per_client=per_client, total=total)

    return in_redis


@pytest.fixture
async def store(open_store: OpenStore) -> AsyncIterator[ResultStore]:
    async with open_store() as opened:
        yield opened


async def test_an_answer_kept_for_a_client_is_read_back_whole_by_that_client(store: ResultStore) -> None:
    kept = answer()

    result_id = await store.put("client-a", kept)

    assert result_id is not None
    assert result_id.startswith(PREFIX)
    assert len(result_id) == RESULT_ID_CHARS
    assert await store.get("client-a", result_id) == kept
    assert await store.get("client-a", result_id) == kept  # reading is not taking: every page reads it


async def test_each_answer_gets_an_id_of_its_own(store: ResultStore) -> None:
    first, second = answer(), answer()
    first_id, second_id = await store.put("client-a", first), await store.put("client-a", second)

    assert first_id is not None
    assert second_id is not None
    assert first_id != second_id
    assert await store.get("client-a", first_id) == first
    assert await store.get("client-a", second_id) == second


async def test_another_clients_id_is_unknown_not_expired_so_a_leaked_id_says_nothing(store: ResultStore) -> None:
    result_id = await store.put("client-a", answer())
    assert result_id is not None

    assert await store.get("client-b", result_id) is Missing.UNKNOWN
    assert await store.get("client-a\x00", result_id) is Missing.UNKNOWN
    assert await store.get("", result_id) is Missing.UNKNOWN


async def test_a_forged_id_is_unknown(store: ResultStore, clock: Clock) -> None:
    result_id = await store.put("client-a", answer())
    assert result_id is not None
    # The same shape, one character of the MAC changed; the random part changed; and a genuine id of the same
    # client under a key this store does not hold.
    last = result_id[-1]
    forged_mac = result_id[:-1] + ("A" if last != "A" else "B")
    forged_token = result_id[: len(PREFIX)] + ("A" if result_id[4] != "A" else "B") + result_id[len(PREFIX) + 1 :]
    foreign, _ = ResultIds.random().issue("client-a", clock.now)

    for forged in (forged_mac, forged_token, foreign, PREFIX + "A" * (RESULT_ID_CHARS - len(PREFIX))):
        assert await store.get("client-a", forged) is Missing.UNKNOWN


HOSTILE_IDS = [
    "",
    "res_",
    "sess_" + "A" * 40,
    "res_" + "A" * 39,
    "res_" + "A" * 41,
    "res_" + "A" * 40 + "\n",
    "RES_" + "A" * 40,
    "res_" + "A" * 38 + "==",
    "res_" + "A" * 39 + "+",
    "res_" + "A" * 39 + "/",
    "res_" + "\u0661" * 40,  # digits, but not ASCII ones
    "res_" + "A" * 39 + "\u00e9",
    "res_" + "\x00" * 40,
    "res_" + "\u202e" * 40,
    "res_" + "\ud800" * 40,  # a lone surrogate: not even encodable
    "res_" + "A" * 10_000_000,
    "../../etc/passwd",
    "*",
]


async def test_malformed_and_hostile_ids_are_unknown_and_never_raise(store: ResultStore) -> None:
    assert await store.put("client-a", answer()) is not None
    drawn: list[str] = []

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.one_of(
            st.text(),
            st.text(max_size=60).map(lambda tail: PREFIX + tail),
            st.from_regex(r"res_[A-Za-z0-9_-]{40}", fullmatch=True),
            st.text(alphabet=st.characters(codec="utf-8"), min_size=40, max_size=40).map(lambda t: PREFIX + t),
        )
    )
    def draw(text: str) -> None:
        drawn.append(text)

    draw()

    with anyio.fail_after(WAIT_SECONDS):
        for hostile in [*HOSTILE_IDS, *drawn]:
            assert await store.get("client-a", hostile) is Missing.UNKNOWN
            assert await store.get("client-\ud800", hostile) is Missing.UNKNOWN


@given(st.text(), st.text())
def test_no_text_checks_as_an_id_unless_it_was_issued_to_that_client(client: str, text: str) -> None:
    ids = ResultIds.random()
    issued, _ = ids.issue(client, 1_000_000.0)

    assert ids.check(client, text) is None or text == issued
    assert ids.check(client + "x", issued) is None
    assert ids.check(client, issued) is not None


async def test_an_answer_expires_for_its_client_once_its_time_to_live_has_passed(
    store: ResultStore, clock: Clock
) -> None:
    kept = answer()
    result_id = await store.put("client-a", kept)
    assert result_id is not None

    clock.now += RESULT_TTL_SECONDS - 1
    assert await store.get("client-a", result_id) == kept

    clock.now += 1
    assert await store.get("client-a", result_id) is Missing.EXPIRED
    assert await store.get("client-b", result_id) is Missing.UNKNOWN
    clock.now += 86_400
    assert await store.get("client-a", result_id) is Missing.EXPIRED


async def test_where_an_answer_came_from_outlives_it_by_a_day_for_its_client_only(
    store: ResultStore, clock: Clock
) -> None:
    result_id = await store.put("client-a", answer())
    assert result_id is not None
    clock.now += RESULT_TTL_SECONDS + 1
    assert await store.get("client-a", result_id) is Missing.EXPIRED
    assert await store.origin("client-a", result_id) == Origin("parsebot", "api-1", "list_books")
    assert await store.origin("client-b", result_id) is None, "another client learns nothing from the id"
    assert await store.origin("client-a", "res_" + "A" * 40) is None
    clock.now += ORIGIN_TTL_SECONDS
    assert await store.origin("client-a", result_id) is None


async def test_a_client_over_its_byte_cap_loses_its_own_oldest_answer_which_then_reads_as_expired(
    open_store: OpenStore, clock: Clock
) -> None:
    async with open_store(per_client=3 * CHARGED, total=10 * CHARGED) as store:
        others = await store.put("client-b", answer())
        ids = []
        for _ in range(5):
            ids.append(await store.put("client-a", answer()))
            clock.now += 1

        outcomes = [await store.get("client-a", result_id) for result_id in ids if result_id is not None]

        assert [isinstance(outcome, StoredResult) for outcome in outcomes] == [False, False, True, True, True]
        assert outcomes[:2] == [Missing.EXPIRED, Missing.EXPIRED]
        assert others is not None
        assert isinstance(await store.get("client-b", others), StoredResult)


async def test_over_the_total_cap_the_oldest_answer_of_all_goes_first_and_reads_as_expired(
    open_store: OpenStore, clock: Clock
) -> None:
    async with open_store(per_client=3 * CHARGED, total=4 * CHARGED) as store:
        kept: list[tuple[str, str | None]] = []
        for client in ("client-a", "client-b", "client-c", "client-a", "client-b", "client-c"):
            kept.append((client, await store.put(client, answer())))
            clock.now += 1

        outcomes = [await store.get(client, result_id) for client, result_id in kept if result_id is not None]

        assert outcomes[:2] == [Missing.EXPIRED, Missing.EXPIRED]
        assert all(isinstance(outcome, StoredResult) for outcome in outcomes[2:])


async def test_an_answer_larger_than_a_clients_cap_is_not_kept_and_evicts_nothing(open_store: OpenStore) -> None:
    async with open_store(per_client=3 * CHARGED, total=4 * CHARGED) as store:
        small = await store.put("client-a", answer())
        assert small is not None

        assert await store.put("client-a", answer(3 * CHARGED - RESULT_OVERHEAD_BYTES + 1)) is None
        assert isinstance(await store.get("client-a", small), StoredResult)
        assert await store.put("client-a", answer(3 * CHARGED - RESULT_OVERHEAD_BYTES)) is not None


async def test_the_default_caps_keep_a_few_big_answers_per_client_and_refuse_one_over_the_cap(
    store: ResultStore,
) -> None:
    assert MAX_RESULT_BYTES_PER_CLIENT <= MAX_RESULT_BYTES
    two_megabytes = [await store.put("client-a", answer(2 * 1024 * 1024)) for _ in range(3)]

    assert all(result_id is not None for result_id in two_megabytes)
    assert await store.put("client-a", answer(MAX_RESULT_BYTES_PER_CLIENT)) is None


async def test_answers_past_their_time_to_live_stop_holding_memory_at_the_next_put(clock: Clock) -> None:
    store = MemoryResultStore(clock)
    for client in ("client-a", "client-b", "client-a"):
        assert await store.put(client, answer()) is not None
    assert store.held_bytes == 3 * CHARGED
    clock.now += RESULT_TTL_SECONDS

    assert await store.put("client-c", answer()) is not None

    assert store.held_bytes == CHARGED


async def test_answers_kept_at_once_never_pass_a_clients_cap(open_store: OpenStore) -> None:
    async with (
        open_store(per_client=3 * CHARGED, total=10 * CHARGED) as one,
        open_store(per_client=3 * CHARGED, total=10 * CHARGED) as other,
    ):
        ids: list[str] = []

        async def put(store: ResultStore) -> None:
            result_id = await store.put("client-a", answer())
            assert result_id is not None
            ids.append(result_id)

        with anyio.fail_after(WAIT_SECONDS):
            async with anyio.create_task_group() as group:
                for n in range(20):
                    group.start_soon(put, one if n % 2 else other)
            found = [await one.get("client-a", result_id) for result_id in ids]

        # In Redis both stores are one state; in memory each keeps its own, and `one` sees only its ten.
        assert 1 <= sum(isinstance(outcome, StoredResult) for outcome in found) <= 3


# -- Redis only: replicas, sealing, expiry ---------------------------------------------------------------


@asynccontextmanager
async def replica(server: RedisServer, prefix: str, clock: Clock, secrets: list[str]) -> AsyncIterator[ResultStore]:
    async with redis_stores(redis_settings(server.url, prefix)) as (shared, _):
        yield RedisResultStore(shared, Sealer(secrets), result_ids_from_secrets(secrets), clock)


async def test_an_answer_kept_by_one_replica_is_read_by_another_on_the_same_redis(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    with anyio.fail_after(WAIT_SECONDS):
        async with (
            replica(redis_server, prefix, clock, [SESSION_SECRET]) as a,
            replica(redis_server, prefix, clock, [SESSION_SECRET]) as b,
        ):
            kept = answer()
            result_id = await a.put("client-a", kept)
            assert result_id is not None

            assert await b.get("client-a", result_id) == kept
            assert await b.get("client-b", result_id) is Missing.UNKNOWN


async def test_an_answer_dropped_through_one_replica_reads_as_expired_on_another_that_had_read_it(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    with anyio.fail_after(WAIT_SECONDS):
        async with redis_stores(redis_settings(redis_server.url, prefix)) as (shared, sealer):
            ids = result_ids_from_secrets([SESSION_SECRET])
            a = RedisResultStore(shared, sealer, ids, clock, per_client=CHARGED, total=CHARGED)
            b = RedisResultStore(shared, sealer, ids, clock, per_client=CHARGED, total=CHARGED)
            first = await a.put("client-a", answer())
            assert first is not None
            assert isinstance(await b.get("client-a", first), StoredResult)

            assert await a.put("client-b", answer()) is not None

            assert await b.get("client-a", first) is Missing.EXPIRED
            assert await a.get("client-a", first) is Missing.EXPIRED


async def test_after_a_secret_rotation_answers_kept_under_the_previous_secret_are_still_read(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix, new_secret = fresh_prefix(), "rotated-session-secret-" + "Qw8rT2yU6iO0pA4s"
    with anyio.fail_after(WAIT_SECONDS):
        async with (
            replica(redis_server, prefix, clock, [SESSION_SECRET]) as old,
            replica(redis_server, prefix, clock, [new_secret, SESSION_SECRET]) as rotated,
            replica(redis_server, prefix, clock, [new_secret]) as forgotten,
        ):
            kept = answer()
            result_id = await old.put("client-a", kept)
            assert result_id is not None

            assert await rotated.get("client-a", result_id) == kept
            assert await forgotten.get("client-a", result_id) is Missing.UNKNOWN


async def test_redis_holds_the_answer_sealed_and_expiring_with_its_time_to_live(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    with anyio.fail_after(WAIT_SECONDS):
        async with replica(redis_server, prefix, clock, [SESSION_SECRET]) as store:
            kept = answer()
            assert await store.put("client-a", kept) is not None
            raw_client = Redis.from_url(redis_server.url)
            try:
                names = [name async for name in raw_client.scan_iter(match=f"{prefix}:*:result:*")]
                assert len(names) == 1
                raw = await raw_client.get(names[0])
                ttl_ms = await raw_client.pttl(names[0])
                every_key = [name async for name in raw_client.scan_iter(match=f"{prefix}:*")]
                index_ttls = [await raw_client.pttl(name) for name in every_key if b":results:origin:" not in name]
                origins = [name for name in every_key if b":results:origin:" in name]
                origin_raw = [await raw_client.get(name) for name in origins]
                origin_ttls = [await raw_client.pttl(name) for name in origins]
            finally:
                await raw_client.aclose()

    assert isinstance(raw, bytes)
    assert kept.body[:20] not in raw
    assert b"xxxxxxxxxx" not in raw
    assert b"client-a" not in raw
    assert b"list_books" not in raw
    assert b"client-a" not in b" ".join(every_key)
    assert (RESULT_TTL_SECONDS - 60) * 1000 < ttl_ms <= RESULT_TTL_SECONDS * 1000
    # Nothing of it stays in Redis for good: the indexes expire too, and where it came from after a day.
    assert all(0 < ttl <= RESULT_TTL_SECONDS * 1000 for ttl in index_ttls)
    assert len(origins) == 1
    assert all(0 < ttl <= ORIGIN_TTL_SECONDS * 1000 for ttl in origin_ttls)
    assert all(isinstance(raw_origin, bytes) and b"list_books" not in raw_origin for raw_origin in origin_raw)


async def test_a_redis_that_cannot_be_reached_is_said_so_not_taken_for_an_expired_answer(
    tmp_path: Path, clock: Clock
) -> None:
    with RedisServer(tmp_path) as server, anyio.fail_after(WAIT_SECONDS):
        async with redis_stores(redis_settings(server.url, fresh_prefix())) as (shared, sealer):
            ids = result_ids_from_secrets([SESSION_SECRET])
            # Opened nothing yet: every read goes to Redis.
            store = RedisResultStore(shared, sealer, ids, clock, opened_bytes=0)
            result_id = await store.put("client-a", answer())
            assert result_id is not None
            server.stop()

            with pytest.raises(StateUnavailable):
                await store.get("client-a", result_id)
            with pytest.raises(StateUnavailable):
                await store.put("client-a", answer())
            # What needs no Redis still answers: an id that is not this client's is unknown.
            assert await store.get("client-b", result_id) is Missing.UNKNOWN
