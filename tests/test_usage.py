"""`parse-mcp usage`: what the ledger says was spent, per day, service, API and endpoint, client and tool, with
failures by code; a table with a bar a day for a person and a stable JSON shape for scripts.

The rendering is pure and tested on its own; the command runs as a real subprocess over the ledger that a real
server wrote while it called the sandbox, and must agree with what the sandbox charged, to the credit."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from parse_mcp.cli import DEFAULT_USAGE_DAYS, MAX_USAGE_DAYS
from parse_mcp.runtime import Runtime
from parse_mcp.sandbox import FAILURE_LAB_ID, PARSEBOT_KEY
from parse_mcp.settings import Secret
from parse_mcp.state.ledger import RETENTION_DAYS, DayUsage
from parse_mcp.usage import BAR_WIDTH, bar, usage_json, usage_text
from tests.conftest import Sandbox
from tests.processes import free_port, keyless_env
from tests.redis_server import RedisServer
from tests.state.conftest import SESSION_SECRET, fresh_prefix

ITEMS = {"scraper_id": FAILURE_LAB_ID, "endpoint": "list_items", "params": {"count": 2}}
BROKEN = {"scraper_id": FAILURE_LAB_ID, "endpoint": "scraper_bug", "params": {}}
REDIS_PASSWORD = "hunter2-never-printed-Zq81"


def day(name: str, **fields: Any) -> DayUsage:
    return DayUsage(name, **fields)


def run_usage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parse_mcp.cli", "usage", *args],
        env={**keyless_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content


async def spend(sandbox: Sandbox, **settings: Any) -> int:
    """Three paid calls of 3 credits and one that fails, through a real client, on a ledger whose days are today's;
    returns what the sandbox's account says it charged (its balance before, less its balance after)."""
    runtime = Runtime(clock=time.time, sleep=sandbox.time.sleep, random=lambda: 0.0)
    server = sandbox.server(replace(sandbox.settings(), **settings), runtime=runtime)
    async with Client(server) as client:
        results = [await call(client, "execute_endpoint", ITEMS) for _ in range(3)]
        failed = await call(client, "execute_endpoint", BROKEN)
    assert [r["ok"] for r in results] == [True, True, True]
    assert failed["error"]["code"] == "scraper_bug"
    before = results[0]["meta"]["credits_remaining"] + results[0]["meta"]["credits_charged"]
    after = min(r["meta"]["credits_remaining"] for r in results)
    charged: int = before - after
    return charged


# -- the rendering ---------------------------------------------------------------------------------------------


def test_a_bar_is_in_eighths_of_its_width_never_empty_above_zero_and_empty_at_zero() -> None:
    assert bar(10, 10) == "█" * BAR_WIDTH
    assert bar(5, 10) == "█" * (BAR_WIDTH // 2)
    assert bar(1, 1000) == "▏", "a day with any spend shows"
    assert bar(0, 10) == ""
    assert bar(3, 0) == ""
    assert bar(5, 10, unicode=False) == "#" * (BAR_WIDTH // 2)
    assert bar(15, 10) == "█" * BAR_WIDTH, "never longer than the peak's"


def test_the_json_has_every_day_the_totals_and_each_breakdown_largest_first() -> None:
    days = [
        day("2026-12-01"),
        day(
            "2026-12-02",
            calls=3,
            by_service={"parsebot": 9, "scraperapi": 30_000},
            by_endpoint={
                ("parsebot", "api-1", "list_items"): 6,
                ("parsebot", "api-1", "get_job"): 3,
                ("scraperapi", "p-1", "create"): 30_000,
            },
            by_client={"token:aaaa": 30_003, "local": 6},
            by_tool={"execute_endpoint": 9, "create_parser": 30_000},
            failures={"scraper_bug": 1},
        ),
    ]
    shaped = usage_json(days, ledger="sqlite")
    assert shaped["version"] == 1
    assert shaped["days_asked"] == 2
    assert shaped["ledger"] == "sqlite"
    assert shaped["total"] == {"calls": 3, "credits": 30_009, "by_service": {"parsebot": 9, "scraperapi": 30_000}}
    empty, busy = shaped["days"]
    assert empty == {
        "day": "2026-12-01",
        "calls": 0,
        "credits": 0,
        "by_service": {"parsebot": 0, "scraperapi": 0},
        "by_endpoint": [],
        "by_client": {},
        "by_tool": {},
        "failures": {},
    }
    assert [e["endpoint"] for e in busy["by_endpoint"]] == ["create", "list_items", "get_job"]
    assert busy["by_endpoint"][1] == {"service": "parsebot", "api": "api-1", "endpoint": "list_items", "credits": 6}
    assert list(busy["by_client"].items()) == [("token:aaaa", 30_003), ("local", 6)]
    assert busy["failures"] == {"scraper_bug": 1}
    json.dumps(shaped)  # plain JSON types only


def test_the_table_draws_a_bar_a_day_per_service_so_the_spike_is_the_longest() -> None:
    days = [
        day("2026-12-01", calls=1, by_service={"parsebot": 3}, by_endpoint={("parsebot", "a", "e"): 3}),
        day("2026-12-02", calls=10, by_service={"parsebot": 30}, by_endpoint={("parsebot", "a", "e"): 30}),
        day("2026-12-03"),
    ]
    text = usage_text(days, source="the SQLite ledger at /x")
    rows = {line[:10]: line for line in text.splitlines() if line.startswith("2026-")}
    assert rows["2026-12-02"].count("█") == BAR_WIDTH
    assert rows["2026-12-01"].count("█") == BAR_WIDTH // 10
    assert "█" not in rows["2026-12-03"]
    assert "Credits spent in the last 3 UTC days (the SQLite ledger at /x)" in text
    assert "ScraperAPI" not in text.splitlines()[2], "a service nobody used gets no column"
    assert "By API and endpoint:" in text
    assert "none" in text.split("Failures by code")[1]


def test_names_written_by_third_parties_reach_the_terminal_escaped_and_cut_to_their_column() -> None:
    hostile = "list\x1b[2J\u202eitems\u200b" + "x" * 200
    days = [day("2026-12-03", calls=1, by_service={"parsebot": 3}, by_endpoint={("parsebot", "api", hostile): 3})]
    text = usage_text(days, source="s")
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "\u200b" not in text
    assert "list\\u001b[2J\\u202eitems\\u200b" in text
    assert "x" * 100 not in text, "cut to its column"
    assert usage_json(days, ledger="sqlite")["days"][0]["by_endpoint"][0]["endpoint"] == hostile, (
        "the JSON keeps the name itself; the command writes it with escapes"
    )


def test_the_longest_window_asked_is_the_ledgers_retention() -> None:
    assert MAX_USAGE_DAYS == RETENTION_DAYS
    assert DEFAULT_USAGE_DAYS == 7


# -- the command -----------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_usage_json_agrees_with_what_the_sandbox_charged_to_the_credit(sandbox: Sandbox, tmp_path: Path) -> None:
    charged = await spend(sandbox, state_dir=tmp_path)
    assert charged == 9
    run = run_usage("--json", env={"PARSE_MCP_STATE_DIR": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    shaped = json.loads(run.stdout)
    assert shaped["ledger"] == "sqlite"
    assert shaped["days_asked"] == DEFAULT_USAGE_DAYS
    assert shaped["total"]["by_service"] == {"parsebot": charged, "scraperapi": 0}
    today = shaped["days"][-1]
    assert today["day"] == time.strftime("%Y-%m-%d", time.gmtime())
    assert today["credits"] == charged
    assert today["calls"] == 4
    assert today["by_endpoint"] == [
        {"service": "parsebot", "api": FAILURE_LAB_ID, "endpoint": "list_items", "credits": charged},
        {"service": "parsebot", "api": FAILURE_LAB_ID, "endpoint": "scraper_bug", "credits": 0},
    ]
    assert today["by_client"] == {"local": charged}
    assert today["by_tool"] == {"execute_endpoint": charged}
    assert today["failures"] == {"scraper_bug": 1}
    assert all(d["calls"] == 0 for d in shaped["days"][:-1])


@pytest.mark.anyio
async def test_usage_prints_a_table_with_todays_bar_and_where_it_read_the_ledger(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    await spend(sandbox, state_dir=tmp_path)
    run = run_usage("--days", "3", env={"PARSE_MCP_STATE_DIR": str(tmp_path), "PYTHONIOENCODING": "utf-8"})
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"Credits spent in the last 3 UTC days (the SQLite ledger at {tmp_path / 'ledger.sqlite3'})"
    today = next(line for line in lines if line.startswith(time.strftime("%Y-%m-%d", time.gmtime())))
    assert "█" * BAR_WIDTH in today
    assert today.split()[-3:] == ["9", "4", "1"], "credits, calls, failed"
    assert len([line for line in lines if line[:4].isdigit()]) == 3
    assert "list_items" in run.stdout
    assert "scraper_bug" in run.stdout.split("Failures by code")[1]


def test_usage_without_a_ledger_says_nothing_was_spent_and_creates_no_file(tmp_path: Path) -> None:
    run = run_usage("--json", env={"PARSE_MCP_STATE_DIR": str(tmp_path / "fresh")})
    assert run.returncode == 0, run.stderr
    shaped = json.loads(run.stdout)
    assert shaped["ledger"] == "none"
    assert shaped["total"]["credits"] == 0
    assert len(shaped["days"]) == DEFAULT_USAGE_DAYS
    assert not (tmp_path / "fresh").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["usage", "--days", "0"], "--days '0' is not a number of days from 1 to 35"),
        (["usage", "--days", "36"], "--days '36' is not a number of days from 1 to 35"),
        (["usage", "--days", "week"], "--days 'week' is not a number of days from 1 to 35"),
        (["doctor", "--json"], "--json applies only to `parse-mcp usage`"),
        (["--days", "3"], "--days applies only to `parse-mcp usage`"),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_2(args: list[str], says: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "parse_mcp.cli", *args],
        env={**keyless_env(), "PARSE_MCP_STATE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert run.stdout == ""
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert says in run.stderr


def test_a_redis_that_cannot_be_reached_is_one_line_that_never_shows_the_url_or_its_password() -> None:
    url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0"
    run = run_usage(
        "--json", env={"PARSE_MCP_REDIS_URL": url, "PARSE_MCP_SESSION_SECRET": SESSION_SECRET, "PARSE_API_KEY": "pmx_x"}
    )
    assert run.returncode == 1
    assert run.stdout == ""
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert "the spend ledger could not be read" in run.stderr
    assert "Redis at PARSE_MCP_REDIS_URL" in run.stderr
    assert REDIS_PASSWORD not in run.stderr
    assert "127.0.0.1" not in run.stderr


def test_a_redis_url_refused_at_start_is_a_configuration_error_without_its_password() -> None:
    run = run_usage("--json", env={"PARSE_MCP_REDIS_URL": f"http://user:{REDIS_PASSWORD}@cache:6379/0"})
    assert run.returncode == 2
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert REDIS_PASSWORD not in run.stderr + run.stdout


@pytest.mark.anyio
async def test_with_redis_set_usage_reads_the_ledger_every_replica_shares(
    sandbox: Sandbox, redis_server: RedisServer
) -> None:
    url = redis_server.url
    prefix = fresh_prefix()
    charged = await spend(
        sandbox, redis_url=Secret(url), redis_prefix=prefix, session_secrets=(Secret(SESSION_SECRET),)
    )
    run = run_usage(
        "--json",
        "--days",
        "1",
        env={
            "PARSE_API_KEY": PARSEBOT_KEY,  # the account's keys in Redis are named after the key
            "PARSE_MCP_REDIS_URL": url,
            "PARSE_MCP_REDIS_PREFIX": prefix,
            "PARSE_MCP_SESSION_SECRET": SESSION_SECRET,
        },
    )
    assert run.returncode == 0, run.stderr
    shaped = json.loads(run.stdout)
    assert shaped["ledger"] == "redis"
    assert shaped["days"][0]["by_service"]["parsebot"] == charged == 9
    assert shaped["days"][0]["failures"] == {"scraper_bug": 1}
    text = run_usage(
        "--days",
        "1",
        env={
            "PARSE_API_KEY": PARSEBOT_KEY,
            "PARSE_MCP_REDIS_URL": url,
            "PARSE_MCP_REDIS_PREFIX": prefix,
            "PARSE_MCP_SESSION_SECRET": SESSION_SECRET,
        },
    )
    assert f"(Redis at PARSE_MCP_REDIS_URL, prefix {prefix})" in text.stdout
    assert url not in text.stdout + text.stderr
