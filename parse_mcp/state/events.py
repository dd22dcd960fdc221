"""The streamable HTTP event store in Redis: a stream a client was reading can be replayed after it reconnects.

Every message the server sends on an SSE stream is appended to a Redis stream (sealed, like login sessions:
tool results may carry a login handle), capped at `EVENTS_PER_STREAM` and forgotten `EVENT_TTL_SECONDS`
after the last one. A client that reconnects with `Last-Event-ID` gets what it missed.

Whose events are these? The SDK names a stream after the JSON-RPC request id, so two sessions both have a
stream "1". The key therefore also holds:

- the principal (a hash of it) of the request being served: a replay for another bearer token finds nothing;
- the HTTP session's tag (`http_security.session_tag`): the tag of the request that opened the session,
  which every message the session sends inherits, so two sessions of one token never read each other's.

If Redis does not answer, the message is still delivered live (it is only not replayable), with a warning.
"""

from __future__ import annotations

import logging
from typing import Final

from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp_types import JSONRPCMessage, jsonrpc_message_adapter

from parse_mcp.http_security import session_tag
from parse_mcp.state.faults import StateUnavailable
from parse_mcp.state.keys import digest
from parse_mcp.state.redis_stores import SharedRedis, reaching_redis
from parse_mcp.state.sealing import Sealer

logger = logging.getLogger(__name__)

# Enough for the progress notifications and the result of any one call; an older event is not worth replaying.
EVENTS_PER_STREAM: Final = 1000
# A client that has not reconnected within the hour starts again.
EVENT_TTL_SECONDS: Final = 3600
# The id of an event Redis did not take: delivered live, never replayable.
UNSTORED: Final = "unstored"
_SEPARATOR: Final = "."


class RedisEventStore(EventStore):
    def __init__(self, shared: SharedRedis, sealer: Sealer) -> None:
        self._redis = shared.client
        self._keys = shared.keys
        self._sealer = sealer

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        """Append `message` (None: the stream's priming event) and answer its id, which names its stream."""
        tag = session_tag.get()
        key = self._key(_current_principal(), tag, stream_id)
        # An empty payload is the priming event: it marks a position and is never replayed.
        payload = b"" if message is None else self._sealer.seal(_serialized(message))
        try:
            with reaching_redis("storing an HTTP stream event"):
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.xadd(key, {"m": payload}, maxlen=EVENTS_PER_STREAM, approximate=True)
                    pipe.expire(key, EVENT_TTL_SECONDS)
                    entry, _ = await pipe.execute()
        except StateUnavailable:
            return UNSTORED
        return _SEPARATOR.join((tag, stream_id.encode().hex(), _text(entry)))

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        """Send what followed `last_event_id` on its stream, if the stream is this principal's; its id, else None."""
        parsed = _parse(last_event_id)
        if parsed is None:
            return None
        tag, stream_id, entry = parsed
        key = self._key(_current_principal(), tag, stream_id)
        try:
            with reaching_redis("replaying an HTTP stream"):
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
