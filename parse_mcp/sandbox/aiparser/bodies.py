"""What the AI Parser reads from a request, as pydantic models: the create and update bodies, and scraper params.

The AI Parser is not a FastAPI service: a request that does not fit is a 400 carrying one sentence a person can
act on, `{"detail": "urls[0] is not an absolute http or https URL."}`, about the first thing wrong. Every check
raises a refusal named in REFUSALS (pydantic's own errors are renamed by `refusing`, field by field); the
sentence gets the value's path, `fields[1].name`, from the error's `loc` once the first error is known.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Final, Literal, TypeVar, cast
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from parse_mcp.sandbox.aiparser import extract
from parse_mcp.sandbox.aiparser.errors import bad_request

MAX_URLS = 3
NOTHING_TO_UPDATE = "Nothing to update: send at least one of add_fields, modify_fields, rename_fields or remove_fields."

# Every 400 a body or a scraper param can earn, by refusal name. `{path}` is where the value is (`fields[0].name`),
# `{owner}` the object holding it (`fields[0]`), `{sent}` the value as JSON; other names come with the refusal.
REFUSALS: Final[Mapping[str, str]] = {
    "name_required": "name is required: give the parser a non-empty name.",
    "urls_required": "urls is required: a list of 1 to 3 example URLs of the same page type.",
    "urls_not_a_list": "urls must be a list of 1 to 3 example URLs, not a single value.",
    "urls_empty": "urls is empty: send at least 1 example URL (1 to 3 of the same page type).",
    "too_many_urls": "urls holds {actual_length} URLs: send at most {max_length} example URLs of the same page type.",
    "url_not_absolute": "{path} is not an absolute http or https URL.",
    "fields_not_a_list": "fields must be a list of {{name, description, type}} objects.",
    "field_not_an_object": "{path} must be an object with a name and a description.",
    "field_name_required": "{path} is required: a non-empty field name (dot notation for nesting, e.g. books.title).",
    "field_name_empty_part": "{path} '{name}' has an empty part: write nested names like books.title.",
    "description_required": "{owner} ('{name}') needs a description: say in words what the field holds.",
    "field_type_unknown": "{owner} ('{name}') has type {sent}; the type must be string, number or array.",
    "field_repeated": "The field '{name}' appears twice: field names must be unique.",
    "fields_clash": (
        "The fields '{prefix}' and '{name}' clash: '{prefix}' cannot be both a value and a list of objects. "
        "Rename one of them."
    ),
    "scraper_params_not_an_object": 'scraper_params must be an object, e.g. {{"render": true}}.',
    "scraper_param_unknown": "scraper_params has an unknown key '{key}'; the supported keys are {supported}.",
    "not_a_boolean": "{path} must be true or false.",
    "not_a_positive_whole_number": "{path} must be a whole number of at least 1.",
    "not_a_country_code": "{path} must be a two-letter country code, e.g. us.",
    "not_a_device_type": "{path} must be desktop or mobile.",
    "premium_tiers_together": "premium and ultra_premium cannot be used together: choose one.",
    "not_a_list": "{path} must be a list.",
    "change_not_an_object": "{path} must be an object with a name and a new description or type.",
    "description_empty": "{owner} ('{name}') has an empty description.",
    "change_changes_nothing": "{path} ('{name}') changes nothing: give a new description, a new type, or both.",
    "rename_not_an_object": "{path} must be an object with name and new_name.",
    "nothing_to_update": NOTHING_TO_UPDATE,
}

_Model = TypeVar("_Model", bound=BaseModel)
_QUERY_NUMBER = re.compile(r"[0-9]+")


def refusal(kind: str, **context: object) -> PydanticCustomError:
    return PydanticCustomError(kind, REFUSALS[kind], context)


def refusing(kind: str, *, null: str | None = None, **by_error_type: str) -> WrapValidator:
    """Pydantic's own error about this value becomes the refusal `kind` (or the one named for its error type).

    Refusals raised inside the value (an item of a list, a key of an object) keep their own name and place.
    `null` names the refusal for a value sent as null or absent, when that differs from a wrong value.
    The object's name, once read, is in the context: a field's description or type is refused by name."""

    def validate(value: object, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> object:
        name = info.data.get("name") if isinstance(info.data, dict) else None
        if value is None and null is not None:
            raise refusal(null, name=name)
        try:
            return handler(value)
        except ValidationError as error:
            # Only the first error is answered. Pydantic lists errors inside the value first: a list whose one
            # item is wrong is also "too short", and the item is what the caller must fix.
            first = error.errors()[0]
            if first["loc"] != () or first["type"] in REFUSALS:
                raise
            raise refusal(by_error_type.get(first["type"], kind), **{"name": name, **first.get("ctx", {})}) from None

    return WrapValidator(validate)


class RequestObject(BaseModel):
    """A JSON object in a request. The service reads a key sent as null as an absent one.

    An optional key sent as null takes its default; a required key that is absent is passed on as null, so the
    field's own refusal says that it is required."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        required = {name: None for name, field in fields.items() if field.is_required()}
        sent = {
            key: value
            for key, value in cast(dict[str, object], data).items()
            if value is not None or key not in fields or fields[key].is_required()
        }
        return {**required, **sent}


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("blank")
    return value


def _absolute_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise refusal("url_not_absolute")
    return value


def _field_name(value: str) -> str:
    """Stripped, non-empty, and no empty part between dots (`books..title`)."""
    name = value.strip()
    if not name:
        raise refusal("field_name_required")
    if any(not part.strip() for part in name.split(".")):
        raise refusal("field_name_empty_part", name=name)
    return name


FieldName = Annotated[str, AfterValidator(_field_name), refusing("field_name_required")]
Description = Annotated[str, AfterValidator(_not_blank)]


class FieldSpec(RequestObject):
    """A field the parser should fill: its name (dot notation for nesting), what it holds, and its JSON type."""

    name: FieldName
    description: Annotated[Description, refusing("description_required")]
    type: Annotated[extract.FieldType, refusing("field_type_unknown")] = "string"

    def as_field(self) -> extract.Field:
        return extract.Field(self.name, self.description, self.type)


class FieldChange(RequestObject):
    """A `modify_fields` entry: the field's name and whatever is new about it."""

    name: FieldName
    description: Annotated[Description | None, refusing("description_empty")] = None
    type: Annotated[extract.FieldType | None, refusing("field_type_unknown")] = None

    @model_validator(mode="after")
    def _changes_something(self) -> FieldChange:
        if self.description is None and self.type is None:
            raise refusal("change_changes_nothing", name=self.name)
        return self


class FieldRename(RequestObject):
    """A `rename_fields` entry."""

    name: FieldName
    new_name: FieldName


def name_clash(names: Sequence[str]) -> PydanticCustomError | None:
    """Each name once, and no name that is both a value and a list (`books` beside `books.title`)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return refusal("field_repeated", name=name)
        seen.add(name)
    for name in names:
        parts = name.split(".")
        for size in range(1, len(parts)):
            prefix = ".".join(parts[:size])
            if prefix in seen:
                return refusal("fields_clash", prefix=prefix, name=name)
    return None


def _distinct_names(fields: tuple[FieldSpec, ...]) -> tuple[FieldSpec, ...]:
    clash = name_clash([field.name for field in fields])
    if clash is not None:
        raise clash
    return fields


Flag = Annotated[bool | None, refusing("not_a_boolean")]


class ScraperParams(RequestObject):
    """ScraperAPI's options for fetching a page, as JSON-native values: true, not "true"."""

    model_config = ConfigDict(frozen=True, strict=True)

    render: Flag = None
    premium: Flag = None
    ultra_premium: Flag = None
    keep_headers: Flag = None
    follow_redirect: Flag = None
    retry_404: Flag = None
    country_code: Annotated[
        str | None, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_lower=True), refusing("not_a_country_code")
    ] = None
    session_number: Annotated[int | None, Field(ge=1), refusing("not_a_positive_whole_number")] = None
    device_type: Annotated[Literal["desktop", "mobile"] | None, refusing("not_a_device_type")] = None

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, data: object) -> object:
        for key in data if isinstance(data, dict) else ():
            if key not in cls.model_fields:
                raise refusal("scraper_param_unknown", key=key, supported=", ".join(cls.model_fields))
        return data

    @model_validator(mode="after")
    def _one_proxy_tier(self) -> ScraperParams:
        if self.premium and self.ultra_premium:
            raise refusal("premium_tiers_together")
        return self

    def sent(self) -> dict[str, bool | int | str]:
        """The params as the caller set them, as the parser's details show them."""
        return cast(dict[str, bool | int | str], self.model_dump(exclude_none=True))


class CreateBody(RequestObject):
    """`POST /parsers`: a name, 1 to 3 example URLs of one page type, and optionally fields and scraper params.

    Without fields (or with an empty list), generation infers them from the pages."""

    name: Annotated[str, AfterValidator(_not_blank), refusing("name_required")]
    urls: Annotated[
        tuple[Annotated[str, AfterValidator(_absolute_http_url), refusing("url_not_absolute")], ...],
        Field(min_length=1, max_length=MAX_URLS),
        refusing("urls_not_a_list", null="urls_required", too_short="urls_empty", too_long="too_many_urls"),
    ]
    fields: Annotated[
        tuple[Annotated[FieldSpec, refusing("field_not_an_object")], ...],
        refusing("fields_not_a_list"),
        AfterValidator(_distinct_names),
    ] = ()
    scraper_params: Annotated[ScraperParams, refusing("scraper_params_not_an_object")] = ScraperParams()

    def parser_fields(self) -> tuple[extract.Field, ...]:
        return tuple(field.as_field() for field in self.fields)


class PatchBody(RequestObject):
    """`PATCH /parsers/{id}`: fields to add, modify, rename and remove, applied in the reverse of that order."""

    add_fields: Annotated[
        tuple[Annotated[FieldSpec, refusing("field_not_an_object")], ...], refusing("not_a_list")
    ] = ()
    modify_fields: Annotated[
        tuple[Annotated[FieldChange, refusing("change_not_an_object")], ...], refusing("not_a_list")
    ] = ()
    rename_fields: Annotated[
        tuple[Annotated[FieldRename, refusing("rename_not_an_object")], ...], refusing("not_a_list")
    ] = ()
    remove_fields: Annotated[tuple[FieldName, ...], refusing("not_a_list")] = ()

    @model_validator(mode="after")
    def _updates_something(self) -> PatchBody:
        if not (self.add_fields or self.modify_fields or self.rename_fields or self.remove_fields):
            raise refusal("nothing_to_update")
        return self

    @property
    def regenerates(self) -> bool:
        """Adding or modifying needs a new generation; renaming and removing are applied at once."""
        return bool(self.add_fields or self.modify_fields)


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


def read_body(model: type[_Model], body: Mapping[str, object]) -> _Model:
    """The body as `model`, or a 400 about the first thing in it that does not fit."""
    return _validated(model, body)


def read_query_scraper_params(query: Mapping[str, str]) -> ScraperParams:
    """Scraper params on /parse: flat query parameters, whose text is read as the JSON value it spells.

    `true` and `false` (in any case) are booleans and digits a number; other query parameters are left alone,
    since the service accepts more ScraperAPI parameters than it documents."""
    sent = {key: _query_value(query[key]) for key in ScraperParams.model_fields if key in query}
    return _validated(ScraperParams, sent)


def _query_value(text: str) -> bool | int | str:
    spelled = text.strip()
    if spelled.lower() in {"true", "false"}:
        return spelled.lower() == "true"
    if _QUERY_NUMBER.fullmatch(spelled):
        return int(spelled)
    return text


def _validated(model: type[_Model], data: Mapping[str, object]) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise bad_request(sentence(error.errors(include_url=False)[0])) from None


def sentence(error: ErrorDetails) -> str:
    """The refusal's message, with the path of the value it is about."""
    loc = error["loc"]
    template = REFUSALS.get(error["type"])
    if template is None:  # pydantic's own error, where no field renames it: still a sentence with a path
        return f"{_path(loc)}: {error['msg']}."
    sent = json.dumps(error.get("input"), default=str)
    return template.format(path=_path(loc), owner=_path(loc[:-1]), sent=sent, **error.get("ctx", {}))


def refusal_text(error: PydanticCustomError) -> str:
    """The message of a refusal about the whole of a parser's fields, which has no path."""
    return REFUSALS[error.type].format(**(error.context or {}))


def _path(loc: tuple[int | str, ...]) -> str:
    """`("fields", 1, "name")` as `fields[1].name`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text
