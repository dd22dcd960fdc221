"""Endpoint specs from `/sdk/schemas`, and the checks made on `params` before a credit is spent.

`input_params` is not JSON Schema: it is a flat map from name to a loose spec (`type` labels such as
"str", "int", "List[str]"; `required`; `default`; `choices`), sometimes just a description string.
Parsing is forgiving (an odd row is skipped, an unknown label accepts anything) and never raises.

Each endpoint spec has one pydantic model, built the first time it is needed and kept with the spec (so
with the client's capped schema cache): `params_check` validates `params` with it, and the login form is
built by the same builder (`credentials_model`). No name from the spec ever becomes a Python name: the
check's fields are the declared parameters by place (`p0`, `p1`, …) and the form's are aliased, so a
keyword, a dunder, one of BaseModel's own attributes, a unicode or an endless name is only ever a key.

The check refuses, naming the field and the limit, whatever the service or a server on the way would
refuse or choke on: a value too long or too deeply nested, a GET whose query string would make the URL
longer than servers commonly accept, a POST body too large. Names and choices read from the spec reach
our messages only when they are safe tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    InstanceOf,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    create_model,
)
from pydantic_core import ErrorDetails, PydanticCustomError, PydanticUndefined

from parse_mcp.json_types import JsonValue
from parse_mcp.policy.size import depth_of, size_of
from parse_mcp.voice import INPUT_PARAMS, listed, position, said, speakable, visible

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
# Parameters one endpoint may declare: far above any real endpoint (execute_endpoint takes at most
# `MAX_OBJECT_KEYS` of them in one call). A row declaring more is skipped like any odd row, so a hostile
# schema cannot make the server build a model of a million fields (about 35 us and 3 KB each).
MAX_DECLARED_PARAMS = 1_000


@dataclass(frozen=True, slots=True)
class ParamSpec:
    name: str
    type: ParamType
    description: str = ""
    required: bool = False
    default: object = None
    choices: tuple[object, ...] | None = None


# Not slotted: `params_check` and `login_form` are built once, on first use, and kept on the instance.
@dataclass(frozen=True)
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

    @cached_property
    def params_check(self) -> ParamsCheck:
        """This endpoint's params check, its model built on first use and kept with the spec."""
        return ParamsCheck.of(self)

    @cached_property
    def login_form(self) -> type[BaseModel] | None:
        """The form asking a person for this endpoint's fields, when it is a form one can fill (see
        `credentials_model`); built on first use and kept with the spec."""
        return credentials_model(self)


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
    if isinstance(params_raw, dict) and len(params_raw) > MAX_DECLARED_PARAMS:
        return None
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
    """Everything wrong with `params` for this endpoint, as the agent should read it (see `ParamsCheck`)."""
    return endpoint.params_check.problems(params)


def param_label(endpoint: EndpointSpec, index: int) -> str:
    """How our words name the endpoint's declared parameter at `index`: its name when it may be said, else
    its place in describe_api's input_params (`input_params#3`)."""
    return speakable(endpoint.params[index].name) or position(INPUT_PARAMS, index + 1)


# -- one model per endpoint spec ---------------------------------------------------------------------------


def _within_limits(value: object) -> object:
    """A value as given when one call may carry it; else the error naming the limit (a `BeforeValidator`: it
    runs before the type is looked at, as a value too large is refused whatever its type)."""
    depth = depth_of(value)
    if depth > MAX_VALUE_DEPTH:
        raise PydanticCustomError("too_deep", "nested too deeply", {"depth": depth})
    size = size_of(value)
    if size > MAX_VALUE_CHARS:
        raise PydanticCustomError("too_long", "too long", {"size": size})
    return value


def _one_of(choices: tuple[object, ...]) -> Callable[[object], object]:
    """An `AfterValidator` refusing a value outside the spec's choices (compared as Python compares them, so
    unhashable choices, such as objects, are fine)."""

    def check(value: object) -> object:
        if value not in choices:
            raise PydanticCustomError("not_a_choice", "not one of the choices")
        return value

    return check


# What the check accepts for each type, as a JSON reader gives it: no conversion (a string is no number), a
# boolean is no number, and an array or object is taken as it is, its items not walked.
_CHECKED: Mapping[ParamType, object] = {
    "string": StrictStr,
    "integer": StrictInt,
    "number": StrictInt | StrictFloat,
    "boolean": StrictBool,
    "array": InstanceOf[list[Any]],
    "object": InstanceOf[dict[str, Any]],
    "any": Any,
}
# What a login form can ask: the spec's primitive types (an array or object cannot be typed into a form).
_FORM_TYPES: Mapping[ParamType, type] = {"string": str, "integer": int, "number": float, "boolean": bool, "any": str}
# Fields whose value is a secret: the form marks them `writeOnly` (JSON Schema's mark for a value never shown
# back), since the elicitation schema has no password format; a client may mask them.
_SECRET_WORDS = ("password", "passwd", "secret", "token", "pin", "otp", "passcode", "key")
_DESCRIPTION_LIMIT = 200
_UNWRITABLE = "it holds a character JSON text cannot carry"
# The errors the checked types give for a value of another type.
_TYPE_ERRORS = frozenset({"string_type", "int_type", "float_type", "bool_type", "is_instance_of"})
_FORM_CONFIG = ConfigDict(extra="forbid", str_max_length=2000)


def _checked(param: ParamSpec) -> object:
    validators: list[object] = [BeforeValidator(_within_limits)]
    if param.choices is not None:
        validators.append(AfterValidator(_one_of(param.choices)))
    return Annotated[(_CHECKED[param.type], *validators)]


def params_model(
    spec: EndpointSpec,
    annotation: Callable[[ParamSpec], object],
    *,
    aliased: bool,
    title: str,
    config: ConfigDict,
) -> type[BaseModel]:
    """The one builder of a model from an endpoint's declared parameters: a field per name (a name declared
    twice counts once), required as the spec says, described, secrets marked `writeOnly`.

    The fields are named by place (`p0`, `p1`, …), never by the spec's names; with `aliased`, each declared
    name is its field's alias (the form's JSON schema and answer use it): only for names pydantic can hold,
    which `credentials_model` makes sure of. Never raises for any spec `parse_endpoint` can give.
    """
    fields: dict[str, Any] = {}
    for index, param in _declared(spec):
        secret = any(word in param.name.lower() for word in _SECRET_WORDS)
        default: Any = PydanticUndefined if param.required else None
        info = Field(
            default,
            alias=param.name if aliased else None,
            # Cut before it is cleaned: a megabyte of description costs no more than a sentence.
            description=visible(param.description[: _DESCRIPTION_LIMIT * 10])[:_DESCRIPTION_LIMIT] or None,
            json_schema_extra={"writeOnly": True} if secret else None,
        )
        fields[f"p{index}"] = (annotation(param), info)
    model: type[BaseModel] = create_model(title, __config__=config, **fields)
    return model


def _declared(spec: EndpointSpec) -> list[tuple[int, ParamSpec]]:
    """The declared parameters with their places; a name declared again later is the first one's."""
    seen: set[str] = set()
    declared: list[tuple[int, ParamSpec]] = []
    for index, param in enumerate(spec.params):
        if param.name not in seen:
            seen.add(param.name)
            declared.append((index, param))
    return declared


def credentials_model(spec: EndpointSpec | None) -> type[BaseModel] | None:
    """A form with the fields a login endpoint declares (its input_params), from the builder the params check
    uses; None when it declares none, or one a form cannot ask: more fields than an object argument takes, a
    name this server will not show as it is (`speakable`), an array or object."""
    if spec is None or not spec.params or len(spec.params) > MAX_OBJECT_KEYS:
        return None
    if any(speakable(p.name) != p.name or p.type not in _FORM_TYPES for p in spec.params):
        return None

    def asked(param: ParamSpec) -> object:
        kind = _FORM_TYPES[param.type]
        return kind if param.required else kind | None

    return params_model(spec, asked, aliased=True, title="LoginCredentials", config=_FORM_CONFIG)


@dataclass(frozen=True, slots=True)
class ParamsCheck:
    """An endpoint's params check: its model, built once, and how our words name each declared parameter.

    `params` goes in keyed by place: a declared name becomes its field's name, a name not declared is
    reported without reaching the model (so no name the caller sends can pose as a field), and a null value
    counts as absent, as the request leaves it out."""

    model: type[BaseModel]
    method: Literal["GET", "POST"]
    endpoint: str
    fields: Mapping[str, str]  # declared name -> its field ("p3")
    params: Mapping[str, ParamSpec]  # field -> the declared parameter
    labels: Mapping[str, str]  # field -> how our words name it
    names: Mapping[str, str]  # declared name -> how our words name it
    takes: str

    @classmethod
    def of(cls, spec: EndpointSpec) -> ParamsCheck:
        declared = _declared(spec)
        fields = {param.name: f"p{index}" for index, param in declared}
        labels = {f"p{index}": param_label(spec, index) for index, param in declared}
        listing = listed(sorted(fields)) if fields else "none"
        return cls(
            model=params_model(spec, _checked, aliased=False, title="Params", config=ConfigDict(extra="forbid")),
            method=spec.method,
            endpoint=said(spec.name, "the endpoint"),
            fields=fields,
            params={f"p{index}": param for index, param in declared},
            labels=labels,
            names={name: labels[field] for name, field in fields.items()},
            takes=f"it takes: {listing}" if listing is not None else "describe_api lists what it takes",
        )

    def problems(self, params: Mapping[str, object]) -> list[Problem]:
        """Everything wrong with `params`: the names that are not parameters first (each said only when
        `speakable`, a few of them), then each declared parameter's first problem, in the spec's order; the
        whole request's size only when each value is right."""
        keyed: dict[str, object] = {}
        unknown: list[str] = []
        for name, value in params.items():
            field = self.fields.get(name)
            if field is None:
                unknown.append(name)
            elif value is not None:
                keyed[field] = value
        problems = self._unknown(unknown)
        try:
            self.model.__pydantic_validator__.validate_python(keyed)
        except ValidationError as invalid:
            problems += self._declared(invalid.errors(include_url=False))
        if problems:
            return problems
        try:
            return _request_too_large(self.method, {n: v for n, v in params.items() if v is not None}, self.names)
        except ValueError:  # a declared name no JSON text can carry (a lone surrogate): no request could hold it
            return [Problem("params", f"params cannot be written as JSON ({_UNWRITABLE})")]

    def _unknown(self, unknown: list[str]) -> list[Problem]:
        problems: list[Problem] = []
        for name in unknown[:_UNKNOWN_SHOWN]:
            shown = speakable(name)
            what = shown if shown is not None else "a name in params (not repeated here)"
            problems.append(Problem(shown or "params", f"{what} is not a parameter of {self.endpoint} ({self.takes})"))
        if len(unknown) > _UNKNOWN_SHOWN:
            more = len(unknown) - _UNKNOWN_SHOWN
            shown = speakable(unknown[_UNKNOWN_SHOWN]) or "params"
            problems.append(Problem(shown, f"and {more:,} more names that are not parameters"))
        return problems

    def _declared(self, errors: list[ErrorDetails]) -> list[Problem]:
        """The first error of each field, in the fields' order (pydantic reports them in that order)."""
        problems: dict[str, Problem] = {}
        for error in errors:
            field = error["loc"][0] if error["loc"] else None
            if isinstance(field, str) and field in self.params and field not in problems:
                problems[field] = self._problem(field, error)
        return list(problems.values())

    def _problem(self, field: str, error: ErrorDetails) -> Problem:
        label, param, context = self.labels[field], self.params[field], error.get("ctx") or {}
        kind = error["type"]
        if kind == "missing":
            message = f"{label} is required ({param.type})"
        elif kind == "too_deep":
            message = f"{label} is nested {context['depth']:,} levels deep; at most {MAX_VALUE_DEPTH} are accepted"
        elif kind == "too_long":
            message = (
                f"{label} is {context['size']:,} characters long as JSON; at most {MAX_VALUE_CHARS:,} are accepted"
            )
        elif kind == "not_a_choice" and param.choices is not None:
            message = f"{label} must be one of {_choices_shown(param.choices)}"
        elif kind in _TYPE_ERRORS:
            message = f"{label} must be {_article(param.type)}, got {_json_type(error['input'])}"
        else:  # a value no JSON writer takes (a lone surrogate, say): it could not be sent as it is
            message = f"{label} cannot be written as JSON ({_UNWRITABLE})"
        return Problem(label, message)


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


def _request_too_large(method: str, present: Mapping[str, object], labels: Mapping[str, str]) -> list[Problem]:
    """The whole request's limit (`present`: the params without nulls), named after its largest param: the one
    to shorten first. The largest is looked for only when the limit is passed."""
    if not present:
        return []
    if method == "GET":
        length = len(urlencode(encode_query(present)))
        if length <= MAX_QUERY_CHARS:
            return []
        largest = _largest(present, labels)
        message = (
            f"the query string would be {length:,} characters once encoded; a GET endpoint takes at most "
            f"{MAX_QUERY_CHARS:,}: shorten {largest}"
        )
        return [Problem(largest, message)]
    length = size_of(present)
    if length <= MAX_BODY_CHARS:
        return []
    largest = _largest(present, labels)
    message = (
        f"the body would be {length:,} characters of JSON; at most {MAX_BODY_CHARS:,} are accepted: shorten {largest}"
    )
    return [Problem(largest, message)]


def _largest(present: Mapping[str, object], labels: Mapping[str, str]) -> str:
    return labels.get(max(present, key=lambda name: size_of(present[name])), "params")


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
