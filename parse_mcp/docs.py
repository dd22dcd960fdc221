"""The README's generated tables, rendered from the code so that they cannot drift.

`python -m parse_mcp.docs` rewrites the marked sections of README.md; a test fails when they differ.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mcp.types import Tool

from parse_mcp.guidance.table import ROWS, human_wait
from parse_mcp.server import COMPANION_TOOLS

if TYPE_CHECKING:
    from parse_mcp.settings import Settings


def tools_table(catalogue: Catalogue) -> str:
    lines = [
        "| tool | what it does | read-only | idempotent | destructive | listed when |",
        "|---|---|---|---|---|---|",
    ]
    for tool in catalogue.tools:
        hints = tool.annotations
        assert hints is not None, f"{tool.name} has no annotations"
        first = (tool.description or "").strip().splitlines()[0]
        listed = "`SCRAPERAPI_API_KEY` is set" if tool.name in catalogue.need_scraperapi_key else "always"
        served = next((spec.serves for spec in COMPANION_TOOLS if spec.name == tool.name), None)
        if served is not None:
            listed = "with " + " or ".join(f"`{name}`" for name in sorted(served))
        lines.append(
            f"| `{tool.name}` | {first} | {_yes(hints.read_only_hint)} | {_yes(hints.idempotent_hint)} "
            f"| {_yes(hints.destructive_hint)} | {listed} |"
        )
    return "\n".join(lines)


def errors_table() -> str:
    # `basis` says whether a row rests on the service's reference, on this server's inference where the
    # reference is silent (an AI Parser 400 decided by the parser's status), or on this server's own checks.
    lines = [
        "| upstream | `error.code` | action | fault | retryable | wait | basis |",
        "|---|---|---|---|---|---|---|",
    ]
    for code, row in ROWS.items():
        wait = "–"
        if row.wait is not None:
            wait = "the service's figure"
            if row.wait.default_seconds is not None:
                wait += f", else {human_wait(row.wait.default_seconds)}"
        lines.append(
            f"| {row.cause} | `{code}` | `{row.action}` | `{row.fault}` | {'yes' if row.retryable else 'no'} | {wait} "
            f"| {row.basis} |"
        )
    return "\n".join(lines)


def replace_section(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"README has no {name} section")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def _yes(flag: bool | None) -> str:
    return "yes" if flag else "no"


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Every tool the server can list (as a server with both keys lists them), and which of them it lists
    only when a ScraperAPI key is configured."""

    tools: list[Tool]
    need_scraperapi_key: frozenset[str]


async def catalogue() -> Catalogue:
    """Both listings, read through a real MCP client: what a server without keys lists, and one with both."""
    from parse_mcp.settings import Secret, Settings

    # The keys are never used: listing tools sends nothing upstream.
    without_keys = await _listed(Settings())
    every_tool = await _listed(Settings(parse_api_key=Secret("pmx_docs"), scraperapi_key=Secret("docs")))
    keyless = {tool.name for tool in without_keys}
    return Catalogue(every_tool, frozenset(tool.name for tool in every_tool if tool.name not in keyless))


async def _listed(settings: Settings) -> list[Tool]:
    from mcp import Client

    from parse_mcp.server import build_server

    async with Client(build_server(settings)) as client:
        return list((await client.list_tools()).tools)


def render_readme(text: str, tools: Catalogue) -> str:
    text = replace_section(text, "tools", tools_table(tools))
    return replace_section(text, "errors", errors_table())


def main() -> int:  # pragma: no cover - a developer's command, checked by the README test instead
    import anyio

    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    path.write_text(render_readme(path.read_text(), anyio.run(catalogue)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
