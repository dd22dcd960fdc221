"""Login sessions of authenticated APIs, kept in this process's memory only.

The agent holds an opaque handle; the session id and its encryption key never enter its context.
Parse.bot does not store the encryption key either, so a lost handle means logging in again.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from parse_mcp.services.parsebot import SessionCredentials


@dataclass(frozen=True, slots=True)
class StoredSession:
    scraper_id: str
    credentials: SessionCredentials
    expires_at: float | None


class SessionStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._sessions: dict[str, StoredSession] = {}

    def add(self, scraper_id: str, credentials: SessionCredentials, expires_at: float | None = None) -> str:
        handle = "sess_" + secrets.token_urlsafe(18)
        self._sessions[handle] = StoredSession(scraper_id, credentials, expires_at)
        return handle

    def get(self, handle: str, scraper_id: str) -> SessionCredentials | None:
        """The credentials behind a handle, if it exists, belongs to this API and has not expired."""
        stored = self._sessions.get(handle)
        if stored is None or stored.scraper_id != scraper_id:
            return None
        if stored.expires_at is not None and stored.expires_at <= self._clock():
            del self._sessions[handle]
            return None
        return stored.credentials


# Parse.bot allows 3 login attempts an hour per API; the 4th is refused here, without spending a request.
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
        self._attempts[scraper_id] = recent
        if len(recent) < self._limit:
            return None
        return recent[0] + self._window - now

    def attempted(self, scraper_id: str, now: float) -> None:
        self._attempts.setdefault(scraper_id, []).append(now)
