"""What every Parse.bot route shares: the error response, the base URL, and FastAPI-validated query integers.

Parse.bot is a FastAPI service, so a request that does not fit a route's declared types gets FastAPI's
422 `{"detail": [{"loc", "msg", "type"}]}` rather than the `error` envelope (bodies: see `bodies.py`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from parse_mcp.sandbox.parsebot.envelopes import (
    EnvelopeError,
    validation_error,
)


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
