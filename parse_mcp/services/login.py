"""The login workflow, and the endpoint calls that carry a session.

`login` is more than one request: the account's cap of 3 logins an hour per API (checked, then counted
as the attempt goes out), the login endpoint's spec (for a form, or to say which fields to pass), the
session kept on this side under a handle only the calling client can use, and a protected endpoint to
offer next. `execute_endpoint` with a handle looks the session up; a login endpoint called directly keeps
its session the same way. The tools pass their arguments in and word the outcome; the order of the
steps, and what is refused before anything is spent, is decided here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel

from parse_mcp.errors import CallFailed, ErrorRecord, RejectedLocally
from parse_mcp.guidance import refusals
from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Meta
from parse_mcp.services.parsebot import ParseBotClient, session_of
from parse_mcp.services.specs import EndpointSpec
from parse_mcp.state.logins import LoginAttempts
from parse_mcp.state.sessions import SessionCredentials, SessionStore
from parse_mcp.voice import speakable

logger = logging.getLogger(__name__)

# The longest a login session is kept, whatever the service's `expires_in` says; the Redis store keeps a session
# that states no expiry as long.
LONGEST_SESSION_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class LoggedIn:
    """A session kept: `data` is what the agent is given (the handle, when it expires, the login's own data),
    `protected` a protected endpoint with no required parameters, to offer as the next call."""

    scraper_id: str
    handle: str
    data: dict[str, JsonValue]
    meta: Meta
    protected: str | None = None


@dataclass(frozen=True, slots=True)
class Answered:
    """An endpoint's data (unwrapped), when the call made no session."""

    data: JsonValue
    meta: Meta


@dataclass(frozen=True, slots=True)
class LoginWorkflow:
    """One client's view of the login workflow: the Parse.bot client, the session store, the account's login
    cap, the clock, and who is calling (sessions are that client's)."""

    api: ParseBotClient
    sessions: SessionStore
    attempts: LoginAttempts
    clock: Callable[[], float]
    client: str

    async def form(self, scraper_id: str, endpoint: str) -> type[BaseModel] | None:
        """The form asking the user for the login endpoint's declared fields (`EndpointSpec.login_form`); None
        when none should be shown: the hourly logins are spent, a name would be refused, the API cannot be
        read, or its login endpoint declares nothing a form can ask."""
        if await self.attempts.wait_before_next(scraper_id, self.clock()) is not None:
            return None
        try:
            self.api.endpoint_path(scraper_id, endpoint)
            api = await self.api.api_spec(scraper_id)
        except CallFailed:
            return None
        spec = api.endpoint(endpoint)
        return spec.login_form if spec is not None else None

    async def log_in(self, scraper_id: str, endpoint: str, credentials: Mapping[str, JsonValue] | None) -> LoggedIn:
        """Log in with `credentials` (from the user's form or the caller), keep the session, return its handle.

        Refused before an attempt is counted: a name that would change the path, a cap already reached, no
        credentials (after reading the API, whose failure, a wrong key or id, says more). The attempt is counted
        in the same step that checks the cap, as another process may have taken the last one meanwhile."""
        path = self.api.endpoint_path(scraper_id, endpoint)
        now = self.clock()
        _refuse_when_capped(await self.attempts.wait_before_next(scraper_id, now))
        if credentials is None:
            api = await self.api.api_spec(scraper_id)
            raise RejectedLocally(credentials_needed(api.endpoint(endpoint)))
        _refuse_when_capped(await self.attempts.claim(scraper_id, now))
        answer, session, meta = await self.api.login(path, credentials)
        return await self._keep(scraper_id, answer, session, meta, protected=await self._protected(scraper_id))

    async def run_endpoint(
        self,
        scraper_id: str,
        endpoint: str,
        params: Mapping[str, object],
        *,
        snapshot_version: int | None = None,
        session: str | None = None,
    ) -> Answered | LoggedIn:
        """`ParseBotClient.run_endpoint` with the session behind the handle `session` (`unknown_session` when it
        is not this client's, for this API, alive). A login endpoint called directly keeps its session here, as
        `log_in` does, and answers with the handle."""
        credentials = None
        if session is not None:
            credentials = await self.sessions.get(self.client, session, scraper_id)
            if credentials is None:
                raise RejectedLocally(refusals.unknown_session())
        data, meta = await self.api.run_endpoint(
            scraper_id, endpoint, params, snapshot_version=snapshot_version, session=credentials
        )
        made = session_of(data)
        if made is not None and isinstance(data, dict):
            return await self._keep(scraper_id, data, made, meta, protected=None)
        return Answered(data, meta)

    async def _keep(
        self,
        scraper_id: str,
        answer: dict[str, JsonValue],
        session: SessionCredentials,
        meta: Meta,
        *,
        protected: str | None,
    ) -> LoggedIn:
        """Keep a login answer's session under a handle only this client can use."""
        expires_at, clamped = _expiry(answer, self.clock())
        handle = await self.sessions.add(self.client, scraper_id, session, expires_at)
        data: dict[str, JsonValue] = {"session": handle, "expires_at": _iso(expires_at), "data": answer.get("data")}
        if clamped:
            data["expires_in_clamped_to"] = LONGEST_SESSION_SECONDS
        return LoggedIn(scraper_id, handle, data, meta, protected)

    async def _protected(self, scraper_id: str) -> str | None:
        """A protected endpoint with no required parameters and a name that may be said, to offer next."""
        try:
            api = await self.api.api_spec(scraper_id)
        except CallFailed:
            return None
        ready = (
            e
            for e in api.endpoints
            if e.needs_session and not any(p.required for p in e.params) and speakable(e.name) == e.name
        )
        return next((e.name for e in ready), None)


def credentials_needed(spec: EndpointSpec | None) -> ErrorRecord:
    """No credentials and no form: the refusal naming the login endpoint's fields, those that may be said."""
    declared = [p.name for p in spec.params if speakable(p.name) == p.name] if spec is not None else []
    named = f" ({', '.join(declared)})" if declared else ""
    message = (
        f"credentials is required: no login form could be shown to the user, so ask the user for the login "
        f"endpoint's fields{named} and pass them."
    )
    return refusals.invalid_arguments(message, "credentials")


def _refuse_when_capped(wait: float | None) -> None:
    if wait is not None:
        raise RejectedLocally(refusals.login_limited(wait))


def _expiry(answer: dict[str, JsonValue], now: float) -> tuple[float | None, bool]:
    """When the session ends by the service's `expires_in`, and whether that was clamped to
    `LONGEST_SESSION_SECONDS` (a figure past it, `1e12` or `inf` say, would overflow a date or a Redis TTL and
    lose the handle of a login that worked)."""
    expires_in = answer.get("expires_in")
    if not isinstance(expires_in, int | float) or isinstance(expires_in, bool) or not expires_in > 0:
        return None, False
    if expires_in > LONGEST_SESSION_SECONDS:  # also true for inf; NaN failed `> 0` above
        logger.warning(
            "login answer's expires_in is beyond %d s: the session is kept that long", LONGEST_SESSION_SECONDS
        )
        return now + LONGEST_SESSION_SECONDS, True
    return now + float(expires_in), False


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, tz=UTC).isoformat().replace("+00:00", "Z")
