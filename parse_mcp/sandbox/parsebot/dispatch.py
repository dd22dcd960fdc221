"""The dispatch routes: building APIs from URLs, watching tasks, revising APIs and merging marketplace updates.

Everything runs on the sandbox clock (`SandboxConfig` times in brackets); nothing runs in the background.

`POST /dispatch {"url", "task"?, "force_new"?}` answers `{"task_id", "matched", "test_inputs", "may_require_auth"}`.

* The URL of a marketplace listing (same source_url, e.g. `<base>/site/weather/`), unless `force_new`:
  `matched: true`, a personal copy with its own scraper id, completed at once, free, and `test_inputs`
  `[{"endpoint_name", "method", "params"}]`. The authenticated listing (Members Area) is never matched:
  authenticated APIs are made in the dashboard.
* Anything else is a build costing `build_price` credits (75), taken when it is queued (402 when short, never
  refunded): `queued` [queue_seconds] -> `running` [build_seconds] -> one of these, decided by the URL:
  - host other than the sandbox's (host and port) -> `failed`, `error` saying the sandbox builds only its site;
  - path containing `login`, `account` or `members` -> `may_require_auth: true` at once, then `failed`, `error`
    saying authenticated APIs are built in the dashboard;
  - path containing `needs-input` -> `needs_input` with a `question` field (it stays there: no answer route);
  - TEST-ONLY, not in the references: path containing `test-only-unlisted-status` -> `on_hold`, a status no
    reference lists, which it keeps;
  - a page the site answers non-2xx (404 when missing) -> `failed`, `error` naming the status;
  - otherwise `completed`, with `generated_api`: `/site/` and `/site/catalogue/...` give the book endpoints,
    `/site/quotes/...` the quotes endpoints, `/site/weather/...` the weather ones, other pages `read_page`.
  A built API appears in `/sdk/schemas` when its task completes.

`GET /dispatch/tasks?limit=&status=` lists tasks newest first (the built-in ones after every new one);
`GET /dispatch/tasks/{id}` shows one: `id, url, task, status, error, result_scraper_id, result_marketplace_id,
may_require_auth, generated_api, created_at, updated_at`, plus `question` (needs_input) and `revision_of`
(revisions). `error` is set only when failed, `generated_api` only when completed.

`POST /dispatch/tasks/{id}/revise {"description"}` answers the new revision task (its record plus `task_id`):
`queued` [queue_seconds] -> `running` [revision_seconds] -> `completed`, when the description names endpoints of
the API as words (those with a fix get it: Quotes' get_author and top_quotes), or `failed` when it names none,
or when the API is the Failure Lab. A completed revision adds a release (`versions` grows). Free. A task with
no API yet answers 409; an empty description 422. Bodies are read by the pydantic models of `bodies.py`.

`GET /dispatch/tasks/{id}/updates`, `POST .../preview-update/{endpoint} {"params"}` and
`POST .../merge-updates {"endpoints": [...]}` compare a personal copy with its canonical's latest release;
an endpoint without a pending update answers 422.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from parse_mcp.sandbox.parsebot import invoke, listings
from parse_mcp.sandbox.parsebot.apis import ScraperApi
from parse_mcp.sandbox.parsebot.bodies import DispatchBody, MergeBody, PreviewBody, ReviseBody, read_body
from parse_mcp.sandbox.parsebot.builds import BuildTarget, plan_build
from parse_mcp.sandbox.parsebot.envelopes import (
    EnvelopeError,
    JsonObject,
    plain_error,
    scraper_bug,
    task_not_found,
)
from parse_mcp.sandbox.parsebot.execution import Call
from parse_mcp.sandbox.parsebot.keys import authenticate
from parse_mcp.sandbox.parsebot.params import Params
from parse_mcp.sandbox.parsebot.registry import Registry
from parse_mcp.sandbox.parsebot.revisions import apply_revision, plan_revision
from parse_mcp.sandbox.parsebot.rows import suggested_inputs
from parse_mcp.sandbox.parsebot.state import SandboxState
from parse_mcp.sandbox.parsebot.tasks import COMPLETED, FAILED, Task, Timing
from parse_mcp.sandbox.parsebot.updates import Update, merge, pending
from parse_mcp.sandbox.parsebot.web import base_url, error_response, query_int

NOTHING_TO_REVISE_MESSAGE = "Task '{task}' has no API to revise (status: {status}): revise a task that completed"
NO_UPDATE_MESSAGE = "No pending update for endpoint(s) {names} of task '{task}': {available}"


class DispatchRoutes:
    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/dispatch", self.dispatch, methods=["POST"]),
            Route("/dispatch/tasks", self.list_tasks, methods=["GET"]),
            Route("/dispatch/tasks/{task_id}", self.get_task, methods=["GET"]),
            Route("/dispatch/tasks/{task_id}/revise", self.revise, methods=["POST"]),
            Route("/dispatch/tasks/{task_id}/updates", self.updates, methods=["GET"]),
            Route("/dispatch/tasks/{task_id}/preview-update/{endpoint_name}", self.preview_update, methods=["POST"]),
            Route("/dispatch/tasks/{task_id}/merge-updates", self.merge_updates, methods=["POST"]),
        ]

    async def dispatch(self, request: Request) -> Response:
        try:
            authenticate(request.headers)
            self._state.settle()
            body = await read_body(request, DispatchBody)
        except EnvelopeError as error:
            return error_response(error)
        base = base_url(request)
        listing = None if body.force_new else self._listing_for(body.url, base)
        if listing is not None:
            return self._copy(listing, body.url, body.task)
        return self._build(body.url, body.task, base)

    async def list_tasks(self, request: Request) -> Response:
        try:
            authenticate(request.headers)
            limit = query_int(request, "limit", minimum=1)
        except EnvelopeError as error:
            return error_response(error)
        self._state.settle()
        tasks = self._state.tasks.newest_first(request.query_params.get("status"))
        shown = tasks[:limit] if limit is not None else tasks
        return JSONResponse({"tasks": [self._state.tasks.record(task, base_url(request)) for task in shown]})

    async def get_task(self, request: Request) -> Response:
        try:
            authenticate(request.headers)
            self._state.settle()
            task = self._task(request)
        except EnvelopeError as error:
            return error_response(error)
        return JSONResponse(self._state.tasks.record(task, base_url(request)))

    async def revise(self, request: Request) -> Response:
        try:
            authenticate(request.headers)
            self._state.settle()
            task = self._task(request)
            description = (await read_body(request, ReviseBody)).description
            api = self._state.registry.find(task.scraper_id) if task.scraper_id else None
            if api is None:
                status = task.status(self._state.clock.now())
                raise plain_error(409, NOTHING_TO_REVISE_MESSAGE.format(task=task.id, status=status))
        except EnvelopeError as error:
            return error_response(error)
        revision = self._start_revision(task, api, description)
        record = self._state.tasks.record(revision, base_url(request))
        return JSONResponse({"task_id": revision.id, **record})

    async def updates(self, request: Request) -> Response:
        try:
            authenticate(request.headers)
            self._state.settle()
            task = self._task(request)
        except EnvelopeError as error:
            return error_response(error)
        copy, updates = self._pending(task)
        called = self._state.registry.has_called
        listed = [update.as_json(copy is not None and called(copy.id, update.endpoint.name)) for update in updates]
        return JSONResponse({"updates": listed})

    async def preview_update(self, request: Request) -> Response:
        name = request.path_params["endpoint_name"]
        try:
            authenticate(request.headers)
            self._state.settle()
            task = self._task(request)
            params = (await read_body(request, PreviewBody)).params or {}
            _, (update,) = self._chosen(task, [name])
            endpoint = update.endpoint
            values = invoke.with_defaults(endpoint, params)
            call = Call(Params(values), base_url(request), self._state.clock)
            outcome = invoke.run(endpoint, call)
            if not isinstance(outcome, dict):
                # Only JSON endpoints have updates in the sandbox; anything else is a sandbox bug.
                raise scraper_bug()
        except EnvelopeError as error:
            return error_response(error)
        result: JsonObject = {"status": "success", "data": outcome}
        return JSONResponse({"result": result, "sample_inputs": dict(endpoint.sample_params)})

    async def merge_updates(self, request: Request) -> Response:
        try:
            authenticate(request.headers)
            self._state.settle()
            task = self._task(request)
            names = list(dict.fromkeys((await read_body(request, MergeBody)).endpoints))
            copy, chosen = self._chosen(task, names)
        except EnvelopeError as error:
            return error_response(error)
        self._state.registry.put(merge(copy, chosen))
        return JSONResponse({"merged": len(chosen), "endpoints": names, "code_merged": True})

    def _task(self, request: Request) -> Task:
        task_id = request.path_params["task_id"]
        task = self._state.tasks.get(task_id)
        if task is None:
            raise task_not_found(task_id)
        return task

    def _listing_for(self, url: str, base: str) -> listings.Listing | None:
        parts = urlsplit(url)
        if parts.netloc.lower() != urlsplit(base).netloc.lower():
            return None
        for listing in listings.LISTINGS:
            api = self._state.registry.get(listing.canonical_scraper_id)
            if not api.is_authenticated and listings.same_source(api.site_path, parts.path):
                return listing
        return None

    def _copy(self, listing: listings.Listing, url: str, task: str | None) -> Response:
        canonical = self._state.registry.get(listing.canonical_scraper_id)
        task_id, scraper_id = self._state.tasks.new_ids()
        copy = replace(
            canonical,
            id=scraper_id,
            slug=f"{canonical.slug}-copy-{scraper_id[-4:]}",
            description=(
                f"Your personal copy of the marketplace API {canonical.name} (listing {listing.id}), made from "
                f"release {canonical.latest_version}. {canonical.description}"
            ),
            task_id=task_id,
            task=task or "",
            versions=(1,),
            releases={},
            marketplace_id=listing.id,
        )
        self._state.registry.put(copy)
        done = Task(task_id, url, task, outcome=COMPLETED, scraper_id=scraper_id, marketplace_id=listing.id)
        self._state.tasks.start(done, Timing(queue_seconds=0, run_seconds=0))
        body = {"task_id": task_id, "matched": True, "test_inputs": suggested_inputs(copy), "may_require_auth": False}
        return JSONResponse(body)

    def _build(self, url: str, task: str | None, base: str) -> Response:
        config, credits = self._state.config, self._state.account.credits
        try:
            credits.require(config.build_price)
        except EnvelopeError as error:
            return error_response(error, self._state.account.credit_headers(charged=0))
        task_id, scraper_id = self._state.tasks.new_ids()
        plan = plan_build(BuildTarget(url, task, scraper_id, task_id), base)
        credits.charge(config.build_price)
        built = plan.api
        build = Task(
            task_id,
            url,
            task,
            outcome=plan.outcome,
            scraper_id=scraper_id if built is not None else None,
            may_require_auth=plan.may_require_auth,
            error=plan.error,
            question=plan.question,
            effect=(lambda registry: registry.put(built)) if built is not None else None,
        )
        self._state.tasks.start(build, Timing(config.queue_seconds, config.build_seconds))
        body = {"task_id": task_id, "matched": False, "test_inputs": None, "may_require_auth": plan.may_require_auth}
        return JSONResponse(body, headers=self._state.account.credit_headers(charged=config.build_price))

    def _start_revision(self, task: Task, api: ScraperApi, description: str) -> Task:
        plan = plan_revision(api, description)
        task_id, _ = self._state.tasks.new_ids()
        names = plan.endpoint_names

        def revise(registry: Registry) -> None:
            # The API as it is when the revision finishes: an earlier revision may have changed it since.
            registry.put(apply_revision(registry.get(api.id), names))

        revision = Task(
            task_id,
            task.url,
            description,
            outcome=FAILED if plan.error else COMPLETED,
            scraper_id=api.id,
            marketplace_id=api.marketplace_id,
            may_require_auth=task.may_require_auth,
            error=plan.error,
            revision_of=task.id,
            effect=None if plan.error else revise,
        )
        config = self._state.config
        return self._state.tasks.start(revision, Timing(config.queue_seconds, config.revision_seconds))

    def _pending(self, task: Task) -> tuple[ScraperApi | None, list[Update]]:
        """The task's API when it is a personal copy of a marketplace canonical, and what it lacks."""
        registry = self._state.registry
        copy = registry.find(task.scraper_id) if task.scraper_id else None
        listing = listings.find(copy.marketplace_id) if copy is not None and copy.marketplace_id else None
        canonical = registry.get(listing.canonical_scraper_id) if listing is not None else None
        if copy is None or canonical is None or canonical.id == copy.id:
            return copy, []
        return copy, pending(copy, canonical)

    def _chosen(self, task: Task, names: list[str]) -> tuple[ScraperApi, list[Update]]:
        """The copy and its pending updates for these endpoint names (at least one), or the 422 naming the rest."""
        copy, updates = self._pending(task)
        by_name = {update.endpoint.name: update for update in updates}
        unknown = [name for name in names if name not in by_name]
        # Without a copy there are no updates, so every name is unknown.
        if unknown or copy is None:
            available = (
                "the endpoints with updates are " + ", ".join(by_name) if by_name else "this task has no updates"
            )
            message = NO_UPDATE_MESSAGE.format(names=", ".join(unknown), task=task.id, available=available)
            raise plain_error(422, message)
        return copy, [by_name[name] for name in names]
