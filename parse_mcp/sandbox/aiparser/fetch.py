"""How the emulator reads a URL: only pages of its own site, through a bot wall never, JavaScript on request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from parse_mcp.sandbox.aiparser.extract import PageData, read_page
from parse_mcp.sandbox.aiparser.pages import APP_ID, BOT_WALL_ID, render_page, run_javascript
from parse_mcp.sandbox.site.dom import Element, parse_html
from parse_mcp.sandbox.site.router import render as render_site

Cause = Literal["inaccessible", "blocked", "needs_render"]
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Origin:
    """The address a request reached the emulator on: the only host whose pages it can fetch."""

    scheme: str
    hostname: str
    port: int

    @property
    def base_url(self) -> str:
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return f"{self.scheme}://{host}:{self.port}"

    def serves(self, url: SplitResult) -> bool:
        if url.scheme not in DEFAULT_PORTS or not url.hostname:
            return False
        try:
            port = url.port or DEFAULT_PORTS[url.scheme]
        except ValueError:  # a port that is not a number
            return False
        # localhost and 127.0.0.1 are the same machine, so either spelling of the address reaches the site.
        same_host = url.hostname == self.hostname or {url.hostname, self.hostname} <= _LOOPBACK
        return same_host and port == self.port


class FetchFailure(Exception):
    """A page the parser could not read, with the documented cause and a reason a person understands."""

    def __init__(self, cause: Cause, url: str, reason: str) -> None:
        super().__init__(reason)
        self.cause = cause
        self.url = url
        self.reason = reason


def fetch_page(url: str, origin: Origin, render: bool) -> PageData:
    """The page at `url` as the parser sees it, or FetchFailure saying why it cannot be read."""
    parts = urlsplit(url)
    if not origin.serves(parts):
        reason = f"it is not on this server, which can only fetch its own site under {origin.base_url}/site/"
        raise FetchFailure("inaccessible", url, reason)
    path = unquote(parts.path) or "/"
    query = dict(parse_qsl(parts.query))
    page = render_page(path, query) or render_site(path, query)
    document = parse_html(page.html)
    if page.status == 403 or document.find(id_=BOT_WALL_ID) is not None:
        raise FetchFailure("blocked", url, f"the site answered HTTP {page.status} with a bot-protection challenge")
    if not 200 <= page.status < 300:
        raise FetchFailure("inaccessible", url, f"the site answered HTTP {page.status}")
    if render:
        document = parse_html(run_javascript(page.html))
    if _is_empty_shell(document):
        raise FetchFailure("needs_render", url, "it is an empty page until its JavaScript runs")
    return read_page(document, url)


def _is_empty_shell(document: Element) -> bool:
    app = document.find(id_=APP_ID)
    return app is not None and not app.elements()
