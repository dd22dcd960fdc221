"""Endpoint parameters: decoding a GET query the way Parse.bot's SDK encodes it, and typed reads for scrapers.

The SDK sends GET parameters as strings, with lists and objects JSON-encoded and booleans as "true"/"false".
A value that does not decode is kept as the string it was, so the scraper rejects it with its own message.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping

from parse_mcp.sandbox.parsebot.envelopes import input_format_invalid

_INTEGER = re.compile(r"-?[0-9]+")


def decode_query(items: Iterable[tuple[str, str]], types: Mapping[str, str]) -> dict[str, object]:
    """Query parameters as JSON-like values, given each declared parameter's type label."""
    return {name: _decode(value, types.get(name, "string")) for name, value in items}


def _decode(value: str, type_label: str) -> object:
    label = type_label.lower()
    if label in {"integer", "int"}:
        return int(value) if _INTEGER.fullmatch(value) else value
    if label in {"number", "float", "double"}:
        return _float_or_text(value)
    if label in {"boolean", "bool"}:
        return {"true": True, "false": False}.get(value.lower(), value)
    if label in {"array", "list"} or label.startswith("list["):
        return _json_or_text(value, list)
    if label in {"object", "dict"} or label.startswith("dict["):
        return _json_or_text(value, dict)
    return value


def _float_or_text(value: str) -> object:
    try:
        return float(value)
    except ValueError:
        return value


def _json_or_text(value: str, expected: type[list[object]] | type[dict[str, object]]) -> object:
    try:
        decoded: object = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, expected) else value


class Params:
    """The call's parameters (defaults applied), read with the type each scraper expects."""

    def __init__(self, values: Mapping[str, object]) -> None:
        self._values = dict(values)

    def text(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is None or isinstance(value, str):
            return value
        raise input_format_invalid(f"{name} must be a string")

    def required_text(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise input_format_invalid(f"{name} is required")
        return value

    def integer(self, name: str, message: str | None = None) -> int | None:
        value = self._values.get(name)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise input_format_invalid(message or f"{name} must be an integer")

    def number(self, name: str, message: str | None = None) -> float | None:
        value = self._values.get(name)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise input_format_invalid(message or f"{name} must be a number")

    def boolean(self, name: str) -> bool | None:
        value = self._values.get(name)
        if value is None or isinstance(value, bool):
            return value
        raise input_format_invalid(f"{name} must be true or false")

    def integer_list(self, name: str, message: str) -> list[int] | None:
        value = self._values.get(name)
        if value is None:
            return None
        if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return [int(v) for v in value]
        raise input_format_invalid(message)
