"""The typed model a `/sdk/schemas` row carries beside its endpoints: `resources`, `enums` and `errors`.

On Parse.bot the agent that builds an API also models its domain; `parse sync` (Parse.bot's own SDK) renders
a typed module only for rows whose `resources` block is not empty, and raises a declared error class when a
failure's wire `kind` matches that error's `code`. The keys here are the ones the SDK's code generator reads
(parse-sdk 0.2.0, `codegen_v2.py`): a resource has `fields`, `operations`, optionally `keyed_by` and
`plural`; an operation names its `endpoint`, maps method arguments to endpoint parameters in `takes`, gives
the type label it `returns`, and a list operation says how it pages in `pagination`.

An API with no hand-written model gets a derived one, as every API Parse.bot builds is modelled: one
resource whose operations are the endpoints, each returning the endpoint's JSON as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from parse_mcp.sandbox.parsebot.envelopes import JsonObject

# The closed set of wire kinds an error's `code` may name (the `kind` of the documented error envelopes).
ERROR_KINDS = frozenset(
    {"input_format_invalid", "input_not_found", "antibot_solvable", "antibot_unsolvable", "ip_burned", "scraper_bug"}
)
DERIVED_RESOURCE = "Endpoint"
DERIVED_PLURAL = "endpoints"

_JSON_LABELS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


@dataclass(frozen=True)
class SdkModel:
    """The modelled surface of one API: what `parse sync` turns into classes."""

    resources: JsonObject = field(default_factory=dict)
    enums: JsonObject = field(default_factory=dict)
    errors: JsonObject = field(default_factory=dict)
    # The root client's class name; the SDK derives it from the slug when absent.
    root_name: str | None = None
    # One call on the root client (named `client`) that succeeds, for the row's `sdk_usage_example`.
    example_call: str | None = None


def resource(
    operations: Mapping[str, JsonObject],
    fields: Mapping[str, str] | None = None,
    *,
    keyed_by: str | None = None,
    plural: str | None = None,
) -> JsonObject:
    """One resource: its typed `fields` (name -> type label) and the `operations` that return it."""
    spec: JsonObject = {"fields": dict(fields or {}), "operations": dict(operations)}
    if keyed_by is not None:
        spec["keyed_by"] = keyed_by
    if plural is not None:
        spec["plural"] = plural
    return spec


def operation(endpoint: str, takes: Iterable[str], returns: str, pagination: JsonObject | None = None) -> JsonObject:
    """An operation calling `endpoint`; each method argument has its endpoint parameter's name."""
    spec: JsonObject = {"endpoint": endpoint, "takes": {name: name for name in takes}, "returns": returns}
    if pagination is not None:
        spec["pagination"] = pagination
    return spec


def page_numbers(request_param: str, items_path: str, page_path: str, total_pages_path: str) -> JsonObject:
    """Pages asked for by number, the answer saying which page it is and how many there are."""
    return {
        "scheme": "page",
        "request_param": request_param,
        "items_path": items_path,
        "page_path": page_path,
        "total_pages_path": total_pages_path,
    }


def single_page(items_path: str) -> JsonObject:
    """The whole list in one answer, under `items_path`."""
    return {"scheme": "single_page", "items_path": items_path}


def error(code: str, when: str, carries: Iterable[str] = ()) -> JsonObject:
    """A declared failure: raised as its own class when a failure's `kind` is `code`."""
    if code not in ERROR_KINDS:
        raise ValueError(f"{code!r} is not a documented error kind")
    return {"code": code, "when": when, "carries": list(carries)}


def fields_of(return_schema: JsonObject) -> dict[str, str]:
    """Type labels for the properties of an object schema; a property of another shape is `Any`."""
    properties = return_schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    return {name: label_of(spec) for name, spec in properties.items()}


def label_of(schema: object) -> str:
    """The SDK's type label for a JSON Schema: scalars by name, arrays of scalars as `List[...]`, else `Any`."""
    if not isinstance(schema, dict):
        return "Any"
    kind = schema.get("type")
    if isinstance(kind, str) and kind in _JSON_LABELS:
        return _JSON_LABELS[kind]
    if kind == "array":
        return f"List[{label_of(schema.get('items'))}]"
    return "Any"


def derived_model(endpoints: Iterable[tuple[str, Iterable[str]]], example: tuple[str, str] | None) -> SdkModel:
    """A model for an API nobody modelled by hand: `client.endpoints.<endpoint>(...)` for each endpoint.

    `example` is an endpoint that succeeds and the keyword arguments that make it succeed, as Python source."""
    operations = {name: operation(name, params, "Any") for name, params in endpoints}
    example_call = f"{DERIVED_PLURAL}.{example[0]}({example[1]})" if example else None
    return SdkModel(
        resources={DERIVED_RESOURCE: resource(operations, plural=DERIVED_PLURAL)}, example_call=example_call
    )


def usage_example(slug: str, root: str, example_call: str | None) -> str | None:
    """The row's `sdk_usage_example`: import the generated client, make one call, print what it returns."""
    if example_call is None:
        return None
    module = re.sub(r"[^0-9a-zA-Z_]", "_", slug)
    return (
        f"from parse_apis.{module} import {root}\n\n"
        f"client = {root}()  # reads PARSE_API_KEY\n"
        f"print(client.{example_call})\n"
    )


def class_name(slug: str) -> str:
    """The SDK's own rule for the root class of a slug (`books-catalogue` -> `BooksCatalogue`)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9a-zA-Z]+", slug) if part) or "X"
