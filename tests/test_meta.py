"""Meta read from headers: numbers when they are sane, and a request id that never carries a key."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from parse_mcp.meta import Meta, read_meta
from parse_mcp.redact import REDACTED, Redactor
from tests.test_redact import forms_of, leaked

PARSEBOT_KEY = "pmx_live_4f9a8b7c6d5e_Zq+/x"
SCRAPERAPI_KEY = "3f9a0c1e5b7d2a4c6e8f0b1d3a5c7e9f"
REDACTOR = Redactor((PARSEBOT_KEY, SCRAPERAPI_KEY))
FORMS = [(key, name, form) for key in (PARSEBOT_KEY, SCRAPERAPI_KEY) for name, form in forms_of(key).items()]


def test_the_documented_headers_become_meta() -> None:
    headers = {
        "x-credits-charged": "1",
        "x-credits-remaining": "99.5",
        "x-ratelimit-remaining": "7",
        "x-ratelimit-daily-remaining": "120",
        "x-railway-request-id": "req-123",
    }
    assert read_meta(headers, REDACTOR) == Meta(
        credits_charged=1, credits_remaining=99.5, rate_limit_remaining=7, daily_remaining=120, request_id="req-123"
    )


@pytest.mark.parametrize(("key", "name", "form"), FORMS, ids=[f"{k[:4]}-{n}" for k, n, _ in FORMS])
def test_a_request_id_carrying_a_key_in_any_form_is_scrubbed(key: str, name: str, form: str) -> None:
    meta = read_meta({"x-railway-request-id": f"req-{form}-end"}, REDACTOR)
    assert meta.request_id is not None
    assert not leaked(meta.request_id, key)
    assert meta.request_id.startswith("req-")
    assert not leaked(repr(meta.model_dump()), key)


def test_a_key_cut_by_the_request_id_cap_is_still_removed_whole() -> None:
    raw = "r" * (128 - len(SCRAPERAPI_KEY) // 2) + SCRAPERAPI_KEY
    meta = read_meta({"x-railway-request-id": raw}, REDACTOR)
    assert meta.request_id is not None
    assert SCRAPERAPI_KEY[:12] not in meta.request_id
    assert len(meta.request_id) <= 128


def test_unprintable_characters_cannot_hide_a_key_from_the_scan() -> None:
    hidden = "\x00".join(SCRAPERAPI_KEY)
    meta = read_meta({"x-railway-request-id": hidden}, REDACTOR)
    assert meta.request_id == REDACTED


def test_without_a_redactor_key_shaped_request_ids_are_still_scrubbed() -> None:
    meta = read_meta({"x-railway-request-id": f"req api_key={quote(SCRAPERAPI_KEY)} pmx_abcdef"})
    assert meta.request_id == f"req api_key={REDACTED} {REDACTED}"


def test_an_ordinary_request_id_is_kept_as_sent() -> None:
    request_id = "0b8f6c2e-" + base64.b64encode(b"not a key").decode()
    assert read_meta({"x-railway-request-id": request_id}, REDACTOR).request_id == request_id
