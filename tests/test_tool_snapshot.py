"""Every tool's whole contract as `tools/list` serves it, kept in `tool_snapshot.json` so a change shows in review.

When a change is meant, accept it with one command and commit the JSON with the change:

    .venv/bin/python -m tests.test_tool_snapshot
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.test_tool_catalog import listed

SNAPSHOT = Path(__file__).with_name("tool_snapshot.json")
UPDATE = ".venv/bin/python -m tests.test_tool_snapshot"


def encode(tools: list[dict[str, Any]]) -> str:
    return json.dumps(tools, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.anyio
async def test_every_tools_name_title_hints_description_and_schemas_are_as_reviewed() -> None:
    served = await listed()
    recorded = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert [tool["name"] for tool in served] == [tool["name"] for tool in recorded], f"accept with: {UPDATE}"
    for now, before in zip(served, recorded, strict=True):
        assert now == before, f"{now['name']} changed; if meant, accept with: {UPDATE}"


def main() -> None:
    SNAPSHOT.write_text(encode(anyio.run(listed)), encoding="utf-8")
    sys.stdout.write(f"wrote {SNAPSHOT}\n")


if __name__ == "__main__":
    main()
