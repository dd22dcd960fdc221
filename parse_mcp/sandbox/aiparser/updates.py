"""An update applied to a parser's fields: each operation must name fields the parser has (or has not) yet."""

from __future__ import annotations

from collections.abc import Mapping

from parse_mcp.sandbox.aiparser.bodies import PatchBody, name_clash
from parse_mcp.sandbox.aiparser.errors import bad_request
from parse_mcp.sandbox.aiparser.extract import Field
from parse_mcp.sandbox.aiparser.refusals import refusal_text


def apply_update(fields: tuple[Field, ...], patch: PatchBody) -> tuple[Field, ...]:
    """The new version's fields: removals, then renames, then changes, then additions, each checked in turn."""
    current = {field.name: field for field in fields}
    for name in patch.remove_fields:
        _require_field(current, name, "remove_fields")
        del current[name]
    for rename in patch.rename_fields:
        _require_field(current, rename.name, "rename_fields")
        if rename.new_name in current:
            raise bad_request(f"rename_fields: there is already a field named '{rename.new_name}'.")
        current = {
            (rename.new_name if name == rename.name else name): (
                Field(rename.new_name, field.description, field.type) if name == rename.name else field
            )
            for name, field in current.items()
        }
    for change in patch.modify_fields:
        old = _require_field(current, change.name, "modify_fields")
        current[change.name] = Field(change.name, change.description or old.description, change.type or old.type)
    for spec in patch.add_fields:
        if spec.name in current:
            raise bad_request(f"add_fields: the field '{spec.name}' already exists; use modify_fields to change it.")
        current[spec.name] = spec.as_field()
    if not current:
        raise bad_request("This update would remove every field: a parser needs at least one field.")
    clash = name_clash(list(current))
    if clash is not None:
        raise bad_request(refusal_text(clash))
    return tuple(current.values())


def _require_field(current: Mapping[str, Field], name: str, operation: str) -> Field:
    field = current.get(name)
    if field is None:
        known = ", ".join(current) or "none"
        raise bad_request(f"{operation}: the parser has no field '{name}'. Its fields are: {known}.")
    return field
