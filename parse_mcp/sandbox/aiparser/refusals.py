"""How the AI Parser refuses a request that does not fit: one 400 sentence about the first thing wrong.

The AI Parser is not a FastAPI service: a request that does not fit is a 400 carrying one sentence a person can
act on, `{"detail": "urls[0] is not an absolute http or https URL."}`. Every check in `bodies` raises a refusal
named in REFUSALS (pydantic's own errors are renamed by `refusing`, field by field); the sentence gets the
value's path, `fields[1].name`, from the error's `loc` once the first error is known.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final, TypeVar, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from parse_mcp.sandbox.aiparser.errors import bad_request

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
    "nothing_to_update": (
        "Nothing to update: send at least one of add_fields, modify_fields, rename_fields or remove_fields."
    ),
}

Model = TypeVar("Model", bound=BaseModel)


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


def validated(model: type[Model], data: Mapping[str, object]) -> Model:
    """`data` as `model`, or a 400 about the first thing in it that does not fit."""
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
