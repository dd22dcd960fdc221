"""Tables that grow with what clients do, bounded so that no client can exhaust the server or crowd out another.

Each client's entries keep their own least-recently-used order, up to a cap per client: a client that adds
more loses its own oldest entry, never another client's. A total cap is the backstop against many clients at
once (one agent opening many MCP sessions, each a client of its own): past it, the oldest entry of the client
holding the most goes, so a client holding fewer entries than the largest never loses one to it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ClientTables(Generic[K, V]):
    def __init__(self, per_client: int, total: int) -> None:
        if not 0 < per_client <= total:
            raise ValueError("the caps must be positive, and a client's no larger than the total")
        self.per_client = per_client
        self.total = total
        # Each client's entries, least recent first; clients themselves least recently active first.
        self._tables: dict[str, dict[K, V]] = {}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def count(self, client: str) -> int:
        return len(self._tables.get(client, {}))

    def get(self, client: str, key: K) -> V | None:
        """This client's entry, now its most recent; another client's entry under the same key is not found."""
        table = self._tables.get(client)
        if table is None or key not in table:
            return None
        table[key] = value = table.pop(key)
        return value

    def pop(self, client: str, key: K) -> V | None:
        table = self._tables.get(client)
        if table is None or key not in table:
            return None
        value = table.pop(key)
        self._size -= 1
        if not table:
            del self._tables[client]
        return value

    def put(self, client: str, key: K, value: V) -> None:
        """Keep `value` as this client's most recent entry, evicting as the caps require."""
        self.pop(client, key)
        table = self._tables.pop(client, None) or {}
        self._tables[client] = table  # re-inserted last: this client is now the most recently active
        table[key] = value
        self._size += 1
        if len(table) > self.per_client:
            self._evict_oldest(client)
        while self._size > self.total:
            self._evict_oldest(self._largest())

    def _largest(self) -> str:
        # Only on the backstop's path; among equals, max() picks the least recently active client.
        return max(self._tables, key=lambda client: len(self._tables[client]))

    def _evict_oldest(self, client: str) -> None:
        self.pop(client, next(iter(self._tables[client])))
