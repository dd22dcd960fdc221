"""Property: whatever arguments an agent sends to whatever tool, and whether the upstream succeeds or
echoes the key back in an error, the upstream sees only that tool's intended paths (each id as one
segment), every answer has the contract's shape, and neither key reaches a result.

Arguments are drawn from each tool's own input schema (as `list_tools` publishes it), with strings
biased towards a catalogue of hostile ids, and one example in ten ignoring the schema altogether.
One server and one real MCP client serve every example, on an event loop in a background thread, so
a thousand examples take seconds. `PARSE_MCP_FUZZ_EXAMPLES` raises the count on demand.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult, TextContent

from parse_mcp.server import PARSEBOT_TOOLS
from tests.hostile_upstream import (
    HOSTILE_IDS,
    KEY_FORMS,
    LISTING_ID,
    PARSE_KEY,
    SCRAPER_ID,
    SCRAPER_KEY,
    TASK_ID,
    HostileUpstream,
    KeyForm,
    Plan,
    documented_successes,
    echo_key,
    hostile_upstream,
    key_forms,
    server_for,
)

EXAMPLES = int(os.environ.get("PARSE_MCP_FUZZ_EXAMPLES", "1000"))
NAMES = ("get", "login", "a?b", "ü", *(value for value, _ in HOSTILE_IDS if value and len(value) < 100))
# Statuses an echoing upstream answers with: each failure row the classifier knows, and a success.
ECHO_STATUSES = (200, 400, 401, 402, 403, 404, 409, 422, 429, 500, 502, 503)
# An answer that carries the key in every field an error record or a success copies from the upstream.
ECHO_BODY = (
    '{"status": "error", "error": "bad key {key}", "message": "key {key} refused", "detail": "{key}",'
    ' "snippet": "<p>{key}</p>", "url": "https://site.example/?k={key}", "kind": "{key}", "vendor": "{key}",'
    ' "block_type": "{key}", "request_id": "{key}", "limit_type": "burst", "upstream_status_code": 500,'
    ' "data": {"echo": "{key}"}, "id": "{key}"}'
)
ECHO_HEADERS = (("X-Request-Id", "{key}"), ("Content-Type", "application/json"))
LOOKUPS = frozenset({"/dispatch/tasks", "/sdk/schemas"})
PARSEBOT_TOOL_NAMES = frozenset(spec.name for spec in PARSEBOT_TOOLS)
SHAPE = frozenset({"ok", "summary", "next_step", "next_call", "meta"})


def intended_paths(tool: str, arguments: Mapping[str, Any]) -> set[str]:
    """Every path `tool` may send with these arguments: its own and those of the look-ups that sharpen its
    guidance (a parser's status; the fixed ones of a Parse.bot tool), each id as one encoded segment."""

    def seg(name: str, default: str | None = None) -> str | None:
        value = arguments.get(name, default)
        return quote(value, safe="") if isinstance(value, str) else None

    parser = seg("parser_id")
    given_version = arguments.get("version")
    version = (str(given_version),) if isinstance(given_version, int) and not isinstance(given_version, bool) else ()
    scraper, task, endpoint, listing = seg("scraper_id"), seg("task_id"), seg("endpoint"), seg("listing")
    tasks = ("/dispatch/tasks", task)
    paths: dict[str, list[tuple[str | None, ...]]] = {
        "execute_endpoint": [("/sdk/schemas", scraper), ("/scraper", scraper, endpoint)],
        "list_apis": [("/sdk/schemas",)],
        "describe_api": [("/sdk/schemas", scraper)],
        "search_marketplace": [("/marketplace/apis",)],
        "get_marketplace_api": [
            ("/marketplace/apis", listing),
            ("/marketplace/by-slug", listing),
            ("/marketplace/apis", LISTING_ID),
        ],
        "create_api": [("/dispatch",)],
        "list_tasks": [("/dispatch/tasks",)],
        "get_task": [tasks],
        "wait_for_task": [tasks],
        "revise_api": [(*tasks, "revise")],
        "check_updates": [(*tasks, "updates")],
        "preview_update": [(*tasks, "preview-update", endpoint)],
        "merge_updates": [(*tasks, "merge-updates")],
        "login": [("/scraper", scraper, seg("endpoint", "login")), ("/sdk/schemas", scraper)],
        "create_parser": [("/parsers",)],
        "list_parsers": [("/parsers",)],
        "get_parser": [("/parsers", parser, *version)],
        "update_parser": [("/parsers", parser, *version)],
        "delete_parser": [("/parsers", parser)],
        "wait_for_parser": [("/parsers", parser, *version)],
        # The parser's status, read after a 400 to tell "still generating" from "failed" (the evidence step).
        "parse_url": [("/parse", parser, *version), ("/parsers", parser, *version)],
        # Reads what this server kept: it never asks the upstream anything.
        "read_result": [],
    }
    # A path whose id is missing or not a string is not a path this tool can send.
    own = {"/".join(parts) for parts in paths[tool] if all(part is not None for part in parts)}  # type: ignore[arg-type]
    return own | (LOOKUPS if tool in PARSEBOT_TOOL_NAMES else set())


# -- strategies from the published input schemas ---------------------------------------------------------

JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)


def json_containers(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)


ANY_JSON = st.recursive(JSON_LEAVES, json_containers)
HOSTILE_TEXT = st.sampled_from([value for value, _ in HOSTILE_IDS] + list(NAMES))
# Ids the upstream knows and ids that merely look right, so that calls also get past the checks.
PLAIN_TEXT = st.sampled_from([SCRAPER_ID, TASK_ID, LISTING_ID, "parser-1", "get", "login"]) | st.from_regex(
    r"[A-Za-z0-9_.~-]{1,24}", fullmatch=True
)


def from_schema(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values for one JSON schema node, as pydantic writes them (type lists, $ref, anyOf, enum, bounds)."""
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return st.one_of([from_schema(option, defs) for option in schema["anyOf"]])
    types = schema.get("type", "object")
    if isinstance(types, list):
        return st.one_of([from_schema({**schema, "type": one}, defs) for one in types])
    if "enum" in schema and types != "null":
        return st.sampled_from(schema["enum"])
    match types:
        case "null":
            return st.none()
        case "boolean":
            return st.booleans()
        case "integer":
            low, high = schema.get("minimum"), schema.get("maximum")
            # One step outside each bound, so the bounds themselves are exercised.
            return st.integers(low - 1 if low is not None else -3, high + 1 if high is not None else 1_000)
        case "number":
            return st.floats(allow_nan=False)
        case "string":
            if "pattern" in schema:
                return st.from_regex(schema["pattern"], fullmatch=True)
            return HOSTILE_TEXT | PLAIN_TEXT | st.text(max_size=schema.get("maxLength", 300) + 1)
        case "array":
            return st.lists(from_schema(schema.get("items", {}), defs), max_size=min(schema.get("maxItems", 4), 4))
        case _:
            return _object(schema, defs)


def _object(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    if not properties:
        return st.dictionaries(st.text(max_size=10), ANY_JSON, max_size=3)
    required = set(schema.get("required", ()))
    return st.fixed_dictionaries(
        {name: from_schema(node, defs) for name, node in properties.items() if name in required},
        optional={name: from_schema(node, defs) for name, node in properties.items() if name not in required},
    )


def arguments_for(schema: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly what the schema describes (hostile strings included); one time in ten, any JSON object."""
    wild = st.dictionaries(st.sampled_from([*schema.get("properties", {}), "extra"]), ANY_JSON, max_size=4)
    return st.integers(0, 9).flatmap(lambda roll: wild if roll == 0 else from_schema(schema, schema.get("$defs", {})))


# -- one server and client for every example --------------------------------------------------------------


@dataclass
class Target:
    upstream: HostileUpstream
    client: Client
    schemas: dict[str, dict[str, Any]]
    cases: int = 0


@asynccontextmanager
async def fuzz_target() -> AsyncIterator[Target]:
    async with (
        hostile_upstream(documented_successes(NAMES), lifetime_seconds=600) as upstream,
        Client(server_for(upstream), raise_exceptions=True) as client,
    ):
        listed = await client.list_tools()
        yield Target(upstream, client, {tool.name: tool.input_schema for tool in listed.tools})


@dataclass(frozen=True)
class Example:
    tool: str
    arguments: dict[str, Any]
    # None: every documented path succeeds; else every path answers this status, echoing the key so.
    echo: tuple[int, KeyForm] | None


def examples(schemas: Mapping[str, Mapping[str, Any]]) -> st.SearchStrategy[Example]:
    """A tool, its arguments and the upstream's plan. Each tool's strategy is built once, not at every draw."""
    echoes = st.none() | st.tuples(st.sampled_from(ECHO_STATUSES), st.sampled_from(KEY_FORMS))
    return st.one_of(
        [st.builds(Example, st.just(tool), arguments_for(schemas[tool]), echoes) for tool in sorted(schemas)]
    )


async def run_example(target: Target, example: Example) -> tuple[CallToolResult, list[str]]:
    plans: dict[str, Plan] = documented_successes(NAMES)
    if example.echo is not None:
        status, form = example.echo
        plans = {"/": echo_key(form, ECHO_BODY, status=status, headers=ECHO_HEADERS)}
    target.upstream.plans = plans
    target.upstream.seen.clear()
    result = await target.client.call_tool(example.tool, example.arguments)
    return result, target.upstream.paths()


def _strings(value: object) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


LEAKS = {
    f"{name}:{form}": text
    for name, key in (("parse", PARSE_KEY), ("scraper", SCRAPER_KEY))
    for form, text in key_forms(key).items()
}


def check(example: Example, result: CallToolResult, paths: list[str]) -> None:
    intended = intended_paths(example.tool, example.arguments)
    stray = [path for path in paths if path not in intended]
    assert not stray, f"{example.tool} sent {stray}; intended only {sorted(intended)}"

    content = result.structured_content
    assert isinstance(content, dict), "no structured result"
    assert content.keys() >= SHAPE, f"missing {sorted(SHAPE - content.keys())}"
    assert result.is_error is (content["ok"] is not True)
    assert isinstance(content["summary"], str)
    assert content["summary"]
    assert content["next_step"] is None or isinstance(content["next_step"], str)
    assert content["next_call"] is None or {"tool", "arguments"} <= content["next_call"].keys()
    if content["ok"] is not True:
        assert {"error", "guidance"} <= content.keys()
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    assert texts, "no text content"

    for text in [*texts, *_strings(content)]:
        folded = text.casefold()
        leaked = [name for name, form in LEAKS.items() if form in text or form.casefold() in folded]
        assert not leaked, f"{example.tool} leaked {leaked}"


def test_fuzzed_arguments_reach_only_intended_paths_and_always_get_a_leak_free_result() -> None:
    portal: BlockingPortal
    with start_blocking_portal("asyncio") as portal, portal.wrap_async_context_manager(fuzz_target()) as target:
        every_example = examples(target.schemas)

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(st.data())
        def one(data: st.DataObject) -> None:
            example = data.draw(every_example)
            result, paths = portal.call(run_example, target, example)
            target.cases += 1
            check(example, result, paths)

        one()
    # Hypothesis runs fewer examples than asked only when it runs out of new ones; that would hide a gap.
    assert target.cases >= EXAMPLES
