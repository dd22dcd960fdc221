"""Clients written by others, against `parse-mcp --sandbox`: the MCP Inspector CLI over stdio and the official
MCP conformance suite's server scenarios over streamable HTTP.

Both are npm packages pinned in clients/package-lock.json and installed by `make test` (`npm ci --prefix
clients`). They run as subprocesses here, bounded in time, and the tests read what they print and save.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import ByteReceiveStream, Process
from mcp import Client

from parse_mcp.sandbox import BOOKS_API_ID, FAILURE_LAB_ID
from tests.processes import free_port
from tests.test_transports import EXPECTED_TOOLS

pytestmark = pytest.mark.anyio

CLIENTS = Path(__file__).resolve().parent.parent / "clients"
INSPECTOR = CLIENTS / "node_modules" / ".bin" / "mcp-inspector"
CONFORMANCE = CLIENTS / "node_modules" / ".bin" / "conformance"
SERVER = [sys.executable, "-m", "parse_mcp.cli", "--sandbox"]

# The Inspector CLI's exit codes (core/cli/error-handler.ts in @modelcontextprotocol/inspector).
EXIT_OK = 0
EXIT_TOOL_ERROR = 5  # the call worked and the tool answered isError: true


def server_env() -> dict[str, str]:
    # No key in the environment: --sandbox must be enough on its own, and no real key can leak to a client.
    return {k: v for k, v in os.environ.items() if not k.startswith(("PARSE_", "SCRAPERAPI_"))}


def installed(binary: Path) -> Path:
    # Not a skip: a missing client means the test run was not set up as `make test` sets it up.
    assert binary.exists(), f"{binary.name} is not installed: run `make clients` (npm ci --prefix clients)"
    return binary


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str


async def run(command: Sequence[str | Path], seconds: float) -> Finished:
    with anyio.fail_after(seconds):
        done = await anyio.run_process(command, check=False, env=server_env())
    return Finished(done.returncode, done.stdout.decode(), done.stderr.decode())


# ---------------------------------------------------------------------------------------------------------
# The MCP Inspector CLI, over stdio, with its --strict schema checks


async def inspector(*arguments: str) -> tuple[Finished, dict[str, Any]]:
    """One Inspector CLI run against a fresh `parse-mcp --sandbox` on stdio; its JSON envelope on stdout."""
    command: list[str | Path] = [installed(INSPECTOR), "--cli", "--format", "json", *arguments, "--", *SERVER]
    finished = await run(command, seconds=30)
    try:
        envelope: dict[str, Any] = json.loads(finished.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"the Inspector printed no JSON envelope:\n{finished.stdout}\n{finished.stderr}")
    return finished, envelope


async def test_the_inspector_lists_every_tool_with_no_schema_portability_finding() -> None:
    finished, envelope = await inspector("--strict", "--method", "tools/list")

    # --strict prints every finding (warnings too) on stderr, puts them in the envelope, and fails on errors.
    assert finished.returncode == EXIT_OK, finished.stderr
    assert "schemaFindings" not in envelope
    assert not re.search(r"^(Warning|Error): tool ", finished.stderr, re.MULTILINE), finished.stderr
    tools = envelope["result"]["tools"]
    assert {tool["name"] for tool in tools} == EXPECTED_TOOLS
    # Every result below is checked against one of these by the Inspector before it prints it.
    assert all("outputSchema" in tool for tool in tools)


@dataclass(frozen=True)
class Call:
    tool: str
    arguments: Mapping[str, Any]
    exit_code: int
    structured: Mapping[str, Any]  # dotted path in structuredContent -> the value expected there


CALLS = {
    "list_apis": Call("list_apis", {}, EXIT_OK, {"ok": True, "next_call": None}),
    "describe_api": Call("describe_api", {"scraper_id": BOOKS_API_ID}, EXIT_OK, {"ok": True}),
    "a Books endpoint": Call(
        "execute_endpoint",
        {"scraper_id": BOOKS_API_ID, "endpoint": "get_book", "params": {"slug": "a-light-in-the-attic_1000"}},
        EXIT_OK,
        {"ok": True, "data.title": "A Light in the Attic"},
    ),
    "a Failure Lab endpoint that fails": Call(
        "execute_endpoint",
        {"scraper_id": FAILURE_LAB_ID, "endpoint": "get_job", "params": {"job_id": "gone-123"}},
        EXIT_TOOL_ERROR,
        {"ok": False, "error.code": "input_not_found", "guidance.action": "change_input"},
    ),
}


def at(document: Mapping[str, Any], dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        value = value[part]
    return value


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
async def test_the_inspector_calls_a_tool_and_its_result_validates_against_the_output_schema(call: Call) -> None:
    finished, envelope = await inspector(
        "--method", "tools/call", "--tool-name", call.tool, "--tool-args-json", json.dumps(call.arguments)
    )

    # The Inspector validates structuredContent against the tool's outputSchema and, when it does not
    # validate, prints an error envelope instead of the result and exits 1.
    assert finished.returncode == call.exit_code, finished.stdout + finished.stderr
    result = envelope["result"]
    assert result.get("isError", False) is (call.exit_code == EXIT_TOOL_ERROR)
    assert result["content"][0]["type"] == "text"
    assert {path: at(result["structuredContent"], path) for path in call.structured} == call.structured


# ---------------------------------------------------------------------------------------------------------
# The official MCP conformance suite (@modelcontextprotocol/conformance), server scenarios over HTTP

# Scenarios written for the suite's own reference server ("everything server"): each calls a fixture tool,
# prompt or resource by a fixed name (`test_image_content`, `test_simple_prompt`, `test://static-text`, ...)
# that a product server has no reason to carry. Against parse-mcp they fail with "unknown tool/prompt/
# resource", or pass vacuously: `tools-call-simple-text` and `tools-call-error` only look for some text in
# whatever answers, and parse-mcp's refusal of an unknown tool is an isError text result.
FIXTURE_SCENARIOS = {
    "tools-call-simple-text": "calls the fixture tool test_simple_text",
    "tools-call-image": "calls the fixture tool test_image_content",
    "tools-call-audio": "calls the fixture tool test_audio_content",
    "tools-call-embedded-resource": "calls the fixture tool test_embedded_resource",
    "tools-call-mixed-content": "calls the fixture tool test_multiple_content_types",
    "tools-call-with-logging": "calls the fixture tool test_tool_with_logging",
    "tools-call-error": "calls the fixture tool test_error_handling",
    "tools-call-with-progress": "calls the fixture tool test_tool_with_progress",
    "tools-call-sampling": "calls the fixture tool test_sampling",
    "tools-call-elicitation": "calls the fixture tool test_elicitation",
    "elicitation-sep1034-defaults": "calls the fixture tool test_elicitation_sep1034_defaults",
    "elicitation-sep1330-enums": "calls the fixture tool test_elicitation_sep1330_enums",
    "resources-read-text": "reads the fixture resource test://static-text",
    "resources-read-binary": "reads the fixture resource test://static-binary",
    "resources-templates-read": "reads the fixture template test://template/{id}/data",
    "prompts-get-simple": "gets the fixture prompt test_simple_prompt",
    "prompts-get-with-args": "gets the fixture prompt test_prompt_with_arguments",
    "prompts-get-embedded-resource": "gets the fixture prompt test_prompt_with_embedded_resource",
    "prompts-get-with-image": "gets the fixture prompt test_prompt_with_image",
}

# Scenarios about an optional capability: they apply exactly when the server declares it at initialize.
CAPABILITY_SCENARIOS = {
    "resources-list": "resources",
    "prompts-list": "prompts",
    "logging-set-level": "logging",  # parse-mcp logs to stderr (contract §1), not to the client
    "completion-complete": "completions",
    "resources-subscribe": "resources.subscribe",  # the API schemas are read on demand; nothing to watch
    "resources-unsubscribe": "resources.subscribe",
}

# Every other scenario of the suite must pass as it is; a scenario a new version adds lands here by failing
# `test_the_conformance_suite_runs_exactly_the_scenarios_this_file_accounts_for` until it is classified.
PROTOCOL_SCENARIOS = {
    "server-initialize",
    "ping",
    "tools-list",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
}

_RESULT_DIRECTORY = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")


@dataclass
class ServerLog:
    """The server's stderr as it is read: whether uvicorn said it listens, and the last of what it said."""

    settled: anyio.Event  # listening, or the stream ended (the server exited)
    listening: bool = False
    tail: bytes = b""


async def _drain(stderr: ByteReceiveStream, log: ServerLog) -> None:
    """Read the server's stderr to the end: uvicorn says there when it accepts connections, and a pipe
    nobody reads would fill up and stall the server mid-suite."""
    async for chunk in stderr:
        log.tail = (log.tail + chunk)[-4096:]
        if not log.listening and b"Uvicorn running on" in log.tail:
            log.listening = True
            log.settled.set()
    log.settled.set()


@asynccontextmanager
async def http_server() -> AsyncIterator[str]:
    """`parse-mcp --sandbox --transport http` on a free loopback port; yields its /mcp URL once it listens."""
    port = free_port()
    command = [*SERVER, "--transport", "http", "--port", str(port)]
    process: Process = await anyio.open_process(command, env=server_env(), stdout=subprocess.DEVNULL)
    async with process, anyio.create_task_group() as group:
        assert process.stderr is not None
        log = ServerLog(anyio.Event())
        group.start_soon(_drain, process.stderr, log)
        try:
            with anyio.fail_after(30):
                await log.settled.wait()
            assert log.listening, f"the server exited before it listened:\n{log.tail.decode(errors='replace')}"
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            process.terminate()
            with anyio.fail_after(10):
                await process.wait()


@dataclass(frozen=True)
class Conformance:
    checks: dict[str, list[dict[str, Any]]]  # scenario -> its checks, as the suite saved them
    capabilities: dict[str, Any]  # what the server declared at initialize
    summary: str  # the suite's own summary, for the assertion messages


async def run_conformance(output: Path) -> Conformance:
    async with http_server() as url:
        # The suite's client (the TypeScript SDK 1.x) negotiates a handshake-era version, where capabilities
        # follow the handlers served; ask in the same era (the 2026 era derives them differently).
        async with Client(url, mode="legacy") as client:
            capabilities = client.server_capabilities.model_dump(exclude_none=True)
        # The default ("active") suite, every server scenario, one run; each saves its checks under output.
        finished = await run([installed(CONFORMANCE), "server", "--url", url, "--output-dir", output], seconds=60)
    summary = finished.stdout[finished.stdout.find("=== SUMMARY ===") :]
    assert "=== SUMMARY ===" in summary, finished.stdout + finished.stderr
    return Conformance(saved_checks(output), capabilities, summary)


def saved_checks(output: Path) -> dict[str, list[dict[str, Any]]]:
    """Each scenario's checks, from the directory the suite saved them in (`server-<scenario>-<timestamp>`)."""
    checks: dict[str, list[dict[str, Any]]] = {}
    for directory in output.iterdir():
        matched = _RESULT_DIRECTORY.match(directory.name)
        assert matched, directory.name
        checks[matched["scenario"]] = json.loads((directory / "checks.json").read_text())
    return checks


def declares(capabilities: Mapping[str, Any], dotted: str) -> bool:
    value: Any = capabilities
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or value.get(part) in (None, False):
            return False
        value = value[part]
    return True


def failures(checks: list[dict[str, Any]]) -> list[str]:
    return [
        f"{check['id']}: {check.get('errorMessage')}" for check in checks if check["status"] in ("FAILURE", "WARNING")
    ]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def conformance(tmp_path_factory: pytest.TempPathFactory) -> Conformance:
    # One server and one run of the suite serve every test below (the whole suite takes about two seconds).
    return await run_conformance(tmp_path_factory.mktemp("conformance"))


async def test_the_conformance_suite_runs_exactly_the_scenarios_this_file_accounts_for(
    conformance: Conformance,
) -> None:
    accounted = PROTOCOL_SCENARIOS | FIXTURE_SCENARIOS.keys() | CAPABILITY_SCENARIOS.keys()
    assert set(conformance.checks) == accounted, conformance.summary


@pytest.mark.parametrize("scenario", sorted(PROTOCOL_SCENARIOS))
async def test_the_server_passes_every_check_of_a_protocol_conformance_scenario(
    conformance: Conformance, scenario: str
) -> None:
    checks = conformance.checks[scenario]
    assert any(check["status"] == "SUCCESS" for check in checks), checks
    assert failures(checks) == [], conformance.summary


@pytest.mark.parametrize("scenario", sorted(CAPABILITY_SCENARIOS))
async def test_a_capability_scenario_passes_when_the_server_declares_the_capability_and_fails_when_not(
    conformance: Conformance, scenario: str
) -> None:
    checks = conformance.checks[scenario]
    if declares(conformance.capabilities, CAPABILITY_SCENARIOS[scenario]):
        assert failures(checks) == [], conformance.summary
    else:
        # Not offered, so the request is refused as the protocol says: method not found, not a crash.
        assert all("Method not found" in failure for failure in failures(checks)), checks
        assert failures(checks), "an undeclared capability answered: declare it, or stop answering"
