"""Members Area (sandbox): an authenticated API with a login endpoint and endpoints that need its session.

Authenticated APIs are built in the dashboard, never through `POST /dispatch`; this one was, and this
account published it to the marketplace (`is_authenticated: true`).
"""

from __future__ import annotations

from parse_mcp.sandbox.parsebot.apis import ScraperApi, ScraperEndpoint, ScraperParam
from parse_mcp.sandbox.parsebot.envelopes import JsonObject, scraper_bug
from parse_mcp.sandbox.parsebot.execution import Call, SessionStart, fetch_document, require
from parse_mcp.sandbox.parsebot.json_schema import INTEGER, NUMBER, STRING, array_of, obj
from parse_mcp.sandbox.scenarios.members.pages import DEMO_PASSWORD, DEMO_USERNAME
from parse_mcp.sandbox.site.dom import Element

MEMBERS_API_ID = "7f3c2a91-4b8e-4d2a-9c61-3e3be5000004"
MEMBERS_TASK_ID = "task-7f3c2a91-members"
MEMBERS_LISTING_ID = "57b88850-1c2d-4e3f-9a0b-3e3be5900002"


def login(call: Call) -> SessionStart:
    username = call.params.required_text("username")
    password = call.params.required_text("password")
    # The query holds the password the caller sent, so an error's url must leave it out.
    document = fetch_document(
        call, "/site/members/login", {"username": username, "password": password}, query_is_secret=True
    )
    welcome = require(document.find("div", cls="welcome"))
    data: JsonObject = {
        "member": require(welcome.find("p", cls="member-name")).text(),
        "email": require(welcome.find("p", cls="member-email")).text(),
    }
    return SessionStart(data, require(welcome.find("p", cls="member-token")).text())


def get_profile(call: Call) -> JsonObject:
    profile = require(_members_page(call, "/site/members/profile").find("div", cls="profile"))
    return {
        "name": require(profile.find("h1", cls="member-name")).text(),
        "email": require(profile.find("p", cls="member-email")).text(),
        "member_since": require(profile.find("p", cls="member-since")).text(),
        "plan": require(profile.find("p", cls="member-plan")).text(),
    }


def list_orders(call: Call) -> JsonObject:
    rows = _members_page(call, "/site/members/orders").find_all("tr", cls="order")
    orders = [
        {
            "order_id": require(row.find("td", cls="order-id")).text(),
            "title": require(row.find("td", cls="order-title")).text(),
            "total": float(require(row.find("td", cls="order-total")).text()),
        }
        for row in rows
    ]
    return {"count": len(orders), "orders": orders}


def list_plans(call: Call) -> JsonObject:
    rows = fetch_document(call, "/site/members/plans").find_all("tr", cls="plan")
    plans = [
        {
            "name": require(row.find("td", cls="plan-name")).text(),
            "monthly_price": int(require(row.find("td", cls="plan-price")).text()),
        }
        for row in rows
    ]
    return {"plans": plans}


def _members_page(call: Call, path: str) -> Element:
    if call.site_token is None:
        # The route only runs a protected endpoint with a live session; reaching here is a sandbox bug.
        raise scraper_bug()
    return fetch_document(call, path, {"token": call.site_token}, query_is_secret=True)


LOGIN = ScraperEndpoint(
    name="login",
    method="POST",
    description=(
        'Log in (initiates_session): POST {"username", "password"}; the sandbox\'s demo member is '
        f"username '{DEMO_USERNAME}', password '{DEMO_PASSWORD}'. Answers {{\"data\": {{member, email}}, "
        '"session_id", "encryption_key"}: send them as X-Session-ID and X-Encryption-Key to the endpoints '
        "tagged depends_on_session. Sessions last 30 minutes (sandbox default), and a new login ends this API's "
        "previous session. Wrong credentials fail with 502 "
        "upstream_error, upstream_status_code 401 (the site's page in snippet). At most 3 login attempts an "
        "hour for this API: the next one answers 429 with limit_type 'login', retry_after and Retry-After."
    ),
    handler=login,
    params={
        "username": ScraperParam("string", f"The member's email; the demo member is '{DEMO_USERNAME}'.", True),
        "password": ScraperParam("string", f"The member's password; the demo member's is '{DEMO_PASSWORD}'.", True),
    },
    return_schema=obj(member=STRING, email=STRING),
    initiates_session=True,
    sample_params={"username": DEMO_USERNAME, "password": DEMO_PASSWORD},
)

_SESSION_RULES = (
    "Needs a login session (depends_on_session: login): without X-Session-ID and X-Encryption-Key it "
    'answers 400 {"error": "This endpoint needs a login session: ..."}; with a pair this API\'s login did not '
    "issue, a wrong key, or a session older than its lifetime, 401 "
    '{"error": "Session expired: log in again to get a new session"}.'
)

MEMBERS_API = ScraperApi(
    id=MEMBERS_API_ID,
    slug="members-area-sandbox",
    name="Members Area (sandbox)",
    description=(
        "An authenticated API over the sandbox's members area (/site/members/): call login first, then the "
        f"protected endpoints with its session. Demo credentials: username '{DEMO_USERNAME}', password "
        f"'{DEMO_PASSWORD}'. list_plans is public and needs no session."
    ),
    site_path="/site/members/",
    task_id=MEMBERS_TASK_ID,
    task="log in as a member and read the member's profile and orders",
    versions=(1,),
    marketplace_id=MEMBERS_LISTING_ID,
    endpoints=(
        LOGIN,
        ScraperEndpoint(
            name="get_profile",
            method="POST",
            description=f"The logged-in member's name, email, member_since date and plan. {_SESSION_RULES}",
            handler=get_profile,
            return_schema=obj(name=STRING, email=STRING, member_since=STRING, plan=STRING),
            depends_on_session="login",
        ),
        ScraperEndpoint(
            name="list_orders",
            method="POST",
            description=f"The logged-in member's orders: order_id, title and total in pounds. {_SESSION_RULES}",
            handler=list_orders,
            return_schema=obj(count=INTEGER, orders=array_of(obj(order_id=STRING, title=STRING, total=NUMBER))),
            depends_on_session="login",
        ),
        ScraperEndpoint(
            name="list_plans",
            method="GET",
            description="The membership plans and their monthly prices in pounds. Public: no session needed.",
            handler=list_plans,
            return_schema=obj(plans=array_of(obj(name=STRING, monthly_price=INTEGER))),
        ),
    ),
)
