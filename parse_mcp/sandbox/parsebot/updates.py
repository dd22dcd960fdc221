"""The updates system: how a personal copy differs from its marketplace canonical, and merging the difference.

An endpoint of the canonical's latest release is `new` when the copy lacks it and `updated` when the copy's
differs from it; merging gives the copy the canonical's endpoints as a new release of the copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from parse_mcp.sandbox.parsebot.apis import ScraperApi, ScraperEndpoint
from parse_mcp.sandbox.parsebot.envelopes import JsonObject


@dataclass(frozen=True)
class Update:
    endpoint: ScraperEndpoint  # the canonical's version
    type: str  # "new" or "updated"

    def as_json(self, user_has_called: bool) -> JsonObject:
        return {
            "endpoint_name": self.endpoint.name,
            "type": self.type,
            "description": self.endpoint.release_note or self.endpoint.description,
            "method": self.endpoint.method,
            "user_has_called": user_has_called,
        }


def pending(copy: ScraperApi, canonical: ScraperApi) -> list[Update]:
    updates = []
    for endpoint in canonical.endpoints:
        mine = copy.endpoint(endpoint.name)
        if mine is None:
            updates.append(Update(endpoint, "new"))
        elif mine != endpoint:
            updates.append(Update(endpoint, "updated"))
    return updates


def merge(copy: ScraperApi, updates: Iterable[Update]) -> ScraperApi:
    """The copy with these updates in it: updated endpoints keep their place, new ones come last."""
    chosen = {update.endpoint.name: update.endpoint for update in updates}
    endpoints = [chosen.pop(endpoint.name, endpoint) for endpoint in copy.endpoints]
    endpoints.extend(chosen.values())
    return copy.next_release(tuple(endpoints))
