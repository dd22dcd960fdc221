from __future__ import annotations

import httpx2
import pytest

from parse_mcp.sandbox import DEMO_PASSWORD, DEMO_USERNAME, FAILURE_LAB_ID, ManualClock
from tests.sandbox.support import BUDGET_HEADERS, START_SECONDS_TO_MIDNIGHT, base_url, lab

pytestmark = pytest.mark.anyio

SCRAPER_BUG_MESSAGE = (
    "The scraper crashed during execution. This could be due to bad input, broken scraper code, or a website update."
)
BLOCKED_MESSAGE = "Service temporarily unavailable - site protection blocking all proxies"
SESSION_EXPIRED = {"error": "Session expired: log in again to get a new session", "status_code": 401}


async def test_a_valid_flight_search_returns_three_flights_the_same_way_every_time(client: httpx2.AsyncClient) -> None:
    query = {"origin": "LHR", "destination": "JFK", "trip_type": "one_way", "date": "2027-03-01"}
    first = await client.post(lab("search_flights"), json=query)
    again = await client.post(lab("search_flights"), json=query)
    assert first.status_code == 200
    assert first.json() == again.json()
    data = first.json()["data"]
    assert {key: data[key] for key in ("origin", "destination", "trip_type", "date")} == query
    assert len(data["flights"]) == 3
    for flight in data["flights"]:
        assert set(flight) == {"flight_number", "departs", "arrives", "price"}
        assert isinstance(flight["price"], float)


async def test_a_round_trip_without_a_date_is_valid(client: httpx2.AsyncClient) -> None:
    reply = await client.post(
        lab("search_flights"), json={"origin": "LIS", "destination": "OSA", "trip_type": "round_trip"}
    )
    assert reply.status_code == 200
    assert reply.json()["data"]["date"] is None


async def test_a_bad_trip_type_is_refused_by_the_site_as_the_reference_shows(client: httpx2.AsyncClient) -> None:
    reply = await client.post(
        lab("search_flights"), json={"origin": "LHR", "destination": "JFK", "trip_type": "return"}
    )
    assert reply.status_code == 422
    assert reply.json() == {
        "error": {
            "status": "stale_input",
            "kind": "input_format_invalid",
            "message": "trip_type must be 'one_way' or 'round_trip'",
            "upstream_status_code": 400,
            "url": f"{base_url(client)}/site/lab/flights/search?origin=LHR&destination=JFK&trip_type=return",
        },
        "status_code": 422,
    }


@pytest.mark.parametrize("date", ["01/03/2027", "2027-02-30", "20270301", "tomorrow"])
async def test_a_bad_date_is_stale_input_without_a_kind(client: httpx2.AsyncClient, date: str) -> None:
    query = {"origin": "LHR", "destination": "JFK", "trip_type": "return", "date": date}
    reply = await client.post(lab("search_flights"), json=query)
    assert reply.status_code == 422
    assert reply.json() == {
        "error": {"status": "stale_input", "message": "date must be in YYYY-MM-DD format"},
        "status_code": 422,
    }


async def test_a_missing_required_parameter_is_stale_input(client: httpx2.AsyncClient) -> None:
    reply = await client.post(lab("search_flights"), json={"destination": "JFK", "trip_type": "one_way"})
    assert reply.status_code == 422
    assert reply.json() == {
        "error": {"status": "stale_input", "kind": "input_format_invalid", "message": "origin is required"},
        "status_code": 422,
    }


async def test_a_live_job_is_returned(client: httpx2.AsyncClient) -> None:
    reply = await client.post(lab("get_job"), json={"job_id": "job-42"})
    assert reply.status_code == 200
    data = reply.json()["data"]
    assert set(data) == {"job_id", "title", "company", "location"}
    assert data["job_id"] == "job-42"


async def test_a_gone_job_is_stale_input_not_found_with_the_sites_410(client: httpx2.AsyncClient) -> None:
    reply = await client.post(lab("get_job"), json={"job_id": "gone-123"})
    assert reply.status_code == 422
    assert reply.json() == {
        "error": {
            "status": "stale_input",
            "kind": "input_not_found",
            "message": "The job 'gone-123' is gone (the site answered 410): the posting was removed.",
            "upstream_status_code": 410,
            "url": f"{base_url(client)}/site/lab/jobs/gone-123",
        },
        "status_code": 422,
    }


@pytest.mark.parametrize("code", [400, 401, 403, 404, 410, 429, 500, 503, 599])
async def test_fetch_status_turns_the_sites_status_into_an_upstream_error(
    client: httpx2.AsyncClient, code: int
) -> None:
    reply = await client.post(lab("fetch_status"), json={"code": code})
    site_page = await client.get(f"/site/lab/status/{code}")
    assert site_page.status_code == code
    assert reply.status_code == 502
    assert reply.json() == {
        "error": {
            "status": "upstream_error",
            "upstream_status_code": code,
            "message": f"The target site returned HTTP {code}. See `snippet` for the upstream response body.",
            "snippet": site_page.text[:500],
            "url": f"{base_url(client)}/site/lab/status/{code}",
        },
        "status_code": 502,
    }


async def test_fetch_status_with_a_2xx_code_succeeds(client: httpx2.AsyncClient) -> None:
    reply = await client.post(lab("fetch_status"), json={"code": 200})
    assert (reply.status_code, reply.json()) == (200, {"status": "success", "data": {"code": 200, "title": "200 OK"}})


@pytest.mark.parametrize("code", [302, 99, 600, "404"])
async def test_fetch_status_refuses_codes_it_cannot_produce(client: httpx2.AsyncClient, code: object) -> None:
    reply = await client.post(lab("fetch_status"), json={"code": code})
    assert reply.status_code == 422
    assert reply.json()["error"] == {
        "status": "stale_input",
        "kind": "input_format_invalid",
        "message": "code must be a 2xx, 4xx or 5xx HTTP status code",
    }


async def test_a_block_with_retry_after_is_solvable_and_says_when_to_retry(client: httpx2.AsyncClient) -> None:
    reply = await client.post(lab("blocked"), json={"retry_after": 60})
    assert reply.status_code == 503
    assert reply.headers["Retry-After"] == "60"
    assert reply.json() == {
        "error": {
            "status": "blocked",
            "block_type": "datadome",
            "vendor": "datadome",
            "kind": "antibot_solvable",
            "attempts": 3,
            "retry_after": 60,
            "message": BLOCKED_MESSAGE,
        },
        "status_code": 503,
    }


async def test_a_block_without_retry_after_is_unsolvable_and_has_no_retry_after_header(
    client: httpx2.AsyncClient,
) -> None:
    reply = await client.post(lab("blocked"), json={})
    assert reply.status_code == 503
    assert "Retry-After" not in reply.headers
    assert reply.json() == {
        "error": {
            "status": "blocked",
            "block_type": "datadome",
            "vendor": "datadome",
            "kind": "antibot_unsolvable",
            "attempts": 3,
            "retry_after": None,
            "message": BLOCKED_MESSAGE,
        },
        "status_code": 503,
    }


async def test_a_scraper_that_meets_a_changed_layout_is_a_scraper_bug(client: httpx2.AsyncClient) -> None:
    reply = await client.post(lab("scraper_bug"))
    assert reply.status_code == 500
    assert reply.json() == {
        "error": {"status": "error", "kind": "scraper_bug", "message": SCRAPER_BUG_MESSAGE},
        "status_code": 500,
    }


async def test_burst_limit_answers_a_burst_429_with_retry_after_5(client: httpx2.AsyncClient) -> None:
    reply = await client.post(lab("burst_limit"))
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "5"
    assert reply.json() == {
        "error": {
            "error": "Rate limit exceeded",
            "message": "Too many requests in a short burst. Retry in 5s.",
            "limit_type": "burst",
            "retry_after": 5,
        },
        "status_code": 429,
    }


async def test_daily_limit_answers_a_daily_429_until_utc_midnight(
    client: httpx2.AsyncClient, clock: ManualClock
) -> None:
    clock.advance(600)
    reply = await client.post(lab("daily_limit"))
    remaining = START_SECONDS_TO_MIDNIGHT - 600
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == str(remaining)
    assert reply.json() == {
        "error": {
            "error": "Rate limit exceeded",
            "message": f"You have reached your daily request cap. It resets at 00:00 UTC (in {remaining}s).",
            "limit_type": "daily",
            "retry_after": remaining,
        },
        "status_code": 429,
    }


async def test_credits_exhausted_answers_402_with_the_next_tier_and_charges_nothing(client: httpx2.AsyncClient) -> None:
    reply = await client.post(lab("credits_exhausted"))
    assert reply.status_code == 402
    assert reply.json() == {
        "error": {
            "message": "You have run out of credits.",
            "next_tier": {"display_name": "Hobby", "credits": 1000, "price": 30},
        },
        "status_code": 402,
    }
    assert (reply.headers["X-Credits-Charged"], reply.headers["X-Credits-Remaining"]) == ("0", "10000")


async def test_plan_required_answers_403(client: httpx2.AsyncClient) -> None:
    reply = await client.post(lab("plan_required"))
    assert reply.status_code == 403
    assert reply.json() == {"error": "Your plan does not allow this API. Upgrade to use it.", "status_code": 403}


async def test_session_expired_answers_401(client: httpx2.AsyncClient) -> None:
    reply = await client.post(lab("session_expired"))
    assert (reply.status_code, reply.json()) == (401, SESSION_EXPIRED)


async def test_a_protected_endpoint_called_without_a_session_is_400_and_tagged_in_its_schema(
    client: httpx2.AsyncClient,
) -> None:
    reply = await client.post(lab("session_required"))
    assert reply.status_code == 400
    assert reply.json() == {
        "error": "This endpoint needs a login session: send session_id and encryption_key (log in first)",
        "status_code": 400,
    }
    schema = (await client.get(f"/sdk/schemas/{FAILURE_LAB_ID}")).json()
    tags = {e["name"]: (e.get("initiates_session"), e.get("depends_on_session")) for e in schema["endpoints"]}
    assert tags["session_required"] == (None, "login")
    assert tags["login"] == (True, None)


async def test_a_session_pair_the_lab_never_issued_is_401_session_expired(client: httpx2.AsyncClient) -> None:
    reply = await client.post(
        lab("session_required"), headers={"X-Session-ID": "s-1", "X-Encryption-Key": "gAAAAB-key"}
    )
    assert (reply.status_code, reply.json()) == (401, SESSION_EXPIRED)


async def test_a_session_from_the_labs_login_opens_the_protected_endpoint(client: httpx2.AsyncClient) -> None:
    login = await client.post(lab("login"), json={"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
    assert login.status_code == 200
    session = {"X-Session-ID": login.json()["session_id"], "X-Encryption-Key": login.json()["encryption_key"]}
    reply = await client.post(lab("session_required"), headers=session)
    assert (reply.status_code, reply.json()) == (200, {"status": "success", "data": {"ok": True}})


@pytest.mark.parametrize(
    ("params", "status", "heading"),
    [
        ({}, 502, "502 Bad Gateway"),
        ({"code": "504"}, 504, "504 Gateway Timeout"),
        ({"code": "503"}, 503, "503 Service Unavailable"),
    ],
)
async def test_a_proxy_error_is_bare_html_without_envelope_or_budget_headers(
    client: httpx2.AsyncClient, params: dict[str, str], status: int, heading: str
) -> None:
    reply = await client.get(lab("proxy_error"), params=params)
    assert reply.status_code == status
    assert reply.text == f"<html><body><h1>{heading}</h1></body></html>"
    assert reply.headers["Content-Type"].startswith("text/html")
    assert not any(name in reply.headers for name in BUDGET_HEADERS)
    assert reply.headers["X-Railway-Request-Id"]


async def test_a_proxy_error_code_outside_5xx_is_stale_input(client: httpx2.AsyncClient) -> None:
    reply = await client.get(lab("proxy_error"), params={"code": "404"})
    assert reply.status_code == 422
    assert reply.json()["error"]["message"] == "code must be an integer from 500 to 599"


async def test_a_malformed_success_is_a_charged_200_whose_body_is_not_json(client: httpx2.AsyncClient) -> None:
    reply = await client.post(lab("malformed_success"))
    assert reply.status_code == 200
    assert reply.text == "OK"
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert (reply.headers["X-Credits-Charged"], reply.headers["X-Credits-Remaining"]) == ("1", "9999")


async def test_simulated_failures_spend_a_token_and_charge_nothing(client: httpx2.AsyncClient) -> None:
    replies = [await client.post(lab(name)) for name in ("scraper_bug", "burst_limit", "plan_required")]
    assert [reply.headers["X-RateLimit-Remaining"] for reply in replies] == ["29", "28", "27"]
    assert {reply.headers["X-Credits-Charged"] for reply in replies} == {"0"}
    assert {reply.headers["X-Credits-Remaining"] for reply in replies} == {"10000"}


# -- TEST-ONLY answers no reference documents (off_the_reference) ---------------------------------------------


async def test_off_the_reference_gives_a_fastapi_style_422_naming_count(client: httpx2.AsyncClient) -> None:
    reply = await client.post(lab("off_the_reference"), json={"answer": "fastapi_422", "count": "many"})
    assert reply.status_code == 422
    (entry,) = reply.json()["detail"]
    assert (entry["loc"], entry["type"]) == (["body", "count"], "int_parsing")


async def test_off_the_reference_gives_a_stale_input_envelope_without_its_wrapper(client: httpx2.AsyncClient) -> None:
    reply = await client.post(lab("off_the_reference"), json={"answer": "unwrapped_422"})
    assert reply.status_code == 422
    assert reply.json() == {
        "status": "stale_input",
        "kind": "input_format_invalid",
        "message": "count must be a whole number",
        "status_code": 422,
    }


async def test_off_the_reference_gives_a_block_and_a_limit_of_kinds_no_reference_lists(
    client: httpx2.AsyncClient,
) -> None:
    blocked = await client.post(lab("off_the_reference"), json={"answer": "unlisted_kind"})
    assert (blocked.status_code, blocked.json()["error"]["kind"], blocked.json()["error"]["retry_after"]) == (
        503,
        "antibot_pending",
        None,
    )
    assert "retry-after" not in blocked.headers
    limited = await client.post(lab("off_the_reference"), json={"answer": "unlisted_limit"})
    assert (limited.status_code, limited.json()["error"]["limit_type"], limited.headers["retry-after"]) == (
        429,
        "concurrency",
        "20",
    )


@pytest.mark.parametrize("wait", ["Fri, 15 Jan 2027 08:01:30 GMT", "-5", "0", "99999999", "soon"])
async def test_off_the_reference_sends_the_wait_only_in_the_header_as_given(
    client: httpx2.AsyncClient, wait: str
) -> None:
    reply = await client.post(lab("off_the_reference"), json={"answer": "header_wait", "retry_after": wait})
    assert (reply.status_code, reply.headers["retry-after"]) == (503, wait)
    assert "retry_after" not in reply.json()["error"]
    assert reply.json()["error"]["kind"] == "antibot_solvable"


@pytest.mark.parametrize(
    "body", [{"answer": "nonsense"}, {"answer": "header_wait"}, {"answer": "header_wait", "retry_after": " 5"}]
)
async def test_off_the_reference_refuses_what_it_cannot_answer(
    client: httpx2.AsyncClient, body: dict[str, str]
) -> None:
    reply = await client.post(lab("off_the_reference"), json=body)
    assert reply.status_code == 422
    assert reply.json()["error"]["kind"] == "input_format_invalid"
