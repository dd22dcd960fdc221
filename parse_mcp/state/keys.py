"""Key names in Redis: `<prefix>:<account>:<kind>:...`, where the account is a hash of the upstream key.

Several accounts (and several deployments, by prefix) share one Redis without meeting, and nothing in a
key name reveals a key: the hash is cut to 16 hex digits, enough to keep accounts apart, useless to guess
a key from.
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from dataclasses import dataclass

# A fresh random tag for each HTTP request (set by `http_security`). The request that opens an MCP session also
# starts the session's tasks, which inherit its tag: everything the session sends carries the same tag, and no
# other session's (the event store keeps each session's streams apart by it).
session_tag: ContextVar[str] = ContextVar("parse_mcp_session_tag", default="")


def account_of(upstream_key: str) -> str:
    return hashlib.sha256(upstream_key.encode()).hexdigest()[:16]


def digest(text: str) -> str:
    """A name for something that must not appear in clear in Redis (a session handle, a breaker key)."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Keyspace:
    prefix: str
    account: str

    @classmethod
    def for_key(cls, prefix: str, upstream_key: str) -> Keyspace:
        return cls(prefix, account_of(upstream_key))

    def key(self, kind: str, *parts: str) -> str:
        return ":".join((self.prefix, self.account, kind, *parts))
