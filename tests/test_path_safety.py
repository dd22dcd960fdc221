"""Ids and endpoint names never change the upstream path: for every tool that puts one in a path, and a
catalogue of hostile ids, the upstream sees exactly the intended path (the id as one percent-encoded
segment) or nothing, and a refused id answers `fix_input` naming the argument."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult

from parse_mcp.errors import RejectedLocally
from parse_mcp.services.paths import path_segment
from tests.hostile_upstream import (
    HOSTILE_IDS,
    LISTING_ID,
    SCRAPER_ID,
    TASK_ID,
    documented_successes,
    hostile_upstream,
    server_for,
)

pytestmark = pytest.mark.anyio

# Paths any Parse.bot tool may read to sharpen its guidance; they carry no caller id.
LOOKUPS = frozenset({"/dispatch/tasks", "/sdk/schemas"})


@dataclass(frozen=True)
class Case:
    """One tool and the argument that goes into its path; `paths` are templates, `{id}` the encoded id."""

    tool: str
    argument: str
    others: dict[str, Any]
    paths: tuple[str, ...]
    # A new client (and so new server state) for each id: login counts attempts per API, 3 an hour.
    fresh_state: bool = False

    def arguments(self, value: str) -> dict[str, Any]:
        return {**self.others, self.argument: value}

    def intended(self, value: str) -> set[str]:
        return {path.replace("{id}", quote(value, safe="")) for path in self.paths} | LOOKUPS

    def without_the_id(self) -> set[str]:
        return {path for path in self.paths if "{id}" not in path} | LOOKUPS

    def id_paths(self, value: str) -> set[str]:
        return {path.replace("{id}", quote(value, safe="")) for path in self.paths if "{id}" in path}

    def __str__(self) -> str:
        return f"{self.tool}.{self.argument}"


CREDENTIALS = {"username": "u", "password": "p"}
CASES: tuple[Case, ...] = (
    Case("execute_endpoint", "scraper_id", {"endpoint": "get"}, ("/sdk/schemas/{id}", "/scraper/{id}/get")),
    Case(
        "execute_endpoint",
        "endpoint",
        {"scraper_id": SCRAPER_ID},
        (f"/sdk/schemas/{SCRAPER_ID}", f"/scraper/{SCRAPER_ID}/{{id}}"),
    ),
    Case("describe_api", "scraper_id", {}, ("/sdk/schemas/{id}",)),
    Case("login", "scraper_id", {"credentials": CREDENTIALS}, ("/scraper/{id}/login", "/sdk/schemas/{id}")),
    Case(
        "login",
        "endpoint",
        {"scraper_id": SCRAPER_ID, "credentials": CREDENTIALS},
        (f"/scraper/{SCRAPER_ID}/{{id}}", f"/sdk/schemas/{SCRAPER_ID}"),
        fresh_state=True,
    ),
    Case(
        "get_marketplace_api",
        "listing",
        {},
        ("/marketplace/apis/{id}", "/marketplace/by-slug/{id}", f"/marketplace/apis/{LISTING_ID}"),
    ),
    Case("get_task", "task_id", {}, ("/dispatch/tasks/{id}",)),
    Case("wait_for_task", "task_id", {"timeout_seconds": 5}, ("/dispatch/tasks/{id}",)),
    Case("revise_api", "task_id", {"description": "Fix the price field."}, ("/dispatch/tasks/{id}/revise",)),
    Case("check_updates", "task_id", {}, ("/dispatch/tasks/{id}/updates",)),
    Case("preview_update", "task_id", {"endpoint": "get"}, ("/dispatch/tasks/{id}/preview-update/get",)),
    Case(
        "preview_update",
        "endpoint",
        {"task_id": TASK_ID},
        (f"/dispatch/tasks/{TASK_ID}/preview-update/{{id}}",),
    ),
    Case("merge_updates", "task_id", {"endpoints": ["get"]}, ("/dispatch/tasks/{id}/merge-updates",)),
    Case("get_parser", "parser_id", {}, ("/parsers/{id}",)),
    Case("update_parser", "parser_id", {"remove_fields": ["price"]}, ("/parsers/{id}",)),
    Case("delete_parser", "parser_id", {}, ("/parsers/{id}",)),
    Case("parse_url", "parser_id", {"url": "https://example.com/item"}, ("/parse/{id}",)),
    Case("wait_for_parser", "parser_id", {"timeout_seconds": 5}, ("/parsers/{id}",)),
)

# The upstream declares an endpoint under every hostile name, so execute_endpoint's check cannot lean
# on "no such endpoint": the name is refused for what it would do to the path.
DECLARED = ("get", "login", *(value for value, _ in HOSTILE_IDS if value))


def _label(value: str) -> str:
    return ascii(value if len(value) <= 20 else value[:20] + "...")


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_hostile_ids_reach_exactly_their_own_path_or_nothing(case: Case) -> None:
    problems: list[str] = []
    async with hostile_upstream(documented_successes(DECLARED)) as upstream:
        server = server_for(upstream)
        async with Client(server, raise_exceptions=True) as shared:
            for value, refused in HOSTILE_IDS:
                upstream.seen.clear()
                if case.fresh_state:
                    async with Client(server, raise_exceptions=True) as fresh:
                        result = await fresh.call_tool(case.tool, case.arguments(value))
                else:
                    result = await shared.call_tool(case.tool, case.arguments(value))
                problems += _problems(case, value, refused, result, set(upstream.paths()))
    assert problems == []


def _problems(case: Case, value: str, refused: bool, result: CallToolResult, seen: set[str]) -> list[str]:
    """What went wrong for one id, in words; empty when the upstream saw the intended paths or nothing."""
    content = result.structured_content or {}
    shown = _label(value)
    if refused:
        found = (
            [f"{case} {shown}: sent to {sorted(seen - case.without_the_id())}"] if seen - case.without_the_id() else []
        )
        guidance = content.get("guidance") or {}
        message = (content.get("error") or {}).get("message", "")
        if not result.is_error or guidance.get("action") != "fix_input":
            found.append(f"{case} {shown}: answered {guidance.get('action')!r}, not fix_input")
        if case.argument not in guidance.get("fix_fields", ()) or not message.startswith(case.argument):
            found.append(f"{case} {shown}: the answer does not name {case.argument} ({message!r})")
        return found
    found = [f"{case} {shown}: sent to {sorted(seen - case.intended(value))}"] if seen - case.intended(value) else []
    if not seen & case.id_paths(value):
        found.append(f"{case} {shown}: never sent as one segment (saw {sorted(seen)})")
    if content.get("ok") is not True:
        found.append(f"{case} {shown}: not ok ({content.get('summary')!r})")
    return found


def test_the_catalogue_covers_every_tool_that_puts_an_id_in_a_path() -> None:
    tools = {case.tool for case in CASES}
    assert tools == {
        "execute_endpoint",
        "describe_api",
        "login",
        "get_marketplace_api",
        "get_task",
        "wait_for_task",
        "revise_api",
        "check_updates",
        "preview_update",
        "merge_updates",
        "get_parser",
        "update_parser",
        "delete_parser",
        "parse_url",
        "wait_for_parser",
    }


async def test_a_refused_id_says_which_argument_and_what_is_wrong() -> None:
    async with (
        hostile_upstream(documented_successes()) as upstream,
        Client(server_for(upstream), raise_exceptions=True) as client,
    ):
        result = await client.call_tool("delete_parser", {"parser_id": ".."})

    content = result.structured_content
    assert content is not None
    # The value itself is never repeated: it may be a third party's text, and the message is said as ours.
    assert content["error"]["message"] == "parser_id is not an id: it would change the request's path."
    assert content["guidance"]["fix_fields"] == ["parser_id"]
    assert upstream.seen == []


@given(st.text(max_size=40) | st.sampled_from([value for value, _ in HOSTILE_IDS]))
def test_any_text_is_refused_or_becomes_one_segment_that_decodes_back_to_itself(value: str) -> None:
    outcome = _segment_or_refusal(value)
    if isinstance(outcome, RejectedLocally):
        assert outcome.record.fields == ("task_id",)
        assert outcome.record.message.startswith("task_id is not an id: ")
        return
    assert "/" not in outcome
    assert set(outcome) != {"."}
    assert unquote(outcome) == value
    # The client's own URL handling keeps it as it is: one segment, not normalised away.
    assert httpx2.URL(f"http://127.0.0.1/parsers/{outcome}").raw_path == f"/parsers/{outcome}".encode()


def _segment_or_refusal(value: str) -> str | RejectedLocally:
    try:
        return path_segment(value, "task_id")
    except RejectedLocally as refused:
        return refused


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "it is empty"),
        ("x" * 257, "it is longer than 256 characters"),
        ("   ", "it is only whitespace"),
        (" api-1", "it has whitespace around it"),
        ("api\ud800", "it has a character that cannot be sent (an unpaired surrogate, or escapes that are not UTF-8)"),
        ("api%c0%ae", "it has a character that cannot be sent (an unpaired surrogate, or escapes that are not UTF-8)"),
        ("api\u200b", "it contains a control or invisible character"),
        ("%20", "it is only whitespace once decoded"),
        ("a%2fb", "a slash or backslash would change the request's path"),
    ],
)
def test_each_refusal_says_exactly_what_is_wrong_with_the_id(value: str, problem: str) -> None:
    outcome = _segment_or_refusal(value)
    assert isinstance(outcome, RejectedLocally)
    assert outcome.record.message == f"task_id is not an id: {problem}."


def test_an_id_of_exactly_the_longest_length_is_sent_as_one_segment() -> None:
    assert path_segment("x" * 256, "task_id") == "x" * 256
