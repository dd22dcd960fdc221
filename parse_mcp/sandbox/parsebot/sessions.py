"""Login sessions of authenticated APIs, and the hourly cap on their login endpoints.

A session belongs to the API whose login issued it and lives `session_ttl_seconds` from the login. There is
one session per site per account (authenticated-apis docs), so a new login ends the API's previous session.
Parse does not store the encryption key; the sandbox keeps only a digest of it, enough to tell a right key
from a wrong one.

Members Area (sandbox) and the Failure Lab each have a `login` endpoint (the same demo credentials); the
lab's `session_required` validates sessions exactly like the members area's protected endpoints do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import math
import struct
import uuid
from collections import deque
from dataclasses import dataclass

from parse_mcp.sandbox.clock import Clock
from parse_mcp.sandbox.parsebot.envelopes import SESSION_EXPIRED_MESSAGE, login_limited, plain_error

HOUR = 3600.0
_SESSION_NAMESPACE = uuid.UUID("5a4d9b1e-7c3f-4e2a-8b6d-0f1e2d3c4b5a")
_KEY_SECRET = b"parse-mcp sandbox session keys"
_FERNET_VERSION = b"\x80"


@dataclass(frozen=True)
class Session:
    scraper_id: str
    site_token: str
    key_digest: bytes
    expires_at: float


@dataclass(frozen=True)
class IssuedSession:
    session_id: str
    encryption_key: str


class LoginSessions:
    """The login sessions the emulated service has issued, each bound to one API and expiring after its TTL."""

    def __init__(self, clock: Clock, ttl_seconds: float) -> None:
        self._clock = clock
        self._ttl = ttl_seconds
        self._sessions: dict[str, Session] = {}
        self._issued = itertools.count(1)

    def issue(self, scraper_id: str, site_token: str) -> IssuedSession:
        now = self._clock.now()
        # Derived from a counter, so a rerun of the same steps hands out the same ids.
        session_id = str(uuid.uuid5(_SESSION_NAMESPACE, str(next(self._issued))))
        key = _fernet_like_key(session_id, now)
        self._sessions = {sid: s for sid, s in self._sessions.items() if s.scraper_id != scraper_id}
        self._sessions[session_id] = Session(scraper_id, site_token, _digest(key), now + self._ttl)
        return IssuedSession(session_id, key)

    def validate(self, scraper_id: str, session_id: str, encryption_key: str) -> Session:
        """The live session of this API behind the pair, or the 401 the service gives for any other pair."""
        session = self._sessions.get(session_id)
        if (
            session is None
            or session.scraper_id != scraper_id
            or not hmac.compare_digest(session.key_digest, _digest(encryption_key))
            or self._clock.now() >= session.expires_at
        ):
            raise plain_error(401, SESSION_EXPIRED_MESSAGE)
        return session


class LoginLimiter:
    """At most `per_hour` login attempts per API in any sliding hour of the sandbox clock."""

    def __init__(self, clock: Clock, per_hour: int) -> None:
        self._clock = clock
        self._per_hour = per_hour
        self._attempts: dict[str, deque[float]] = {}

    def check(self, scraper_id: str) -> None:
        now = self._clock.now()
        attempts = self._recent(scraper_id, now)
        if len(attempts) >= self._per_hour:
            retry_after = max(1, math.ceil(attempts[0] + HOUR - now))
            raise login_limited(self._per_hour, retry_after)

    def record(self, scraper_id: str) -> None:
        now = self._clock.now()
        self._recent(scraper_id, now).append(now)

    def _recent(self, scraper_id: str, now: float) -> deque[float]:
        attempts = self._attempts.setdefault(scraper_id, deque())
        while attempts and attempts[0] + HOUR <= now:
            attempts.popleft()
        return attempts


def _fernet_like_key(session_id: str, now: float) -> str:
    """A key shaped like a Fernet token (version byte 0x80, timestamp, IV, body, HMAC), like the service's."""
    seed = hmac.new(_KEY_SECRET, session_id.encode(), hashlib.sha256).digest()
    body = hashlib.sha256(seed + b"body").digest() + hashlib.sha256(seed + b"mac").digest()
    token = _FERNET_VERSION + struct.pack(">Q", int(now)) + seed[:16] + body
    return base64.urlsafe_b64encode(token).decode()


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()
