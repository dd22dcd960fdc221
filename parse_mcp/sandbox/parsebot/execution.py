"""What a sandbox scraper receives and may answer, and how it reads the target site."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from parse_mcp.sandbox.clock import Clock
from parse_mcp.sandbox.parsebot.envelopes import EnvelopeError, JsonObject, scraper_bug, upstream_error
from parse_mcp.sandbox.parsebot.params import Params
from parse_mcp.sandbox.site import router
from parse_mcp.sandbox.site.dom import Element, parse_html
from parse_mcp.sandbox.site.page import SitePage


@dataclass(frozen=True)
class Call:
    """One execution: validated parameters, the base URL the caller used, and the sandbox's clock."""

    params: Params
    base_url: str
    clock: Clock
    # The target site's own login token, carried by a live Parse session; only protected endpoints get one.
    site_token: str | None = None


@dataclass(frozen=True)
class RawReply:
    """A response that is not the JSON success envelope: a proxy's HTML page, a bare text body."""

    status_code: int
    body: str
    media_type: str
    # A proxy in front of the service answers without the service's rate-limit and credit headers.
    with_account_headers: bool = True


@dataclass(frozen=True)
class SessionStart:
    """A login endpoint's answer: the data to show and the site's token the new session will carry."""

    data: JsonObject
    site_token: str


Handler = Callable[[Call], JsonObject | RawReply | SessionStart]


@dataclass(frozen=True)
class Fetched:
    page: SitePage
    url: str

    @property
    def ok(self) -> bool:
        return 200 <= self.page.status < 300

    def document(self) -> Element:
        return parse_html(self.page.html)

    def as_upstream_error(self) -> EnvelopeError:
        return upstream_error(self.page.status, self.page.html, self.url)


def site_url(base_url: str, path: str, query: Mapping[str, str] | None = None) -> str:
    """The absolute address of a site page, as seen from the request that reached the sandbox."""
    url = base_url.rstrip("/") + quote(path)
    return f"{url}?{urlencode(query)}" if query else url


def fetch(call: Call, path: str, query: Mapping[str, str] | None = None) -> Fetched:
    """Read a site page the way a generated scraper fetches its target, whatever the status."""
    page = router.render(path, query or {})
    return Fetched(page, site_url(call.base_url, path, query))


def fetch_document(
    call: Call, path: str, query: Mapping[str, str] | None = None, *, query_is_secret: bool = False
) -> Element:
    """A 2xx page's element tree; any other status becomes the 502 upstream_error envelope.

    With `query_is_secret` (credentials or tokens in the query) the envelope's url leaves the query out."""
    fetched = fetch(call, path, query)
    if not fetched.ok:
        if query_is_secret:
            raise upstream_error(fetched.page.status, fetched.page.html, site_url(call.base_url, path))
        raise fetched.as_upstream_error()
    return fetched.document()


def require(element: Element | None) -> Element:
    """An element the scraper depends on; its absence means the site changed under the scraper."""
    if element is None:
        raise scraper_bug()
    return element
