"""Cut answers in Redis, exactly: ids stay valid across releases, an answer's origin is none when it was never kept,
each replica's budget of answers held open counts each answer once and frees what expired, an answer read from Redis
expires at exactly its time-to-live, and any client name (a lone surrogate too) keeps and reads its answers.

Which answers a replica holds open is seen as in tests/state/test_result_cache_promises.py: once Redis's copies are
spoiled, an answer held open is still served, one that is not reads as expired."""

from __future__ import annotations

import anyio
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from parse_mcp.state.results import RESULT_TTL_SECONDS, Missing, ResultIds, StoredResult
from parse_mcp.state.results_redis import result_ids_from_secrets
from tests.redis_server import RedisServer
from tests.state.conftest import SESSION_SECRET, Clock, fresh_prefix
from tests.state.test_result_cache_promises import CHARGED, answer, outcomes, replica, spoil_every_answer

pytestmark = pytest.mark.anyio


def test_an_id_issued_under_the_key_derivation_of_an_earlier_release_is_still_valid() -> None:
    # HKDF-SHA256, no salt, 32 bytes, context b"parse-mcp result ids v1": a page asked of a replica that was
    # upgraded meanwhile still finds its answer.
    earlier_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"parse-mcp result ids v1").derive(
        SESSION_SECRET.encode()
    )
    result_id, issued = ResultIds([earlier_key]).issue("client-a", 1_000_000.0)
    assert result_ids_from_secrets([SESSION_SECRET]).check("client-a", result_id) == issued


async def test_the_origin_of_an_id_whose_answer_was_never_kept_is_none(redis_server: RedisServer, clock: Clock) -> None:
    async with replica(redis_server, fresh_prefix(), clock, opened_bytes=2 * CHARGED) as store:
        never_kept, _ = result_ids_from_secrets([SESSION_SECRET]).issue("client-a", clock.now)
        assert await store.origin("client-a", never_kept) is None


async def test_a_replica_holds_open_only_its_budget_however_many_answers_come(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    async with replica(redis_server, prefix, clock, opened_bytes=2 * CHARGED) as store:
        ids = [await store.put("client-a", answer(n)) for n in range(5)]
        kept = [result_id for result_id in ids if result_id is not None]
        assert len(kept) == 5
        assert spoil_every_answer(redis_server, prefix) == 5

        assert await outcomes(store, kept) == [False, False, False, True, True]


async def test_an_answer_held_open_that_expired_no_longer_takes_a_share_of_the_replicas_budget(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    async with replica(redis_server, prefix, clock, opened_bytes=2 * CHARGED) as store:
        start = clock.now
        first = await store.put("client-a", answer(0))
        clock.now = start + 10
        second = await store.put("client-a", answer(1))
        assert first is not None
        assert second is not None
        assert isinstance(await store.get("client-a", first), StoredResult)  # read last: held open longest
        clock.now = start + RESULT_TTL_SECONDS
        assert await store.get("client-a", first) is Missing.EXPIRED
        third = await store.put("client-a", answer(2))
        assert third is not None
        spoil_every_answer(redis_server, prefix)

        assert await outcomes(store, [second, third]) == [True, True]


async def test_two_reads_that_open_one_answer_at_once_hold_it_open_once(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    async with (
        replica(redis_server, prefix, clock, opened_bytes=2 * CHARGED) as writer,
        replica(redis_server, prefix, clock, opened_bytes=2 * CHARGED) as reader,
    ):
        first, second = await writer.put("client-a", answer(0)), await writer.put("client-a", answer(1))
        assert first is not None
        assert second is not None
        found: list[object] = []

        async def read(result_id: str) -> None:
            found.append(await reader.get("client-a", result_id))

        async with anyio.create_task_group() as group:  # both miss the cache, both open it from Redis
            group.start_soon(read, first)
            group.start_soon(read, first)
        assert all(isinstance(outcome, StoredResult) for outcome in found)
        assert isinstance(await reader.get("client-a", second), StoredResult)
        spoil_every_answer(redis_server, prefix)

        assert await outcomes(reader, [first, second]) == [True, True]


async def test_an_answer_read_from_redis_at_exactly_its_time_to_live_is_expired(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    async with (
        replica(redis_server, prefix, clock, opened_bytes=2 * CHARGED) as writer,
        replica(redis_server, prefix, clock, opened_bytes=2 * CHARGED) as reader,
    ):
        kept = await writer.put("client-a", answer(0))
        assert kept is not None
        clock.now += RESULT_TTL_SECONDS
        assert await reader.get("client-a", kept) is Missing.EXPIRED


async def test_a_client_whose_name_holds_a_lone_surrogate_keeps_and_reads_its_answers(
    redis_server: RedisServer, clock: Clock
) -> None:
    client = "client-\udc80"
    prefix = fresh_prefix()
    async with (
        replica(redis_server, prefix, clock, opened_bytes=2 * CHARGED) as writer,
        replica(redis_server, prefix, clock, opened_bytes=2 * CHARGED) as reader,
    ):
        kept = await writer.put(client, answer(0))
        assert kept is not None
        assert await reader.get(client, kept) == answer(0)
        assert await reader.get("client-\udc81", kept) is Missing.UNKNOWN
        origin = await reader.origin(client, kept)
        assert origin is not None
        assert origin.endpoint == "list_books"
