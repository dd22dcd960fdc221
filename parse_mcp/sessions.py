"""Login sessions of authenticated APIs, kept in this process's memory only.

The agent holds an opaque handle; the session id and its encryption key never enter its context.
Parse.bot does not store the encryption key either, so a lost handle means logging in again.

A handle is its client's: the same handle from any other client (another MCP session, another bearer
token) finds nothing, exactly as if it did not exist, so a handle that leaks into shared text is
worth nothing to anyone else.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from parse_mcp.services.parsebot import SessionCredentials

# Bounded so that a client logging in in a loop cannot grow the server's memory; the oldest go first.
MAX_SESSIONS = 10_000


@dataclass(frozen=True, slots=True)
class StoredSession:
    client: str
    scraper_id: str
    credentials: SessionCredentials
    expires_at: float | None


class SessionStore:
    def __init__(self, clock: Callable[[], float] = time.time, max_sessions: int = MAX_SESSIONS) -> None:
        self._clock = clock
        self._max_sessions = max_sessions
        self._sessions: dict[str, StoredSession] = {}

    def add(self, client: str, scraper_id: str, credentials: SessionCredentials, expires_at: float | None) -> str:
        handle = "sess_" + secrets.token_urlsafe(18)
        self._sessions[handle] = StoredSession(client, scraper_id, credentials, expires_at)
        while len(self._sessions) > self._max_sessions:
            del self._sessions[next(iter(self._sessions))]
        return handle

    def get(self, client: str, handle: str, scraper_id: str) -> SessionCredentials | None:
        """The credentials behind a handle, if it is this client's, belongs to this API and has not expired."""
        stored = self._sessions.get(handle)
        if stored is None or stored.client != client or stored.scraper_id != scraper_id:
            return None
        if stored.expires_at is not None and stored.expires_at <= self._clock():
            del self._sessions[handle]
            return None
        return stored.credentials


# Parse.bot allows 3 login attempts an hour per API, whoever makes them: the count belongs to the account,
# not to a client, so it is shared by every client of this server. The 4th is refused here, unsent.
LOGIN_ATTEMPTS = 3
LOGIN_WINDOW_SECONDS = 3600.0


class LoginAttempts:
    def __init__(self, limit: int = LOGIN_ATTEMPTS, window: float = LOGIN_WINDOW_SECONDS) -> None:
        self._limit = limit
        self._window = window
        self._attempts: dict[str, list[float]] = {}

    def wait_before_next(self, scraper_id: str, now: float) -> float | None:
        """Seconds until another attempt is allowed for this API, or None when one is allowed now."""
        recent = [t for t in self._attempts.get(scraper_id, []) if now - t < self._window]
        if recent:
            self._attempts[scraper_id] = recent
        else:
            self._attempts.pop(scraper_id, None)
        if len(recent) < self._limit:
            return None
        return recent[0] + self._window - now

    def attempted(self, scraper_id: str, now: float) -> None:
        self._attempts.setdefault(scraper_id, []).append(now)
