"""What each replica keeps open of the answers in Redis: at most `opened_bytes` of them, the least recently read out
first, and nothing larger than that whole budget.

Which answers a replica holds open is seen from outside by spoiling what Redis holds: an answer held open is served
while its key exists, whatever the key holds; one that is not must be opened from Redis, and a spoiled value reads as
expired (it cannot be opened again).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
import redis

from parse_mcp.state.redis_stores import redis_stores
from parse_mcp.state.results import RESULT_OVERHEAD_BYTES, Missing, StoredResult
from parse_mcp.state.results_redis import RedisResultStore, result_ids_from_secrets
from tests.redis_server import RedisServer
from tests.state.conftest import SESSION_SECRET, Clock, fresh_prefix, redis_settings

pytestmark = pytest.mark.anyio

WAIT_SECONDS = 10.0
BODY = 1000
CHARGED = BODY + RESULT_OVERHEAD_BYTES


def answer(n: int) -> StoredResult:
    body = (b'{"n": %d, "rows": "' % n).ljust(BODY - 2, b"x") + b'"}'
    return StoredResult(body, "parsebot", "execute_endpoint", "api-1", "list_books", "$.rows", 5.0)


@asynccontextmanager
async def replica(server: RedisServer, prefix: str, clock: Clock, opened_bytes: int) -> AsyncIterator[RedisResultStore]:
    with anyio.fail_after(WAIT_SECONDS):
        async with redis_stores(redis_settings(server.url, prefix)) as (shared, sealer):
            ids = result_ids_from_secrets([SESSION_SECRET])
            yield RedisResultStore(shared, sealer, ids, clock, opened_bytes=opened_bytes)


def spoil_every_answer(server: RedisServer, prefix: str) -> int:
    """Overwrite each kept answer in Redis with bytes no secret opens (its key, and its expiry, stay)."""
    with redis.Redis(host="127.0.0.1", port=server.port) as client:
        names = list(client.scan_iter(match=f"{prefix}:*:result:*"))
        for name in names:
            client.set(name, b"spoiled", keepttl=True)
    return len(names)


async def outcomes(store: RedisResultStore, ids: list[str]) -> list[bool]:
    """For each id, whether its answer is still served (held open) rather than expired."""
    found = [await store.get("client-a", result_id) for result_id in ids]
    assert all(isinstance(outcome, StoredResult) or outcome is Missing.EXPIRED for outcome in found), found
    return [isinstance(outcome, StoredResult) for outcome in found]


async def test_a_replica_holds_open_the_answers_it_kept_last_up_to_its_budget_and_no_more(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    async with replica(redis_server, prefix, clock, opened_bytes=2 * CHARGED) as store:
        ids = []
        for n in range(3):
            result_id = await store.put("client-a", answer(n))
            assert result_id is not None
            ids.append(result_id)
        assert spoil_every_answer(redis_server, prefix) == 3

        assert await outcomes(store, ids) == [False, True, True]


async def test_a_replica_reading_an_answer_again_keeps_it_open_longest(redis_server: RedisServer, clock: Clock) -> None:
    prefix = fresh_prefix()
    async with replica(redis_server, prefix, clock, opened_bytes=2 * CHARGED) as store:
        first = await store.put("client-a", answer(0))
        second = await store.put("client-a", answer(1))
        assert first is not None
        assert second is not None
        assert isinstance(await store.get("client-a", first), StoredResult)  # read again: now the most recent
        third = await store.put("client-a", answer(2))
        assert third is not None
        assert spoil_every_answer(redis_server, prefix) == 3

        assert await outcomes(store, [first, second, third]) == [True, False, True]


async def test_an_answer_as_large_as_a_replicas_whole_budget_is_held_open_and_a_larger_one_is_not(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    async with replica(redis_server, prefix, clock, opened_bytes=CHARGED) as fits:
        kept = await fits.put("client-a", answer(0))
        assert kept is not None
        spoil_every_answer(redis_server, prefix)
        assert await outcomes(fits, [kept]) == [True]

    prefix = fresh_prefix()
    async with replica(redis_server, prefix, clock, opened_bytes=CHARGED - 1) as too_small:
        kept = await too_small.put("client-a", answer(1))
        assert kept is not None
        spoil_every_answer(redis_server, prefix)
        assert await outcomes(too_small, [kept]) == [False]


async def test_an_answer_opened_from_redis_by_another_replica_is_then_held_open_there(
    redis_server: RedisServer, clock: Clock
) -> None:
    prefix = fresh_prefix()
    async with (
        replica(redis_server, prefix, clock, opened_bytes=2 * CHARGED) as writer,
        replica(redis_server, prefix, clock, opened_bytes=2 * CHARGED) as reader,
    ):
        ids = [await writer.put("client-a", answer(n)) for n in range(3)]
        assert all(result_id is not None for result_id in ids)
        kept = [result_id for result_id in ids if result_id is not None]
        for result_id in kept:  # each opened from Redis, then held open: the first read goes out again
            assert isinstance(await reader.get("client-a", result_id), StoredResult)
        spoil_every_answer(redis_server, prefix)

        assert await outcomes(reader, kept) == [False, True, True]
