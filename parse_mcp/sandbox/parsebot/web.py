"""What every Parse.bot route shares: the API key check, the error response, and FastAPI-style validation.

Parse.bot is a FastAPI service, so a request that does not fit a route's declared types gets FastAPI's
422 `{"detail": [{"loc", "msg", "type"}]}` rather than the `error` envelope.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from parse_mcp.sandbox.parsebot.envelopes import (
    EXPIRED_KEY_MESSAGE,
    INVALID_KEY_MESSAGE,
    MISSING_KEY_MESSAGE,
    EnvelopeError,
    JsonObject,
    plain_error,
    validation_error,
)

PARSEBOT_KEY = "pmx_sandbox"
# A key the sandbox treats as expired, so the third documented 401 message can be reached on purpose.
EXPIRED_PARSEBOT_KEY = "pmx_sandbox_expired"


def authenticate(headers: Headers) -> None:
    """Accept only `X-API-Key: pmx_sandbox`; a Bearer token is not an API key, so it counts as missing."""
    key = headers.get("x-api-key")
    if not key:
        raise plain_error(401, MISSING_KEY_MESSAGE)
    if key == EXPIRED_PARSEBOT_KEY:
        raise plain_error(401, EXPIRED_KEY_MESSAGE)
    if key != PARSEBOT_KEY:
        raise plain_error(401, INVALID_KEY_MESSAGE)


def error_response(error: EnvelopeError, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(error.body, status_code=error.status_code, headers={**(headers or {}), **error.headers})


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def query_int(request: Request, name: str, minimum: int | None = None, maximum: int | None = None) -> int | None:
    """A FastAPI-validated integer query parameter: 422 with a `detail` list when it does not parse."""
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        msg = "Input should be a valid integer, unable to parse string as an integer"
        raise validation_error(["query", name], msg, "int_parsing") from None
    if minimum is not None and number < minimum:
        msg = f"Input should be greater than or equal to {minimum}"
        raise validation_error(["query", name], msg, "greater_than_equal")
    if maximum is not None and number > maximum:
        msg = f"Input should be less than or equal to {maximum}"
        raise validation_error(["query", name], msg, "less_than_equal")
    return number


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


def required_text(body: JsonObject, name: str) -> str:
    """A required, non-empty string field of a request body (pydantic's `str` with `min_length=1`)."""
    if name not in body:
        raise validation_error(["body", name], "Field required", "missing")
    value = body[name]
    if not isinstance(value, str):
        raise validation_error(["body", name], "Input should be a valid string", "string_type")
    if not value.strip():
        raise validation_error(["body", name], "String should have at least 1 character", "string_too_short")
    return value


def optional_text(body: JsonObject, name: str) -> str | None:
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    raise validation_error(["body", name], "Input should be a valid string", "string_type")


def optional_bool(body: JsonObject, name: str, default: bool) -> bool:
    value = body.get(name, default)
    if isinstance(value, bool):
        return value
    raise validation_error(["body", name], "Input should be a valid boolean", "bool_type")


def optional_object(body: JsonObject, name: str) -> dict[str, object]:
    value = body.get(name)
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    raise validation_error(["body", name], "Input should be a valid dictionary", "dict_type")


def required_text_list(body: JsonObject, name: str) -> list[str]:
    """A required, non-empty list of strings (pydantic's `list[str]` with `min_length=1`)."""
    if name not in body:
        raise validation_error(["body", name], "Field required", "missing")
    value = body[name]
    if not isinstance(value, list):
        raise validation_error(["body", name], "Input should be a valid list", "list_type")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise validation_error(["body", name, index], "Input should be a valid string", "string_type")
    if not value:
        msg = "List should have at least 1 item after validation, not 0"
        raise validation_error(["body", name], msg, "too_short")
    return [str(item) for item in value]
