"""Scrub secrets out of text that came from elsewhere before it is kept in a record.

A service may echo what it was sent (a key in an error message, a URL with `api_key=` in it); the
known keys are removed by value, and anything shaped like a key by pattern, so neither reaches a
result, a log line or an exception text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"

_KEY_SHAPES = (
    # A Parse.bot key, or a session's encryption key (a Fernet token).
    re.compile(r"pmx_[A-Za-z0-9_\-]{4,}|gAAAAA[A-Za-z0-9_\-=]{8,}"),
    re.compile(r"(?i)(api[_-]?key|encryption[_-]?key|x-api-key)([\"']?\s*[=:]\s*[\"']?)[^\s&\"',;]+"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _KEY_SHAPES[0].sub(REDACTED, text)
    return _KEY_SHAPES[1].sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
