"""Guidance's edges that a mutant broke without a test noticing (`make mutate`): our own words for a transport
fault, a body that says nothing, HTTP dates in any local time zone, a 402's tier with figures that are not
numbers, a version that is not an integer, and the refusals of our own checks."""

from __future__ import annotations

import pytest

from parse_mcp.errors import ErrorRecord
from parse_mcp.guidance import refusals
from parse_mcp.guidance.classify import classify_parsebot, classify_transport
from parse_mcp.guidance.table import CallContext, guide
from tests.guidance.test_table import CALL


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("connect", "The service could not be reached (the connection failed before the request was sent)."),
        ("timeout", "The service did not answer in time; the request may still be running."),
        ("deadline", "The service did not answer in time; the request may still be running."),
        ("protocol", "The connection broke while the service was answering."),
    ],
)
def test_a_transport_fault_is_told_in_our_own_words(fault: str, message: str) -> None:
    record = classify_transport(fault, creates_work=False)  # type: ignore[arg-type]
    assert record.message == message
    assert record.kind == fault


@pytest.mark.parametrize("body", [b"", b"{}", b'{"error": {}}'])
def test_a_body_that_says_nothing_leaves_the_message_empty(body: bytes) -> None:
    assert classify_parsebot(502, {}, body, now=0.0).message == ""


def test_a_body_that_is_not_json_is_described_by_its_size_only() -> None:
    assert classify_parsebot(502, {}, b"<html>", now=0.0).message == "The response was not JSON (6 bytes)."
    assert classify_parsebot(502, {}, b"<", now=0.0).message == "The response was not JSON (1 byte)."


WHEN = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT


@pytest.mark.usefixtures("far_from_utc")
@pytest.mark.parametrize("header", ["Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 -0000"])
def test_an_http_date_is_read_in_utc_whatever_the_local_time_zone(header: str) -> None:
    record = classify_parsebot(429, {"retry-after": header}, b"{}", now=WHEN - 30)
    assert record.retry_after == 30
    assert record.wait_read == "Wed, 21 Oct 2015 07:28:00 GMT"


def tier(credits: object, price: object) -> ErrorRecord:
    return ErrorRecord(
        code="credits_exhausted", http_status=402, next_tier={"display_name": "Pro", "credits": credits, "price": price}
    )


def test_a_402_names_the_next_tier_with_its_credits_and_price_when_both_are_numbers() -> None:
    assert "; the next tier is Pro: 5000 credits for 49.5." in guide(tier(5000, 49.5), CALL).summary


@pytest.mark.parametrize(("credits", "price"), [(True, 49), (5000, float("nan")), ("5000", 49), (None, 49)])
def test_a_402_names_the_next_tier_alone_when_its_figures_are_not_numbers(credits: object, price: object) -> None:
    summary = guide(tier(credits, price), CALL).summary
    assert "; the next tier is Pro." in summary
    assert "credits for" not in summary


@pytest.mark.parametrize("version", [True, "2", 2.0])
def test_waiting_for_a_parser_drops_a_version_that_is_not_an_integer(version: object) -> None:
    context = CallContext(
        tool="parse_url",
        arguments={"parser_id": "p-1", "version": version, "url": "https://a.test/"},  # type: ignore[dict-item]
        listed_tools=frozenset({"wait_for_parser"}),
    )
    guidance = guide(ErrorRecord(code="parser_generating"), context)
    assert guidance.next_call is not None
    assert guidance.next_call.arguments == {"parser_id": "p-1"}


def test_an_unknown_session_names_the_session_argument_as_the_one_at_fault() -> None:
    assert refusals.unknown_session() == ErrorRecord(code="unknown_session", fields=("session",))


@pytest.mark.parametrize(("limit_type", "code"), [("daily", "rate_limited_daily"), ("burst", "rate_limited_burst")])
def test_a_call_held_back_by_the_pacer_says_which_limit_and_when_it_frees_up(limit_type: str, code: str) -> None:
    record = refusals.held_back(limit_type, 4.2)
    assert record.code == code
    assert record.limit_type == limit_type
    assert record.retry_after == 5.0
    assert record.message == "Held back by this server: the rate-limit budget the service reported frees up in 5 s."


def test_each_refusal_of_our_own_checks_is_exactly_its_record() -> None:
    assert refusals.missing_key() == ErrorRecord(code="missing_key")
    assert refusals.state_unavailable() == ErrorRecord(code="state_unavailable")
    assert refusals.internal_error() == ErrorRecord(code="internal_error")
    assert refusals.unknown_endpoint() == ErrorRecord(code="unknown_endpoint", fields=("endpoint",))
    assert refusals.unknown_result() == ErrorRecord(code="unknown_result", fields=("result_id",))
    assert refusals.spend_declined("cancelled") == ErrorRecord(code="spend_declined", kind="cancelled")
    assert refusals.login_declined("declined") == ErrorRecord(code="login_declined", kind="declined")
    assert refusals.login_limited(12.1) == ErrorRecord(code="login_limited", retry_after=13.0)


@pytest.mark.parametrize(("wait", "told"), [(0.0, 1.0), (0.2, 1.0), (2.5, 3.0)])
def test_a_price_still_being_learned_asks_for_a_wait_of_at_least_a_second(wait: float, told: float) -> None:
    assert refusals.spend_price_unknown(wait) == ErrorRecord(code="spend_price_unknown", retry_after=told)


@pytest.mark.parametrize(
    ("limit", "scope", "service"),
    [
        ("client_daily", "this client's", "Parse.bot"),
        ("account_daily", "the account's", "Parse.bot"),
        ("scraperapi_daily", "the account's", "ScraperAPI"),
    ],
)
def test_a_spend_limit_says_whose_limit_of_which_service_and_the_figures(limit: str, scope: str, service: str) -> None:
    record = refusals.spend_limit_reached(limit, "PARSE_MCP_X", 100, 90, 20, 3600.4)
    assert record == ErrorRecord(
        code="spend_limit_reached",
        message=(
            f"{scope} limit of 100 {service} credits a day (PARSE_MCP_X) would be passed: 90 are spent or held "
            "today and this call is expected to cost 20"
        ),
        limit_type=limit,
        retry_after=3601.0,
    )
