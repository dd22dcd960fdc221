"""What a revision does: it fixes the endpoints its description names, as a new release of the API.

An endpoint is named when its `endpoint_name` appears in the description as a word of its own (any case).
A named endpoint with a `revised` scraper gets that scraper; the others stay as they are, though the API
still gets a new release. A description naming no endpoint, or a revision of the Failure Lab, fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parse_mcp.sandbox.parsebot.apis import ScraperApi
from parse_mcp.sandbox.scenarios.lab.api import FAILURE_LAB_ID

FAILURE_LAB_ERROR = (
    "The Failure Lab (sandbox) cannot be revised: its failures are deliberate, so there is nothing to fix."
)
NO_ENDPOINT_ERROR = (
    "The description names no endpoint of {api}: name the endpoint(s) to fix, one of {names} "
    "(e.g. 'the {example} endpoint fails on valid input')."
)


@dataclass(frozen=True)
class RevisionPlan:
    """The endpoints a revision will fix, or why it will fail."""

    endpoint_names: tuple[str, ...] = ()
    error: str | None = None


def plan_revision(api: ScraperApi, description: str) -> RevisionPlan:
    if api.id == FAILURE_LAB_ID:
        return RevisionPlan(error=FAILURE_LAB_ERROR)
    named = tuple(endpoint.name for endpoint in api.endpoints if _names(description, endpoint.name))
    if not named:
        names = ", ".join(endpoint.name for endpoint in api.endpoints)
        return RevisionPlan(error=NO_ENDPOINT_ERROR.format(api=api.name, names=names, example=api.endpoints[0].name))
    return RevisionPlan(endpoint_names=named)


def apply_revision(api: ScraperApi, endpoint_names: tuple[str, ...]) -> ScraperApi:
    fixed = tuple(
        endpoint.revised if endpoint.name in endpoint_names and endpoint.revised is not None else endpoint
        for endpoint in api.endpoints
    )
    return api.next_release(fixed)


def _names(description: str, endpoint_name: str) -> bool:
    # Word characters on either side would make it part of another name (list_books_v2, get_author_id).
    pattern = rf"(?<![A-Za-z0-9_]){re.escape(endpoint_name)}(?![A-Za-z0-9_])"
    return re.search(pattern, description, re.IGNORECASE) is not None
