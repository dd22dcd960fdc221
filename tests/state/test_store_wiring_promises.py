"""Promises of the stores' wiring that only whole servers reached before: the memory stores keep answers on the
clock they are given, the failover ledger reads the last charge of exactly the endpoint asked for, and a kept
answer whose bytes hold line breaks comes back whole from Redis."""

from __future__ import annotations

import pytest

from parse_mcp.state import memory_stores
from parse_mcp.state.ledger import Call, FailoverLedger, Limits, MemoryLedger, unreserved
from parse_mcp.state.redis_stores import redis_stores
from parse_mcp.state.results import RESULT_TTL_SECONDS, Missing, StoredResult
from parse_mcp.state.results_redis import RedisResultStore, result_ids_from_secrets
from tests.redis_server import RedisServer
from tests.state.conftest import SESSION_SECRET, Clock, fresh_prefix, redis_settings

pytestmark = pytest.mark.anyio


def kept(body: bytes) -> StoredResult:
    return StoredResult(body, "parsebot", "execute_endpoint", "api-1", "list_books", "$.rows", 5.0)


async def test_the_memory_stores_keep_an_answer_until_its_time_to_live_on_the_clock_they_are_given() -> None:
    clock = Clock()
    stores = memory_stores(clock)
    result_id = await stores.results.put("client-a", kept(b"[1,2,3]"))
    assert result_id is not None

    clock.now += RESULT_TTL_SECONDS - 1
    assert await stores.results.get("client-a", result_id) == kept(b"[1,2,3]")
    clock.now += 1
    assert await stores.results.get("client-a", result_id) is Missing.EXPIRED


async def test_the_failover_ledger_reads_the_last_charge_of_exactly_the_endpoint_asked_for() -> None:
    clock = Clock()
    ledger = FailoverLedger(MemoryLedger(Limits(), clock), clock)
    for api, endpoint, credits in (("api-1", "list_books", 3), ("api-1", "get_book", 5), ("api-2", "list_books", 7)):
        call = Call("parsebot", "execute_endpoint", api, endpoint, "client-a")
        await ledger.settle(unreserved(call, clock()), credits, None)

    assert await ledger.last_charge("parsebot", "api-1", "list_books") == 3
    assert await ledger.last_charge("parsebot", "api-1", "get_book") == 5
    assert await ledger.last_charge("parsebot", "api-2", "list_books") == 7
    assert await ledger.last_charge("scraperapi", "api-1", "list_books") is None
    assert await ledger.last_charge("parsebot", "api-3", "list_books") is None


async def test_an_answer_whose_bytes_hold_line_breaks_is_read_back_whole_from_redis(
    redis_server: RedisServer, clock: Clock
) -> None:
    settings = redis_settings(redis_server.url, fresh_prefix())
    # Kept runs end with binary offsets and counts, in which a byte 10 (a line break) is common.
    body = b'[{"a":"x\\ny"}]\n[2]\n' + bytes(range(256))
    ids = result_ids_from_secrets([SESSION_SECRET])
    async with redis_stores(settings) as (shared, sealer):
        result_id = await RedisResultStore(shared, sealer, ids, clock).put("client-a", kept(body))
    assert result_id is not None
    # Read by another replica, which has not seen it: from Redis, not from what the first one keeps open.
    async with redis_stores(settings) as (shared, sealer):
        assert await RedisResultStore(shared, sealer, ids, clock).get("client-a", result_id) == kept(body)
