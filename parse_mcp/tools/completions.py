"""Completions for the arguments a client can fill in by name: a prompt's `scraper_id` and `endpoint`, and the
`scraper_id` of the API-schema resource template.

Only from what the server has already read (the schemas `list_apis` and `describe_api` cached): a completion is
asked for on every keystroke, so it never sends a request, and an id offered is one the service gave.
"""

from __future__ import annotations

from collections.abc import Mapping

from parse_mcp.services.parsebot import ParseBotClient
from parse_mcp.voice import speakable

MAX_VALUES = 100  # the protocol's limit on values in one completion


def complete(client: ParseBotClient | None, argument: str, typed: str, known: Mapping[str, str]) -> list[str]:
    """Values for `argument` that start with what was typed, given the arguments already resolved (`known`)."""
    if client is None:
        return []
    if argument == "scraper_id":
        candidates = [api.scraper_id for api in client.known_apis()]
    elif argument == "endpoint" and known.get("scraper_id"):
        spec = client.cached_spec(known["scraper_id"])
        candidates = [endpoint.name for endpoint in spec.endpoints] if spec is not None else []
    else:
        return []
    # Ids come from the service: only plain identifiers are offered as something to type.
    offered = (value for value in candidates if speakable(value) == value and value.startswith(typed))
    return sorted(set(offered))
