"""The Failure Lab API: one endpoint per failure the real service can give, each reachable on purpose."""

from __future__ import annotations

from dataclasses import replace

from parse_mcp.sandbox.parsebot.apis import ScraperApi, ScraperEndpoint, ScraperParam
from parse_mcp.sandbox.parsebot.json_schema import INTEGER, NUMBER, STRING, never, obj
from parse_mcp.sandbox.parsebot.sdk_model import SdkModel, error
from parse_mcp.sandbox.scenarios.lab import scrapers as faults
from parse_mcp.sandbox.scenarios.members.api import LOGIN

FAILURE_LAB_ID = "7f3c2a91-4b8e-4d2a-9c61-fa11ab000002"
FAILURE_LAB_TASK_ID = "task-7f3c2a91-faillab"

_FLIGHT = obj(flight_number=STRING, departs=STRING, arrives=STRING, price=NUMBER)
_ITEM = obj(id=INTEGER, title=STRING, price=NUMBER, url=STRING)

# One declared error per documented kind, so the SDK's typed client raises a class of its own for each; the
# failures without a kind (402, 403, 429, 401, 400, 502) raise the SDK's status classes.
FAILURE_LAB_MODEL = SdkModel(
    errors={
        "InvalidInput": error("input_format_invalid", "The site refused the input's format; fix the input."),
        "GoneUpstream": error("input_not_found", "The site removed the resource; retrying never helps.", ["job_id"]),
        "BlockedForNow": error("antibot_solvable", "Anti-bot protection stopped every proxy; retry after retry_after."),
        "Blocked": error("antibot_unsolvable", "Anti-bot protection stopped every proxy; retrying soon will not help."),
        "ScraperBroken": error("scraper_bug", "The scraper crashed on a changed page; the API needs a revision."),
    },
    example_call="endpoints.get_job(job_id='job-42')",
)

FAILURE_LAB = ScraperApi(
    id=FAILURE_LAB_ID,
    slug="failure-lab-sandbox",
    name="Failure Lab (sandbox)",
    description=(
        "Deterministic ways to reach every failure Parse.bot documents, to rehearse how an agent handles them. "
        "Each endpoint's description says exactly which status and body it returns and how to trigger it. "
        "These calls go through the real rate limiter and credit accounting (1 credit, charged only on "
        "success). The real mechanisms also work on every endpoint: spend the burst bucket (429), send "
        "API-Snapshot-Version: 0 (400) or 99 (404), or X-Session-ID without X-Encryption-Key (400). Builds "
        "rehearse too: POST /dispatch with a page of this sandbox whose path contains 'needs-input' ends "
        "needs_input (with a question), one containing 'login', 'account' or 'members' ends failed "
        "(may_require_auth: authenticated APIs are built in the dashboard), a missing page or another host "
        "ends failed, and /site/weather/ matches a marketplace listing. Revising this API always fails: its "
        "failures are deliberate. TEST-ONLY, beyond the references: off_the_reference gives answers neither "
        "reference documents, a build of a page whose path contains 'test-only-unlisted-status' ends in the "
        "status on_hold, which no reference lists, and an AI parser whose name starts with "
        "'test-only-unlisted-state' shows the status SUSPENDED once generated."
    ),
    site_path="/site/lab/",
    task_id=FAILURE_LAB_TASK_ID,
    task="an endpoint for every documented failure, to rehearse error handling",
    sdk=FAILURE_LAB_MODEL,
    endpoints=(
        ScraperEndpoint(
            name="search_flights",
            method="POST",
            description=(
                "Search flights on the lab's flight site; 200 with three flights when the input is valid. "
                "Any trip_type other than 'one_way' or 'round_trip' is refused by the site: 422 stale_input, "
                "kind input_format_invalid, message \"trip_type must be 'one_way' or 'round_trip'\", "
                "upstream_status_code 400 and url. A date not in YYYY-MM-DD form is refused before any request: "
                "422 stale_input without a kind, message 'date must be in YYYY-MM-DD format'."
            ),
            handler=faults.search_flights,
            params={
                "origin": ScraperParam("string", "Departure airport code, e.g. LHR.", required=True),
                "destination": ScraperParam("string", "Arrival airport code, e.g. JFK.", required=True),
                "trip_type": ScraperParam("string", "one_way or round_trip.", required=True),
                "date": ScraperParam("string", "Departure date, YYYY-MM-DD."),
            },
            return_schema=obj(
                origin=STRING,
                destination=STRING,
                trip_type=STRING,
                date={"type": ["string", "null"]},
                flights={"type": "array", "items": _FLIGHT},
            ),
        ),
        ScraperEndpoint(
            name="list_items",
            method="GET",
            description=(
                "List the lab catalogue's first `count` items (1 to 30000, 5000 unless given), each with id, "
                "title, price and url, in id order: an answer far bigger than one result holds (5000 items are "
                "about 400 KB, 25000 about 2 MB), to rehearse reading it by pages. A count that is not a whole "
                "number from 1 to 30000 fails with 422 stale_input, kind input_format_invalid. Unlike the other "
                "lab endpoints, each successful call costs 3 credits (a typical listing price)."
            ),
            handler=faults.list_items,
            price=3,
            params={"count": ScraperParam("integer", "How many items, from 1 to 30000.", default=5000)},
            return_schema=obj(count=INTEGER, items={"type": "array", "items": _ITEM}),
        ),
        ScraperEndpoint(
            name="get_job",
            method="POST",
            description=(
                "Get a job posting; 200 for any job_id except those starting with 'gone-' (e.g. 'gone-123'), "
                "which the site removed: 422 stale_input, kind input_not_found, upstream_status_code 410, with "
                "the url. Retrying the same id never helps."
            ),
            handler=faults.get_job,
            params={"job_id": ScraperParam("string", "The posting's id, e.g. 'job-42' or 'gone-123'.", required=True)},
            return_schema=obj(job_id=STRING, title=STRING, company=STRING, location=STRING),
        ),
        ScraperEndpoint(
            name="fetch_status",
            method="POST",
            description=(
                "Read a lab page that answers with the HTTP status you choose. code 400-599: 502 upstream_error "
                "with upstream_status_code = code, the start of the page in snippet, and its url (try 404 or 410 "
                "for a missing resource, 401 or 403 for credentials the API needs revised, 429 or 503 for a "
                "transient failure). code 200-299: 200 with the page title."
            ),
            handler=faults.fetch_status,
            params={
                "code": ScraperParam(
                    "integer", "HTTP status the target site answers with: 2xx, 4xx or 5xx.", required=True
                )
            },
            return_schema=obj(code=INTEGER, title=STRING),
        ),
        ScraperEndpoint(
            name="blocked",
            method="POST",
            description=(
                "Every proxy is stopped by DataDome: 503 blocked, block_type and vendor 'datadome', attempts 3. "
                "With retry_after: kind antibot_solvable, retry_after in the body and a Retry-After header (retry "
                "after that many seconds). Without it: kind antibot_unsolvable, retry_after null, no Retry-After "
                "header (retrying soon will not help)."
            ),
            handler=faults.blocked_by_antibot,
            params={"retry_after": ScraperParam("integer", "Seconds until the block lifts; omit for a lasting block.")},
            return_schema=never("this endpoint always answers 503 blocked."),
        ),
        ScraperEndpoint(
            name="scraper_bug",
            method="POST",
            description=(
                "The scraper reads a page whose layout changed and crashes: always 500 error, kind scraper_bug. "
                "The fix is a revision of the API, not a retry."
            ),
            handler=faults.scraper_bug,
            return_schema=obj(rows=INTEGER),
        ),
        ScraperEndpoint(
            name="burst_limit",
            method="POST",
            description=(
                "Answers like a spent burst bucket: 429 with limit_type 'burst', retry_after 5 and Retry-After: 5. "
                "Only the one token this call used is spent; the X-RateLimit-* headers keep describing your "
                "real bucket."
            ),
            handler=faults.burst_limit,
            return_schema=never("this endpoint always answers 429 (burst)."),
        ),
        ScraperEndpoint(
            name="daily_limit",
            method="POST",
            description=(
                "Answers like an exhausted daily cap: 429 with limit_type 'daily', retry_after and Retry-After "
                "equal to the seconds until 00:00 UTC on the sandbox clock."
            ),
            handler=faults.daily_limit,
            return_schema=never("this endpoint always answers 429 (daily)."),
        ),
        ScraperEndpoint(
            name="credits_exhausted",
            method="POST",
            description=(
                "Answers like an empty credit balance: 402, error.message 'You have run out of credits.' and "
                "error.next_tier {display_name 'Hobby', credits 1000, price 30}. Nothing is charged."
            ),
            handler=faults.credits_exhausted,
            return_schema=never("this endpoint always answers 402."),
        ),
        ScraperEndpoint(
            name="plan_required",
            method="POST",
            description=(
                '403 {"error": "Your plan does not allow this API. Upgrade to use it."}: the account\'s plan '
                "does not include this API; only the account owner can change that."
            ),
            handler=faults.plan_required,
            return_schema=never("this endpoint always answers 403."),
        ),
        ScraperEndpoint(
            name="session_expired",
            method="POST",
            description=(
                '401 {"error": "Session expired: log in again to get a new session"}: the login session of an '
                "authenticated API has expired, so the login endpoint must be called again."
            ),
            handler=faults.session_expired,
            return_schema=never("this endpoint always answers 401."),
        ),
        ScraperEndpoint(
            name="session_required",
            method="POST",
            description=(
                "A protected endpoint of an authenticated API (depends_on_session: login). Called without a "
                'session it answers 400 {"error": "This endpoint needs a login session: send session_id and '
                "encryption_key (log in first)\"}. With a pair this API's login endpoint did not issue, a wrong "
                'encryption key, or a session past its lifetime: 401 {"error": "Session expired: log in again to '
                'get a new session"}. With a live session from this API\'s login: {"ok": true}.'
            ),
            handler=faults.session_required,
            return_schema=obj(ok={"type": "boolean"}),
            depends_on_session="login",
        ),
        replace(
            LOGIN,
            description=(
                "The Failure Lab's login (initiates_session), so session_required can be reached with a real "
                "session. It checks credentials against the members area of the sandbox site, exactly like "
                "Members Area (sandbox): " + LOGIN.description
            ),
        ),
        ScraperEndpoint(
            name="proxy_error",
            method="GET",
            description=(
                "A proxy in front of the service fails: HTTP code (default 502, any 500-599) with an HTML page "
                "such as <html><body><h1>502 Bad Gateway</h1></body></html>, content type text/html, no JSON "
                "envelope and no rate-limit or credit headers. A transient service failure: retry later."
            ),
            handler=faults.proxy_error,
            params={"code": ScraperParam("integer", "Status the proxy answers with, 500-599.", default=502)},
            return_schema=never("this endpoint always answers with a proxy's HTML error page."),
        ),
        ScraperEndpoint(
            name="off_the_reference",
            method="POST",
            description=(
                "TEST-ONLY: answers that neither Parse.bot reference documents, to rehearse how a client reads what "
                "it was never told about; the real service may never send them. answer 'fastapi_422': 422 "
                'FastAPI-style {"detail": [{"loc": ["body", "count"], "msg", "type": "int_parsing"}]}. '
                "'unwrapped_422': 422 stale_input, kind input_format_invalid, message 'count must be a whole number', "
                "with the envelope's fields at the top level (no error wrapper). 'unlisted_kind': 503 blocked with "
                "kind 'antibot_pending', retry_after null, no Retry-After. 'unlisted_limit': 429 with limit_type "
                "'concurrency', retry_after 20 and Retry-After: 20. 'header_wait': 503 blocked, kind "
                "antibot_solvable, no retry_after field, and retry_after (text) sent as given as the Retry-After "
                "header: an HTTP date, a negative, zero or absurd number, a word."
            ),
            handler=faults.off_the_reference,
            params={
                "answer": ScraperParam(
                    "string",
                    "Which answer: fastapi_422, unwrapped_422, unlisted_kind, unlisted_limit or header_wait.",
                    required=True,
                ),
                "count": ScraperParam("integer", "The parameter the two 422 answers find fault with."),
                "retry_after": ScraperParam("string", "For header_wait: the Retry-After header's value, as sent."),
            },
            return_schema=never("this endpoint always answers with an error the references do not document."),
        ),
        ScraperEndpoint(
            name="malformed_success",
            method="POST",
            description=(
                "200 whose body is the plain text 'OK' (text/plain) instead of the documented JSON: a success the "
                "client cannot read. Charged like any success."
            ),
            handler=faults.malformed_success,
            return_schema=obj(ok={"type": "boolean"}),
        ),
    ),
)
