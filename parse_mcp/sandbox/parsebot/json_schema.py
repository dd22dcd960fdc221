"""Small builders for the `return_schema` objects the sandbox's endpoint specs declare."""

from __future__ import annotations

from parse_mcp.sandbox.parsebot.envelopes import JsonObject

STRING: JsonObject = {"type": "string"}
NUMBER: JsonObject = {"type": "number"}
INTEGER: JsonObject = {"type": "integer"}
BOOLEAN: JsonObject = {"type": "boolean"}


def obj(**properties: object) -> JsonObject:
    return {"type": "object", "properties": properties}


def array_of(items: JsonObject) -> JsonObject:
    return {"type": "array", "items": items}


def never(reason: str) -> JsonObject:
    """The schema of an endpoint that only ever fails, so an agent reading it knows not to expect data."""
    return {"type": "object", "properties": {}, "description": f"Never returned: {reason}"}
