"""The HTTP event store in Redis: a stream is replayed to the client it belongs to, to no other, and a Redis
that is gone costs replayability, never a message."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import anyio
import pytest
import redis
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http import EventMessage
from mcp.types import JSONRPCMessage, JSONRPCNotification, JSONRPCResponse

from parse_mcp.state.events import STORE_RETRY_SECONDS, STORE_TIMEOUT_SECONDS, UNSTORED, RedisEventStore
from parse_mcp.state.keys import session_tag
from parse_mcp.state.redis_stores import redis_stores
from tests.redis_server import RedisServer
from tests.state.conftest import Clock, fresh_prefix, redis_settings
from tests.state.frozen_redis import frozen

pytestmark = pytest.mark.anyio

SECRET_WORDS = "the-result-nobody-else-may-read"


def result(request_id: int, text: str = SECRET_WORDS) -> JSONRPCMessage:
    return JSONRPCResponse(jsonrpc="2.0", id=request_id, result={"text": text})


def progress(step: int) -> JSONRPCMessage:
    return JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params={"progress": step})


@contextmanager
def serving(principal: str | None, tag: str) -> Iterator[None]:
    """What the bearer gate sets for one request: its principal (None: no token configured) and its tag."""
    user = (
        None if principal is None else AuthenticatedUser(AccessToken(token=principal, client_id=principal, scopes=[]))
    )
    auth, tagged = auth_context_var.set(user), session_tag.set(tag)
    try:
        yield
    finally:
        session_tag.reset(tagged)
        auth_context_var.reset(auth)


@asynccontextmanager
async def event_store(
    server: RedisServer, prefix: str, clock: Callable[[], float] = time.monotonic
) -> AsyncIterator[RedisEventStore]:
    async with redis_stores(redis_settings(server.url, prefix)) as (shared, sealer):
        yield RedisEventStore(shared, sealer, clock)


class Received:
    def __init__(self) -> None:
        self.events: list[EventMessage] = []

    async def __call__(self, event: EventMessage) -> None:
        self.events.append(event)


async def test_a_client_that_reconnects_to_another_replica_gets_what_followed_its_last_event(
    redis_server: RedisServer,
) -> None:
    prefix = fresh_prefix()
    async with event_store(redis_server, prefix) as replica_a, event_store(redis_server, prefix) as replica_b:
        with serving("token:alice", "session-a"):
            priming = await replica_a.store_event("1", None)
            seen = await replica_a.store_event("1", progress(1))
            missed = [await replica_a.store_event("1", progress(2)), await replica_a.store_event("1", result(1))]
        with serving("token:alice", "a-later-request"):
            received = Received()
            assert await replica_b.replay_events_after(seen, received) == "1"
            from_priming = Received()
            assert await replica_b.replay_events_after(priming, from_priming) == "1"
    assert [event.event_id for event in received.events] == missed
    assert [event.message for event in received.events] == [progress(2), result(1)]
    # The priming event marks a position and is never sent as a message.
    assert [event.message for event in from_priming.events] == [progress(1), progress(2), result(1)]


async def test_another_bearer_token_replays_nothing_of_a_stream_even_with_its_event_id(
    redis_server: RedisServer,
) -> None:
    async with event_store(redis_server, fresh_prefix()) as store:
        with serving("token:alice", "session-a"):
            first = await store.store_event("1", None)
            await store.store_event("1", result(1))
        received = Received()
        with serving("token:mallory", "mallory-request"):
            assert await store.replay_events_after(first, received) is None
        with serving(None, "anonymous-request"):
            assert await store.replay_events_after(first, received) is None
    assert received.events == []


async def test_two_sessions_of_one_token_with_the_same_request_id_never_read_each_other(
    redis_server: RedisServer,
) -> None:
    async with event_store(redis_server, fresh_prefix()) as store:
        with serving("token:fleet", "session-one"):
            first_of_one = await store.store_event("1", None)
        with serving("token:fleet", "session-two"):
            await store.store_event("1", None)
            await store.store_event("1", result(1, "session two's answer"))
        with serving("token:fleet", "session-one"):
            await store.store_event("1", result(1, "session one's answer"))
        received = Received()
        with serving("token:fleet", "reconnect"):
            await store.replay_events_after(first_of_one, received)
    assert [event.message for event in received.events] == [result(1, "session one's answer")]


async def test_an_event_id_that_is_not_one_of_ours_replays_nothing(redis_server: RedisServer) -> None:
    async with event_store(redis_server, fresh_prefix()) as store:
        received = Received()
        with serving("token:alice", "session-a"):
            for forged in ["", "x", "a.b.c", "a.31.-", "a.31.0-0.extra", "a.zz.1-0", UNSTORED]:
                assert await store.replay_events_after(forged, received) is None
    assert received.events == []


async def test_redis_holds_nothing_readable_of_the_messages(redis_server: RedisServer) -> None:
    prefix = fresh_prefix()
    async with event_store(redis_server, prefix) as store:
        with serving("token:alice", "session-a"):
            await store.store_event("request-7", result(7))
    with redis.Redis(host="127.0.0.1", port=redis_server.port) as client:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        assert len(keys) == 1
        raw = [keys[0], *(value for _, fields in client.xrange(keys[0]) for value in fields.values())]
        ttl = client.ttl(keys[0])
    assert all(SECRET_WORDS.encode() not in item and b"alice" not in item and b"request-7" not in item for item in raw)
    assert 0 < ttl <= 3600


async def test_with_redis_gone_a_message_is_still_delivered_and_only_its_replay_is_lost(
    tmp_path: Path, clock: Clock
) -> None:
    server = RedisServer(tmp_path)
    with server:
        async with event_store(server, fresh_prefix(), clock) as store:
            with serving("token:alice", "session-a"):
                stored = await store.store_event("1", None)
                server.stop()
                assert await store.store_event("1", result(1)) == UNSTORED
                assert await store.replay_events_after(stored, Received()) is None
                server.start()
                assert await store.store_event("1", result(2)) == UNSTORED, "not tried again so soon"
                clock.now += STORE_RETRY_SECONDS
                # Back: the next event is stored again (the stream itself went with the old instance).
                assert await store.store_event("1", result(3)) != UNSTORED


async def test_with_redis_frozen_one_write_waits_a_moment_and_the_next_ones_none_with_one_warning(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="parse_mcp.state.events")
    with RedisServer(tmp_path) as server:
        async with event_store(server, fresh_prefix(), clock) as store:
            with serving("token:alice", "session-a"):
                assert await store.store_event("1", None) != UNSTORED
                with frozen(server), anyio.fail_after(STORE_TIMEOUT_SECONDS + 5):
                    started = time.perf_counter()
                    first = await store.store_event("1", result(1))
                    first_took = time.perf_counter() - started
                    started = time.perf_counter()
                    rest = [await store.store_event("1", result(n)) for n in range(2, 50)]
                    rest_took = time.perf_counter() - started
    assert (first, set(rest)) == (UNSTORED, {UNSTORED})
    assert STORE_TIMEOUT_SECONDS <= first_took < STORE_TIMEOUT_SECONDS + 0.5
    assert rest_took < 0.1, "skipped without asking Redis"
    assert len([r for r in caplog.records if "did not take an HTTP stream event" in r.message]) == 1
