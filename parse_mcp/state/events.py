"""The streamable HTTP event store in Redis: a stream a client was reading can be replayed after it reconnects.

Every message the server sends on an SSE stream is appended to a Redis stream (sealed, like login sessions:
tool results may carry a login handle), capped at `EVENTS_PER_STREAM` and forgotten `EVENT_TTL_SECONDS`
after the last one. A client that reconnects with `Last-Event-ID` gets what it missed.

Whose events are these? The SDK names a stream after the JSON-RPC request id, so two sessions both have a
stream "1". The key therefore also holds:

- the principal (a hash of it) of the request being served: a replay for another bearer token finds nothing;
- the HTTP session's tag (`state.keys.session_tag`, set by `http_security`): the tag of the request that
  opened the session, which every message the session sends inherits, so two sessions of one token never read
  each other's.

If Redis does not answer, the message is still delivered live (it is only not replayable), with a warning.
The SDK stores a session's messages one after another, before it sends each, so a slow write delays every
message behind it, of every call on the session: a write waits at most `STORE_TIMEOUT_SECONDS`, and after one
that failed the store stops trying for `STORE_RETRY_SECONDS` (one warning per outage). When Redis is slow,
replay is lost, never time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

import anyio
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.types import JSONRPCMessage, jsonrpc_message_adapter
from redis.exceptions import RedisError

from parse_mcp.state.faults import StateUnavailable
from parse_mcp.state.keys import digest, session_tag
from parse_mcp.state.redis_stores import SharedRedis, reaching_redis
from parse_mcp.state.sealing import Sealer

logger = logging.getLogger(__name__)

# Enough for the progress notifications and the result of any one call; an older event is not worth replaying.
EVENTS_PER_STREAM: Final = 1000
# A client that has not reconnected within the hour starts again.
EVENT_TTL_SECONDS: Final = 3600
# A healthy Redis takes an event in about a millisecond; a quarter of a second without an answer is an outage,
# and short enough that the messages queued behind it (a session's next results) are hardly held back.
STORE_TIMEOUT_SECONDS: Final = 0.25
# After a write that failed, how long messages go unstored before one tries Redis again (as pacing does).
STORE_RETRY_SECONDS: Final = 5.0
# A reconnecting client waits this long at most for its replay; a Redis slower than that has nothing to give.
REPLAY_TIMEOUT_SECONDS: Final = 2.0
# The id of an event Redis did not take: delivered live, never replayable.
UNSTORED: Final = "unstored"
_SEPARATOR: Final = "."


class RedisEventStore(EventStore):
    def __init__(self, shared: SharedRedis, sealer: Sealer, clock: Callable[[], float] = time.monotonic) -> None:
        self._redis = shared.client
        self._keys = shared.keys
        self._sealer = sealer
        self._clock = clock
        self._retry_at: float | None = None  # set while writes are skipped after one failed

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        """Append `message` (None: the stream's priming event) and answer its id, which names its stream;
        `UNSTORED` at once while writes are skipped, and after `STORE_TIMEOUT_SECONDS` without an answer."""
        if self._retry_at is not None and self._clock() < self._retry_at:
            return UNSTORED
        tag = session_tag.get()
        key = self._key(_current_principal(), tag, stream_id)
        # An empty payload is the priming event: it marks a position and is never replayed.
        payload = b"" if message is None else self._sealer.seal(_serialized(message))
        try:
            entry = await self._appended(key, payload)
        except (RedisError, OSError) as exc:  # `TimeoutError` is an `OSError`
            self._skip_writes(exc)
            return UNSTORED
        if self._retry_at is not None:
            self._retry_at = None
            logger.info("Redis takes HTTP stream events again")
        return _SEPARATOR.join((tag, stream_id.encode().hex(), _text(entry)))

    async def _appended(self, key: str, payload: bytes) -> bytes | str:
        with anyio.fail_after(STORE_TIMEOUT_SECONDS):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(key, {"m": payload}, maxlen=EVENTS_PER_STREAM, approximate=True)
                pipe.expire(key, EVENT_TTL_SECONDS)
                entry, _ = await pipe.execute()
        return entry  # type: ignore[no-any-return]  # redis-py leaves pipeline results untyped

    def _skip_writes(self, exc: BaseException) -> None:
        if self._retry_at is None:
            # Once per outage, not once per message; the log names the fault, never the URL.
            logger.warning(
                "Redis did not take an HTTP stream event (%s): messages are delivered but not replayable; "
                "trying Redis again every %.0f s",
                type(exc).__name__,
                STORE_RETRY_SECONDS,
            )
        self._retry_at = self._clock() + STORE_RETRY_SECONDS

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        """Send what followed `last_event_id` on its stream, if the stream is this principal's; its id, else None."""
        parsed = _parse(last_event_id)
        if parsed is None:
            return None
        tag, stream_id, entry = parsed
        key = self._key(_current_principal(), tag, stream_id)
        try:
            with reaching_redis("replaying an HTTP stream"), anyio.fail_after(REPLAY_TIMEOUT_SECONDS):
                found = await self._redis.xrange(key, min=f"({entry}", max="+")
                known = bool(found) or await self._redis.exists(key) > 0
        except StateUnavailable:
            return None
        if not known:
            return None
        for event_entry, fields in found or []:
            payload = (fields or {}).get(b"m", b"")
            message = self._opened(payload) if isinstance(payload, bytes) else None
            if message is not None and event_entry is not None:
                event_id = _SEPARATOR.join((tag, stream_id.encode().hex(), _text(event_entry)))
                await send_callback(EventMessage(message, event_id))
        return stream_id

    def _opened(self, payload: bytes) -> JSONRPCMessage | None:
        if not payload:
            return None
        plain = self._sealer.open(payload)
        return None if plain is None else jsonrpc_message_adapter.validate_json(plain)

    def _key(self, principal: str, tag: str, stream_id: str) -> str:
        # Hashed together: the key says nothing about who, which session or which request.
        return self._keys.key("events", digest("\n".join((principal, tag, stream_id))))


def _current_principal() -> str:
    """The bearer token's principal of the request being served (inherited by the session's tasks); "" without."""
    user = auth_context_var.get()
    return "" if user is None else user.access_token.client_id


def _serialized(message: JSONRPCMessage) -> bytes:
    return message.model_dump_json(by_alias=True, exclude_unset=True).encode()


def _parse(event_id: str) -> tuple[str, str, str] | None:
    parts = event_id.split(_SEPARATOR)
    if len(parts) != 3:
        return None
    tag, stream_hex, entry = parts
    try:
        stream_id = bytes.fromhex(stream_hex).decode()
    except ValueError:
        return None
    # A Redis stream entry id is two numbers: anything else would be read by XRANGE as something else.
    milliseconds, dash, sequence = entry.partition("-")
    if not (milliseconds.isdigit() and dash and sequence.isdigit()):
        return None
    return tag, stream_id, entry


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
