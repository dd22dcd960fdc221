"""The target web site as one address space: each /site/ path goes to the scenario whose pages it names.

The sandbox's scrapers read the site by calling `render` directly; the app also serves it under /site/ so a
person can open the same pages in a browser. The Books Catalogue is the site's root and answers every path
no other family claims, its 404 page included.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from parse_mcp.sandbox.scenarios.books import pages as books
from parse_mcp.sandbox.scenarios.lab import pages as lab
from parse_mcp.sandbox.scenarios.members import pages as members
from parse_mcp.sandbox.scenarios.quotes import pages as quotes
from parse_mcp.sandbox.scenarios.weather import pages as weather
from parse_mcp.sandbox.site.page import SitePage

_FAMILIES: tuple[tuple[str, Callable[[str, Mapping[str, str]], SitePage]], ...] = (
    ("/site/lab/", lab.render),
    ("/site/quotes/", quotes.render),
    ("/site/weather/", weather.render),
    ("/site/members/", members.render),
)


def render(path: str, query: Mapping[str, str]) -> SitePage:
    """The page at `path` (already URL-decoded, starting with /site/), exactly as the site would serve it."""
    for prefix, family in _FAMILIES:
        if path.startswith(prefix):
            return family(path, query)
    return books.render(path, query)
