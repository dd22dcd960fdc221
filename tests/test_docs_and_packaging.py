"""Docs that cannot drift: generated README tables, server.json versions, the README's first commands."""

from __future__ import annotations

import json
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from mcp import Client

from parse_mcp import __version__
from parse_mcp.docs import catalogue, render_readme
from parse_mcp.prompts import load_templates
from parse_mcp.server import build_server
from parse_mcp.settings import Settings

ROOT = Path(__file__).parent.parent


@pytest.mark.anyio
async def test_the_readme_tables_match_the_code() -> None:
    readme = (ROOT / "README.md").read_text()
    assert render_readme(readme, await catalogue()) == readme, "run `python -m parse_mcp.docs` to re-render the README"


@pytest.mark.anyio
async def test_the_readme_tool_table_lists_every_tool_and_says_which_need_a_scraperapi_key() -> None:
    listed = await catalogue()
    table = (ROOT / "README.md").read_text().split("<!-- tools:start -->")[1].split("<!-- tools:end -->")[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) == len(listed.tools) == 21
    assert listed.need_scraperapi_key == {
        "create_parser",
        "get_parser",
        "list_parsers",
        "update_parser",
        "delete_parser",
        "parse_url",
        "wait_for_parser",
    }
    for row in rows:
        name = row.split("`")[1]
        assert row.endswith("| `SCRAPERAPI_API_KEY` is set |") == (name in listed.need_scraperapi_key), row


def test_server_json_carries_the_package_version() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    server = json.loads((ROOT / "server.json").read_text())
    # One place holds the version: the build reads it from the package, so start-up never asks importlib.metadata.
    assert "version" not in project
    assert project["dynamic"] == ["version"]
    assert pyproject["tool"]["hatch"]["version"]["path"] == "parse_mcp/__init__.py"
    written = re.findall(r'^__version__ = "([^"]+)"$', (ROOT / "parse_mcp" / "__init__.py").read_text(), re.MULTILINE)
    assert written == [__version__]
    assert server["version"] == __version__
    assert {p["version"] for p in server["packages"]} == {__version__}
    assert {p["identifier"] for p in server["packages"]} == {project["name"]}
    assert len(server["description"]) <= 100
    assert f"mcp-name: {server['name']}" in (ROOT / "README.md").read_text()


def test_the_installed_distribution_reports_the_version_the_package_holds() -> None:
    assert version("parse-mcp") == __version__


def test_server_json_declares_every_variable_the_settings_read() -> None:
    declared = {
        v["name"] for p in json.loads((ROOT / "server.json").read_text())["packages"] for v in p["environmentVariables"]
    }
    read = set(re.findall(r'"((?:PARSE|SCRAPERAPI)_[A-Z_]+)"', (ROOT / "parse_mcp" / "settings.py").read_text()))
    # The package entry serves stdio; the bearer token only guards the HTTP transport.
    http_only = {"PARSE_MCP_HTTP_TOKEN"}
    assert http_only <= read
    assert declared == read - http_only
    assert declared == {"PARSE_API_KEY", "PARSE_API_BASE_URL", "SCRAPERAPI_API_KEY", "SCRAPERAPI_AIPARSER_URL"}


def test_the_readme_opens_with_the_two_commands_ci_and_people_use() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert lines[2] == "```sh"
    assert lines[3].startswith("make demo")
    assert lines[4].startswith("make test")
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_prompt_template_parses_and_fills_its_placeholders() -> None:
    templates = load_templates()
    assert {t.name for t in templates} == {"recover_from_failed_call", "build_api_for_site", "repair_broken_endpoint"}
    for template in templates:
        rendered = template.render({arg.name: f"<{arg.name}>" for arg in template.arguments})
        assert "$" not in rendered.replace("$ ", "")
        for arg in template.arguments:
            assert f"<{arg.name}>" in rendered


@pytest.mark.anyio
async def test_prompts_are_served_and_render_with_their_arguments() -> None:
    async with Client(build_server(Settings())) as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
        assert set(listed) == {"recover_from_failed_call", "build_api_for_site", "repair_broken_endpoint"}
        rendered = await client.get_prompt(
            "repair_broken_endpoint", {"scraper_id": "api-1", "endpoint": "get_book", "params": '{"slug": "x"}'}
        )
    text = rendered.messages[0].content.text  # type: ignore[union-attr]
    assert "The endpoint `get_book` of the API `api-1` fails." in text
    assert '{"slug": "x"}' in text
