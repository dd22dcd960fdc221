"""Login sessions of authenticated APIs: the interface, and the store that keeps them in this process.

The agent holds an opaque handle; the session id and its encryption key never enter its context.
Parse.bot does not store the encryption key either, so a lost handle means logging in again.

A handle is its client's: the same handle from any other client (another MCP session, another bearer
token) finds nothing, exactly as if it did not exist, so a handle that leaks into shared text is
worth nothing to anyone else. The Redis store (`parse_mcp.state.redis_stores`) keeps the same promise
across processes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from parse_mcp.settings import Secret
from parse_mcp.state.bounded import ClientTables

# A client holds a session per API it works with, and each takes one of that API's 3 logins an hour: 100 is
# more than any agent needs at once. Past it, the client's own least recently used session goes.
MAX_SESSIONS_PER_CLIENT = 100
# The backstop for many clients at once: a session is its handle, ids and a key (under a kilobyte as services
# issue them), so about 10 MB in all.
MAX_SESSIONS = 10_000


@dataclass(frozen=True, slots=True)
class SessionCredentials:
    """What a login answer gives and an authenticated call sends (`X-Session-ID`, `X-Encryption-Key`)."""

    session_id: str
    encryption_key: Secret


def new_handle() -> str:
    return "sess_" + secrets.token_urlsafe(18)


@dataclass(frozen=True, slots=True)
class StoredSession:
    client: str
    scraper_id: str
    credentials: SessionCredentials
    expires_at: float | None

    def usable_by(self, client: str, scraper_id: str, now: float) -> bool:
        """Whether this client may use it for this API now: its own, for this API, not expired."""
        if self.client != client or self.scraper_id != scraper_id:
            return False
        return self.expires_at is None or self.expires_at > now


class SessionStore(Protocol):
    async def add(self, client: str, scraper_id: str, credentials: SessionCredentials, expires_at: float | None) -> str:
        """Keep a session for this client and API; the handle that finds it again."""
        ...

    async def get(self, client: str, handle: str, scraper_id: str) -> SessionCredentials | None:
        """The credentials behind a handle, if it is this client's, belongs to this API and has not expired.
        Raises `StateUnavailable` when the store cannot be reached: "unknown" would be a wrong answer."""
        ...


class MemorySessionStore:
    """Each client's sessions in a table of its own (`ClientTables`): a client logging in again and again
    forgets its own oldest sessions, never another client's."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        max_sessions: int = MAX_SESSIONS,
        per_client: int = MAX_SESSIONS_PER_CLIENT,
    ) -> None:
        self._clock = clock
        self._sessions: ClientTables[str, StoredSession] = ClientTables(min(per_client, max_sessions), max_sessions)

    async def add(self, client: str, scraper_id: str, credentials: SessionCredentials, expires_at: float | None) -> str:
        handle = new_handle()
        self._sessions.put(client, handle, StoredSession(client, scraper_id, credentials, expires_at))
        return handle

    async def get(self, client: str, handle: str, scraper_id: str) -> SessionCredentials | None:
        stored = self._sessions.get(client, handle)
        if stored is None:
            return None
        now = self._clock()
        if stored.expires_at is not None and stored.expires_at <= now:
            self._sessions.pop(client, handle)
            return None
        return stored.credentials if stored.usable_by(client, scraper_id, now) else None
