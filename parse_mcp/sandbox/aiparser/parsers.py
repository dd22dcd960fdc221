"""Parsers and their versions: generation outcomes decided up front, revealed by the clock.

The site is static, so what a generation will produce is known the moment it starts. A version keeps that
outcome and the time it becomes visible; its status is read from the clock, so no background task runs
and a test moves a parser from GENERATING to FINISHED by advancing a ManualClock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from parse_mcp.sandbox.aiparser.extract import Field, JsonObject, PageData, PageKind, extract, inferred_fields
from parse_mcp.sandbox.aiparser.fetch import FetchFailure, Origin, fetch_page

# The last is no status the reference lists: a TEST-ONLY trigger (a parser whose name starts with
# UNLISTED_STATE_NAME shows it once generated), so a client's reading of a state it does not know can be rehearsed.
Status = Literal["GENERATING", "FINISHED", "FAILED", "SUSPENDED"]
UNLISTED_STATUS: Status = "SUSPENDED"
UNLISTED_STATE_NAME = "test-only-unlisted-state"
KIND_LABELS: dict[PageKind, str] = {
    "product": "a product page",
    "category": "a category page",
    "other": "another kind of page",
}


@dataclass(frozen=True)
class Generation:
    """What generating from the example URLs yields: the pages and their kind, or the reason it failed."""

    kind: PageKind | None
    pages: tuple[PageData, ...]
    fields: tuple[Field, ...]
    error: str | None


@dataclass(frozen=True)
class Version:
    """A snapshot of a parser's schema, with the example results it produces once generated."""

    number: int
    created_at: float
    ready_at: float
    # Custom fields are visible while generating; inferred ones only once generation has found them.
    fields_while_generating: tuple[Field, ...]
    fields: tuple[Field, ...]
    examples: tuple[JsonObject, ...]
    error: str | None = None
    # TEST-ONLY: the version shows UNLISTED_STATUS instead of FINISHED or FAILED once generated.
    unlisted: bool = False

    def status(self, now: float) -> Status:
        if now < self.ready_at:
            return "GENERATING"
        if self.unlisted:
            return UNLISTED_STATUS
        return "FAILED" if self.error is not None else "FINISHED"


@dataclass
class Parser:
    id: str
    name: str
    urls: tuple[str, ...]
    scraper_params: dict[str, bool | int | str]
    kind: PageKind | None
    pages: tuple[PageData, ...]
    versions: list[Version] = field(default_factory=list)

    @property
    def latest(self) -> Version:
        return self.versions[-1]

    def version(self, text: str) -> Version | None:
        """The version named by a path segment; versions are numbered 0, 1, 2... with none removed."""
        if not text.isascii() or not text.isdigit() or (len(text) > 1 and text.startswith("0")):
            return None
        number = int(text)
        return self.versions[number] if number < len(self.versions) else None

    def examples(self, fields: tuple[Field, ...]) -> tuple[JsonObject, ...]:
        return tuple(
            {"url": url, "result": extract(fields, page)} for url, page in zip(self.urls, self.pages, strict=True)
        )


def generate(urls: tuple[str, ...], fields: tuple[Field, ...], render: bool, origin: Origin) -> Generation:
    """Read every example URL and settle the outcome, naming the documented cause when it fails.

    Causes are checked in the order that lets the message be true: an unreadable page first, then a page
    that needs JavaScript (its kind is unknown until rendered), then example pages of different kinds."""
    pages: list[PageData] = []
    failures: list[FetchFailure] = []
    for url in urls:
        try:
            pages.append(fetch_page(url, origin, render))
        except FetchFailure as failure:
            failures.append(failure)
    unreadable = [failure for failure in failures if failure.cause != "needs_render"]
    if unreadable:
        first = unreadable[0]
        verb = "was blocked" if first.cause == "blocked" else "was inaccessible"
        return _failed(f"Example URL {first.url} {verb}: {first.reason}.", fields)
    if failures:
        url = failures[0].url
        return _failed(
            f"The domain requires JS rendering: {url} is an empty page until its JavaScript runs, "
            "and render=true was not set inside scraper_params.",
            fields,
        )
    kinds = [page.kind for page in pages]
    for url, kind in zip(urls[1:], kinds[1:], strict=True):
        if kind != kinds[0]:
            return _failed(
                f"Example URLs are from different URL types: {urls[0]} is {KIND_LABELS[kinds[0]]} but {url} is "
                f"{KIND_LABELS[kind]}. Use 1 to 3 URLs of the same page type.",
                fields,
            )
    return Generation(kinds[0], tuple(pages), fields or inferred_fields(kinds[0]), None)


def _failed(error: str, fields: tuple[Field, ...]) -> Generation:
    # Custom fields stay on a failed parser, so its details still show what was asked for.
    return Generation(None, (), fields, error)


def iso(timestamp: float) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, the way the service writes `created_at`."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def details(parser: Parser, version: Version, now: float) -> JsonObject:
    status = version.status(now)
    examples = list(version.examples) if status == "FINISHED" else []
    return {
        "id": parser.id,
        "name": parser.name,
        "version": version.number,
        "created_at": iso(version.created_at),
        "generated_at": None if status == "GENERATING" else iso(version.ready_at),
        "status": status,
        "error": version.error if status == "FAILED" else None,
        "urls": list(parser.urls),
        "scraper_params": dict(parser.scraper_params),
        "fields": [
            f.as_json() for f in (version.fields_while_generating if status == "GENERATING" else version.fields)
        ],
        # The docs show `example_result` in JSON and say `example_results` in prose; clients read either.
        "example_result": examples,
        "example_results": examples,
    }


def summary(parser: Parser, now: float) -> JsonObject:
    latest = parser.latest
    status = latest.status(now)
    return {
        "id": parser.id,
        "name": parser.name,
        "version": latest.number,
        "status": status,
        "generated_at": None if status == "GENERATING" else iso(latest.ready_at),
    }
