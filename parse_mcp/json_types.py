"""JSON as Python types: what crosses the wire in either direction."""

from __future__ import annotations

JsonScalar = str | int | float | bool | None
JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]
