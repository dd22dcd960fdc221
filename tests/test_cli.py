"""The command line: the demo a person reads, the doctor, `--help`, configuration errors, and a light `--version`."""

from __future__ import annotations

import gc
import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from parse_mcp import __version__
from parse_mcp.cli import YOUNG_GENERATION_THRESHOLD, main, settle_heap
from parse_mcp.demo import run_demo
from parse_mcp.runtime import Runtime
from parse_mcp.sandbox import ManualClock, running_sandbox
from parse_mcp.settings import Secret, Settings
from tests.conftest import Sandbox, VirtualTime
from tests.processes import keyless_env

ROOT = Path(__file__).parent.parent

ACTIONS = [
    "fix_input",
    "change_input",
    "retry_later",
    "do_not_retry",
    "revise_api",
    "check_id",
    "login",
    "ask_user",
    "report_bug",
]


@pytest.mark.anyio
async def test_the_demo_walks_through_every_failure_action_the_repair_loop_a_build_a_login_and_parsers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # On virtual time shared by the demo's sandbox and server: its builds and waits cost no real seconds. The
    # command itself (`parse-mcp demo`, on real time) runs from the installed wheel in tests/test_wheel.py.
    clock = ManualClock()
    time = VirtualTime(clock)
    async with anyio.create_task_group() as group:
        group.start_soon(time.drive)
        with anyio.fail_after(60):
            code = await run_demo(clock=clock, runtime=Runtime(clock=clock.now, sleep=time.sleep, random=lambda: 0.0))
        group.cancel_scope.cancel()
    assert code == 0
    out = capsys.readouterr().out
    assert "A Light in the Attic: £51.77, rated 3/5" in out
    for action in ACTIONS:
        assert f"{action}: " in out, action
    assert "\033[" not in out, "no colour when the output is not a terminal"
    repair = out[out.index("3. The repair loop") : out.index("4. Build")]
    assert "revise_api: " in repair
    assert "progress: task task-sbx-0001: completed" in repair
    assert '"name": "Albert Einstein"' in repair
    build = out[out.index("4. Build") : out.index("5. Log in")]
    assert "completed: its API is" in build
    assert "list_books returned" in build
    login = out[out.index("5. Log in") : out.index("6. ScraperAPI")]
    assert "Logged in to" in login
    assert "get_profile returned" in login
    parsers = out[out.index("6. ScraperAPI") :]
    assert "summary: Poems and drawings" in parsers
    assert "FAILED to generate" in parsers
    assert "needs JavaScript rendering" in parsers


@pytest.mark.anyio
async def test_the_doctor_accepts_a_working_key(
    served_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from parse_mcp.cli import _doctor

    assert await _doctor(served_sandbox.settings()) == 0
    assert "PARSE_API_KEY: accepted" in capsys.readouterr().out


@pytest.mark.anyio
async def test_the_doctor_reports_a_refused_key_without_showing_it(
    served_sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    from parse_mcp.cli import _doctor

    assert await _doctor(served_sandbox.settings(key="pmx_wrong_and_secret")) == 1
    out = capsys.readouterr().out
    assert (
        "PARSE_API_KEY: the check failed: Parse.bot refused the API key (HTTP 401): it is missing, invalid or "
        "expired. [unauthorized (HTTP 401)]"
    ) in out
    assert (
        "next step: PARSE_API_KEY is set but Parse.bot refused it: Parse.bot keys start with pmx_; check for quotes "
        "or spaces around it"
    ) in out
    assert "ask the user" not in out.lower()
    assert "pmx_wrong_and_secret" not in out
    entry = _printed_configuration(out)["mcpServers"]["parse"]
    assert entry["env"]["PARSE_API_KEY"] == "pmx_... (your Parse.bot key)"
    assert entry["env"]["PARSE_API_BASE_URL"] == served_sandbox.url


@pytest.mark.anyio
async def test_the_doctor_sends_each_check_once_and_tells_a_failure_in_the_guidance_sentences(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from parse_mcp.cli import _doctor

    # A gateway failing without the service's envelope: a call would retry it, the doctor must not.
    seen: list[str] = []

    async def gateway_down(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["path"])
        await PlainTextResponse("502 Bad Gateway", status_code=503)(scope, receive, send)

    async with running_sandbox(gateway_down) as url:
        with anyio.fail_after(10):
            assert await _doctor(Settings(parse_api_key=Secret("pmx_key"), parse_base_url=url)) == 1
    assert seen == ["/dispatch/tasks"]
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"parse-mcp {__version__}"
    assert (
        "PARSE_API_KEY: the check failed: Parse.bot itself failed (HTTP 503 without its error envelope, such as a "
        "gateway error). [service_unavailable (HTTP 503)]"
    ) in out
    assert "next step: Wait 15 s, then make the same call again unchanged." in out


def test_the_doctor_checks_the_embedded_sandbox_and_prints_a_configuration_that_starts_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("PARSE_API_KEY", "SCRAPERAPI_API_KEY", "PARSE_API_BASE_URL", "SCRAPERAPI_AIPARSER_URL"):
        monkeypatch.delenv(name, raising=False)
    assert main(["doctor", "--sandbox"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"parse-mcp {__version__} (embedded sandbox)"
    assert "PARSE_API_KEY: accepted (GET /dispatch/tasks answered)" in out
    assert "SCRAPERAPI_API_KEY: accepted (GET /parsers answered)" in out
    entry = _printed_configuration(out)["mcpServers"]["parse"]
    assert entry == {"command": entry["command"], "args": ["--sandbox"]}
    # This test runs from the project's virtual environment, where the script is installed.
    assert Path(entry["command"]).is_file()
    assert Path(entry["command"]).name == "parse-mcp"


def _printed_configuration(out: str) -> dict[str, Any]:
    """The JSON the doctor prints last."""
    configuration: dict[str, Any] = json.loads(out[out.index("\n{\n") :])
    return configuration


def test_help_lists_every_environment_variable_the_settings_read(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    epilog = capsys.readouterr().out.split("environment variables:")[1]
    read = set(re.findall(r'"((?:PARSE|SCRAPERAPI)_[A-Z_]+)"', (ROOT / "parse_mcp" / "settings.py").read_text()))
    listed = set(re.findall(r"^  ((?:PARSE|SCRAPERAPI)_[A-Z_]+) ", epilog, re.MULTILINE))
    assert read == listed
    assert len(read) >= 5


def test_the_doctor_says_what_is_missing(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("PARSE_API_KEY", "SCRAPERAPI_API_KEY", "PARSE_API_BASE_URL", "SCRAPERAPI_AIPARSER_URL"):
        monkeypatch.delenv(name, raising=False)
    assert main(["doctor"]) == 1
    assert "PARSE_API_KEY: not set" in capsys.readouterr().out


def test_an_unsafe_base_url_stops_the_server_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARSE_API_BASE_URL", "http://api.parse.bot")
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "clear text" in captured.err


# Nothing binds: the server refuses before it listens.
EVERY_ADDRESS = "0.0.0.0"  # noqa: S104


@pytest.mark.parametrize("host", [EVERY_ADDRESS, "192.0.2.10", "::", "mcp.example.com"])
def test_an_http_bind_other_machines_can_reach_refuses_to_start_without_a_token(
    host: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PARSE_MCP_HTTP_TOKEN", raising=False)
    assert main(["--sandbox", "--transport", "http", "--host", host, "--allowed-host", "mcp.example.com"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"parse-mcp: configuration error: --host {host} accepts connections")
    assert "set PARSE_MCP_HTTP_TOKEN" in lines[0]


def test_a_bind_on_every_address_needs_the_names_clients_use(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARSE_MCP_HTTP_TOKEN", "tok_" + "c" * 28)
    assert main(["--sandbox", "--transport", "http", "--host", EVERY_ADDRESS]) == 2
    err = capsys.readouterr().err
    assert "add --allowed-host" in err
    assert "c" * 28 not in err


def test_a_malformed_allowed_host_stops_the_server_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PARSE_MCP_HTTP_TOKEN", raising=False)
    assert main(["--sandbox", "--transport", "http", "--allowed-host", "https://mcp.example.com/mcp"]) == 2
    assert "is not a host name or address" in capsys.readouterr().err


def test_the_version_is_answered_without_loading_the_server_the_sdk_or_the_sandbox() -> None:
    answer = subprocess.run(
        [sys.executable, "-c", VERSION_THEN_MODULES], capture_output=True, text=True, timeout=60, check=True
    )
    version_line, modules = answer.stdout.splitlines()
    assert version_line == f"parse-mcp {__version__}"
    assert json.loads(modules) == []


# `--version` exits through argparse; the modules that were loaded by then are printed after it.
VERSION_THEN_MODULES = """
import json, sys
from parse_mcp.cli import main
try:
    main(["--version"])
except SystemExit as exit:
    assert exit.code == 0
heavy = ("parse_mcp.server", "parse_mcp.sandbox", "parse_mcp.demo", "mcp.server.mcpserver", "uvicorn")
print(json.dumps(sorted(name for name in heavy if name in sys.modules)))
"""


@pytest.mark.parametrize(
    ("argv", "flags"),
    [
        (["--port", "9000"], "--port applies"),
        (["--stateless", "--allowed-origin", "https://a.example"], "--stateless, --allowed-origin apply"),
        (["--transport", "stdio", "--max-connections", "5"], "--max-connections applies"),
        (["sandbox", "--stateless"], "--stateless applies"),
        (["doctor", "--host", "mcp.example.com"], "--host applies"),
    ],
)
def test_an_http_flag_where_nothing_serves_http_is_refused_in_one_line_not_ignored(
    argv: list[str], flags: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(f"parse-mcp: configuration error: {flags} only with --transport http")


def test_a_reader_that_stops_early_ends_the_doctor_quietly() -> None:
    # `parse-mcp doctor | head`: here the reader leaves before the first line is written.
    process = subprocess.Popen(
        [sys.executable, "-m", "parse_mcp.cli", "doctor", "--sandbox"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=keyless_env(),
    )
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0
    assert b"BrokenPipeError" not in err
    assert b"Traceback" not in err


def test_a_busy_or_impossible_port_is_one_line_naming_it_and_no_banner(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        for port, says in ((busy, f"--port {busy}: cannot listen on 127.0.0.1"), (70_000, "--port 70000 is not")):
            assert main(["--sandbox", "--transport", "http", "--port", str(port)]) == 2
            captured = capsys.readouterr()
            assert captured.out == ""
            (line,) = captured.err.strip().splitlines()
            assert line.startswith(f"parse-mcp: configuration error: {says}")


class _Node:
    """A container object, which the garbage collector tracks."""


def test_before_serving_the_heap_is_frozen_and_young_collections_are_rarer() -> None:
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    alive = _Node()  # a container the collector tracks (a dict of strings it would not)
    gc.set_threshold(700, *thresholds[1:])  # Python's own, as a process starts
    try:
        assert any(o is alive for o in gc.get_objects())
        settle_heap()
        # Frozen objects leave the three generations, so no collection walks them again.
        assert not any(o is alive for o in gc.get_objects())
        assert gc.get_freeze_count() > frozen
        assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *thresholds[1:])
    finally:
        gc.unfreeze()
        if frozen:  # the test session's own freeze (tests/conftest.py)
            gc.freeze()
        gc.set_threshold(*thresholds)
