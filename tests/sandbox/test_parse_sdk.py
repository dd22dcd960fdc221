"""Parse.bot's own SDK (`parse-sdk`) against the sandbox, used the way its README says.

Each test starts the sandbox on 127.0.0.1 and a project in a temporary directory with its own virtual
environment (it sees this environment's packages, parse-sdk among them, through a `.pth` file). The CLI runs
as `python -m parse_sdk.cli` from that environment, configured by `PARSE_API_KEY` and `PARSE_API_BASE_URL`,
with `HOME` in the temporary directory so no credentials file is read or written, and a `PATH` without `uv`
so `parse init` does not try to install anything. The generated `parse_apis` package is put on the
environment's path, which is what `pip install -e ./parse_apis` (the step `parse init` asks for) does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from parse_mcp.sandbox import (
    BOOKS_API_ID,
    FAILURE_LAB_ID,
    MEMBERS_API_ID,
    PARSEBOT_KEY,
    QUOTES_API_ID,
    WEATHER_COPY_ID,
    ManualClock,
    SandboxConfig,
    create_app,
    running_sandbox,
)

pytestmark = pytest.mark.anyio

ACCOUNT_IDS = [BOOKS_API_ID, FAILURE_LAB_ID, QUOTES_API_ID, MEMBERS_API_ID, WEATHER_COPY_ID]
GENERATED = {
    "books_catalogue_sandbox",
    "failure_lab_sandbox",
    "quotes_sandbox",
    "members_area_sandbox",
    "city_weather_sandbox_copy",
}
COMMAND_SECONDS = 60


@dataclass(frozen=True)
class Project:
    """A user's project directory, its virtual environment, and the environment variables the SDK reads."""

    root: Path
    python: Path
    env: dict[str, str]

    async def run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        with anyio.fail_after(COMMAND_SECONDS):
            return await anyio.run_process([str(self.python), *args], cwd=self.root, env=self.env, check=False)

    async def parse(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        """`parse <args>`, the SDK's console script, from the project's environment."""
        return await self.run("-m", "parse_sdk.cli", *args)

    async def parse_json(self, *args: str) -> Any:
        done = await self.parse(*args, "--json")
        assert done.returncode == 0, done.stderr.decode()
        return json.loads(done.stdout)

    async def python_script(self, source: str) -> Any:
        """Run `source` in the project's environment, from outside the project, and read the JSON it prints."""
        script = self.root / "script.py"
        script.write_text(source)
        with anyio.fail_after(COMMAND_SECONDS):
            done = await anyio.run_process(
                [str(self.python), str(script)], cwd=self.root.parent, env=self.env, check=False
            )
        assert done.returncode == 0, done.stderr.decode()
        return json.loads(done.stdout)

    def install_generated_package(self) -> None:
        (_site_packages(self.root / ".venv") / "parse_apis.pth").write_text(f"{self.root / 'parse_apis' / 'src'}\n")


@pytest.fixture
async def project(tmp_path: Path) -> AsyncIterator[Project]:
    root = tmp_path / "app"
    home = tmp_path / "home"
    root.mkdir()
    home.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0.1.0"\n')
    venv = root / ".venv"
    with anyio.fail_after(COMMAND_SECONDS):
        await anyio.run_process([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    (_site_packages(venv) / "dev.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    async with running_sandbox(create_app(SandboxConfig(), ManualClock())) as url:
        env = {
            "HOME": str(home),
            "PATH": os.defpath,
            "VIRTUAL_ENV": str(venv),
            "PARSE_API_KEY": PARSEBOT_KEY,
            "PARSE_API_BASE_URL": url,
        }
        yield Project(root, venv / "bin" / "python", env)


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


async def test_parse_list_shows_every_account_api_as_modelled(project: Project) -> None:
    rows = await project.parse_json("list")
    assert sorted(row["id"] for row in rows) == sorted(ACCOUNT_IDS)
    assert all(row["modeled"] for row in rows)
    books = next(row for row in rows if row["id"] == BOOKS_API_ID)
    assert (books["resources"], books["endpoints"]) == (["Book"], ["list_books", "get_book", "search_books"])
    assert books["version"] is None


async def test_parse_search_finds_the_marketplace_listing(project: Project) -> None:
    items = await project.parse_json("search", "weather")
    assert [(item["slug"], item["endpoint_count"]) for item in items] == [("city-weather-sandbox", 2)]


async def test_parse_init_and_sync_generate_a_typed_module_for_every_api_and_skip_none(project: Project) -> None:
    init = await project.parse("init")
    assert init.returncode == 0, init.stderr.decode()
    result = await project.parse_json("sync")
    assert {row["slug"] for row in result["written"]} == GENERATED
    assert (result["skipped"], result["quarantined"], result["failures"]) == ([], [], [])
    package = project.root / "parse_apis" / "src" / "parse_apis"
    for slug in GENERATED:
        assert (package / slug / "__init__.py").is_file()
        assert (package / slug / "example.py").is_file()


async def test_a_generated_client_reads_and_pages_the_sandbox_books(project: Project) -> None:
    assert (await project.parse("init")).returncode == 0
    project.install_generated_package()
    found = await project.python_script(
        "import json\n"
        "from parse_apis.books_catalogue_sandbox import Book, Books\n"
        "books = Books().books\n"
        "cheapest = list(books.list(sort='price_asc', limit=7))\n"
        "book = books.get(slug='a-light-in-the-attic_1000')\n"
        "print(json.dumps({\n"
        "    'prices': [b.price for b in cheapest],\n"
        "    'typed': all(isinstance(b, Book) for b in cheapest),\n"
        "    'title': book.title, 'upc': book.upc,\n"
        "    'searched': [b.slug for b in books.search(query='attic')],\n"
        "}))\n"
    )
    # Seven books cross from the first page of five to the second: the paginator asked for page 2 itself.
    assert len(found["prices"]) == 7
    assert found["prices"] == sorted(found["prices"])
    assert found["typed"] is True
    assert found["title"] == "A Light in the Attic"
    assert found["upc"]
    assert found["searched"] == ["a-light-in-the-attic_1000"]


async def test_the_usage_example_sync_writes_runs_against_the_sandbox(project: Project) -> None:
    assert (await project.parse("init")).returncode == 0
    project.install_generated_package()
    example = project.root / "parse_apis" / "src" / "parse_apis" / "books_catalogue_sandbox" / "example.py"
    with anyio.fail_after(COMMAND_SECONDS):
        done = await anyio.run_process([str(project.python), str(example)], env=project.env, check=False)
    assert (done.returncode, done.stdout.decode().strip()) == (0, "A Light in the Attic")


# Each documented failure of the Failure Lab, and the exception the generated client raises for it: the
# declared error class when the failure carries a kind, else the SDK's class for the HTTP status.
FAILURES = {
    "get_job(job_id='gone-1')": "GoneUpstream",
    "search_flights(origin='LHR', destination='JFK', trip_type='sideways')": "InvalidInput",
    "blocked()": "Blocked",
    "blocked(retry_after=7)": "BlockedForNow",
    "scraper_bug()": "ScraperBroken",
    "fetch_status(code=404)": "UpstreamError",
    "burst_limit()": "RateLimitError",
    "credits_exhausted()": "QuotaExceededError",
    "plan_required()": "ForbiddenError",
    "session_expired()": "AuthError",
    "session_required()": "BadRequestError",
    "proxy_error()": "UpstreamError",
}


async def test_each_documented_failure_raises_the_sdks_typed_exception(project: Project) -> None:
    assert (await project.parse("init")).returncode == 0
    project.install_generated_package()
    calls = json.dumps(list(FAILURES))
    raised = await project.python_script(
        "import json\n"
        "from parse_apis.failure_lab_sandbox import FailureLabSandbox, ParseError, RateLimitError\n"
        "lab = FailureLabSandbox().endpoints\n"
        "raised = {}\n"
        f"for call in json.loads({calls!r}):\n"
        "    try:\n"
        "        eval('lab.' + call)\n"
        "        raised[call] = None\n"
        "    except ParseError as error:\n"
        "        raised[call] = [type(error).__name__, error.status_code, error.code,\n"
        "                        getattr(error, 'retry_after', None), getattr(error, 'job_id', None)]\n"
        "print(json.dumps(raised))\n"
    )
    assert {call: row[0] for call, row in raised.items()} == FAILURES
    assert raised["get_job(job_id='gone-1')"][1:] == [422, "input_not_found", None, "gone-1"]
    assert raised["blocked(retry_after=7)"][1:3] == [503, "antibot_solvable"]
    assert raised["burst_limit()"][1:4] == [429, None, 5]
    assert raised["credits_exhausted()"][1] == 402
