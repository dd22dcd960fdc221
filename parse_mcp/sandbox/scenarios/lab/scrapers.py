"""The Failure Lab's scrapers: each one reproduces one documented Parse.bot failure, deterministically.

Where the failure comes from the target site (422 with an upstream code, 502, 500 on a changed layout),
the scraper really reads the lab site; the others raise the service's own envelope.
"""

from __future__ import annotations

import re
from datetime import date as Date

from parse_mcp.sandbox.parsebot.envelopes import (
    PLAN_REQUIRED_MESSAGE,
    SESSION_EXPIRED_MESSAGE,
    EnvelopeError,
    JsonObject,
    blocked,
    blocked_unlisted_kind,
    blocked_with_header_wait,
    input_format_invalid,
    out_of_credits,
    plain_error,
    rate_limited,
    rate_limited_unlisted,
    stale_input,
    unwrapped_stale_input,
    validation_error,
)
from parse_mcp.sandbox.parsebot.execution import Call, RawReply, fetch, fetch_document, require
from parse_mcp.sandbox.parsebot.limits import seconds_until_utc_midnight
from parse_mcp.sandbox.scenarios.lab.pages import status_phrase

BURST_RETRY_AFTER = 5
DATE_MESSAGE = "date must be in YYYY-MM-DD format"
STATUS_CODE_MESSAGE = "code must be a 2xx, 4xx or 5xx HTTP status code"
PROXY_CODE_MESSAGE = "code must be an integer from 500 to 599"
RETRY_AFTER_MESSAGE = "retry_after must be a positive integer"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# TEST-ONLY answers of `off_the_reference` (none of them is in the references).
OFF_REFERENCE_ANSWERS = ("fastapi_422", "unwrapped_422", "unlisted_kind", "unlisted_limit", "header_wait")
ANSWER_MESSAGE = "answer must be one of: " + ", ".join(OFF_REFERENCE_ANSWERS)
HEADER_WAIT_MESSAGE = "retry_after must be 1 to 100 printable ASCII characters, sent as the Retry-After header"
COUNT_MESSAGE = "count must be a whole number"
# A header value: visible ASCII and spaces (RFC 9110 field-value, without obs-text), so it is sent as given.
_HEADER_VALUE = re.compile(r"[\x21-\x7e]([\x20-\x7e]{0,98}[\x21-\x7e])?")


def search_flights(call: Call) -> JsonObject:
    origin = call.params.required_text("origin")
    destination = call.params.required_text("destination")
    trip_type = call.params.required_text("trip_type")
    date = call.params.text("date")
    if date is not None and not _is_iso_date(date):
        # Checked before any request, so there is no upstream code and, as documented, no kind.
        raise stale_input(DATE_MESSAGE)
    query = {"origin": origin, "destination": destination, "trip_type": trip_type}
    if date is not None:
        query["date"] = date
    fetched = fetch(call, "/site/lab/flights/search", query)
    if fetched.page.status == 400:
        reason = require(fetched.document().find("p", cls="error")).text()
        raise stale_input(reason, kind="input_format_invalid", upstream_status_code=400, url=fetched.url)
    if not fetched.ok:
        raise fetched.as_upstream_error()
    flights = [
        {
            "flight_number": require(row.find("td", cls="flight-number")).text(),
            "departs": require(row.find("td", cls="departs")).text(),
            "arrives": require(row.find("td", cls="arrives")).text(),
            "price": float(require(row.find("td", cls="price")).text().lstrip("$")),
        }
        for row in fetched.document().find_all("tr", cls="flight")
    ]
    return {"origin": origin, "destination": destination, "trip_type": trip_type, "date": date, "flights": flights}


MAX_ITEMS = 30_000
ITEMS_MESSAGE = f"count must be a whole number from 1 to {MAX_ITEMS}"


def list_items(call: Call) -> JsonObject:
    count = call.params.integer("count", ITEMS_MESSAGE)
    count = 5_000 if count is None else count
    if not 1 <= count <= MAX_ITEMS:
        raise input_format_invalid(ITEMS_MESSAGE)
    items = [
        {"id": n, "title": f"Lab item {n}", "price": round(1 + (n * 37 % 1000) / 10, 2), "url": f"/site/lab/items/{n}"}
        for n in range(1, count + 1)
    ]
    return {"count": count, "items": items}


def _is_iso_date(text: str) -> bool:
    if not _ISO_DATE.fullmatch(text):
        return False
    try:
        Date.fromisoformat(text)
    except ValueError:
        return False
    return True


def get_job(call: Call) -> JsonObject:
    job_id = call.params.required_text("job_id")
    fetched = fetch(call, f"/site/lab/jobs/{job_id}")
    if fetched.page.status == 410:
        raise stale_input(
            f"The job '{job_id}' is gone (the site answered 410): the posting was removed.",
            kind="input_not_found",
            upstream_status_code=410,
            url=fetched.url,
        )
    if not fetched.ok:
        raise fetched.as_upstream_error()
    job = require(fetched.document().find("article", cls="job"))
    return {
        "job_id": job_id,
        "title": require(job.find("h1", cls="job-title")).text(),
        "company": require(job.find("p", cls="company")).text(),
        "location": require(job.find("p", cls="location")).text(),
    }


def fetch_status(call: Call) -> JsonObject:
    code = call.params.integer("code", STATUS_CODE_MESSAGE)
    if code is None or not (200 <= code < 300 or 400 <= code <= 599):
        raise input_format_invalid(STATUS_CODE_MESSAGE)
    document = fetch_document(call, f"/site/lab/status/{code}")
    return {"code": code, "title": require(document.find("h1")).text()}


def blocked_by_antibot(call: Call) -> JsonObject:
    retry_after = call.params.integer("retry_after", RETRY_AFTER_MESSAGE)
    if retry_after is not None and retry_after < 1:
        raise input_format_invalid(RETRY_AFTER_MESSAGE)
    raise blocked(retry_after)


def scraper_bug(call: Call) -> JsonObject:
    # The scraper was written for a price table that the site has since replaced with cards.
    document = fetch_document(call, "/site/lab/redesigned.html")
    table = require(document.find("table", cls="prices"))
    return {"rows": len(table.find_all("tr"))}


def burst_limit(_call: Call) -> JsonObject:
    raise rate_limited("burst", BURST_RETRY_AFTER)


def daily_limit(call: Call) -> JsonObject:
    raise rate_limited("daily", seconds_until_utc_midnight(call.clock.now()))


def credits_exhausted(_call: Call) -> JsonObject:
    raise out_of_credits()


def plan_required(_call: Call) -> JsonObject:
    raise plain_error(403, PLAN_REQUIRED_MESSAGE)


def session_expired(_call: Call) -> JsonObject:
    raise plain_error(401, SESSION_EXPIRED_MESSAGE)


def session_required(_call: Call) -> JsonObject:
    # Reached only with a live session of the lab's login: the route answers 400 or 401 otherwise.
    return {"ok": True}


def proxy_error(call: Call) -> RawReply:
    code = call.params.integer("code", PROXY_CODE_MESSAGE)
    if code is None or not 500 <= code <= 599:
        raise input_format_invalid(PROXY_CODE_MESSAGE)
    body = f"<html><body><h1>{code} {status_phrase(code)}</h1></body></html>"
    return RawReply(code, body, "text/html", with_account_headers=False)


def malformed_success(_call: Call) -> RawReply:
    return RawReply(200, "OK", "text/plain")


def off_the_reference(call: Call) -> JsonObject:
    """TEST-ONLY: an answer the references do not document, chosen by `answer`."""
    answer = call.params.required_text("answer")
    if answer not in OFF_REFERENCE_ANSWERS:
        raise input_format_invalid(ANSWER_MESSAGE)
    raise _off_reference_error(answer, call.params.text("retry_after"))


def _off_reference_error(answer: str, retry_after: str | None) -> EnvelopeError:
    if answer == "fastapi_422":
        return validation_error(
            ["body", "count"], "Input should be a valid integer, unable to parse string as an integer", "int_parsing"
        )
    if answer == "unwrapped_422":
        return unwrapped_stale_input(COUNT_MESSAGE)
    if answer == "unlisted_kind":
        return blocked_unlisted_kind()
    if answer == "unlisted_limit":
        return rate_limited_unlisted()
    if retry_after is None or not _HEADER_VALUE.fullmatch(retry_after):
        return input_format_invalid(HEADER_WAIT_MESSAGE)
    return blocked_with_header_wait(retry_after)
