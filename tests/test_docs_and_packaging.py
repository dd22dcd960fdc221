"""Docs that cannot drift: generated README tables, server.json versions, the README's first commands."""

from __future__ import annotations

import json
import re
import shlex
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
    assert len(rows) == len(listed.tools) == 22
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
    assert declared == {
        "PARSE_API_KEY",
        "PARSE_API_BASE_URL",
        "SCRAPERAPI_API_KEY",
        "SCRAPERAPI_AIPARSER_URL",
        "PARSE_MCP_REDIS_URL",
        "PARSE_MCP_REDIS_PREFIX",
        "PARSE_MCP_SESSION_SECRET",
        "PARSE_MCP_DAILY_CREDITS",
        "PARSE_MCP_CLIENT_DAILY_CREDITS",
        "PARSE_MCP_SCRAPERAPI_DAILY_CREDITS",
        "PARSE_MCP_CONFIRM_CREDITS",
        "PARSE_MCP_STATE_DIR",
    }


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


def test_server_json_names_the_repository_the_package_points_to() -> None:
    server = json.loads((ROOT / "server.json").read_text())
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert server["repository"] == {"url": urls["Repository"], "source": "github"}
    # The registry's name for a GitHub-verified server is io.github.<owner>/<repository>.
    owner, repository = urls["Repository"].removeprefix("https://github.com/").split("/")
    assert server["name"] == f"io.github.{owner}/{repository}"


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    level = heading.split(" ")[0]
    ends = [text.find(f"\n{marker} ", start + 1) for marker in ("#" * n for n in range(1, len(level) + 1))]
    return text[start : min((end for end in ends if end != -1), default=len(text))]


def _fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def test_every_client_setup_in_the_readme_has_a_sandbox_variant_and_its_json_pastes() -> None:
    readme = (ROOT / "README.md").read_text()
    for client in ("Claude Code", "Claude Desktop", "Cursor", "VS Code"):
        section = _section(readme, f"### {client}")
        assert "--sandbox" in section, client
        for block in _fenced(section, "json"):
            json.loads(block)
    vscode = json.loads(_fenced(_section(readme, "### VS Code"), "json")[0])
    prompts = {entry["id"]: entry for entry in vscode["inputs"]}
    assert all(entry["type"] == "promptString" and entry["password"] is True for entry in prompts.values())
    used = set(re.findall(r"\$\{input:([^}]+)\}", json.dumps(vscode["servers"])))
    assert used
    assert used <= set(prompts)
    assert {server["type"] for server in vscode["servers"].values()} == {"stdio"}
    desktop = _section(readme, "### Claude Desktop")
    for path in ("~/Library/Application Support/Claude/", "%APPDATA%\\Claude\\", "~/.config/Claude/"):
        assert path in desktop
    assert "claude mcp add --transport stdio" in _section(readme, "### Claude Code")
    troubleshooting = _section(readme, "## Troubleshooting")
    for symptom in ("No tools are listed", "ask_user", "401 or 421", "stdout", "Timeouts"):
        assert symptom in troubleshooting


def test_the_pypi_description_shows_the_readme_client_setups_word_for_word() -> None:
    readme = (ROOT / "README.md").read_text()
    pypi = (ROOT / "docs" / "pypi.md").read_text()
    setups = [block for block in _fenced(pypi, "(?:sh|json)") if "mcpServers" in block or "claude mcp" in block]
    setups += [block for block in _fenced(pypi, "json") if '"servers"' in block]
    assert len(setups) == 3
    for block in setups:
        assert block in readme
    assert f"mcp-name: {json.loads((ROOT / 'server.json').read_text())['name']}" in pypi


def test_every_parse_mcp_command_the_docs_show_is_one_the_cli_accepts() -> None:
    from parse_mcp.cli import _parser

    shown = 0
    for doc in (ROOT / "README.md", ROOT / "docs" / "pypi.md"):
        for block in _fenced(doc.read_text(), "sh"):
            for line in block.splitlines():
                words = shlex.split(line.split("  #")[0])
                while words and "=" in words[0]:
                    words.pop(0)  # VARIABLE=value before the command
                if words[:1] == ["uvx"]:
                    words.pop(0)
                if words[:1] != ["parse-mcp"]:
                    continue
                shown += 1
                if {"--version", "--help"} & set(words):  # these answer and exit
                    with pytest.raises(SystemExit) as exited:
                        _parser().parse_args(words[1:])
                    assert exited.value.code == 0, line
                else:
                    _parser().parse_args(words[1:])
    assert shown >= 15
