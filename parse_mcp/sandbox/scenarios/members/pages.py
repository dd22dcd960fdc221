"""The members area of the target site, under /site/members/: a login, and pages only a member may read.

The site checks credentials itself and hands out its own member token; Parse's session wraps that token.
The password never appears in any page, so an error snippet can never echo it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from html import escape

from parse_mcp.sandbox.site.page import SitePage, html_page

DEMO_USERNAME = "demo@example.com"
# Public on purpose: the demo credentials are printed in the API descriptions for agents to use.
DEMO_PASSWORD = "sandbox-password"  # noqa: S105
DEMO_MEMBER_NAME = "Demo Member"
MEMBER_SINCE = "2024-03-01"
PLANS: tuple[tuple[str, int], ...] = (("Reader", 5), ("Collector", 12), ("Patron", 30))
ORDERS: tuple[tuple[str, str, float], ...] = (
    ("ord-1001", "A Light in the Attic", 51.77),
    ("ord-1002", "Sapiens: A Brief History of Humankind", 54.23),
    ("ord-1003", "Set Me Free", 17.46),
)


def member_token(username: str) -> str:
    """The site's token for a member; derived, so it is the same in every process."""
    return f"mbr-{zlib.crc32(username.encode()):08x}"


def render(path: str, query: Mapping[str, str]) -> SitePage:
    if path == "/site/members/":
        return _home()
    if path == "/site/members/login":
        return _login(query.get("username", ""), query.get("password", ""))
    if path == "/site/members/plans":
        return _plans()
    if path == "/site/members/profile":
        return _members_only(query, _profile)
    if path == "/site/members/orders":
        return _members_only(query, _orders)
    body = f"<h1>Page not found</h1><p>There is no page at {escape(path)}.</p>"
    return SitePage(404, html_page("404 Not Found", body))


def _home() -> SitePage:
    body = (
        "<h1>Members area (sandbox)</h1>"
        '<form class="login" action="login"><input name="username"><input name="password" type="password">'
        '<button>Log in</button></form><p><a href="plans">Membership plans</a></p>'
    )
    return SitePage(200, html_page("Members area", body))


def _login(username: str, password: str) -> SitePage:
    if username != DEMO_USERNAME or password != DEMO_PASSWORD:
        body = '<h1>401 Unauthorized</h1><p class="error">Invalid username or password.</p>'
        return SitePage(401, html_page("401 Unauthorized", body))
    body = (
        '<div class="welcome">'
        f'<p class="member-name">{DEMO_MEMBER_NAME}</p><p class="member-email">{escape(username)}</p>'
        f'<p class="member-token">{member_token(username)}</p></div>'
    )
    return SitePage(200, html_page("Welcome back", body))


def _plans() -> SitePage:
    rows = "".join(
        f'<tr class="plan"><td class="plan-name">{name}</td><td class="plan-price">{price}</td></tr>'
        for name, price in PLANS
    )
    return SitePage(200, html_page("Plans", f'<h1>Membership plans</h1><table class="plans">{rows}</table>'))


def _members_only(query: Mapping[str, str], page: Callable[[], SitePage]) -> SitePage:
    if query.get("token") != member_token(DEMO_USERNAME):
        body = "<h1>401 Unauthorized</h1><p>Please log in: this page is for members only.</p>"
        return SitePage(401, html_page("401 Unauthorized", body))
    return page()


def _profile() -> SitePage:
    body = (
        '<div class="profile">'
        f'<h1 class="member-name">{DEMO_MEMBER_NAME}</h1><p class="member-email">{DEMO_USERNAME}</p>'
        f'<p class="member-since">{MEMBER_SINCE}</p><p class="member-plan">Collector</p></div>'
    )
    return SitePage(200, html_page("Your profile", body))


def _orders() -> SitePage:
    rows = "".join(
        f'<tr class="order"><td class="order-id">{order_id}</td><td class="order-title">{escape(title)}</td>'
        f'<td class="order-total">{total:.2f}</td></tr>'
        for order_id, title, total in ORDERS
    )
    return SitePage(200, html_page("Your orders", f'<h1>Your orders</h1><table class="orders">{rows}</table>'))
