"""The JSON bodies of Parse.bot's dispatch routes, validated by pydantic as the FastAPI service does.

A body that does not fit its model is FastAPI's 422: `{"detail": [{"loc": ["body", ...], "msg", "type"}]}`,
one entry per error pydantic finds. Validation is lax, as FastAPI's is: `"force_new": "true"` is a boolean.
"""

from __future__ import annotations

import json
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, Field, HttpUrl, StringConstraints, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError
from starlette.requests import Request

from parse_mcp.sandbox.parsebot.envelopes import EnvelopeError, validation_error, validation_errors

_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)
_Body = TypeVar("_Body", bound=BaseModel)


def _absolute_http_url(value: str) -> str:
    """The URL as sent (stripped), once pydantic's HttpUrl accepts it; its own error when it does not."""
    text = value.strip()
    try:
        _HTTP_URL.validate_python(text)
    except ValidationError as error:
        first = error.errors()[0]
        # The message is pydantic's own text, never a template: escape braces so it is shown as written.
        message = first["msg"].replace("{", "{{").replace("}", "}}")
        raise PydanticCustomError(first["type"], message) from None
    return text


NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class DispatchBody(BaseModel):
    """`POST /dispatch`: the page to build an API from, what it is for, and whether to skip the marketplace."""

    url: Annotated[str, Field(min_length=1), AfterValidator(_absolute_http_url)]
    task: str | None = None
    force_new: bool = False


class ReviseBody(BaseModel):
    """`POST /dispatch/tasks/{id}/revise`: what to change, in words."""

    description: NonEmptyText


class PreviewBody(BaseModel):
    """`POST /dispatch/tasks/{id}/preview-update/{endpoint}`: the parameters to run the updated endpoint with."""

    params: dict[str, object] | None = None


class MergeBody(BaseModel):
    """`POST /dispatch/tasks/{id}/merge-updates`: the endpoints whose pending updates to take."""

    endpoints: Annotated[list[str], Field(min_length=1)]


async def json_body(request: Request) -> dict[str, object]:
    """The JSON object a POST carries; an empty body reads as `{}`."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value: object = json.loads(raw)
    except ValueError:
        raise validation_error(["body"], "JSON decode error", "json_invalid") from None
    if not isinstance(value, dict):
        raise validation_error(["body"], "Input should be a valid dictionary", "dict_type")
    return value


async def read_body(request: Request, model: type[_Body]) -> _Body:
    """The request's body as `model`, or FastAPI's 422 listing what does not fit."""
    body = await json_body(request)
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise _unprocessable(error) from None


def _unprocessable(error: ValidationError) -> EnvelopeError:
    return validation_errors(
        [(["body", *entry["loc"]], entry["msg"], entry["type"]) for entry in error.errors(include_url=False)]
    )
