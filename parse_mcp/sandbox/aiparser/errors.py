"""The AI Parser's answers other than success: a status and `{"detail": "..."}`, one sentence a person can act on.

The messages never contain the key, nor the word the sandbox key is made of, so a client that redacts its key
from upstream text leaves them readable.
"""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """An answer other than success: the HTTP status and the `{"detail": ...}` message."""

    def __init__(self, status_code: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers or {})


def bad_request(detail: str) -> ApiError:
    return ApiError(400, detail)
