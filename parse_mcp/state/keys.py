"""Key names in Redis: `<prefix>:<account>:<kind>:...`, where the account is a hash of the upstream key.

Several accounts (and several deployments, by prefix) share one Redis without meeting, and nothing in a
key name reveals a key: the hash is cut to 16 hex digits, enough to keep accounts apart, useless to guess
a key from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


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
