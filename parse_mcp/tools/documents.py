"""Reading the services' JSON documents without trusting their shape: a field, its text, a safe token.

A value read from a service appears in `summary`, `next_step` or `next_call` only when it is a safe token
(an id, a status) or a number; anything else stays in `data`, which the text channel fences.
"""

from __future__ import annotations

from parse_mcp.json_types import JsonValue
from parse_mcp.voice import speakable


def field_of(document: JsonValue, key: str) -> JsonValue:
    """`document[key]` when the document is an object; None otherwise."""
    return document.get(key) if isinstance(document, dict) else None


def text_of(value: object) -> str | None:
    return value if isinstance(value, str) else None


def token_of(value: object) -> str | None:
    """The value as a safe token (an id, a name, a status), or None when it is anything else."""
    return speakable(text_of(value))


def integer_of(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
