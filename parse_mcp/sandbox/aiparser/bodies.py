"""What the AI Parser reads from a request, as pydantic models: the create and update bodies, and scraper params.

Each check raises one of the service's refusals (`refusals`), so a body that does not fit is a 400 about the
first thing wrong in it, in the body's order, with the path of the value: `fields[1].name is required: ...`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal, cast
from urllib.parse import urlsplit

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from parse_mcp.sandbox.aiparser import extract
from parse_mcp.sandbox.aiparser.errors import bad_request
from parse_mcp.sandbox.aiparser.refusals import RequestObject, refusal, refusing, validated

MAX_URLS = 3
_QUERY_NUMBER = re.compile(r"[0-9]+")


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


def read_query_scraper_params(query: Mapping[str, str]) -> ScraperParams:
    """Scraper params on /parse: flat query parameters, whose text is read as the JSON value it spells.

    `true` and `false` (in any case) are booleans and digits a number; other query parameters are left alone,
    since the service accepts more ScraperAPI parameters than it documents."""
    sent = {key: _query_value(query[key]) for key in ScraperParams.model_fields if key in query}
    return validated(ScraperParams, sent)


def _query_value(text: str) -> bool | int | str:
    spelled = text.strip()
    if spelled.lower() in {"true", "false"}:
        return spelled.lower() == "true"
    if _QUERY_NUMBER.fullmatch(spelled):
        return int(spelled)
    return text
