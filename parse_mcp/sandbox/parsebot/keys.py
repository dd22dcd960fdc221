"""The Parse.bot API keys the sandbox knows, and the check every route makes first."""

from __future__ import annotations

from starlette.datastructures import Headers

from parse_mcp.sandbox.parsebot.envelopes import (
    EXPIRED_KEY_MESSAGE,
    INVALID_KEY_MESSAGE,
    MISSING_KEY_MESSAGE,
    plain_error,
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
