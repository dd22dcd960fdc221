"""Reading AI Parser requests: the API key where the service expects it, bodies, fields and scraper params.

Every refusal is an ApiError carrying the status and a `detail` a person can act on. The messages never
contain the key, nor the word the sandbox key is made of, so a client that redacts its key from upstream
text leaves them readable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from parse_mcp.sandbox.aiparser.config import AIPARSER_KEY
from parse_mcp.sandbox.aiparser.extract import FIELD_TYPES, Field, FieldType

ScraperParams = dict[str, bool | int | str]

MAX_URLS = 3
NOTHING_TO_UPDATE = "Nothing to update: send at least one of add_fields, modify_fields, rename_fields or remove_fields."
INVALID_KEY = "Invalid api_key. Check the key in your ScraperAPI dashboard."
_BOOLEAN_PARAMS = ("render", "premium", "ultra_premium", "keep_headers", "follow_redirect", "retry_404")
SCRAPER_PARAMS = (*_BOOLEAN_PARAMS, "country_code", "session_number", "device_type")
_DEVICE_TYPES = ("desktop", "mobile")
_COUNTRY_CODE = re.compile(r"[A-Za-z]{2}")
_POSITIVE = re.compile(r"[1-9][0-9]*")
_TYPES_TEXT = "string, number or array"


class ApiError(Exception):
    """An answer other than success: the HTTP status and the `{"detail": ...}` message."""

    def __init__(self, status_code: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers or {})


def bad_request(detail: str) -> ApiError:
    return ApiError(400, detail)


def json_object(raw: bytes) -> dict[str, object]:
    """A POST or PATCH body; it must be read before the key, since the key travels inside it."""
    if not raw.strip():
        raise bad_request("The request body is empty: send a JSON object that includes api_key.")
    try:
        value: object = json.loads(raw)
    except ValueError:
        raise bad_request("The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise bad_request("The request body must be a JSON object.")
    return cast(dict[str, object], value)


def check_body_key(body: Mapping[str, object], query: Mapping[str, str]) -> None:
    """POST and PATCH carry the key in the JSON body; one sent in the query string counts as missing."""
    key = body.get("api_key")
    if key is None or key == "":
        where = " (not the query string)" if "api_key" in query else ""
        raise ApiError(401, f"The api_key is missing. On POST and PATCH requests send it in the JSON body{where}.")
    if key != AIPARSER_KEY:
        raise ApiError(401, INVALID_KEY)


def check_query_key(query: Mapping[str, str]) -> None:
    """GET and DELETE carry the key as a query parameter; a key in a body is not read."""
    key = query.get("api_key")
    if not key:
        raise ApiError(401, "The api_key is missing. On GET and DELETE requests send it as a query parameter.")
    if key != AIPARSER_KEY:
        raise ApiError(401, INVALID_KEY)


@dataclass(frozen=True)
class CreateRequest:
    name: str
    urls: tuple[str, ...]
    fields: tuple[Field, ...]
    scraper_params: ScraperParams


def read_create(body: Mapping[str, object]) -> CreateRequest:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("name is required: give the parser a non-empty name.")
    urls = _read_urls(body.get("urls"))
    fields = _read_fields(body.get("fields"))
    check_field_names(fields)
    return CreateRequest(name, urls, fields, read_body_scraper_params(body))


def _read_urls(value: object) -> tuple[str, ...]:
    if value is None:
        raise bad_request("urls is required: a list of 1 to 3 example URLs of the same page type.")
    if not isinstance(value, list):
        raise bad_request("urls must be a list of 1 to 3 example URLs, not a single value.")
    if not value:
        raise bad_request("urls is empty: send at least 1 example URL (1 to 3 of the same page type).")
    if len(value) > MAX_URLS:
        raise bad_request(f"urls holds {len(value)} URLs: send at most {MAX_URLS} example URLs of the same page type.")
    for index, url in enumerate(value):
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in {"http", "https"} or not parts.netloc:
            raise bad_request(f"urls[{index}] is not an absolute http or https URL.")
    return tuple(cast(list[str], value))


def _read_fields(value: object) -> tuple[Field, ...]:
    """Custom fields; none (or an empty list) lets generation infer them from the pages."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad_request("fields must be a list of {name, description, type} objects.")
    return tuple(read_field(item, f"fields[{index}]") for index, item in enumerate(value))


def read_field(item: object, where: str) -> Field:
    if not isinstance(item, dict):
        raise bad_request(f"{where} must be an object with a name and a description.")
    name = _field_name(item.get("name"), f"{where}.name")
    description = item.get("description")
    if not isinstance(description, str) or not description.strip():
        raise bad_request(f"{where} ('{name}') needs a description: say in words what the field holds.")
    return Field(name, description, _field_type(item.get("type", "string"), where, name))


def _field_name(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{where} is required: a non-empty field name (dot notation for nesting, e.g. books.title).")
    name = value.strip()
    if any(not part.strip() for part in name.split(".")):
        raise bad_request(f"{where} '{name}' has an empty part: write nested names like books.title.")
    return name


def _field_type(value: object, where: str, name: str) -> FieldType:
    if value not in FIELD_TYPES:
        raise bad_request(f"{where} ('{name}') has type {json.dumps(value)}; the type must be {_TYPES_TEXT}.")
    return value


def check_field_names(fields: tuple[Field, ...]) -> None:
    """Each name once, and no name that is both a value and a list (`books` beside `books.title`)."""
    names: set[str] = set()
    for field in fields:
        if field.name in names:
            raise bad_request(f"The field '{field.name}' appears twice: field names must be unique.")
        names.add(field.name)
    for field in fields:
        parts = field.name.split(".")
        for size in range(1, len(parts)):
            prefix = ".".join(parts[:size])
            if prefix in names:
                raise bad_request(
                    f"The fields '{prefix}' and '{field.name}' clash: '{prefix}' cannot be both a value and "
                    "a list of objects. Rename one of them."
                )


def read_body_scraper_params(body: Mapping[str, object]) -> ScraperParams:
    """`scraper_params` on create: JSON-native values (true, not "true"), and only the supported keys."""
    value = body.get("scraper_params")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request('scraper_params must be an object, e.g. {"render": true}.')
    params: ScraperParams = {}
    for key, item in value.items():
        where = f"scraper_params.{key}"
        if key in _BOOLEAN_PARAMS:
            if not isinstance(item, bool):
                raise bad_request(f"{where} must be true or false.")
            params[key] = item
        elif key == "session_number":
            if isinstance(item, bool) or not isinstance(item, int) or item < 1:
                raise bad_request(f"{where} must be a whole number of at least 1.")
            params[key] = item
        elif key in {"country_code", "device_type"}:
            params[key] = _text_param(key, item, where)
        else:
            supported = ", ".join(SCRAPER_PARAMS)
            raise bad_request(f"scraper_params has an unknown key '{key}'; the supported keys are {supported}.")
    _check_premium(params)
    return params


def read_query_scraper_params(query: Mapping[str, str]) -> ScraperParams:
    """Scraper params on /parse: flat query parameters, booleans spelled true or false.

    Other query parameters are left alone: the service accepts more ScraperAPI parameters than it documents."""
    params: ScraperParams = {}
    for key in _BOOLEAN_PARAMS:
        if key in query:
            text = query[key].strip().lower()
            if text not in {"true", "false"}:
                raise bad_request(f"{key} must be true or false.")
            params[key] = text == "true"
    if "session_number" in query:
        if not _POSITIVE.fullmatch(query["session_number"].strip()):
            raise bad_request("session_number must be a whole number of at least 1.")
        params["session_number"] = int(query["session_number"])
    for key in ("country_code", "device_type"):
        if key in query:
            params[key] = _text_param(key, query[key], key)
    _check_premium(params)
    return params


def _text_param(key: str, value: object, where: str) -> str:
    if key == "country_code":
        if not isinstance(value, str) or not _COUNTRY_CODE.fullmatch(value):
            raise bad_request(f"{where} must be a two-letter country code, e.g. us.")
        return value.lower()
    if value not in _DEVICE_TYPES:
        raise bad_request(f"{where} must be desktop or mobile.")
    return value


def _check_premium(params: ScraperParams) -> None:
    if params.get("premium") and params.get("ultra_premium"):
        raise bad_request("premium and ultra_premium cannot be used together: choose one.")


@dataclass(frozen=True)
class FieldChange:
    """A `modify_fields` entry: the field's name and whatever is new about it."""

    name: str
    description: str | None
    type: FieldType | None


@dataclass(frozen=True)
class Rename:
    name: str
    new_name: str


@dataclass(frozen=True)
class PatchRequest:
    add: tuple[Field, ...]
    modify: tuple[FieldChange, ...]
    rename: tuple[Rename, ...]
    remove: tuple[str, ...]

    @property
    def regenerates(self) -> bool:
        """Adding or modifying needs a new generation; renaming and removing are applied at once."""
        return bool(self.add or self.modify)


def read_patch(body: Mapping[str, object]) -> PatchRequest:
    patch = PatchRequest(
        add=tuple(read_field(item, f"add_fields[{i}]") for i, item in enumerate(_list(body, "add_fields"))),
        modify=tuple(_change(item, f"modify_fields[{i}]") for i, item in enumerate(_list(body, "modify_fields"))),
        rename=tuple(_rename(item, f"rename_fields[{i}]") for i, item in enumerate(_list(body, "rename_fields"))),
        remove=tuple(_field_name(item, f"remove_fields[{i}]") for i, item in enumerate(_list(body, "remove_fields"))),
    )
    if not (patch.add or patch.modify or patch.rename or patch.remove):
        raise bad_request(NOTHING_TO_UPDATE)
    return patch


def _list(body: Mapping[str, object], key: str) -> list[object]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request(f"{key} must be a list.")
    return cast(list[object], value)


def _change(item: object, where: str) -> FieldChange:
    if not isinstance(item, dict):
        raise bad_request(f"{where} must be an object with a name and a new description or type.")
    name = _field_name(item.get("name"), f"{where}.name")
    description = item.get("description")
    if description is not None and (not isinstance(description, str) or not description.strip()):
        raise bad_request(f"{where} ('{name}') has an empty description.")
    kind = item.get("type")
    if description is None and kind is None:
        raise bad_request(f"{where} ('{name}') changes nothing: give a new description, a new type, or both.")
    return FieldChange(name, description, None if kind is None else _field_type(kind, where, name))


def _rename(item: object, where: str) -> Rename:
    if not isinstance(item, dict):
        raise bad_request(f"{where} must be an object with name and new_name.")
    return Rename(
        _field_name(item.get("name"), f"{where}.name"), _field_name(item.get("new_name"), f"{where}.new_name")
    )


def apply_patch(fields: tuple[Field, ...], patch: PatchRequest) -> tuple[Field, ...]:
    """The new version's fields: removals, then renames, then changes, then additions, each checked in turn."""
    current = {field.name: field for field in fields}
    for name in patch.remove:
        _require_field(current, name, "remove_fields")
        del current[name]
    for rename in patch.rename:
        _require_field(current, rename.name, "rename_fields")
        if rename.new_name in current:
            raise bad_request(f"rename_fields: there is already a field named '{rename.new_name}'.")
        current = {
            (rename.new_name if name == rename.name else name): (
                Field(rename.new_name, field.description, field.type) if name == rename.name else field
            )
            for name, field in current.items()
        }
    for change in patch.modify:
        old = _require_field(current, change.name, "modify_fields")
        current[change.name] = Field(change.name, change.description or old.description, change.type or old.type)
    for field in patch.add:
        if field.name in current:
            raise bad_request(f"add_fields: the field '{field.name}' already exists; use modify_fields to change it.")
        current[field.name] = field
    if not current:
        raise bad_request("This update would remove every field: a parser needs at least one field.")
    result = tuple(current.values())
    check_field_names(result)
    return result


def _require_field(current: Mapping[str, Field], name: str, operation: str) -> Field:
    field = current.get(name)
    if field is None:
        known = ", ".join(current) or "none"
        raise bad_request(f"{operation}: the parser has no field '{name}'. Its fields are: {known}.")
    return field
