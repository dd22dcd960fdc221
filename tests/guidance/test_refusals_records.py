"""Each refusal of our own checks (`guidance/refusals.py`) is exactly this record: its code, the fields it
blames, its wait and its words. The tools' tests reach each one through the tool that makes it; these pin them."""

from __future__ import annotations

import pytest

from parse_mcp.errors import ErrorRecord
from parse_mcp.guidance import refusals


@pytest.mark.parametrize(
    ("made", "record"),
    [
        (refusals.unknown_endpoint, ErrorRecord(code="unknown_endpoint", fields=("endpoint",))),
        (refusals.unknown_session, ErrorRecord(code="unknown_session", fields=("session",))),
        (refusals.unknown_result, ErrorRecord(code="unknown_result", fields=("result_id",))),
        (refusals.missing_key, ErrorRecord(code="missing_key")),
        (refusals.state_unavailable, ErrorRecord(code="state_unavailable")),
        (refusals.internal_error, ErrorRecord(code="internal_error")),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_refusal_without_arguments_is_exactly_its_record(made: object, record: ErrorRecord) -> None:
    assert callable(made)
    assert made() == record


def test_a_spend_or_login_answer_says_how_the_person_answered() -> None:
    assert refusals.spend_declined("cancelled") == ErrorRecord(code="spend_declined", kind="cancelled")
    assert refusals.login_declined("declined") == ErrorRecord(code="login_declined", kind="declined")


def test_a_wait_is_given_in_whole_seconds_rounded_up_and_an_unknown_price_waits_at_least_one() -> None:
    assert refusals.login_limited(2.1) == ErrorRecord(code="login_limited", retry_after=3.0)
    assert refusals.spend_price_unknown(2.1) == ErrorRecord(code="spend_price_unknown", retry_after=3.0)
    assert refusals.spend_price_unknown(0.0) == ErrorRecord(code="spend_price_unknown", retry_after=1.0)


@pytest.mark.parametrize(("limit_type", "code"), [("daily", "rate_limited_daily"), ("burst", "rate_limited_burst")])
def test_a_call_held_back_names_its_limit_and_its_wait_in_whole_seconds(limit_type: str, code: str) -> None:
    assert refusals.held_back(limit_type, 4.2) == ErrorRecord(
        code=code,
        message="Held back by this server: the rate-limit budget the service reported frees up in 5 s.",
        limit_type=limit_type,
        retry_after=5.0,
    )


@pytest.mark.parametrize(
    ("limit", "words"),
    [
        ("scraperapi_daily", "the account's limit of 100 ScraperAPI credits a day"),
        ("client_daily", "this client's limit of 100 Parse.bot credits a day"),
        ("account_daily", "the account's limit of 100 Parse.bot credits a day"),
    ],
)
def test_a_spend_limit_names_its_scope_its_service_and_waits_in_whole_seconds(limit: str, words: str) -> None:
    record = refusals.spend_limit_reached(limit, "PARSE_MCP_X", 100, 90, 20, 7.5)
    assert (record.code, record.limit_type, record.retry_after) == ("spend_limit_reached", limit, 8.0)
    assert record.message is not None
    assert record.message == (
        f"{words} (PARSE_MCP_X) would be passed: 90 are spent or held today and this call is expected to cost 20"
    )
