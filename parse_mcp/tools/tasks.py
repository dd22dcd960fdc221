"""Parse.bot builds, revisions and updates: thin adapters over the dispatch calls.

A value read from the service appears in `summary`, `next_step` or `next_call` only when it is a safe
token (an id, a status) or a number; anything else it says stays in `data`, which the text fences.

No `from __future__ import annotations` here: the SDK reads these signatures at run time.
"""

import logging
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, Resolve
from mcp.types import CallToolResult
from pydantic import AfterValidator, Field

from parse_mcp.guidance.table import NextCall
from parse_mcp.json_types import JsonValue
from parse_mcp.meta import Meta
from parse_mcp.policy.caller import current_client
from parse_mcp.results import ToolResult
from parse_mcp.services.parsebot import ParseBotClient, scraper_id_of_task
from parse_mcp.services.specs import MAX_OBJECT_KEYS, bounded_object, parse_endpoint
from parse_mcp.state import StateUnavailable
from parse_mcp.tools import confirm
from parse_mcp.tools.common import AppState, ToolCall, run_parsebot, state_of
from parse_mcp.tools.confirm import go_ahead
from parse_mcp.tools.documents import field_of, integer_of, token_of
from parse_mcp.tools.waiting import wait_until_settled
from parse_mcp.voice import counted, said, speakable

logger = logging.getLogger(__name__)

SETTLED = frozenset({"completed", "failed", "needs_input"})
# Every task status the references list (parsebot-api.md section 4: "queued, running, needs_input, completed,
# failed"). Any other is read the cautious way: not done, looked at again, and a wait that starts and ends on it stops.
LISTED_STATUSES = SETTLED | {"queued", "running"}
TaskId = Annotated[str, Field(min_length=1, max_length=200, description="A task id from create_api or list_tasks.")]
EndpointName = Annotated[str, Field(min_length=1, max_length=200)]
MAX_ENDPOINTS = 100


async def create_api(
    url: Annotated[str, Field(min_length=1, max_length=2000, description="The site page to build an API from.")],
    ctx: Context[AppState, Any],
    agreed: Annotated[ElicitationResult[Any], Resolve(confirm.before_create_api)],
    task: Annotated[str | None, Field(max_length=2000, description="The data you need, in a sentence.")] = None,
    force_new: Annotated[bool, Field(description="Build even if a marketplace API covers the URL.")] = False,
) -> Annotated[CallToolResult, ToolResult]:
    """Build a Parse.bot API from a URL (or take the marketplace's), as a task. May spend credits.

    Use it when list_apis and search_marketplace have nothing for the site. Then call wait_for_task.
    If it times out, call list_tasks before trying again: the build may exist already.
    """
    arguments: dict[str, JsonValue] = {"url": url, "force_new": force_new}
    if task:
        arguments["task"] = task

    async def run(client: ParseBotClient) -> ToolResult:
        go_ahead(agreed)
        created, meta = await client.create_api(url, task, force_new)
        task_id = token_of(field_of(created, "task_id"))
        matched = field_of(created, "matched") is True
        what = "matched an existing API" if matched else "queued a build"
        step = "Call wait_for_task for its API."
        if field_of(created, "may_require_auth") is True:
            step = "Call wait_for_task; the site may need a login, and authenticated APIs are built in the dashboard."
        if task_id is None:
            return ToolResult.success(f"The service {what}; its task id is in data.", created, meta, next_step=step)
        next_call = NextCall.offer("wait_for_task", {"task_id": task_id})
        return ToolResult.success(f"Task {task_id} {what}.", created, meta, next_step=step, next_call=next_call)

    return await run_parsebot(state_of(ctx), ToolCall("create_api", arguments), run)


async def list_tasks(
    ctx: Context[AppState, Any],
    status: Annotated[
        Literal["queued", "running", "needs_input", "completed", "failed"] | None,
        Field(description="Only tasks in this state; omit for all."),
    ] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Most tasks to return (1-100), newest first.")] = 20,
) -> Annotated[CallToolResult, ToolResult]:
    """List this account's build and revision tasks, newest first.

    Use it to find a task id (for revise_api or updates), or to check whether a build whose call timed
    out was created after all. A task's result_scraper_id is the id execute_endpoint takes.
    """
    arguments: dict[str, JsonValue] = {"limit": limit} | ({"status": status} if status else {})

    async def run(client: ParseBotClient) -> ToolResult:
        tasks = await client.list_tasks(limit=limit, status=status)
        shown: JsonValue = [_brief(task) for task in tasks]
        return ToolResult.success(f"{counted(len(tasks), 'task')}.", {"tasks": shown}, Meta())

    return await run_parsebot(state_of(ctx), ToolCall("list_tasks", arguments), run)


async def get_task(task_id: TaskId, ctx: Context[AppState, Any]) -> Annotated[CallToolResult, ToolResult]:
    """Show one build or revision task: its status, error, and the API it produced.

    Use it to look once; wait_for_task waits until the task settles. A failed build is a normal answer.
    """

    state = state_of(ctx)

    async def run(client: ParseBotClient) -> ToolResult:
        found, meta = await client.get_task(task_id)
        return await _with_repaired_call(state, task_id, task_observation(client, task_id, found, meta))

    return await run_parsebot(state, ToolCall("get_task", {"task_id": task_id}), run)


async def wait_for_task(
    task_id: TaskId,
    ctx: Context[AppState, Any],
    timeout_seconds: Annotated[int, Field(ge=1, le=45, description="How long to wait at most.")] = 30,
) -> Annotated[CallToolResult, ToolResult]:
    """Wait until a build or revision task settles, with progress notifications.

    Use it after create_api or revise_api. It returns within timeout_seconds; if the task is still
    running, next_call waits again. When completed, next_call is a ready execute_endpoint.
    """
    arguments: dict[str, JsonValue] = {"task_id": task_id, "timeout_seconds": timeout_seconds}
    state = state_of(ctx)

    async def run(client: ParseBotClient) -> ToolResult:
        seen: list[object] = []  # each status read, as sent

        async def read() -> tuple[JsonValue, Meta]:
            found, meta = await client.get_task(task_id)
            seen.append(field_of(found, "status"))
            return found, meta

        waited = await wait_until_settled(
            read,
            lambda status: status in SETTLED,
            budget_seconds=timeout_seconds,
            runtime=state.runtime,
            ctx=ctx,
            label=f"task {said(task_id, 'given')}",
        )
        if not waited.settled and seen[-1] not in LISTED_STATUSES and seen[-1] == seen[0]:
            return _stuck_unlisted(task_id, waited.document, waited.meta, waited.elapsed)
        if not waited.settled:
            return waited.keep_waiting(f"Task {said(task_id, 'given')}", "wait_for_task", arguments)
        observed = task_observation(client, task_id, waited.document, waited.meta)
        return await _with_repaired_call(state, task_id, observed)

    return await run_parsebot(state, ToolCall("wait_for_task", arguments), run)


async def revise_api(
    task_id: TaskId,
    description: Annotated[str, Field(min_length=1, max_length=4000, description="What to fix or add.")],
    ctx: Context[AppState, Any],
    agreed: Annotated[ElicitationResult[Any], Resolve(confirm.before_revise_api)],
) -> Annotated[CallToolResult, ToolResult]:
    """Ask Parse.bot to fix or extend a built API in words; runs as a task. Private revisions cost credits.

    Use it when guidance says revise_api (next_call carries a prepared description), or to add an
    endpoint; only once the build has completed. Then wait_for_task: the API's scraper_id and schema
    may change, so read them from the completed task. Never repeat it after a timeout: list_tasks.
    """
    arguments: dict[str, JsonValue] = {"task_id": task_id, "description": description}

    state = state_of(ctx)

    async def run(client: ParseBotClient) -> ToolResult:
        go_ahead(agreed)
        revision, meta = await client.revise_api(task_id, description)
        revision_id = token_of(field_of(revision, "task_id")) or token_of(field_of(revision, "id"))
        if revision_id is not None:
            await _follow_repair(state, task_id, revision_id)
        next_call = NextCall.offer("wait_for_task", {"task_id": revision_id}) if revision_id else None
        return ToolResult.success(
            f"Revision task {revision_id} is queued."
            if revision_id
            else "A revision task is queued; its id is in data.",
            revision,
            meta,
            next_step="Call wait_for_task on the revision, then repeat the call that failed.",
            next_call=next_call,
        )

    return await run_parsebot(state, ToolCall("revise_api", arguments), run)


async def check_updates(task_id: TaskId, ctx: Context[AppState, Any]) -> Annotated[CallToolResult, ToolResult]:
    """List the marketplace updates (new or changed endpoints) your copy of an API has not taken yet.

    Use it on a task whose API is a personal copy of a marketplace API; then preview_update and
    merge_updates.
    """

    async def run(client: ParseBotClient) -> ToolResult:
        found, meta = await client.check_updates(task_id)
        raw = field_of(found, "updates")
        updates = raw if isinstance(raw, list) else []
        if not updates:
            return ToolResult.success("Your copy has every update.", found, meta)
        names = [name for name in (token_of(field_of(u, "endpoint_name")) for u in updates) if name]
        count = len(updates)
        listed = f": {', '.join(names)}" if len(names) == count else " (data.updates names them)"
        return ToolResult.success(
            f"{count} updates{listed}.",
            found,
            meta,
            next_step="Try one with preview_update, then take the ones you want with merge_updates.",
        )

    return await run_parsebot(state_of(ctx), ToolCall("check_updates", {"task_id": task_id}), run)


async def preview_update(
    task_id: TaskId,
    endpoint: Annotated[str, Field(min_length=1, max_length=200, description="An endpoint name check_updates lists.")],
    ctx: Context[AppState, Any],
    agreed: Annotated[ElicitationResult[Any], Resolve(confirm.before_preview_update)],
    params: Annotated[
        dict[str, Any],
        Field(default_factory=dict, max_length=MAX_OBJECT_KEYS, description="Input for the endpoint."),
        AfterValidator(bounded_object),
    ],
) -> Annotated[CallToolResult, ToolResult]:
    """Run an endpoint as the marketplace's latest release has it, without changing your copy.

    Use it after check_updates (which names the endpoints) to see what merging would give. It runs
    the endpoint for real, so it may spend the endpoint's credits like execute_endpoint.
    """
    arguments: dict[str, JsonValue] = {"task_id": task_id, "endpoint": endpoint, "params": params}

    async def run(client: ParseBotClient) -> ToolResult:
        go_ahead(agreed)
        found, meta = await client.preview_update(task_id, endpoint, params)
        return ToolResult.success(
            f"The updated {said(endpoint, 'endpoint')} answered.",
            found,
            meta,
            next_step="Merge it with merge_updates if it is what you need.",
            next_call=NextCall.offer("merge_updates", {"task_id": task_id, "endpoints": [endpoint]}),
        )

    return await run_parsebot(state_of(ctx), ToolCall("preview_update", arguments), run)


async def merge_updates(
    task_id: TaskId,
    endpoints: Annotated[
        list[EndpointName],
        Field(min_length=1, max_length=MAX_ENDPOINTS, description="Endpoint names from check_updates."),
    ],
    ctx: Context[AppState, Any],
) -> Annotated[CallToolResult, ToolResult]:
    """Take marketplace updates into your copy of an API; its endpoints change to the new release's.

    Use it after check_updates (and preview_update). Not destructive, but not undone from here (the
    dashboard can roll a merge back); data.code_merged says whether the code itself was merged.
    """
    arguments: dict[str, JsonValue] = {"task_id": task_id, "endpoints": list(endpoints)}

    async def run(client: ParseBotClient) -> ToolResult:
        merged, meta = await client.merge_updates(task_id, list(endpoints))
        client.forget()
        count = integer_of(field_of(merged, "merged"))
        what = f"{count} endpoints" if count is not None else "the endpoints"
        return ToolResult.success(f"Merged {what} into your copy.", merged, meta)

    return await run_parsebot(state_of(ctx), ToolCall("merge_updates", arguments), run)


async def _follow_repair(state: AppState, task_id: str, revision_id: str) -> None:
    """The call that prompted this revision (if a failed call did) is now waiting for `revision_id`."""
    try:
        await state.repairs.follow(current_client(), task_id, revision_id)
    except StateUnavailable:
        logger.info("the call to repair could not be followed to its revision")


async def _with_repaired_call(state: AppState, task_id: str, observed: ToolResult) -> ToolResult:
    """A completed revision's observation, offering the call that prompted the revision (once) instead of the
    API's first endpoint: the repair loop ends where it began."""
    if not observed.ok or field_of(observed.data, "status") != "completed":
        return observed
    try:
        repaired = await state.repairs.take(current_client(), task_id)
    except StateUnavailable:
        return observed
    tool = repaired.get("tool") if repaired is not None else None
    arguments = repaired.get("arguments") if repaired is not None else None
    again = NextCall.offer(tool, arguments) if isinstance(tool, str) and isinstance(arguments, dict) else None
    if again is None:
        return observed
    return observed.model_copy(
        update={
            "next_step": "Make the call that failed again: the revision made for it has completed (next_call is "
            "that call, as it was).",
            "next_call": again,
        }
    )


def task_observation(client: ParseBotClient, task_id: str, task: JsonValue, meta: Meta) -> ToolResult:
    """A task's state as an ok answer, with the one next step that fits it."""
    status = field_of(task, "status")
    named = said(task_id, "given")
    if status == "completed":
        scraper_id = scraper_id_of_task(task)
        client.forget(scraper_id)  # a build or revision changed the API: read its schema again
        shown = speakable(scraper_id)
        return ToolResult.success(
            f"Task {named} completed: its API is {shown}." if shown else f"Task {named} completed: data has its API.",
            task,
            meta,
            next_step="Call execute_endpoint on it (describe_api lists the parameters).",
            next_call=_first_call(scraper_id, task),
        )
    if status == "failed":
        revised = token_of(field_of(task, "revision_of"))
        if revised is not None:
            return _failed_revision(named, revised, task, meta)
        if field_of(task, "may_require_auth") is True:
            step = "Tell the user this site needs a login: authenticated APIs are built in the Parse.bot dashboard."
        else:
            step = "Try create_api again with a clearer task description, or another page of the site."
        return ToolResult.success(
            f"Task {named} failed; data.error has the service's reason.", task, meta, next_step=step
        )
    if status == "needs_input":
        return ToolResult.success(
            f"Task {named} needs input; data.question has the service's question.",
            task,
            meta,
            next_step="Ask the user, and answer in the Parse.bot dashboard (this server has no call for it).",
        )
    if status in LISTED_STATUSES:
        return ToolResult.success(
            f"Task {named} is {status}.",
            task,
            meta,
            next_step="Call wait_for_task until it settles.",
            next_call=NextCall.offer("wait_for_task", {"task_id": task_id}),
        )
    # A status no reference lists is never read as done: its API is not offered, and a wait looks again.
    shown = token_of(status)
    return ToolResult.success(
        f"Task {named} is in a state this server does not know" + (f" ({shown})" if shown else "") + "; it is not "
        "read as completed.",
        task,
        meta,
        next_step="Call wait_for_task to look again over a while; if the task stays in this state, tell the user "
        "and check it in the Parse.bot dashboard.",
        next_call=NextCall.offer("wait_for_task", {"task_id": task_id}),
    )


def _stuck_unlisted(task_id: str, task: JsonValue, meta: Meta, elapsed: float) -> ToolResult:
    """A wait that began and ended on the same status no reference lists: another wait would be the same, so it
    is not offered (the loop ends here)."""
    shown = token_of(field_of(task, "status"))
    return ToolResult.success(
        f"Task {said(task_id, 'given')} stayed in a state this server does not know"
        + (f" ({shown})" if shown else "")
        + f" for the whole wait ({elapsed:.0f} s); it is not read as completed.",
        task,
        meta,
        next_step="Stop waiting: tell the user the task is in a state this server does not know and ask them to check "
        "it in the Parse.bot dashboard (get_task shows it again whenever they want).",
    )


def _failed_revision(named: str, revised: str, task: JsonValue, meta: Meta) -> ToolResult:
    """A revision that failed: its API still works as it did, so the way on is another revision of the same
    task, never a new build (which would throw the working API away and pay for it again)."""
    description = (
        f"The revision in task {named} failed (its error says why). Make the change it asked for again, in "
        "smaller steps, keeping every endpoint that works."
    )
    return ToolResult.success(
        f"Revision task {named} failed; data.error has the service's reason. The API it revised is unchanged.",
        task,
        meta,
        next_step=(
            f"Call revise_api on task {revised} again with a clearer description (next_call has one to refine with "
            "what data.error says); do not call create_api, which would replace the working API."
        ),
        next_call=NextCall.offer("revise_api", {"task_id": revised, "description": description}),
    )


def _first_call(scraper_id: str | None, task: JsonValue) -> NextCall | None:
    """A ready execute_endpoint: the first endpoint whose required parameters all have a safe default."""
    if speakable(scraper_id) is None:
        return None
    endpoints = field_of(field_of(task, "generated_api"), "endpoints")
    for raw in endpoints if isinstance(endpoints, list) else []:
        spec = parse_endpoint(raw)
        if spec is None or speakable(spec.name) is None:
            continue
        params: dict[str, JsonValue] = {}
        for param in spec.params:
            if param.required:
                value = param.default if param.default is not None else (param.choices or (None,))[0]
                if not (speakable(param.name) and _safe_value(value)):
                    break
                params[param.name] = value  # type: ignore[assignment]
        else:
            return NextCall.offer(
                "execute_endpoint", {"scraper_id": scraper_id, "endpoint": spec.name, "params": params}
            )
    return NextCall.offer("describe_api", {"scraper_id": scraper_id})


def _safe_value(value: object) -> bool:
    """A value from the service that may go into a ready call: a number, a boolean or a safe token."""
    if isinstance(value, bool | int | float):
        return True
    return isinstance(value, str) and speakable(value) is not None


def _brief(task: Mapping[str, object]) -> JsonValue:
    keys = ("id", "status", "url", "task", "result_scraper_id", "revision_of", "error", "may_require_auth")
    return {key: task[key] for key in keys if isinstance(task.get(key), str | bool)}  # type: ignore[misc]
