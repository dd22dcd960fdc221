"""The public marketplace routes: search, listing detail and slug lookup, with no API key.

The marketplace needs no key; a key that is sent, even a wrong one, is ignored rather than refused.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from parse_mcp.sandbox.parsebot import listings
from parse_mcp.sandbox.parsebot.apis import ScraperApi
from parse_mcp.sandbox.parsebot.envelopes import EnvelopeError, listing_not_found
from parse_mcp.sandbox.parsebot.state import SandboxState
from parse_mcp.sandbox.parsebot.web import base_url, error_response, query_int

DEFAULT_LIMIT = 25  # the SDK's own page size
MAX_LIMIT = 50


class MarketplaceRoutes:
    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/marketplace/apis", self.search, methods=["GET"]),
            Route("/marketplace/apis/{listing_id}", self.detail, methods=["GET"]),
            Route("/marketplace/by-slug/{slug}", self.by_slug, methods=["GET"]),
        ]

    async def search(self, request: Request) -> Response:
        try:
            limit = query_int(request, "limit", minimum=1, maximum=MAX_LIMIT) or DEFAULT_LIMIT
        except EnvelopeError as error:
            return error_response(error)
        self._state.settle()
        query = request.query_params.get("q", "")
        found = [(listing, api) for listing, api in self._listed() if listings.matches(api, query)]
        items = [listings.item(listing, api, base_url(request)) for listing, api in found[:limit]]
        return JSONResponse({"items": items})

    async def detail(self, request: Request) -> Response:
        listing_id = request.path_params["listing_id"]
        self._state.settle()
        found = next(((listing, api) for listing, api in self._listed() if listing.id == listing_id), None)
        if found is None:
            return error_response(listing_not_found(listing_id))
        listing, api = found
        return JSONResponse(listings.detail(listing, api, base_url(request), self._state.started_at))

    async def by_slug(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        self._state.settle()
        found = next(((listing, api) for listing, api in self._listed() if api.slug == slug), None)
        if found is None:
            return error_response(listing_not_found(slug))
        listing, api = found
        return JSONResponse(listings.item(listing, api, base_url(request)))

    def _listed(self) -> list[tuple[listings.Listing, ScraperApi]]:
        """Each listing with its canonical as it is now (a revision of the canonical shows at once)."""
        registry = self._state.registry
        return [(listing, registry.get(listing.canonical_scraper_id)) for listing in listings.LISTINGS]
