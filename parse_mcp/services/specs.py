"""Endpoint specs from `/sdk/schemas`, and the checks made on `params` before a credit is spent.

`input_params` is not JSON Schema: it is a flat map from name to a loose spec (`type` labels such as
"str", "int", "List[str]"; `required`; `default`; `choices`), sometimes just a description string.
Parsing is forgiving (an odd row is skipped, an unknown label accepts anything) and never raises.

The check refuses, naming the field and the limit, whatever the service or a server on the way would
refuse or choke on: a value too long or too deeply nested, a GET whose query string would make the URL
longer than servers commonly accept, a POST body too large. Names and choices read from the spec reach
our messages only when they are safe tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from parse_mcp.json_types import JsonValue
from parse_mcp.policy.size import depth_of, size_of
from parse_mcp.voice import INPUT_PARAMS, listed, position, said, speakable

ParamType = Literal["string", "integer", "number", "boolean", "array", "object", "any"]

_LABELS: Mapping[str, ParamType] = {
    "string": "string",
    "str": "string",
    "text": "string",
    "url": "string",
    "email": "string",
    "datetime": "string",
    "date": "string",
    "integer": "integer",
    "int": "integer",
    "number": "number",
    "float": "number",
    "double": "number",
    "decimal": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "object": "object",
    "dict": "object",
}
_GENERIC = re.compile(r"^(optional|list|dict)\[(.*)\]$", re.IGNORECASE)

# Limits on one call's params, so that an over-long argument is the caller's to fix (fix_input) and never
# a crash on the way out. One value, as JSON: far above any search term, id or filter an endpoint takes.
MAX_VALUE_CHARS = 20_000
# Levels of lists and objects in one value.
MAX_VALUE_DEPTH = 16
# A GET's whole query string, encoded: many servers and proxies refuse a request line past 8 KB.
MAX_QUERY_CHARS = 8_000
# A POST's whole body, as JSON.
MAX_BODY_CHARS = 200_000
# Keys in one object argument (a tool's `params`).
MAX_OBJECT_KEYS = 100
# How many of the names the caller sent that are not parameters are named one by one.
_UNKNOWN_SHOWN = 5


@dataclass(frozen=True, slots=True)
class ParamSpec:
    name: str
    type: ParamType
    description: str = ""
    required: bool = False
    default: object = None
    choices: tuple[object, ...] | None = None


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    name: str
    method: Literal["GET", "POST"]
    description: str
    params: tuple[ParamSpec, ...]
    price: float | None = None
    # The documented tags of authenticated APIs: a protected endpoint names the login endpoint it needs.
    needs_session: bool = False

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)


@dataclass(frozen=True, slots=True)
class ApiSpec:
    scraper_id: str
    name: str
    slug: str
    description: str
    endpoints: tuple[EndpointSpec, ...]
    raw: Mapping[str, object]

    def endpoint(self, name: str) -> EndpointSpec | None:
        return next((e for e in self.endpoints if e.name == name), None)


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str


def parse_api_list(document: object) -> list[ApiSpec] | None:
    """The rows of `GET /sdk/schemas`; None when the document has no list of rows at all.

    Parse.bot answers `{"schemas": [...]}` (its SDK requires that member); the other members are read too, so a
    proxy or an older emulator that renames it still works."""
    rows: object = document
    if isinstance(document, dict):
        rows = next(
            (document[k] for k in ("schemas", "apis", "items", "data") if isinstance(document.get(k), list)), None
        )
    if not isinstance(rows, list):
        return None
    return [api for api in (parse_api(row) for row in rows) if api is not None]


def parse_api(row: object) -> ApiSpec | None:
    if not isinstance(row, dict):
        return None
    scraper_id = row.get("id") or row.get("scraper_id")
    if not isinstance(scraper_id, str) or not scraper_id:
        return None
    endpoints_raw = row.get("endpoints")
    enums = _enum_codes(row.get("enums"))
    endpoints = (
        [e for e in (parse_endpoint(x, enums) for x in endpoints_raw or []) if e is not None]
        if isinstance(endpoints_raw, list)
        else []
    )
    return ApiSpec(
        scraper_id=scraper_id,
        name=_str(row.get("name")) or scraper_id,
        slug=_str(row.get("slug")),
        description=_str(row.get("description")),
        endpoints=tuple(endpoints),
        raw=row,
    )


def parse_endpoint(raw: object, enums: Mapping[str, tuple[str, ...]] | None = None) -> EndpointSpec | None:
    """One endpoint of a row; `enums` are the row's closed value sets by name, which a param may bind."""
    if not isinstance(raw, dict):
        return None
    name = raw.get("name") or raw.get("endpoint_name")
    if not isinstance(name, str) or not name:
        return None
    method = _str(raw.get("method")).upper()
    params_raw = raw.get("input_params")
    params = (
        tuple(parse_param(key, value, enums) for key, value in params_raw.items() if isinstance(key, str))
        if isinstance(params_raw, dict)
        else ()
    )
    price = raw.get("price")
    return EndpointSpec(
        name=name,
        # The SDK's rule: a missing method means POST.
        method="GET" if method == "GET" else "POST",
        description=_str(raw.get("description")),
        params=params,
        price=float(price) if isinstance(price, int | float) and not isinstance(price, bool) else None,
        needs_session=bool(raw.get("depends_on_session")),
    )


def parse_param(name: str, raw: object, enums: Mapping[str, tuple[str, ...]] | None = None) -> ParamSpec:
    if isinstance(raw, str):
        return ParamSpec(name=name, type="string", description=raw)
    if not isinstance(raw, dict):
        return ParamSpec(name=name, type="any")
    label = _str(raw.get("type"))
    choices = raw.get("choices")
    return ParamSpec(
        name=name,
        type=_type_of(label),
        description=_str(raw.get("description")),
        required=raw.get("required") is True and not label.lower().startswith("optional["),
        default=raw.get("default"),
        choices=tuple(choices) if isinstance(choices, list) and choices else _closed_enum(raw, enums or {}),
    )


def _closed_enum(raw: Mapping[str, object], enums: Mapping[str, tuple[str, ...]]) -> tuple[object, ...] | None:
    """The values of the schema-level enum a param binds, when the row marks the binding `closed` (the value
    set is then a contract, so a value outside it is refused before a credit is spent); None otherwise."""
    name = raw.get("enum")
    if raw.get("closed") is not True or not isinstance(name, str):
        return None
    return enums.get(name) or None


def _enum_codes(raw: object) -> dict[str, tuple[str, ...]]:
    """A row's `enums` as name -> wire values: each variant's `code`, else its name in lower case (the SDK's rule)."""
    if not isinstance(raw, dict):
        return {}
    codes: dict[str, tuple[str, ...]] = {}
    for name, spec in raw.items():
        values = spec.get("values") if isinstance(spec, dict) else None
        if isinstance(name, str) and isinstance(values, dict):
            codes[name] = tuple(_variant_code(variant, body) for variant, body in values.items())
    return codes


def _variant_code(variant: object, body: object) -> str:
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else str(variant).lower()


def check_params(endpoint: EndpointSpec, params: Mapping[str, object]) -> list[Problem]:
    """Everything wrong with `params` for this endpoint, as the agent should read it.

    Names come from the spec's author or from the caller: each is said only when `speakable`, else a declared
    parameter is named by its place (`param_label`) and an undeclared one is "a name in params"."""
    problems: list[Problem] = []
    labels = {p.name: param_label(endpoint, index) for index, p in enumerate(endpoint.params)}
    unknown = [name for name in params if name not in labels]
    listing = listed(sorted(labels)) if labels else "none"
    takes = f"it takes: {listing}" if listing is not None else "describe_api lists what it takes"
    endpoint_name = said(endpoint.name, "the endpoint")
    for name in unknown[:_UNKNOWN_SHOWN]:
        shown = speakable(name)
        what = shown if shown is not None else "a name in params (not repeated here)"
        problems.append(Problem(shown or "params", f"{what} is not a parameter of {endpoint_name} ({takes})"))
    if len(unknown) > _UNKNOWN_SHOWN:
        more = len(unknown) - _UNKNOWN_SHOWN
        shown = speakable(unknown[_UNKNOWN_SHOWN]) or "params"
        problems.append(Problem(shown, f"and {more:,} more names that are not parameters"))
    for spec in endpoint.params:
        label = labels[spec.name]
        value = params.get(spec.name)
        if value is None:
            if spec.required:
                problems.append(Problem(label, f"{label} is required ({spec.type})"))
            continue
        problem = too_large(label, value) or _check_value(spec, label, value)
        if problem is not None:
            problems.append(problem)
    if not problems:
        problems.extend(_request_too_large(endpoint.method, params, labels))
    return problems


def param_label(endpoint: EndpointSpec, index: int) -> str:
    """How our words name the endpoint's declared parameter at `index`: its name when it may be said, else
    its place in describe_api's input_params (`input_params#3`)."""
    return speakable(endpoint.params[index].name) or position(INPUT_PARAMS, index + 1)


def too_large(name: str, value: object) -> Problem | None:
    """A problem when one value is nested or sized beyond what a call accepts; None when it fits."""
    depth = depth_of(value)
    if depth > MAX_VALUE_DEPTH:
        return Problem(name, f"{name} is nested {depth:,} levels deep; at most {MAX_VALUE_DEPTH} are accepted")
    size = size_of(value)
    if size > MAX_VALUE_CHARS:
        return Problem(name, f"{name} is {size:,} characters long as JSON; at most {MAX_VALUE_CHARS:,} are accepted")
    return None


def bounded_object(value: dict[str, object]) -> dict[str, object]:
    """An object argument (a tool's `params`) as given, when a request body could carry it.

    Used as a pydantic `AfterValidator`: the ValueError becomes `invalid_arguments`, naming the field.
    """
    depth = depth_of(value)
    if depth > MAX_VALUE_DEPTH + 1:
        raise ValueError(f"nested {depth:,} levels deep; at most {MAX_VALUE_DEPTH + 1} are accepted")
    size = size_of(value)
    if size > MAX_BODY_CHARS:
        raise ValueError(f"{size:,} characters long as JSON; at most {MAX_BODY_CHARS:,} are accepted")
    return value


def _request_too_large(method: str, params: Mapping[str, object], labels: Mapping[str, str]) -> list[Problem]:
    """The whole request's limit, named after its largest param (the one to shorten first)."""
    present = {name: value for name, value in params.items() if value is not None}
    if not present:
        return []
    largest = labels.get(max(present, key=lambda name: size_of(present[name])), "params")
    if method == "GET":
        length = len(urlencode(encode_query(present)))
        if length > MAX_QUERY_CHARS:
            message = (
                f"the query string would be {length:,} characters once encoded; a GET endpoint takes at most "
                f"{MAX_QUERY_CHARS:,}: shorten {largest}"
            )
            return [Problem(largest, message)]
        return []
    length = size_of(present)
    if length > MAX_BODY_CHARS:
        message = (
            f"the body would be {length:,} characters of JSON; at most {MAX_BODY_CHARS:,} are accepted: "
            f"shorten {largest}"
        )
        return [Problem(largest, message)]
    return []


def encode_query(params: Mapping[str, object]) -> list[tuple[str, str]]:
    """GET parameters the way the service reads them: JSON for lists and objects, true/false, no None."""
    encoded: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            encoded.append((name, "true" if value else "false"))
        elif isinstance(value, dict | list):
            encoded.append((name, json.dumps(value, separators=(",", ":"), ensure_ascii=False)))
        else:
            encoded.append((name, str(value)))
    return encoded


def _check_value(spec: ParamSpec, label: str, value: object) -> Problem | None:
    if not _has_type(spec.type, value):
        return Problem(label, f"{label} must be {_article(spec.type)}, got {_json_type(value)}")
    if spec.choices is not None and value not in spec.choices:
        return Problem(label, f"{label} must be one of {_choices_shown(spec.choices)}")
    return None


def _choices_shown(choices: tuple[object, ...]) -> str:
    """The choices, when the spec's are all safe to repeat (short tokens, numbers); else where to read them."""
    shown: list[str] = []
    for choice in choices[:20]:
        if isinstance(choice, bool) or choice is None:
            shown.append(json.dumps(choice))
        elif isinstance(choice, int | float):
            shown.append(str(choice))
        elif isinstance(choice, str) and speakable(choice):
            shown.append(json.dumps(choice))
        else:
            return "the choices describe_api lists for it"
    return ", ".join(shown) + (", …" if len(choices) > len(shown) else "")


def _has_type(expected: ParamType, value: object) -> bool:
    checks: Mapping[ParamType, bool] = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
        "any": True,
    }
    return checks[expected]


def _type_of(label: str) -> ParamType:
    text = label.strip()
    generic = _GENERIC.match(text)
    if generic:
        outer, inner = generic.group(1).lower(), generic.group(2)
        if outer == "optional":
            return _type_of(inner)
        return "array" if outer == "list" else "object"
    return _LABELS.get(text.lower(), "any")


def _article(kind: ParamType) -> str:
    return {"integer": "an integer", "array": "an array", "object": "an object", "any": "any value"}.get(
        kind, f"a {kind}"
    )


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def condensed(api: ApiSpec) -> JsonValue:
    """A short view of one API for listings: what each endpoint does and what it takes."""
    return {
        "scraper_id": api.scraper_id,
        "name": api.name,
        "slug": api.slug or None,
        "description": _first_line(api.description) or None,
        "endpoints": [
            {
                "name": e.name,
                "method": e.method,
                "description": _first_line(e.description),
                "params": [p.name + ("" if p.required else "?") for p in e.params],
            }
            for e in api.endpoints
        ],
    }


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]


def names(endpoints: Sequence[EndpointSpec]) -> tuple[str, ...]:
    return tuple(e.name for e in endpoints)
