"""The tool catalogue an agent reads on every turn: complete, and small enough to afford."""

from __future__ import annotations

import json

import jsonschema
import pytest
from mcp import Client

from parse_mcp.results import OUTPUT_SCHEMA, ToolResult
from parse_mcp.server import build_server
from parse_mcp.settings import Secret, Settings

pytestmark = pytest.mark.anyio

# The contract plans about 25 tools; their whole tools/list must stay under 40,000 characters.
PLANNED_TOOLS = 25
TOOLS_LIST_BUDGET = 40_000


async def listed() -> list[dict[str, object]]:
    """Every tool: both keys set (the values do not matter, nothing is called)."""
    settings = Settings(parse_api_key=Secret("pmx_x"), scraperapi_key=Secret("x"))
    async with Client(build_server(settings)) as client:
        return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in (await client.list_tools()).tools]


async def test_every_tool_has_a_title_all_four_hints_and_a_description_that_says_when_to_use_it() -> None:
    for tool in await listed():
        assert tool["title"]
        hints = tool["annotations"]
        assert isinstance(hints, dict)
        assert {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"} <= set(hints)
        lines = str(tool["description"]).strip().splitlines()
        assert len(lines) >= 3, f"{tool['name']}: first line what it does, then when to use it"
        assert tool["outputSchema"] == OUTPUT_SCHEMA


async def test_the_tool_list_fits_its_budget_even_at_the_planned_size() -> None:
    tools = await listed()
    assert len(tools) == 21
    sizes = {str(t["name"]): len(json.dumps(t)) for t in tools}
    assert sum(sizes.values()) < TOOLS_LIST_BUDGET
    mean = sum(sizes.values()) / len(sizes)
    assert mean * PLANNED_TOOLS < TOOLS_LIST_BUDGET, sizes


async def test_input_schemas_carry_no_repeated_titles() -> None:
    for tool in await listed():
        assert '"title"' not in json.dumps(tool["inputSchema"])


def test_the_compact_output_schema_accepts_what_the_full_model_accepts() -> None:
    example = {
        "ok": False,
        "summary": "s",
        "next_step": None,
        "next_call": {"tool": "list_apis", "arguments": {}},
        "error": {"code": "blocked"},
        "guidance": {
            "action": "do_not_retry",
            "fault": "anti_bot",
            "retryable": False,
            "retry_after_seconds": None,
            "fix_fields": [],
        },
        "meta": {},
    }
    ToolResult.model_validate(example)
    jsonschema.validate(example, OUTPUT_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**example, "guidance": {**example["guidance"], "action": "panic"}}, OUTPUT_SCHEMA)  # type: ignore[dict-item]
