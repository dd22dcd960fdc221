"""Where the AI Parser reads its API key: in the JSON body of a POST or PATCH, in the query of a GET or DELETE."""

from __future__ import annotations

from collections.abc import Mapping

from parse_mcp.sandbox.aiparser.config import AIPARSER_KEY
from parse_mcp.sandbox.aiparser.errors import ApiError

INVALID_KEY = "Invalid api_key. Check the key in your ScraperAPI dashboard."


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
