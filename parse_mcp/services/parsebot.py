"""The Parse.bot client: one method per upstream call. It builds requests and raises `CallFailed`;
it never decides what the agent should do (that is `parse_mcp.guidance`).

The key travels only in the `X-API-Key` header, set once on the HTTP client.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from typing import NewType

import httpx2

from parse_mcp.errors import CallFailed, ErrorRecord, RejectedLocally, UpstreamFailure
from parse_mcp.guidance import refusals
from parse_mcp.guidance.classify import Purpose, classify_parsebot, classify_unexpected_success
from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Meta
from parse_mcp.policy.retry import DEFAULT_RETRY, RetryPolicy
from parse_mcp.runtime import REAL_TIME, Runtime
from parse_mcp.services.http import HttpClient, Reply, Request
from parse_mcp.services.paths import path_segment
from parse_mcp.services.specs import ApiSpec, EndpointSpec, check_params, encode_query, parse_api, parse_api_list
from parse_mcp.services.spend import BUILD_CREDITS, UNKNOWN_PRICE_CREDITS, Charge, Spending
from parse_mcp.settings import Secret, Settings
from parse_mcp.state.ledger import Ledger
from parse_mcp.state.pacing import PacingStore
from parse_mcp.state.sessions import SessionCredentials

# Schemas kept in memory (each API's, and each pinned release's): far more than an agent works with at once.
MAX_CACHED_SCHEMAS = 256
# A session id or encryption key longer than this is no session (a Fernet key is 44 characters).
MAX_SESSION_FIELD_CHARS = 4096

# A build or a revision: charged when it completes, after the answer that accepts it (`Charge.charged_later`).
BUILD_CHARGE = Charge("parsebot", "", "build", price=BUILD_CREDITS, charged_later=True)
# A listed price beyond this is not believed (the highest observed is 10): it would make every call ask first.
MAX_LISTED_PRICE = 1_000

# The path of one endpoint of one API, its two names checked (`ParseBotClient.endpoint_path`).
EndpointPath = NewType("EndpointPath", str)


class ParseBotClient:
    def __init__(self, http: HttpClient, spending: Spending | None = None) -> None:
        self._http = http
        self._spending = spending if spending is not None else Spending(None)
        self._apis: dict[tuple[str, int | None], ApiSpec] = {}
        self._tasks: list[Mapping[str, object]] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        key: Secret,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        runtime: Runtime = REAL_TIME,
        retry: RetryPolicy = DEFAULT_RETRY,
        pacing: PacingStore | None = None,
        ledger: Ledger | None = None,
    ) -> ParseBotClient:
        # Both services' keys and the HTTP tokens: an answer may echo any secret this process holds.
        redactor = settings.redactor()

        def classify(purpose: Purpose, status: int, headers: Mapping[str, str], body: bytes, now: float) -> ErrorRecord:
            return classify_parsebot(status, headers, body, now=now, purpose=purpose, redactor=redactor)

        http = HttpClient(
            settings.parse_base_url,
            headers={"X-API-Key": key.get_secret_value(), "X-Parse-Client": "parse-mcp"},
            request_timeout=settings.request_timeout_seconds,
            connect_timeout=settings.connect_timeout_seconds,
            classify=classify,
            transport=transport,
            runtime=runtime,
            retry=retry,
            redactor=redactor,
            pacing=pacing,
        )
        return cls(http, Spending(ledger, runtime))

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- discovery ---------------------------------------------------------------------------------

    async def list_apis(self) -> tuple[list[ApiSpec], Meta]:
        """`GET /sdk/schemas`: every API this key can call; refreshes the schema cache."""
        reply = await self._call(Request("discover", "GET", "/sdk/schemas"))
        apis = parse_api_list(self._json(reply))
        if apis is None:
            raise UpstreamFailure(self._undocumented(reply, "The API list had no list of APIs in it."), reply.meta)
        for api in apis:
            self._remember(api.scraper_id, None, api)
        return apis, reply.meta

    async def describe_api(self, scraper_id: str, version: int | None = None) -> tuple[ApiSpec, Meta]:
        """`GET /sdk/schemas/{scraper_id}[?version=N]`, always fresh, and cached for execution."""
        query = [("version", str(version))] if version is not None else []
        reply = await self._call(
            Request("discover", "GET", f"/sdk/schemas/{path_segment(scraper_id, 'scraper_id')}", query=query)
        )
        api = parse_api(self._json(reply))
        if api is None:
            raise UpstreamFailure(self._undocumented(reply, "The API schema had no id."), reply.meta)
        self._remember(scraper_id, version, api)
        return api, reply.meta

    def _remember(self, scraper_id: str, version: int | None, api: ApiSpec) -> None:
        """Cache a schema, the oldest read first out past `MAX_CACHED_SCHEMAS`: an agent asking for ever new ids
        (or a listing of thousands) must not grow the server without end. A schema forgotten is read again."""
        self._apis.pop((scraper_id, version), None)
        self._apis[(scraper_id, version)] = api
        while len(self._apis) > MAX_CACHED_SCHEMAS:
            del self._apis[next(iter(self._apis))]

    def known_apis(self) -> list[ApiSpec]:
        """The APIs this client has already read (list_apis, describe_api), without asking the service."""
        return [spec for (_, version), spec in self._apis.items() if version is None]

    def cached_spec(self, scraper_id: str, version: int | None = None) -> ApiSpec | None:
        """The spec this client already holds, without asking the service (for guidance after a failure)."""
        return self._apis.get((scraper_id, version))

    async def api_spec(self, scraper_id: str, version: int | None = None, *, refresh: bool = False) -> ApiSpec:
        """The cached spec of one API, fetched once; `refresh` re-reads it (an endpoint may be new)."""
        cached = self._apis.get((scraper_id, version))
        if cached is not None and not refresh:
            return cached
        api, _ = await self.describe_api(scraper_id, version)
        return api

    # -- execution ---------------------------------------------------------------------------------

    async def run_endpoint(
        self,
        scraper_id: str,
        endpoint: str,
        params: Mapping[str, object],
        *,
        snapshot_version: int | None = None,
        session: SessionCredentials | None = None,
    ) -> tuple[JsonValue, Meta]:
        """The workflow behind `execute_endpoint`: the endpoint's spec, the params checked against it before a
        credit is spent (refused naming each parameter to fix), then the call with the spec's method."""
        spec = await self.endpoint_spec(scraper_id, endpoint, snapshot_version)
        problems = check_params(spec, params)
        if problems:
            message = "; ".join(p.message for p in problems)
            raise RejectedLocally(refusals.invalid_arguments(message, *dict.fromkeys(p.field for p in problems)))
        return await self.execute(scraper_id, spec, params, snapshot_version=snapshot_version, session=session)

    async def endpoint_spec(self, scraper_id: str, endpoint: str, snapshot_version: int | None) -> EndpointSpec:
        """One endpoint's spec, from the cached schema, read again once when it does not name the endpoint (the
        cache may predate a revision that added it); `unknown_endpoint` when the schema has no such endpoint."""
        # A version below 1 cannot exist, so there is no schema to check it against: the request goes out
        # with it and the service's own 400 says what is wrong.
        version = snapshot_version if snapshot_version is not None and snapshot_version >= 1 else None
        spec = (await self.api_spec(scraper_id, version)).endpoint(endpoint)
        if spec is None:
            spec = (await self.api_spec(scraper_id, version, refresh=True)).endpoint(endpoint)
        if spec is None:
            raise RejectedLocally(refusals.unknown_endpoint())
        return spec

    async def execute(
        self,
        scraper_id: str,
        endpoint: EndpointSpec,
        params: Mapping[str, object],
        *,
        snapshot_version: int | None = None,
        session: SessionCredentials | None = None,
    ) -> tuple[JsonValue, Meta]:
        """Run one endpoint with the method its spec declares; unwrap `{"status": "success", "data": …}`."""
        headers: dict[str, str] = {}
        if snapshot_version is not None:
            headers["API-Snapshot-Version"] = str(snapshot_version)
        if session is not None:
            headers["X-Session-ID"] = session.session_id
            headers["X-Encryption-Key"] = session.encryption_key.get_secret_value()
        path = self.endpoint_path(scraper_id, endpoint.name)
        if endpoint.method == "GET":
            request = Request("execute", "GET", path, query=encode_query(params), headers=headers, paced=True)
        else:
            body = {key: value for key, value in params.items() if value is not None}
            request = Request("execute", "POST", path, json_body=body, has_body=True, headers=headers, paced=True)
        reply = await self._spending.paid(self.charge_of(scraper_id, endpoint), lambda: self._call(request))
        data: JsonValue = self._unwrap(reply)  # type: ignore[assignment]
        return data, reply.meta

    @staticmethod
    def charge_of(scraper_id: str, endpoint: EndpointSpec) -> Charge:
        """An endpoint call's charge: the price its marketplace listing gives, when it gives one, until the ledger
        has seen what a call costs."""
        listed = endpoint.price
        price = math.ceil(listed) if listed is not None and 0 <= listed <= MAX_LISTED_PRICE else UNKNOWN_PRICE_CREDITS
        return Charge("parsebot", scraper_id, endpoint.name, price=price)

    def expected(self, charge: Charge) -> Awaitable[int]:
        """What a call with this charge is expected to cost (for the question asked before a big spend)."""
        return self._spending.expected(charge)

    # -- builds, tasks, revisions, updates -----------------------------------------------------------

    async def create_api(self, url: str, task: str | None, force_new: bool) -> tuple[JsonValue, Meta]:
        """`POST /dispatch`: a build (or a match) from a URL. Charged, so never sent twice by this server."""
        body: dict[str, JsonValue] = {"url": url, "force_new": force_new}
        if task:
            body["task"] = task
        request = Request("build", "POST", "/dispatch", json_body=body, has_body=True, creates_work=True)
        return await self._paid_document(request, BUILD_CHARGE)

    async def get_task(self, task_id: str) -> tuple[JsonValue, Meta]:
        return await self._document(Request("task", "GET", f"/dispatch/tasks/{path_segment(task_id, 'task_id')}"))

    async def revise_api(self, task_id: str, description: str) -> tuple[JsonValue, Meta]:
        """`POST /dispatch/tasks/{id}/revise`: a revision task, polled like a build."""
        path = f"/dispatch/tasks/{path_segment(task_id, 'task_id')}/revise"
        request = Request(
            "task", "POST", path, json_body={"description": description}, has_body=True, creates_work=True
        )
        return await self._paid_document(request, replace(BUILD_CHARGE, api=task_id, endpoint="revise"))

    async def check_updates(self, task_id: str) -> tuple[JsonValue, Meta]:
        return await self._document(
            Request("task", "GET", f"/dispatch/tasks/{path_segment(task_id, 'task_id')}/updates")
        )

    async def preview_update(
        self, task_id: str, endpoint: str, params: Mapping[str, JsonValue]
    ) -> tuple[JsonValue, Meta]:
        path = f"/dispatch/tasks/{path_segment(task_id, 'task_id')}/preview-update/{path_segment(endpoint, 'endpoint')}"
        request = Request("update", "POST", path, json_body={"params": dict(params)}, has_body=True)
        return await self._paid_document(request, Charge("parsebot", task_id, f"preview:{endpoint}"))

    async def merge_updates(self, task_id: str, endpoints: list[str]) -> tuple[JsonValue, Meta]:
        path = f"/dispatch/tasks/{path_segment(task_id, 'task_id')}/merge-updates"
        return await self._document(Request("update", "POST", path, json_body={"endpoints": endpoints}, has_body=True))

    def forget(self, scraper_id: str | None = None) -> None:
        """Drop cached schemas (of one API, or all) and the task list: a build, revision or merge changed them."""
        self._tasks = None
        for key in [k for k in self._apis if scraper_id is None or k[0] == scraper_id]:
            del self._apis[key]

    # -- marketplace (public; the key is sent anyway and does no harm) ------------------------------

    async def search_marketplace(self, query: str | None, limit: int) -> tuple[JsonValue, Meta]:
        params = [("limit", str(limit))] + ([("q", query)] if query else [])
        return await self._document(Request("marketplace", "GET", "/marketplace/apis", query=params))

    async def marketplace_api(self, listing: str) -> tuple[JsonValue, Meta]:
        """One listing's detail, `listing` being its id or its slug: `GET /marketplace/apis/{id}`, and on a 404
        `GET /marketplace/by-slug/{slug}`, whose id then gives the detail."""
        try:
            return await self._listing_detail(path_segment(listing, "listing"))
        except CallFailed as by_id:
            if by_id.record.code != "listing_not_found":
                raise
        reply = await self._call(Request("listing", "GET", f"/marketplace/by-slug/{path_segment(listing, 'listing')}"))
        item: JsonValue = self._json(reply)  # type: ignore[assignment]
        listing_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(listing_id, str):
            return item, Meta()
        try:
            segment = path_segment(listing_id, "listing")
        except RejectedLocally:
            # The id came from the service, not from the caller: nothing was sent, and the fault is the service's.
            reason = "The marketplace gave a listing id that is not one path segment."
            raise UpstreamFailure(self._undocumented(reply, reason), reply.meta) from None
        return await self._listing_detail(segment)

    async def _listing_detail(self, segment: str) -> tuple[JsonValue, Meta]:
        return await self._document(Request("listing", "GET", f"/marketplace/apis/{segment}"))

    # -- sessions -------------------------------------------------------------------------------------

    @staticmethod
    def endpoint_path(scraper_id: str, endpoint: str) -> EndpointPath:
        """`/scraper/{scraper_id}/{endpoint}`, each name one segment; `RejectedLocally` (fix_input, naming the
        argument) for a name that would change the path. The one place an endpoint's path is built and checked."""
        return EndpointPath(f"/scraper/{path_segment(scraper_id, 'scraper_id')}/{path_segment(endpoint, 'endpoint')}")

    async def login(
        self, path: EndpointPath, credentials: Mapping[str, JsonValue]
    ) -> tuple[dict[str, JsonValue], SessionCredentials, Meta]:
        """The login endpoint of an authenticated API (its path from `endpoint_path`, built before the attempt
        is counted): its whole answer, and the session it carries."""
        reply = await self._call(Request("login", "POST", path, json_body=dict(credentials), has_body=True, paced=True))
        answer: JsonValue = self._json(reply)  # type: ignore[assignment]
        session = session_of(answer)
        if session is None or not isinstance(answer, dict):
            reason = "The login answer had no session_id and encryption_key."
            raise UpstreamFailure(self._undocumented(reply, reason), reply.meta)
        return answer, session, reply.meta

    # -- tasks (used to relate scraper ids and task ids) --------------------------------------------

    async def list_tasks(self, *, limit: int | None = None, status: str | None = None) -> list[Mapping[str, object]]:
        query = [(k, v) for k, v in (("limit", str(limit) if limit else None), ("status", status)) if v is not None]
        reply = await self._call(Request("tasks", "GET", "/dispatch/tasks", query=query))
        document = self._json(reply)
        tasks = document.get("tasks") if isinstance(document, dict) else document
        if not isinstance(tasks, list):
            raise UpstreamFailure(self._undocumented(reply, "The task list had no list of tasks in it."), reply.meta)
        found: list[Mapping[str, object]] = [task for task in tasks if isinstance(task, dict)]
        if limit is None and status is None:
            self._tasks = found
        return found

    async def scraper_of_task(self, task_id: str) -> str | None:
        """The scraper id a task built, when `task_id` is one of this account's tasks."""
        for task in await self._known_tasks():
            if task.get("id") == task_id:
                return scraper_id_of_task(task)
        return None

    async def task_of_scraper(self, scraper_id: str) -> str | None:
        """The task that built (or last revised) a scraper, for `revise_api`."""
        for task in await self._known_tasks():
            if scraper_id_of_task(task) == scraper_id and isinstance(task.get("id"), str):
                return str(task["id"])
        return None

    async def _known_tasks(self) -> list[Mapping[str, object]]:
        if self._tasks is None:
            await self.list_tasks()
        return self._tasks or []

    # -- plumbing ----------------------------------------------------------------------------------

    async def _call(self, request: Request) -> Reply:
        return await self._http.send(request)

    async def _paid_document(self, request: Request, charge: Charge) -> tuple[JsonValue, Meta]:
        reply = await self._spending.paid(charge, lambda: self._call(request))
        document: JsonValue = self._json(reply)  # type: ignore[assignment]
        return document, reply.meta

    async def _document(self, request: Request) -> tuple[JsonValue, Meta]:
        reply = await self._call(request)
        document: JsonValue = self._json(reply)  # type: ignore[assignment]
        return document, reply.meta

    def _json(self, reply: Reply) -> object:
        try:
            return reply.json()
        except ValueError:
            raise UpstreamFailure(self._undocumented(reply, "The answer was not JSON."), reply.meta) from None

    def _unwrap(self, reply: Reply) -> object:
        document = self._json(reply)
        if isinstance(document, dict):
            if document.get("status") == "success" and "data" in document:
                return document["data"]
            if document.get("status") == "error":
                reason = "The endpoint answered HTTP 200 with status 'error' instead of data."
                raise UpstreamFailure(self._undocumented(reply, reason), reply.meta)
        return document

    @staticmethod
    def _undocumented(reply: Reply, reason: str) -> ErrorRecord:
        return classify_unexpected_success(reply.status, reply.headers, reason, redactor=reply.redactor)


def session_of(answer: JsonValue) -> SessionCredentials | None:
    """The session a login answer carries (`session_id` and `encryption_key`), if it is one."""
    if not isinstance(answer, dict):
        return None
    session_id, key = answer.get("session_id"), answer.get("encryption_key")
    if not isinstance(session_id, str) or not isinstance(key, str):
        return None
    if len(session_id) > MAX_SESSION_FIELD_CHARS or len(key) > MAX_SESSION_FIELD_CHARS:
        return None  # not a session this server keeps: a hostile answer must not make it hold megabytes
    return SessionCredentials(session_id, Secret(key))


def scraper_id_of_task(task: object) -> str | None:
    """The API a build or revision task produced: `result_scraper_id`, else `generated_api.scraper_id`."""
    if not isinstance(task, Mapping):
        return None
    direct = task.get("result_scraper_id")
    if isinstance(direct, str) and direct:
        return direct
    generated = task.get("generated_api")
    if isinstance(generated, dict):
        nested = generated.get("scraper_id")
        if isinstance(nested, str) and nested:
            return nested
    return None
