"""The tool catalogue an agent reads on every turn: complete, portable, derived from the code, and affordable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, get_args

import jsonschema
import pytest
from mcp import Client

from parse_mcp.errors import ErrorRecord
from parse_mcp.guidance.table import Action, CallContext, guide
from parse_mcp.meta import Meta
from parse_mcp.results import ToolResult, limit_size, render
from parse_mcp.server import build_server, compact_schema
from parse_mcp.settings import Secret, Settings
from tests.test_results import without_guidance_inputs

pytestmark = pytest.mark.anyio

# The contract plans about 25 tools; their whole tools/list must stay under 40,000 characters.
PLANNED_TOOLS = 25
TOOLS_LIST_BUDGET = 40_000
# What the MCP Inspector's `--strict` check counts as constraining a value (a schema with none accepts anything).
CONSTRAINING = frozenset(
    {"type", "enum", "const", "anyOf", "allOf", "oneOf", "not", "$ref", "properties", "items", "required"}
    | {"minimum", "maximum", "minLength", "maxLength", "pattern", "format", "minItems", "maxItems"}
)


async def listed() -> list[dict[str, Any]]:
    """Every tool as `tools/list` serves it: both keys set (the values do not matter, nothing is called)."""
    settings = Settings(parse_api_key=Secret("pmx_x"), scraperapi_key=Secret("x"))
    async with Client(build_server(settings)) as client:
        return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in (await client.list_tools()).tools]


def advertised_output_schema() -> dict[str, Any]:
    return compact_schema(ToolResult.model_json_schema())


def subschemas(schema: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema inside `schema` (itself included) that describes a value, with its path."""
    if not isinstance(schema, dict):
        return
    yield path, schema
    for keyword in ("properties", "$defs"):
        for name, sub in schema.get(keyword, {}).items():
            yield from subschemas(sub, f"{path}.{keyword}.{name}")
    for keyword in ("anyOf", "allOf", "oneOf"):
        for index, sub in enumerate(schema.get(keyword, [])):
            yield from subschemas(sub, f"{path}.{keyword}[{index}]")
    if "items" in schema:
        yield from subschemas(schema["items"], f"{path}.items")


async def test_every_tool_has_a_title_all_four_hints_and_a_description_that_says_when_to_use_it() -> None:
    for tool in await listed():
        assert tool["title"]
        hints = tool["annotations"]
        assert isinstance(hints, dict)
        assert {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"} <= set(hints)
        lines = str(tool["description"]).strip().splitlines()
        assert len(lines) >= 3, f"{tool['name']}: first line what it does, then when to use it"


async def test_every_tool_advertises_the_result_models_own_schema_compacted() -> None:
    expected = advertised_output_schema()
    assert expected["required"] == ["ok", "summary", "next_step", "next_call", "meta"]
    for tool in await listed():
        assert tool["outputSchema"] == expected, tool["name"]


async def test_the_tool_list_fits_its_budget_even_at_the_planned_size() -> None:
    tools = await listed()
    assert len(tools) == 22
    sizes = {str(t["name"]): len(json.dumps(t)) for t in tools}
    assert sum(sizes.values()) < TOOLS_LIST_BUDGET
    mean = sum(sizes.values()) / len(sizes)
    assert mean * PLANNED_TOOLS < TOOLS_LIST_BUDGET, sizes


async def test_input_schemas_carry_no_repeated_titles() -> None:
    for tool in await listed():
        assert '"title"' not in json.dumps(tool["inputSchema"])


async def test_every_schema_is_portable_no_type_lists_and_no_value_left_unconstrained() -> None:
    """The two rules of the MCP Inspector's `--strict` check that pydantic's schemas can break."""
    problems: list[str] = []
    for tool in await listed():
        for kind in ("inputSchema", "outputSchema"):
            for path, node in subschemas(tool[kind], f"{tool['name']}.{kind}"):
                if isinstance(node.get("type"), list):
                    problems.append(f"{path}: type list {node['type']}")
                if not CONSTRAINING & set(node):
                    problems.append(f"{path}: accepts any value")
    assert problems == []


async def test_a_nullable_choice_still_accepts_null_as_the_arguments_model_does() -> None:
    """`type: [X, "null"]` beside an enum without null would refuse the null pydantic accepts."""
    (create_parser,) = [tool for tool in await listed() if tool["name"] == "create_parser"]
    arguments = {"name": "n", "urls": ["https://example.com/"], "fields": [{"name": "a", "description": "b"}]}
    arguments["fields"][0]["type"] = None  # type: ignore[index]
    jsonschema.validate(arguments, create_parser["inputSchema"])
    arguments["fields"][0]["type"] = "date"  # type: ignore[index]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(arguments, create_parser["inputSchema"])


def test_every_result_the_tools_render_matches_the_advertised_schema() -> None:
    call = CallContext(tool="list_apis", arguments={}, listed_tools=frozenset({"list_apis"}))
    record = ErrorRecord(code="blocked_transient", http_status=503, status="blocked", retry_after=60, snippet="<b>")
    results = [
        ToolResult.success("Deleted.", None),
        ToolResult.success("e returned data.", {"rows": [1, "a", None, True, 1.5]}, Meta(credits_charged=1)),
        ToolResult.success("e returned a list.", ["a"], next_step="Call list_apis.", next_call=None),
        limit_size(ToolResult.success("e returned text.", "x" * 200), 50),
        ToolResult.failure(guide(record, call), Meta(request_id="r", attempts=2, waited_seconds=1.5)),
    ]
    schema = advertised_output_schema()
    for result in results:
        structured = render(result).structured_content
        jsonschema.validate(structured, schema)
        assert ToolResult.model_validate(structured) == without_guidance_inputs(result)


def test_the_advertised_schema_refuses_what_no_result_can_be() -> None:
    schema = advertised_output_schema()
    valid = {"ok": True, "summary": "s", "next_step": None, "next_call": None, "data": 1, "meta": {}}
    jsonschema.validate(valid, schema)
    for broken in (
        {key: value for key, value in valid.items() if key != "meta"},
        {**valid, "ok": "yes"},
        {**valid, "next_step": 3},
        {**valid, "next_call": "list_apis"},
        {**valid, "error": None},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


async def test_the_instructions_a_client_receives_name_every_action(client: Client) -> None:
    instructions = client.instructions
    assert instructions is not None
    missing = [action for action in get_args(Action) if action not in instructions]
    assert missing == []
