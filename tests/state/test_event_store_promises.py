"""The HTTP event store's exact promises on a real redis-server: what a replay answers at the end of a stream, which
events it never sends, which ids it never takes to Redis, how long it waits on a frozen Redis, what a stream keeps,
and one warning for each outage."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import anyio
import pytest
import redis
from mcp.types import ErrorData, JSONRPCError, JSONRPCMessage, JSONRPCNotification, JSONRPCRequest

from parse_mcp.settings import Secret, Settings
from parse_mcp.state import events
from parse_mcp.state.events import STORE_RETRY_SECONDS, UNSTORED, RedisEventStore
from parse_mcp.state.redis_stores import redis_stores
from tests.redis_server import RedisServer
from tests.state.conftest import Clock, fresh_prefix
from tests.state.frozen_redis import frozen
from tests.state.test_events import Received, event_store, progress, result, serving

pytestmark = pytest.mark.anyio


def wire(message: JSONRPCMessage) -> str:
    """The JSON the SDK sends for a message on an SSE stream."""
    return message.model_dump_json(by_alias=True, exclude_unset=True)


async def test_a_replay_from_the_last_event_of_a_stream_sends_nothing_and_still_names_the_stream(
    redis_server: RedisServer,
) -> None:
    async with event_store(redis_server, fresh_prefix()) as store:
        with serving("token:alice", "session-a"):
            await store.store_event("1", None)
            last = await store.store_event("1", result(1))
            received = Received()
            assert await store.replay_events_after(last, received) == "1"
    assert received.events == []


async def test_a_priming_event_is_never_sent_wherever_it_stands_in_the_stream(redis_server: RedisServer) -> None:
    async with event_store(redis_server, fresh_prefix()) as store:
        with serving("token:alice", "session-a"):
            first = await store.store_event("1", progress(1))
            await store.store_event("1", None)  # a stream primed again, after a message
            await store.store_event("1", progress(2))
            received = Received()
            assert await store.replay_events_after(first, received) == "1"
    assert [event.message for event in received.events] == [progress(2)]


async def test_an_event_sealed_under_a_secret_no_longer_configured_is_skipped_and_the_stream_still_found(
    redis_server: RedisServer,
) -> None:
    def settings(secret: str) -> Settings:
        return Settings(
            parse_api_key=Secret("pmx_account_one"),
            redis_url=Secret(redis_server.url),
            redis_prefix=prefix,
            session_secrets=(Secret(secret),),
        )

    prefix = fresh_prefix()
    async with redis_stores(settings("the-secret-before-rotation-" + "a" * 20)) as (shared, sealer):
        with serving("token:alice", "session-a"):
            priming = await RedisEventStore(shared, sealer).store_event("1", None)
            await RedisEventStore(shared, sealer).store_event("1", result(1))
    async with redis_stores(settings("the-secret-after-rotation-" + "b" * 20)) as (shared, sealer):
        received = Received()
        with serving("token:alice", "reconnect"):
            assert await RedisEventStore(shared, sealer).replay_events_after(priming, received) == "1"
    assert received.events == []


async def test_a_replayed_message_goes_out_in_the_very_json_it_went_out_in_live(redis_server: RedisServer) -> None:
    # No field the live message left unset comes back as a null: a client sees the same bytes either way.
    live: list[JSONRPCMessage] = [
        JSONRPCNotification(jsonrpc="2.0", method="notifications/tools/list_changed"),
        JSONRPCRequest(jsonrpc="2.0", id=7, method="ping"),
        JSONRPCError(jsonrpc="2.0", id=8, error=ErrorData(code=-32600, message="no")),
    ]
    async with event_store(redis_server, fresh_prefix()) as store:
        with serving("token:alice", "session-a"):
            priming = await store.store_event("1", None)
            for message in live:
                await store.store_event("1", message)
            received = Received()
            await store.replay_events_after(priming, received)
    assert [wire(event.message) for event in received.events] == [wire(message) for message in live]
    assert "null" not in "".join(wire(event.message) for event in received.events)


async def test_an_event_id_whose_entry_is_not_two_numbers_is_refused_without_asking_redis(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with event_store(redis_server, fresh_prefix()) as store:
        with serving("token:alice", "session-a"):
            real = await store.store_event("1", None)
            await store.store_event("1", result(1))
            tag, stream, _ = real.split(".")
            received = Received()
            for entry in ["0", "5", "x-1", "-1", "1-", "1-x", "x-x", "1-2-3"]:
                assert await store.replay_events_after(f"{tag}.{stream}.{entry}", received) is None, entry
    assert received.events == []
    assert caplog.records == [], "Redis was asked, and refused the entry"


async def test_with_redis_frozen_a_replay_gives_up_after_its_timeout_and_answers_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shorter than the client's socket timeout (1 s), so that only the replay's own bound can end it so soon.
    monkeypatch.setattr(events, "REPLAY_TIMEOUT_SECONDS", 0.2)
    with RedisServer(tmp_path) as server:
        async with event_store(server, fresh_prefix()) as store:
            with serving("token:alice", "session-a"):
                priming = await store.store_event("1", None)
                with frozen(server), anyio.fail_after(0.9):
                    started = time.perf_counter()
                    assert await store.replay_events_after(priming, Received()) is None
                    took = time.perf_counter() - started
    assert 0.2 <= took < 0.75  # the socket timeout alone would take 1 s


async def test_a_stream_keeps_its_last_events_and_not_every_one(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ten events kept instead of a thousand, so that 250 writes overflow the cap; Redis trims whole nodes of 100
    # entries (an approximate cap), so a stream holds at least the cap and less than a node more.
    monkeypatch.setattr(events, "EVENTS_PER_STREAM", 10)
    prefix = fresh_prefix()
    async with event_store(redis_server, prefix) as store:
        with serving("token:alice", "session-a"):
            ids = [await store.store_event("1", progress(step)) for step in range(250)]
            received = Received()
            assert await store.replay_events_after(ids[-11], received) == "1"
    assert [event.message for event in received.events] == [progress(step) for step in range(240, 250)]
    with redis.Redis(host="127.0.0.1", port=redis_server.port) as client:
        (key,) = client.scan_iter(match=f"{prefix}:*")
        assert 10 <= client.xlen(key) <= 10 + 100


async def test_each_outage_costs_one_warning_naming_the_fault_and_each_recovery_one_note(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="parse_mcp.state.events")
    server = RedisServer(tmp_path)
    with server:
        async with event_store(server, fresh_prefix(), clock) as store:
            with serving("token:alice", "session-a"):
                for _ in range(2):
                    assert await store.store_event("1", result(1)) != UNSTORED
                    server.stop()
                    assert await store.store_event("1", result(2)) == UNSTORED
                    server.start()
                    clock.now += STORE_RETRY_SECONDS
                    assert await store.store_event("1", result(3)) != UNSTORED
                    assert await store.store_event("1", result(4)) != UNSTORED
    messages = [record.getMessage() for record in caplog.records]
    outages = [m for m in messages if "did not take an HTTP stream event" in m]
    assert len(outages) == 2
    assert all(m.startswith("Redis did not take an HTTP stream event (ConnectionError)") for m in outages)
    assert messages.count("Redis takes HTTP stream events again") == 2
