"""The wheel as a user gets it: built from this tree, installed into a fresh environment outside the repository,
then started the way clients start it.

Nothing is downloaded: the wheel is built without build isolation (hatchling is a dev dependency), installed
with `--no-deps --no-index`, and the fresh environment borrows the project's installed dependencies through a
`.pth` line (which adds the directory alone, not the editable install of this repository that lives there).
"""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from parse_mcp import __version__

ROOT = Path(__file__).parent.parent
ENOUGH_TO_BUILD_SECONDS = 120


@dataclass(frozen=True)
class Installed:
    wheel: Path
    python: Path
    script: Path
    # A directory outside the repository, where every command runs.
    elsewhere: Path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    dist = tmp_path_factory.mktemp("dist")
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    _run([*build, "--wheel-dir", str(dist), str(ROOT)])
    (wheel,) = dist.glob("parse_mcp-*.whl")
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site_packages = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]))
    (site_packages / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)])
    return Installed(wheel, python, venv / "bin" / "parse-mcp", tmp_path_factory.mktemp("elsewhere"))


def _run(command: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=ENOUGH_TO_BUILD_SECONDS, check=False, cwd=cwd, env=_env()
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _env() -> dict[str, str]:
    """The caller's environment without keys, and without anything that would point Python at this tree."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PARSE_", "SCRAPERAPI_", "PYTHON", "COV_", "COVERAGE_"))
    }


def test_the_installed_wheel_runs_its_own_copy_with_its_prompts_and_version(installed: Installed) -> None:
    report = json.loads(_run([str(installed.python), "-c", WHERE_FROM], cwd=installed.elsewhere))
    package = Path(report["package"])
    assert package.is_relative_to(installed.python.parent.parent), "imported from the repository, not the wheel"
    assert not package.is_relative_to(ROOT)
    assert report["version"] == __version__
    assert report["prompts"] == ["build_api_for_site", "recover_from_failed_call", "repair_broken_endpoint"]
    assert _run([str(installed.script), "--version"], cwd=installed.elsewhere) == f"parse-mcp {__version__}"


WHERE_FROM = """
import json
from importlib.metadata import version
import parse_mcp
from parse_mcp.prompts import load_templates
print(json.dumps({
    "package": parse_mcp.__file__,
    "version": version("parse-mcp"),
    "prompts": sorted(t.name for t in load_templates()),
}))
"""


@pytest.mark.anyio
async def test_the_installed_wheel_serves_tools_list_over_stdio(installed: Installed) -> None:
    params = StdioServerParameters(
        command=str(installed.script), args=["--sandbox"], env=_env(), cwd=str(installed.elsewhere)
    )
    with anyio.fail_after(60):
        async with Client(params) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            listed = await client.call_tool("list_apis", {})
    assert len(tools) == 22
    assert {"execute_endpoint", "wait_for_task", "parse_url"} <= tools
    assert listed.structured_content is not None
    assert listed.structured_content["ok"] is True


def test_the_installed_wheel_runs_the_demo(installed: Installed) -> None:
    out = _run([str(installed.script), "demo"], cwd=installed.elsewhere)
    assert "A Light in the Attic: £51.77, rated 3/5" in out
    assert out.endswith("Every failure reached the agent as one action word and, where one helps, a ready call.")


def test_the_wheel_metadata_is_pip_and_uvx_first_with_license_classifiers_and_urls(installed: Installed) -> None:
    metadata = _metadata(installed.wheel)
    server = json.loads((ROOT / "server.json").read_text())
    assert metadata["Name"] == "parse-mcp"
    assert metadata["Version"] == __version__
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert "Typing :: Typed" in metadata.get_all("Classifier", [])
    assert "Programming Language :: Python :: 3.11" in metadata.get_all("Classifier", [])
    assert "mcp" in (metadata["Keywords"] or "").split(",")
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL", []))
    assert urls["Repository"] == server["repository"]["url"]
    assert metadata["Description-Content-Type"] == "text/markdown"
    description = metadata.get_payload()
    assert isinstance(description, str)
    assert description == (ROOT / "docs" / "pypi.md").read_text()
    # The page a user meets on PyPI starts with what they can run, and names the registry entry it belongs to.
    assert "make " not in description
    assert description.index("uvx parse-mcp") < description.index("## Connect a client")
    assert f"mcp-name: {server['name']}" in description


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert f"parse_mcp-{__version__}.dist-info/licenses/LICENSE" in names
        raw = archive.read(f"parse_mcp-{__version__}.dist-info/METADATA").decode()
    return email.message_from_string(raw)


def test_the_dev_extra_holds_what_building_the_wheel_here_needs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    backend = pyproject["build-system"]["requires"]
    dev = pyproject["project"]["optional-dependencies"]["dev"]
    assert set(backend) <= set(dev), "building without isolation needs the build backend in the dev extra"
