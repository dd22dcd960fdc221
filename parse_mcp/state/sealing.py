"""Encryption at rest for what Redis holds of a login session (its id and its encryption key).

`PARSE_MCP_SESSION_SECRET` is not used as a Fernet key directly: any string of at least
`MIN_SESSION_SECRET_CHARS` characters is accepted, and the Fernet key is derived from it with HKDF-SHA256.
HKDF (not a password hash such as scrypt) because the secret is meant to be random, like the HTTP token:
`python -c 'import secrets; print(secrets.token_urlsafe(32))'`. A Fernet key works as a secret too.
Several secrets separated by commas rotate: the first seals, every one opens, so sessions sealed under the
previous secret stay readable until they expire.

`cryptography` is imported here only, and this module only when Redis holds sessions.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# The derivation's context: a new one would make every stored session unreadable (a deliberate reset).
_INFO = b"parse-mcp session store v1"


class Sealer:
    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("at least one session secret is needed")
        self._fernet = MultiFernet([Fernet(_fernet_key(secret)) for secret in secrets])

    def seal(self, plain: bytes) -> bytes:
        return self._fernet.encrypt(plain)

    def open(self, sealed: bytes) -> bytes | None:
        """The plain bytes, or None when no secret opens them (sealed under a secret since removed)."""
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            return None


def _fernet_key(secret: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return base64.urlsafe_b64encode(derived)
