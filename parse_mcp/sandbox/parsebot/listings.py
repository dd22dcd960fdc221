"""The public marketplace: which listings exist, how they are searched and matched, and how they are shown.

A listing is a canonical API others can copy; its name, slug, source and endpoints are the canonical's own,
so a revision of the canonical shows in its listing at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from parse_mcp.sandbox.clock import iso_utc
from parse_mcp.sandbox.parsebot.apis import ScraperApi
from parse_mcp.sandbox.parsebot.envelopes import JsonObject
from parse_mcp.sandbox.parsebot.rows import absolute
from parse_mcp.sandbox.scenarios.members.api import MEMBERS_API_ID, MEMBERS_LISTING_ID
from parse_mcp.sandbox.scenarios.weather.api import WEATHER_CANONICAL_ID, WEATHER_LISTING_ID

# The marketplace's health checks last ran this long before the sandbox started.
VERIFIED_SECONDS_BEFORE_START = 6 * 3600


@dataclass(frozen=True)
class Listing:
    id: str
    canonical_scraper_id: str


LISTINGS: tuple[Listing, ...] = (
    Listing(WEATHER_LISTING_ID, WEATHER_CANONICAL_ID),
    Listing(MEMBERS_LISTING_ID, MEMBERS_API_ID),
)


def find(listing_id: str) -> Listing | None:
    return next((listing for listing in LISTINGS if listing.id == listing_id), None)


def matches(api: ScraperApi, query: str) -> bool:
    """Every word of the query appears in the API's name, slug, description or endpoint names."""
    text = " ".join([api.name, api.slug, api.description, *(e.name for e in api.endpoints)]).casefold()
    return all(word in text for word in query.casefold().split())


def same_source(site_path: str, path: str) -> bool:
    """Whether a dispatched URL's path is the listing's source, give or take a trailing slash."""
    return site_path.rstrip("/") == path.rstrip("/")


def item(listing: Listing, api: ScraperApi, base_url: str) -> JsonObject:
    """One search result, and the answer of `GET /marketplace/by-slug/{slug}`."""
    return {
        "id": listing.id,
        "slug": api.slug,
        "name": api.name,
        "source_url": absolute(base_url, api.site_path),
        "endpoint_count": len(api.endpoints),
        "is_authenticated": api.is_authenticated,
    }


def detail(listing: Listing, api: ScraperApi, base_url: str, started_at: float) -> JsonObject:
    """`GET /marketplace/apis/{id}`: the canonical to call, its latest release, and each endpoint's price."""
    verified = iso_utc(started_at - VERIFIED_SECONDS_BEFORE_START)
    return {
        "id": listing.id,
        "slug": api.slug,
        "name": api.name,
        "description": api.description,
        "canonical_scraper_id": api.id,
        "latest_version": api.latest_version,
        "source_url": absolute(base_url, api.site_path),
        "is_authenticated": api.is_authenticated,
        "endpoints": [
            {
                "name": endpoint.name,
                "method": endpoint.method,
                "description": endpoint.description,
                "price": endpoint.price,
                "health": "healthy",
                "last_verified": verified,
            }
            for endpoint in api.endpoints
        ],
    }
