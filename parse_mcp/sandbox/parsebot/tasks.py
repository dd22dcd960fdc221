"""Dispatch tasks: builds, marketplace copies and revisions, whose status is a function of the clock.

Nothing runs in the background. A task knows when it leaves `queued` and when it finishes, and its status is
computed whenever it is read. What a finished task changes (a new API, a new release) is applied by
`settle()`, which every Parse.bot route calls before it answers, in the order the tasks finished.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from parse_mcp.sandbox.clock import Clock, iso_utc
from parse_mcp.sandbox.parsebot.apis import ScraperApi
from parse_mcp.sandbox.parsebot.envelopes import JsonObject
from parse_mcp.sandbox.parsebot.registry import Registry
from parse_mcp.sandbox.parsebot.rows import absolute, generated_api

QUEUED, RUNNING, COMPLETED, FAILED, NEEDS_INPUT = "queued", "running", "completed", "failed", "needs_input"
# The built-in tasks finished this far apart before the sandbox started, the first listed most recently.
BUILT_IN_SPACING_SECONDS = 3600.0

Effect = Callable[[Registry], None]


@dataclass
class Task:
    id: str
    # Absolute as dispatched; a site path (starting with /) for the built-in tasks, made absolute when shown.
    url: str
    task: str | None
    # The final status: completed, failed or needs_input.
    outcome: str
    scraper_id: str | None
    # Set by `TaskBoard.start` (or for a built-in task, by the board) when the task is queued.
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    marketplace_id: str | None = None
    may_require_auth: bool = False
    error: str | None = None
    question: str | None = None
    revision_of: str | None = None
    # What finishing changes, applied once by `TaskBoard.settle`; None when it changes nothing.
    effect: Effect | None = None
    sequence: int = 0

    def status(self, now: float) -> str:
        if now < self.started_at:
            return QUEUED
        if now < self.finished_at:
            return RUNNING
        return self.outcome

    def updated_at(self, now: float) -> float:
        if now < self.started_at:
            return self.created_at
        if now < self.finished_at:
            return self.started_at
        return self.finished_at


@dataclass(frozen=True)
class Timing:
    queue_seconds: float
    run_seconds: float


class TaskBoard:
    def __init__(self, clock: Clock, registry: Registry, built_ins: Iterable[ScraperApi]) -> None:
        self._clock = clock
        self._registry = registry
        self._tasks: dict[str, Task] = {}
        self._sequence = itertools.count()
        self._ids = itertools.count(1)
        start = clock.now()
        for index, api in enumerate(built_ins, start=1):
            done = start - index * BUILT_IN_SPACING_SECONDS
            self._add(
                Task(
                    id=api.task_id,
                    url=api.site_path,
                    task=api.task,
                    outcome=COMPLETED,
                    scraper_id=api.id,
                    created_at=done,
                    started_at=done,
                    finished_at=done,
                    marketplace_id=api.marketplace_id,
                    may_require_auth=api.is_authenticated,
                )
            )

    def new_ids(self) -> tuple[str, str]:
        """A fresh task id and scraper id, counted per sandbox so reruns give the same ids."""
        n = next(self._ids)
        return f"task-sbx-{n:04d}", f"7f3c2a91-4b8e-4d2a-9c61-b11d{n:08x}"

    def start(self, task: Task, timing: Timing) -> Task:
        """Queue `task` now; it runs after `queue_seconds` and finishes `run_seconds` later."""
        now = self._clock.now()
        task.created_at = now
        task.started_at = now + timing.queue_seconds
        task.finished_at = task.started_at + timing.run_seconds
        self._add(task)
        self.settle()
        return task

    def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def newest_first(self, status: str | None = None) -> list[Task]:
        now = self._clock.now()
        tasks = sorted(self._tasks.values(), key=lambda task: (task.created_at, task.sequence), reverse=True)
        return [task for task in tasks if status is None or task.status(now) == status]

    def settle(self) -> None:
        now = self._clock.now()
        due = [
            (task, effect)
            for task in self._tasks.values()
            if (effect := task.effect) is not None and task.finished_at <= now
        ]
        for task, effect in sorted(due, key=lambda pair: (pair[0].finished_at, pair[0].sequence)):
            task.effect = None
            effect(self._registry)

    def record(self, task: Task, base_url: str) -> JsonObject:
        """The task as `GET /dispatch/tasks/{id}` shows it now."""
        now = self._clock.now()
        status = task.status(now)
        # A revision works on an API that already exists; a build's API exists only once it completed.
        shows_result = status == COMPLETED or task.revision_of is not None
        api = self._registry.find(task.scraper_id) if task.scraper_id and status == COMPLETED else None
        record: JsonObject = {
            "id": task.id,
            "url": absolute(base_url, task.url),
            "task": task.task,
            "status": status,
            "error": task.error if status == FAILED else None,
            "result_scraper_id": task.scraper_id if shows_result else None,
            "result_marketplace_id": task.marketplace_id if shows_result else None,
            "may_require_auth": task.may_require_auth,
            "generated_api": generated_api(api, base_url) if api is not None else None,
            "created_at": iso_utc(task.created_at),
            "updated_at": iso_utc(task.updated_at(now)),
        }
        if status == NEEDS_INPUT:
            record["question"] = task.question
        if task.revision_of is not None:
            record["revision_of"] = task.revision_of
        return record

    def _add(self, task: Task) -> None:
        task.sequence = next(self._sequence)
        self._tasks[task.id] = task
