"""A cap on the MCP sessions each client may hold open over streamable HTTP.

The SDK's session manager caps the sessions of all clients together (10,000 by default): one client that
opens them all shuts every other session-based client out (503 "Too many open sessions") until its
sessions idle out, 30 minutes later. `SessionCap` sits in front of the SDK's app and keeps a count per
principal (the bearer token's, or one shared local client without tokens). When a principal opens one
session beyond its cap, its session idle for longest is closed, the way a client closes one itself: a
`DELETE /mcp` with that session's id and that principal's credentials, through the SDK's own app. Only
when all of its sessions are busy (a request in flight or a GET stream open) is the new one refused, with
503 and a reason. Other principals never notice.

It uses only what the SDK shows every client: the `Mcp-Session-Id` response header that names a new
session, 404 for a session that no longer exists, and DELETE to end one.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.types import version as protocol
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

DEFAULT_SESSIONS_PER_CLIENT: Final = 100
# Without tokens, every client of a loopback bind is the same one: this machine's.
LOCAL_PRINCIPAL: Final = "local"

_SESSION_HEADER: Final = b"mcp-session-id"
_VERSION_HEADER: Final = b"mcp-protocol-version"
_NOT_FOUND: Final = 404


@dataclass(slots=True)
class _Session:
    principal: str
    # What a DELETE on the principal's behalf must carry: its credentials (the SDK refuses a session to any
    # other), and the Host that opened it (DNS-rebinding protection checks every request, ours included).
    credentials: dict[str, object]
    host: bytes
    in_flight: int = 0


@dataclass(slots=True)
class _Principal:
    # Session ids, least recently used first: the first idle one is the one to close.
    sessions: OrderedDict[str, _Session] = field(default_factory=OrderedDict)


class SessionCap:
    """Pure ASGI in front of the SDK's streamable HTTP app: at most `per_client` MCP sessions per principal."""

    def __init__(self, app: ASGIApp, path: str, per_client: int = DEFAULT_SESSIONS_PER_CLIENT) -> None:
        if per_client < 1:
            raise ValueError("per_client must be at least 1")
        self._app = app
        self._path = path
        self._per_client = per_client
        self._principals: dict[str, _Principal] = {}

    def open_sessions(self, principal: str) -> int:
        """How many sessions `principal` holds, as far as this cap knows."""
        known = self._principals.get(principal)
        return len(known.sessions) if known else 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self._path:
            await self._app(scope, receive, send)
            return
        session_id = _header(scope, _SESSION_HEADER)
        if session_id is not None:
            await self._use(session_id.decode("latin-1"), scope, receive, send)
        elif _opens_a_session(scope):
            await self._open(scope, receive, send)
        else:
            # Nothing to count or watch (a sessionless-era call, or a GET or DELETE naming no session): straight
            # through, without a wrapper on every message of the busiest kind of request.
            await self._app(scope, receive, send)

    async def _use(self, session_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        principal = self._principals.get(_principal(scope))
        session = principal.sessions.get(session_id) if principal else None
        if principal is None or session is None:
            await self._app(scope, receive, send)  # the SDK answers for sessions it knows and we do not
            return
        status = _Status(send)
        session.in_flight += 1
        principal.sessions.move_to_end(session_id)
        try:
            await self._app(scope, receive, status.send)
        finally:
            session.in_flight -= 1
            if session_id in principal.sessions:  # a DELETE on another request may have ended it meanwhile
                principal.sessions.move_to_end(session_id)
        deleted = scope["method"] == "DELETE" and status.http_status is not None and status.http_status < 300
        if deleted or status.http_status == _NOT_FOUND:  # ended by its client, or by the SDK (idle, crashed)
            principal.sessions.pop(session_id, None)

    async def _open(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = _principal(scope)
        principal = self._principals.setdefault(name, _Principal())
        if len(principal.sessions) >= self._per_client and _oldest_idle(principal) is None:
            await _refuse(send, self._per_client)
            return

        def opened(session_id: str) -> None:
            # Counted as the response starts, before the client can read it and use the session: counted after,
            # a stream the client opened at once would find it unknown, and it would pass for idle.
            principal.sessions[session_id] = _Session(name, _credentials(scope), _header(scope, b"host") or b"")

        status = _Status(send, on_session=opened)
        await self._app(scope, receive, status.send)
        if status.session_id is not None and status.counted:
            await self._close_beyond_cap(principal, keep=status.session_id)

    async def _close_beyond_cap(self, principal: _Principal, *, keep: str) -> None:
        while len(principal.sessions) > self._per_client:
            victim = _oldest_idle(principal, besides=keep)
            if victim is None:
                return  # every other session is busy: the cap is overshot by requests in flight, briefly
            session = principal.sessions.pop(victim)
            await self._delete(victim, session)

    async def _delete(self, session_id: str, session: _Session) -> None:
        """End the session as its client would: DELETE with its id, through the SDK's app."""
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "DELETE",
            "scheme": "http",
            "path": self._path,
            "raw_path": self._path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", session.host), (_SESSION_HEADER, session_id.encode())],
            "client": None,
            "server": None,
            "state": {},
            **session.credentials,
        }
        await self._app(scope, _empty_body(), _discard)


class _Status:
    """Passes a response through, noting its status and the session id it names."""

    def __init__(self, send: Send, on_session: Callable[[str], None] | None = None) -> None:
        self._send = send
        self._on_session = on_session
        self.http_status: int | None = None
        self.session_id: str | None = None
        self.counted = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.http_status = message["status"]
            for name, value in message.get("headers", []):
                if name.lower() == _SESSION_HEADER:
                    self.session_id = value.decode("latin-1")
            if self._on_session is not None and self.session_id is not None and self.http_status < 400:
                self._on_session(self.session_id)
                self.counted = True
        await self._send(message)


def _principal(scope: Scope) -> str:
    user = scope.get("user")
    if isinstance(user, AuthenticatedUser):
        return str(user.access_token.client_id)
    return LOCAL_PRINCIPAL


def _credentials(scope: Scope) -> dict[str, object]:
    return {key: scope[key] for key in ("user", "auth") if key in scope}


def _opens_a_session(scope: Scope) -> bool:
    """A POST without a session id opens one, unless its protocol version is one of the sessionless era's
    (the SDK sends those to a handler that never opens a session)."""
    version = _header(scope, _VERSION_HEADER)
    return scope["method"] == "POST" and (
        version is None or version.decode("latin-1") in protocol.HANDSHAKE_PROTOCOL_VERSIONS
    )


def _oldest_idle(principal: _Principal, besides: str | None = None) -> str | None:
    return next((sid for sid, s in principal.sessions.items() if s.in_flight == 0 and sid != besides), None)


def _header(scope: Scope, name: bytes) -> bytes | None:
    values = [value for key, value in scope["headers"] if key.lower() == name]
    return values[0] if len(values) == 1 else None


async def _refuse(send: Send, per_client: int) -> None:
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": None,
            "error": {
                "code": -32000,
                "message": f"Too many open sessions for this client: all {per_client} are busy. "
                "Close one (DELETE /mcp with its Mcp-Session-Id) or wait for one to finish.",
            },
        }
    ).encode()
    logger.debug("refused a session: the client's %d sessions are all busy", per_client)
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _empty_body() -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    return receive


async def _discard(message: Message) -> None:
    del message  # the DELETE's answer goes to nobody: its client is this cap
