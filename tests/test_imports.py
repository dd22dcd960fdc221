"""Import boundaries: what serving loads, and the import-linter contracts that keep the architecture.

A server that serves stdio loads nothing that any mcp 2.x server does not load already, apart from parse_mcp's
own modules and the standard library: never the sandbox, the demo or the cli's HTTP machinery. The contracts
in pyproject.toml (`lint-imports`, run by `make lint`) hold, and each one breaks when its rule is broken.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).parent.parent
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")

# Only the cli and the demo may load these, and only when asked for the sandbox or the tour.
NEVER_WHEN_SERVING = ("parse_mcp.sandbox", "parse_mcp.demo")

# Run in a fresh interpreter: report every module loaded once the given code has run, and at exit.
_REPORT_MODULES = """
import atexit, json, os, sys
def _report():
    with open(os.environ["MODULES_REPORT"], "w") as out:
        json.dump(sorted(sys.modules), out)
atexit.register(_report)
"""

CONTRACTS = {
    "sandbox-stands-alone": "The sandbox imports nothing from the rest of parse_mcp",
    "sandbox-behind-cli-and-demo": "The product imports the sandbox only from cli and demo",
    "pure-decisions": "guidance and policy import no I/O",
    "services-speak-http-not-mcp": "services never import mcp",
    "layers": "Every arrow points down: each layer imports only the layers below it",
}


def _env(report: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARSE_", "SCRAPERAPI_"))}
    return {**env, "MODULES_REPORT": str(report)}


def _modules_after(code: str, report: Path) -> set[str]:
    subprocess.run([sys.executable, "-c", _REPORT_MODULES + code], env=_env(report), check=True, timeout=60)
    return set(json.loads(report.read_text()))


async def _modules_serving_stdio(code: str, report: Path) -> set[str]:
    """The modules a server process had loaded when it exited, after answering `tools/list` over stdio."""
    parameters = StdioServerParameters(command=sys.executable, args=["-c", _REPORT_MODULES + code], env=_env(report))
    with anyio.fail_after(60):
        async with Client(parameters) as client:
            assert (await client.list_tools()).tools is not None
    # Leaving the client closed the server's stdin and waited for it to exit, which it did on its own: reported.
    return set(json.loads(await anyio.Path(report).read_text()))


# What serves HTTP: stdio serving may hold only the parts of these the SDK's own modules load anyway.
HTTP_SERVING = ("uvicorn", "starlette", "sse_starlette")


def _beyond(loaded: set[str], floor: set[str]) -> set[str]:
    """What `loaded` brings that the floor does not: a package that is neither the floor's, parse_mcp's nor
    the standard library's, or a module of an HTTP-serving package."""
    top = {name.partition(".")[0] for name in floor}
    new_packages = {
        package
        for package in {name.partition(".")[0] for name in loaded} - top
        if package not in sys.stdlib_module_names and package != "parse_mcp"
    }
    http_parts = {name for name in loaded - floor if name.partition(".")[0] in HTTP_SERVING}
    return new_packages | http_parts


def test_importing_the_server_loads_no_sandbox_no_demo_and_no_library_the_sdk_does_not_load(tmp_path: Path) -> None:
    floor = _modules_after("import mcp.server.mcpserver", tmp_path / "floor.json")
    loaded = _modules_after("import parse_mcp.server", tmp_path / "server.json")
    assert "parse_mcp.server" in loaded
    assert not {m for m in loaded if m.startswith(NEVER_WHEN_SERVING)}
    assert "parse_mcp.cli" not in loaded
    # uvicorn and starlette come with the SDK's own modules today: parse_mcp adds none of theirs.
    assert _beyond(loaded, floor) == set()


@pytest.mark.anyio
async def test_serving_stdio_loads_nothing_an_empty_mcp_server_does_not_beyond_parse_mcp_and_the_stdlib(
    tmp_path: Path,
) -> None:
    empty = "from mcp.server.mcpserver import MCPServer\nMCPServer('empty').run('stdio')\n"
    floor = await _modules_serving_stdio(empty, tmp_path / "empty.json")
    served = await _modules_serving_stdio(
        "import sys\nfrom parse_mcp.cli import main\nsys.exit(main([]))\n", tmp_path / "served.json"
    )
    assert {"parse_mcp.cli", "parse_mcp.server", "mcp.server.stdio"} <= served
    assert not {m for m in served if m.startswith(NEVER_WHEN_SERVING)}
    assert _beyond(served, floor) == set()


def test_the_version_needs_no_package_metadata_lookup(tmp_path: Path) -> None:
    loaded = _modules_after("import parse_mcp\nassert parse_mcp.__version__", tmp_path / "package.json")
    assert "importlib.metadata" not in loaded


def _lint_imports(*args: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [LINT_IMPORTS, "--no-logo", "--no-cache", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_import_contract_of_the_project_is_kept() -> None:
    run = _lint_imports(cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    for name in CONTRACTS.values():
        assert f"{name} KEPT" in " ".join(run.stdout.split()), name
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in run.stdout


# One import per contract that breaks it, written where the rule forbids it.
VIOLATIONS = {
    "sandbox-stands-alone": ("parse_mcp/sandbox/__init__.py", "from parse_mcp import errors\n"),
    # A lazy import counts too: the run-time check of laziness is the tests above.
    "sandbox-behind-cli-and-demo": (
        "parse_mcp/tools/__init__.py",
        "def _sandbox() -> None:\n    import parse_mcp.sandbox\n",
    ),
    "pure-decisions": ("parse_mcp/policy/__init__.py", "import httpx2\n"),
    "services-speak-http-not-mcp": ("parse_mcp/services/__init__.py", "import mcp.types\n"),
    # The two arrows that ran back up before the layers were written down.
    "layers": ("parse_mcp/meta.py", "from parse_mcp.policy import size\n"),
}


@pytest.mark.parametrize("contract", sorted(VIOLATIONS))
def test_each_import_contract_breaks_when_its_rule_is_broken(contract: str, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "parse_mcp", tmp_path / "parse_mcp", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path, line = VIOLATIONS[contract]
    with (tmp_path / path).open("a") as module:
        module.write("\n" + line)
    broken = _lint_imports("--contract", contract, cwd=tmp_path, pythonpath=tmp_path)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"{CONTRACTS[contract]} BROKEN" in " ".join(broken.stdout.split())
    assert set(VIOLATIONS) == set(CONTRACTS)
