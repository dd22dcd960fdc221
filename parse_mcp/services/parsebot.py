"""The Parse.bot client: one method per upstream call. It builds requests and raises `CallFailed`;
it never decides what the agent should do (that is `parse_mcp.guidance`).

The key travels only in the `X-API-Key` header, set once on the HTTP client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx2

from parse_mcp.errors import ErrorRecord, UpstreamFailure
from parse_mcp.guidance.classify import classify_parsebot, classify_unexpected_success
from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Meta
from parse_mcp.policy.retry import DEFAULT_RETRY, RetryPolicy
from parse_mcp.runtime import REAL_TIME, Runtime
from parse_mcp.services.http import HttpClient, Reply, Request
from parse_mcp.services.paths import path_segment
from parse_mcp.services.specs import ApiSpec, EndpointSpec, encode_query, parse_api, parse_api_list
from parse_mcp.settings import Secret, Settings


@dataclass(frozen=True, slots=True)
class SessionCredentials:
    session_id: str
    encryption_key: Secret


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful call: its payload (already unwrapped) and what the headers said."""

    data: object
    meta: Meta


class ParseBotClient:
    def __init__(self, http: HttpClient) -> None:
        self._http = http
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
    ) -> ParseBotClient:
        # Both services' keys and the HTTP tokens: an answer may echo any secret this process holds.
        redactor = settings.redactor()

        def classify(_path: str, status: int, headers: Mapping[str, str], body: bytes, now: float) -> ErrorRecord:
            return classify_parsebot(status, headers, body, now=now, redactor=redactor)

        http = HttpClient(
            settings.parse_base_url,
            headers={"X-API-Key": key.reveal(), "X-Parse-Client": "parse-mcp"},
            request_timeout=settings.request_timeout_seconds,
            connect_timeout=settings.connect_timeout_seconds,
            classify=classify,
            transport=transport,
            runtime=runtime,
            retry=retry,
            redactor=redactor,
        )
        return cls(http)

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- discovery ---------------------------------------------------------------------------------

    async def list_apis(self) -> tuple[list[ApiSpec], Meta]:
        """`GET /sdk/schemas`: every API this key can call; refreshes the schema cache."""
        reply = await self._call(Request("GET", "/sdk/schemas"))
        apis = parse_api_list(self._json(reply))
        if apis is None:
            raise UpstreamFailure(self._undocumented(reply, "The API list had no list of APIs in it."), reply.meta)
        for api in apis:
            self._apis[(api.scraper_id, None)] = api
        return apis, reply.meta

    async def describe_api(self, scraper_id: str, version: int | None = None) -> tuple[ApiSpec, Meta]:
        """`GET /sdk/schemas/{scraper_id}[?version=N]`, always fresh, and cached for execution."""
        query = [("version", str(version))] if version is not None else []
        reply = await self._call(Request("GET", f"/sdk/schemas/{path_segment(scraper_id, 'scraper_id')}", query=query))
        api = parse_api(self._json(reply))
        if api is None:
            raise UpstreamFailure(self._undocumented(reply, "The API schema had no id."), reply.meta)
        self._apis[(scraper_id, version)] = api
        return api, reply.meta

    async def api_spec(self, scraper_id: str, version: int | None = None, *, refresh: bool = False) -> ApiSpec:
        """The cached spec of one API, fetched once; `refresh` re-reads it (an endpoint may be new)."""
        cached = self._apis.get((scraper_id, version))
        if cached is not None and not refresh:
            return cached
        api, _ = await self.describe_api(scraper_id, version)
        return api

    # -- execution ---------------------------------------------------------------------------------

    async def execute(
        self,
        scraper_id: str,
        endpoint: EndpointSpec,
        params: Mapping[str, object],
        *,
        snapshot_version: int | None = None,
        session: SessionCredentials | None = None,
    ) -> Answer:
        """Run one endpoint with the method its spec declares; unwrap `{"status": "success", "data": …}`."""
        headers: dict[str, str] = {}
        if snapshot_version is not None:
            headers["API-Snapshot-Version"] = str(snapshot_version)
        if session is not None:
            headers["X-Session-ID"] = session.session_id
            headers["X-Encryption-Key"] = session.encryption_key.reveal()
        path = f"/scraper/{path_segment(scraper_id, 'scraper_id')}/{path_segment(endpoint.name, 'endpoint')}"
        if endpoint.method == "GET":
            request = Request("GET", path, query=encode_query(params), headers=headers, paced=True)
        else:
            body = {key: value for key, value in params.items() if value is not None}
            request = Request("POST", path, json_body=body, has_body=True, headers=headers, paced=True)
        reply = await self._call(request)
        return Answer(self._unwrap(reply), reply.meta)

    # -- builds, tasks, revisions, updates -----------------------------------------------------------

    async def create_api(self, url: str, task: str | None, force_new: bool) -> tuple[JsonValue, Meta]:
        """`POST /dispatch`: a build (or a match) from a URL. Charged, so never sent twice by this server."""
        body: dict[str, JsonValue] = {"url": url, "force_new": force_new}
        if task:
            body["task"] = task
        return await self._document(Request("POST", "/dispatch", json_body=body, has_body=True, creates_work=True))

    async def get_task(self, task_id: str) -> tuple[JsonValue, Meta]:
        return await self._document(Request("GET", f"/dispatch/tasks/{path_segment(task_id, 'task_id')}"))

    async def revise_api(self, task_id: str, description: str) -> tuple[JsonValue, Meta]:
        """`POST /dispatch/tasks/{id}/revise`: a revision task, polled like a build."""
        path = f"/dispatch/tasks/{path_segment(task_id, 'task_id')}/revise"
        request = Request("POST", path, json_body={"description": description}, has_body=True, creates_work=True)
        return await self._document(request)

    async def check_updates(self, task_id: str) -> tuple[JsonValue, Meta]:
        return await self._document(Request("GET", f"/dispatch/tasks/{path_segment(task_id, 'task_id')}/updates"))

    async def preview_update(
        self, task_id: str, endpoint: str, params: Mapping[str, JsonValue]
    ) -> tuple[JsonValue, Meta]:
        path = f"/dispatch/tasks/{path_segment(task_id, 'task_id')}/preview-update/{path_segment(endpoint, 'endpoint')}"
        return await self._document(Request("POST", path, json_body={"params": dict(params)}, has_body=True))

    async def merge_updates(self, task_id: str, endpoints: list[str]) -> tuple[JsonValue, Meta]:
        path = f"/dispatch/tasks/{path_segment(task_id, 'task_id')}/merge-updates"
        return await self._document(Request("POST", path, json_body={"endpoints": endpoints}, has_body=True))

    def forget(self, scraper_id: str | None = None) -> None:
        """Drop cached schemas (of one API, or all) and the task list: a build, revision or merge changed them."""
        self._tasks = None
        for key in [k for k in self._apis if scraper_id is None or k[0] == scraper_id]:
            del self._apis[key]

    # -- marketplace (public; the key is sent anyway and does no harm) ------------------------------

    async def search_marketplace(self, query: str | None, limit: int) -> tuple[JsonValue, Meta]:
        params = [("limit", str(limit))] + ([("q", query)] if query else [])
        return await self._document(Request("GET", "/marketplace/apis", query=params))

    async def marketplace_listing(self, listing_id: str) -> tuple[JsonValue, Meta]:
        return await self._document(Request("GET", f"/marketplace/apis/{path_segment(listing_id, 'listing')}"))

    async def marketplace_by_slug(self, slug: str) -> tuple[JsonValue, Meta]:
        return await self._document(Request("GET", f"/marketplace/by-slug/{path_segment(slug, 'listing')}"))

    # -- sessions -------------------------------------------------------------------------------------

    async def login(
        self, scraper_id: str, endpoint: str, credentials: Mapping[str, JsonValue]
    ) -> tuple[JsonValue, Meta]:
        """The login endpoint of an authenticated API: its whole answer, with `session_id` and `encryption_key`."""
        path = f"/scraper/{path_segment(scraper_id, 'scraper_id')}/{path_segment(endpoint, 'endpoint')}"
        request = Request("POST", path, json_body=dict(credentials), has_body=True, paced=True)
        return await self._document(request)

    # -- tasks (used to relate scraper ids and task ids) --------------------------------------------

    async def list_tasks(self, *, limit: int | None = None, status: str | None = None) -> list[Mapping[str, object]]:
        query = [(k, v) for k, v in (("limit", str(limit) if limit else None), ("status", status)) if v is not None]
        reply = await self._call(Request("GET", "/dispatch/tasks", query=query))
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
                return _scraper_id_of(task)
        return None

    async def task_of_scraper(self, scraper_id: str) -> str | None:
        """The task that built (or last revised) a scraper, for `revise_api`."""
        for task in await self._known_tasks():
            if _scraper_id_of(task) == scraper_id and isinstance(task.get("id"), str):
                return str(task["id"])
        return None

    async def _known_tasks(self) -> list[Mapping[str, object]]:
        if self._tasks is None:
            await self.list_tasks()
        return self._tasks or []

    # -- plumbing ----------------------------------------------------------------------------------

    async def _call(self, request: Request) -> Reply:
        return await self._http.send(request)

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


def _scraper_id_of(task: Mapping[str, object]) -> str | None:
    direct = task.get("result_scraper_id")
    if isinstance(direct, str) and direct:
        return direct
    generated = task.get("generated_api")
    if isinstance(generated, dict):
        nested = generated.get("scraper_id")
        if isinstance(nested, str) and nested:
            return nested
    return None
