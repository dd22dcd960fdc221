"""The APIs one sandbox instance knows: this account's (which builds, copies, revisions and merges change)
and the shared marketplace canonicals, plus which endpoints the account has called."""

from __future__ import annotations

from collections.abc import Iterable

from parse_mcp.sandbox.parsebot.apis import ScraperApi


class Registry:
    def __init__(self, account_apis: Iterable[ScraperApi], canonicals: Iterable[ScraperApi]) -> None:
        # A dict keeps insertion order, which is the order `/sdk/schemas` lists the account's APIs in.
        self._account: dict[str, ScraperApi] = {api.id: api for api in account_apis}
        self._canonicals: dict[str, ScraperApi] = {api.id: api for api in canonicals}
        self._called: set[tuple[str, str]] = set()

    def find(self, scraper_id: str) -> ScraperApi | None:
        """An API the key may call: one of the account's, or a marketplace canonical."""
        return self._account.get(scraper_id) or self._canonicals.get(scraper_id)

    def get(self, scraper_id: str) -> ScraperApi:
        """An API the sandbox itself names (a listing's canonical, a revised API); KeyError means a sandbox bug."""
        api = self.find(scraper_id)
        if api is None:
            raise KeyError(scraper_id)
        return api

    def account_apis(self) -> list[ScraperApi]:
        return list(self._account.values())

    def put(self, api: ScraperApi) -> None:
        """Add an API to the account, or replace it with a new release under the same id."""
        self._account[api.id] = api

    def note_call(self, scraper_id: str, endpoint_name: str) -> None:
        self._called.add((scraper_id, endpoint_name))

    def has_called(self, scraper_id: str, endpoint_name: str) -> bool:
        return (scraper_id, endpoint_name) in self._called
