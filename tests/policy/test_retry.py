"""The server repeats a request only where it cannot cost twice."""

from __future__ import annotations

import pytest

from parse_mcp.errors import CallFailed, ErrorCode, ErrorRecord, TransportFailure, UpstreamFailure
from parse_mcp.guidance.table import ROWS
from parse_mcp.policy.retry import RetryPolicy, backoff, retry_delay

POLICY = RetryPolicy(max_attempts=3, wait_budget_seconds=15, initial_delay=0.5, max_delay=8)


def upstream(code: ErrorCode, retry_after: float | None = None) -> UpstreamFailure:
    return UpstreamFailure(ErrorRecord(code=code, retry_after=retry_after))


def decide(failure: CallFailed, method: str = "GET", attempt: int = 1, waited: float = 0.0) -> float | None:
    """As the HTTP client decides: the failure's row says whether its request may be repeated here."""
    repeat = ROWS[failure.record.code].repeat
    return retry_delay(
        failure, repeat=repeat, method=method, attempt=attempt, waited=waited, policy=POLICY, random=lambda: 0.0
    )


def test_only_a_429_and_a_proxy_s_5xx_are_rows_this_server_repeats_by_itself() -> None:
    repeated = {code: row.repeat for code, row in ROWS.items() if row.repeat != "never"}
    assert repeated == {"rate_limited_burst": "always", "service_unavailable": "reads"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_429_is_repeated_after_the_wait_it_asks_for_because_the_request_did_not_run(method: str) -> None:
    assert decide(upstream("rate_limited_burst", 5), method) == 5


def test_a_429_whose_wait_does_not_fit_the_budget_goes_to_the_agent() -> None:
    assert decide(upstream("rate_limited_burst", 60)) is None
    assert decide(upstream("rate_limited_burst", 5), waited=11) is None


def test_a_connection_that_never_reached_the_service_is_repeated_even_for_a_post() -> None:
    failure = TransportFailure(ErrorRecord(code="network_read", kind="connect"), reached=False)
    assert decide(failure, "POST") == 0.5
    assert decide(failure, "POST", attempt=2) == 1.0


def test_a_request_that_may_have_run_is_never_repeated() -> None:
    timeout = TransportFailure(ErrorRecord(code="network_read", kind="timeout"), reached=True)
    assert decide(timeout, "GET") is None
    assert decide(timeout, "POST") is None


def test_a_gateway_failure_is_repeated_on_a_get_and_never_on_a_post() -> None:
    assert decide(upstream("service_unavailable"), "GET") == 0.5
    assert decide(upstream("service_unavailable", 2), "GET") == 2
    assert decide(upstream("service_unavailable"), "POST") is None


@pytest.mark.parametrize(
    "code",
    [
        "upstream_transient",
        "upstream_not_found",
        "blocked_transient",
        "blocked",
        "scraper_bug",
        "input_invalid",
        "credits_exhausted",
        "rate_limited_daily",
    ],
)
def test_answers_from_the_site_or_the_scraper_are_never_repeated(code: ErrorCode) -> None:
    assert decide(upstream(code, 1), "GET") is None


def test_attempts_stop_at_the_limit() -> None:
    assert decide(upstream("rate_limited_burst", 1), attempt=3) is None


def test_backoff_grows_is_capped_and_jitters_downwards() -> None:
    assert [backoff(n, POLICY, lambda: 0.0) for n in (1, 2, 3, 6, 10)] == [0.5, 1.0, 2.0, 8.0, 8.0]
    assert backoff(1, POLICY, lambda: 1.0) == 0.375
