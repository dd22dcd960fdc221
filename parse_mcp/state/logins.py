"""The login cap: Parse.bot allows 3 login attempts an hour per API, whoever makes them.

The count belongs to the account, not to a client, so it is shared by every client of this server (and,
with Redis, by every process on the same key). The 4th is refused here, unsent.
"""

from __future__ import annotations

from typing import Protocol

LOGIN_ATTEMPTS = 3
LOGIN_WINDOW_SECONDS = 3600.0
# The cap belongs to the account, not to a client, so this table is one for all and is bounded in total: the
# APIs with logins in the last hour, each holding at most `LOGIN_ATTEMPTS` times (about 200 bytes), so about
# 2 MB. Each attempt is a request to the service, paced by its rate limit, so 10,000 APIs in an hour is past
# any real use. Past it, the API whose last attempt is oldest is forgotten: forgetting a count can only let
# a login through that the service itself then refuses, never refuse anyone here.
MAX_APIS_TRACKED = 10_000


class LoginAttempts(Protocol):
    async def wait_before_next(self, scraper_id: str, now: float) -> float | None:
        """Seconds until another attempt is allowed for this API, or None when one is allowed now."""
        ...

    async def claim(self, scraper_id: str, now: float) -> float | None:
        """Count one attempt if one is allowed now (None), else leave the count alone and say how long to
        wait. Check and count are one step, so two processes can never both take the last attempt."""
        ...


def wait_for(recent: list[float], now: float, limit: int, window: float) -> float | None:
    """With these attempts inside the window (oldest first), the wait before the next one, or None."""
    if len(recent) < limit:
        return None
    return recent[-limit] + window - now


class MemoryLoginAttempts:
    def __init__(
        self, limit: int = LOGIN_ATTEMPTS, window: float = LOGIN_WINDOW_SECONDS, max_apis: int = MAX_APIS_TRACKED
    ) -> None:
        self._limit = limit
        self._window = window
        self._max_apis = max_apis
        # Least recently attempted first, so the first to forget is also the first whose count runs out.
        self._attempts: dict[str, list[float]] = {}

    async def wait_before_next(self, scraper_id: str, now: float) -> float | None:
        return wait_for(self._recent(scraper_id, now), now, self._limit, self._window)

    async def claim(self, scraper_id: str, now: float) -> float | None:
        wait = await self.wait_before_next(scraper_id, now)
        if wait is None:
            # Moved last; never more than `limit` times, as `wait_before_next` let it through.
            self._attempts[scraper_id] = [*self._attempts.pop(scraper_id, []), now]
            while len(self._attempts) > self._max_apis:
                del self._attempts[next(iter(self._attempts))]
        return wait

    def _recent(self, scraper_id: str, now: float) -> list[float]:
        recent = [t for t in self._attempts.get(scraper_id, []) if now - t < self._window]
        if recent:
            self._attempts[scraper_id] = recent
        else:
            self._attempts.pop(scraper_id, None)
        return recent
