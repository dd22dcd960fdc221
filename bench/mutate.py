"""Mutation testing, on demand, of the modules that carry the promises (mutmut 3; docs/mutation.md says why).

    python -m bench.mutate                 # every target, one after the other (`make mutate`)
    python -m bench.mutate policy redact   # some targets
    python -m bench.mutate --list          # the targets, the files each mutates and the tests each runs

Each target is mutated in a workspace of its own, `.mutation/<target>/` (ignored by git): a copy of the package,
the tests and pyproject.toml with mutmut's settings added, so the working tree is never touched. mutmut records
which of the target's tests call each function, then runs, for each mutant, only those tests (forked from one
warm process, so no import is paid twice). Printed at the end: the kill rate per module, and every survivor
with its diff; a survivor named in docs/mutation.md is an equivalent mutant (no behaviour changes) and is shown
as such. Exit status 1 when a target falls below --fail-under (per cent, counting listed equivalents as killed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
EQUIVALENTS_DOC = ROOT / "docs" / "mutation.md"
# Copied into each workspace's tests/ under this name, and loaded into every pytest run there (see CHECK_NODE_IDS).
RERUN_IDS_PLUGIN = Path("tests/mutation_rerun_ids.py")


@dataclass(frozen=True)
class Target:
    """Files to mutate (globs, relative to the repository) and the test files that guard them."""

    mutate: tuple[str, ...]
    tests: tuple[str, ...]
    # Tests left out of this target's runs, each with its reason in a comment where it is named.
    deselect: tuple[str, ...] = ()
    # More pytest arguments for this target's runs, each with its reason in a comment where it is given.
    pytest_args: tuple[str, ...] = ()
    # More lines of mutmut settings for this target, each with its reason in a comment where it is given.
    settings: tuple[str, ...] = ()


# module -> the tests that cover it: the unit tests of the module, plus the tests through a real MCP client that
# hold its promises end to end. Tests that run the server in a subprocess are left out (the subprocess imports
# the unmutated package).
TARGETS: dict[str, Target] = {
    "guidance": Target(
        # The classifier and the table: their unit tests, and the HTTP client and results that carry their words.
        # The tools' tests through an MCP client reach the same code at a second a mutant; they guard refusals.py.
        mutate=("parse_mcp/guidance/classify.py", "parse_mcp/guidance/table.py"),
        tests=(
            "tests/guidance",
            "tests/policy/test_retry.py",
            "tests/services/test_http.py",
            "tests/test_results.py",
            "tests/test_hostile_upstream.py",
        ),
    ),
    "refusals": Target(
        # Our own checks' refusals, each reached through the tool that makes it, and each record tested exactly.
        mutate=("parse_mcp/guidance/refusals.py",),
        tests=(
            "tests/guidance/test_refusals_records.py",
            "tests/guidance/test_table.py",
            "tests/test_results.py",
            "tests/tools/test_our_voice.py",
            "tests/tools/test_parsebot_rows.py",
            "tests/tools/test_upstream_text.py",
            "tests/tools/test_hostile.py",
            "tests/tools/test_budget.py",
            "tests/tools/test_spend.py",
            "tests/tools/test_result_pages.py",
            "tests/tools/test_elicitation.py",
        ),
        # It runs the server in subprocesses, which import the unmutated package.
        deselect=(
            "tests/tools/test_spend.py::"
            "test_two_stdio_processes_on_one_sqlite_ledger_share_the_limit_and_a_restarted_one_sees_the_spend",
        ),
    ),
    "policy": Target(
        mutate=("parse_mcp/policy/*.py",),
        # The unit tests, the HTTP client that paces and retries, the result pages and progress through a client,
        # and the pacing store. (The classifier's, the budget's and the rows' tests reached this code too, at a
        # few seconds for each surviving mutant, and killed none of them that these do not.)
        tests=(
            "tests/policy",
            "tests/services/test_http.py",
            "tests/test_results.py",
            "tests/tools/test_progress.py",
            "tests/tools/test_result_pages.py",
            "tests/state/test_pacing_store.py",
        ),
    ),
    "paths": Target(
        mutate=("parse_mcp/services/paths.py",),
        tests=("tests/test_path_safety.py", "tests/test_hostile_upstream.py", "tests/tools/test_hostile.py"),
    ),
    "redact": Target(
        mutate=("parse_mcp/redact.py",),
        tests=(
            "tests/test_redact.py",
            "tests/test_redact_edges.py",
            "tests/test_redact_promises.py",
            "tests/test_secrets.py",
        ),
        # tests/test_meta.py and tests/guidance/test_classify.py scrub through the redactor too, with redactors
        # built at import: they cost 180 s a run and caught three mutants, which test_redact_promises.py now does.
        # It fails when pytest runs twice in one process, as mutmut does (its malformed log call then reaches
        # pytest's own log handler), even with no mutant in place.
        # The timing test measures the scan, which mutmut's trampolines and a loaded machine slow down past its
        # bound; what it guards (no backtracking pattern) is a matter of time, not of a mutant's behaviour.
        deselect=(
            "tests/test_redact.py::test_the_logging_filter_scrubs_messages_arguments_and_tracebacks",
            "tests/test_redact.py::test_a_megabyte_of_hostile_text_scrubs_in_well_under_50_ms",
        ),
        # No redactor is built when a test module of this target is imported: a redactor built there, in the
        # process mutmut forks from, would hide every mutant of the code that builds one. The tests build theirs.
    ),
    "results": Target(
        mutate=("parse_mcp/results.py",),
        # Its own tests and the fitting it calls. The tools' tests through an MCP client reach it as well, at about
        # two minutes a run, and caught three mutants, which tests/test_results_promises.py now does.
        tests=(
            "tests/test_results.py",
            "tests/test_results_promises.py",
            "tests/test_results_survivors.py",
            "tests/policy/test_size.py",
        ),
    ),
    "http_security": Target(
        mutate=("parse_mcp/http_security.py",),
        # The gate's ASGI apps and the whole app called in this process, the rules of a bind, and `serve_http` run
        # in the test's own event loop and shut down by the test. The tests through uvicorn servers that a test
        # does not stop (tests/test_http_security.py's others, tests/tools/test_isolation.py) hold the same
        # promises end to end; under mutmut a server they left running broke the next run in the process (a
        # coroutine never awaited, then CPython 3.11's "AST constructor recursion depth mismatch").
        tests=(
            "tests/test_http_security_gate.py",
            "tests/test_http_security_app.py",
            "tests/test_http_security.py::test_a_loopback_bind_allows_the_loopback_names_and_nothing_else_by_default",
            "tests/test_http_security.py::test_a_non_loopback_bind_allows_its_own_address_plus_what_the_operator_adds",
            "tests/test_http_security.py::test_a_malformed_allowance_is_refused_at_start_up",
            "tests/test_http_security.py::test_the_banner_names_an_address_clients_can_reach",
        ),
    ),
    "state": Target(
        mutate=("parse_mcp/state/*.py",),
        tests=(
            "tests/state",
            "tests/services/test_login.py",
            "tests/policy/test_breaker.py",
        ),
        # Not the tools' tests through an MCP client (result pages, memory bounds): a whole server for each mutant
        # they reach, and the stores' promises they hold are held exactly by tests/state (checked by a whole run:
        # docs/mutation.md). Left out of tests/state: the first runs the ledger in subprocesses, which import the
        # unmutated package; the second measures 55 calls through a whole server for 4 s, and its promise (each
        # store gives up at the call's budget) is held by test_redis_budgets.py and test_frozen_redis.py's other test.
        deselect=(
            "tests/state/test_ledger.py::test_two_os_processes_on_one_sqlite_file_share_the_limit",
            "tests/state/test_frozen_redis.py::"
            "test_55_calls_at_once_on_one_session_with_redis_frozen_each_end_within_their_budget",
        ),
    ),
}

# mutmut's exit codes for a mutant's test run (mutmut/stats.py), folded into four verdicts.
KILLED_CODES = {1, 3, 36, 37, -24, 24, 152, 255, -11, -9}
SURVIVED_CODES = {0}
NO_TESTS_CODES = {5, 33}
# `mutmut show`, for many mutants in one process: each survivor's name and the diff of its function.
SHOW_DIFFS = """
import sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
for name in sys.argv[1:]:
    print(f"# {name}")
    print(get_diff_for_mutant(name))
"""
# mutmut runs each mutant's tests by node id, in a process that has already run pytest (its stats run). A node id
# pytest cannot find there fails the whole command with exit 4, which mutmut counts as a kill. pytest itself renames
# tests with an escaped character in a parameter id on a second run in one process (bench/rerun_ids.py, loaded into
# every run, prevents it). This replays a run to make sure: collect the target's tests, then select them by node id
# in the same process; it prints the node ids that cannot be selected.
CHECK_NODE_IDS = """
import json, os, sys, pytest
sys.path.insert(0, os.getcwd())
class Collected:
    ids = []
    def pytest_collection_finish(self, session):
        Collected.ids = [item.nodeid for item in session.items]
tests, args = json.loads(sys.argv[1])
quiet = ["-qq", "--collect-only", "-p", "no:cacheprovider", *args]
if pytest.main([*quiet, *tests], plugins=[Collected()]) != 0:
    sys.exit(2)
lost = []
if pytest.main([*quiet, *Collected.ids]) != 0:
    lost = [i for i in Collected.ids if pytest.main([*quiet, i]) != 0]
print("".join(f"\\nunselectable\\t{json.dumps(i)}" for i in lost))
sys.exit(1 if lost else 0)
"""
MUTANT_NAME = re.compile(r"parse_mcp\.[\w.ǁ]+__mutmut_\d+")


@dataclass
class ModuleScore:
    killed: int = 0
    equivalent: int = 0
    survivors: list[str] = field(default_factory=list)  # survived, or no test calls it
    other: list[str] = field(default_factory=list)  # suspicious, skipped, not checked

    @property
    def total(self) -> int:
        return self.killed + self.equivalent + len(self.survivors) + len(self.other)

    def rate(self, *, equivalents_killed: bool) -> float:
        caught = self.killed + (self.equivalent if equivalents_killed else 0)
        return 100.0 * caught / self.total if self.total else 100.0


def listed_equivalents() -> set[str]:
    """The mutants docs/mutation.md lists as equivalent (each with its reason)."""
    if not EQUIVALENTS_DOC.exists():
        return set()
    return set(MUTANT_NAME.findall(EQUIVALENTS_DOC.read_text(encoding="utf-8")))


def present(tests: tuple[str, ...]) -> list[str]:
    """The tests (paths, or node ids) whose file exists."""
    return [test for test in tests if (ROOT / test.partition("::")[0]).exists()]


def pytest_args(target: Target) -> list[str]:
    """The pytest arguments of each of the target's runs, after the tests."""
    deselected = [argument for test in target.deselect for argument in ("--deselect", test)]
    rerun_ids = f"tests.{RERUN_IDS_PLUGIN.stem}"  # see CHECK_NODE_IDS
    return ["-p", "no:xdist", "-p", "no:randomly", "-p", rerun_ids, *deselected, *target.pytest_args]


def mutmut_settings(target: Target) -> str:
    def toml_list(items: list[str]) -> str:
        return "[" + ", ".join(json.dumps(item) for item in items) + "]"

    tests = present(target.tests)
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["parse_mcp"]\n'
        f"only_mutate = {toml_list(list(target.mutate))}\n"
        f"pytest_add_cli_args_test_selection = {toml_list(tests)}\n"
        f"pytest_add_cli_args = {toml_list(pytest_args(target))}\n"
        'also_copy = ["prompts"]\n'
        # A mutant that loops is stopped after 4 times its tests' CPU time (plus 1 s), not mutmut's 15.
        "timeout_multiplier = 4.0\n"
        "use_git_change_detection = false\n" + "".join(line + "\n" for line in target.settings)
    )


def prepare(name: str, target: Target) -> Path:
    workspace = WORK / name
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("parse_mcp", "tests", "prompts"):
        shutil.copytree(ROOT / folder, workspace / folder, ignore=ignore)
    shutil.copyfile(ROOT / "bench" / "rerun_ids.py", workspace / RERUN_IDS_PLUGIN)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (workspace / "pyproject.toml").write_text(pyproject + mutmut_settings(target), encoding="utf-8")
    return workspace


def unselectable_node_ids(workspace: Path, target: Target) -> list[str] | None:
    """The target's node ids that pytest cannot select by id after a first run in the same process (they would
    count every mutant they cover as killed); None when the tests cannot be collected at all."""
    tests = present(target.tests)
    checked = subprocess.run(
        [sys.executable, "-c", CHECK_NODE_IDS, json.dumps([tests, pytest_args(target)])],
        cwd=workspace,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    if checked.returncode not in (0, 1):
        return None
    marked = [line.split("\t", 1)[1] for line in checked.stdout.splitlines() if line.startswith("unselectable\t")]
    return [json.loads(node_id) for node_id in marked]


def mutmut(workspace: Path, *args: str, log: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mutmut", *args]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if log is None:
        return subprocess.run(command, cwd=workspace, capture_output=True, text=True, env=env, check=False)
    with log.open("w", encoding="utf-8") as out:
        return subprocess.run(
            command, cwd=workspace, stdout=out, stderr=subprocess.STDOUT, text=True, env=env, check=False
        )


def scores(workspace: Path, equivalents: set[str]) -> dict[str, ModuleScore]:
    by_module: dict[str, ModuleScore] = {}
    for meta in sorted((workspace / "mutants").rglob("*.py.meta")):
        module = str(meta.relative_to(workspace / "mutants"))[: -len(".meta")]
        score = by_module.setdefault(module, ModuleScore())
        codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for mutant, code in sorted(codes.items(), key=lambda item: natural(item[0])):
            if code in KILLED_CODES:
                score.killed += 1
            elif mutant in equivalents and code in SURVIVED_CODES | NO_TESTS_CODES:
                score.equivalent += 1
            elif code in SURVIVED_CODES | NO_TESTS_CODES:
                score.survivors.append(mutant)
            else:
                score.other.append(mutant)
    return by_module


def natural(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("__mutmut_")
    return stem, int(number) if number.isdigit() else 0


def run_target(name: str, target: Target, *, equivalents: set[str], again: bool) -> dict[str, ModuleScore] | None:
    """The target's scores (None when mutmut failed); `again` False reports the last run without running."""
    workspace = WORK / name
    started = time.monotonic()
    print(f"== {name}: mutating {' '.join(target.mutate)}", flush=True)
    if again or not (workspace / "mutants").is_dir():
        workspace = prepare(name, target)
        lost = unselectable_node_ids(workspace, target)
        if lost is None or lost:
            print(
                f"   these tests cannot be run by node id as mutmut runs them: {lost or 'none collected'}", flush=True
            )
            return None
        ran = mutmut(workspace, "run", "--max-children", str(os.cpu_count() or 2), log=workspace / "mutmut.log")
        if ran.returncode != 0:
            print(f"   mutmut failed (exit {ran.returncode}); its output: {workspace / 'mutmut.log'}", flush=True)
            print((workspace / "mutmut.log").read_text(encoding="utf-8")[-3000:], flush=True)
            return None
    seconds = time.monotonic() - started
    result = scores(workspace, equivalents)
    for module, score in result.items():
        print(
            f"   {module:42} {score.rate(equivalents_killed=True):5.1f} %  "
            f"({score.killed} killed, {score.equivalent} equivalent, {len(score.survivors)} survived"
            + (f", {len(score.other)} other" if score.other else "")
            + f" of {score.total})",
            flush=True,
        )
    unexplained = [mutant for score in result.values() for mutant in score.survivors + score.other]
    if unexplained:
        shown = subprocess.run(
            [sys.executable, "-c", SHOW_DIFFS, *unexplained], cwd=workspace, capture_output=True, text=True, check=False
        )
        print(shown.stdout.rstrip() or shown.stderr[-2000:], flush=True)
    print(f"   {name}: {seconds:.0f} s", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help=f"some of: {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--list", action="store_true", help="show the targets and stop")
    parser.add_argument("--fail-under", type=float, default=0.0, help="exit 1 when a module's kill rate is lower")
    parser.add_argument("--report", action="store_true", help="report the last run of each target, run none")
    options = parser.parse_args()
    if options.list:
        for name, target in TARGETS.items():
            print(f"{name}: mutates {' '.join(target.mutate)}\n    tests {' '.join(target.tests)}")
        return 0
    unknown = [name for name in options.targets if name not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s): {', '.join(unknown)}; the targets: {', '.join(TARGETS)}")
    equivalents = listed_equivalents()
    started = time.monotonic()
    everything: dict[str, ModuleScore] = {}
    failed: list[str] = []
    for name in options.targets or list(TARGETS):
        scored = run_target(name, TARGETS[name], equivalents=equivalents, again=not options.report)
        if scored is None:
            failed.append(name)
        else:
            everything |= scored
    total = ModuleScore()
    for score in everything.values():
        total.killed += score.killed
        total.equivalent += score.equivalent
        total.survivors += score.survivors
        total.other += score.other
    print("\n== kill rate per module (equivalent mutants listed in docs/mutation.md count as killed)")
    for module, score in sorted(everything.items()):
        print(f"   {module:42} {score.rate(equivalents_killed=True):5.1f} %  of {score.total}")
    print(
        f"   {'all':42} {total.rate(equivalents_killed=True):5.1f} %  of {total.total} "
        f"({total.rate(equivalents_killed=False):.1f} % before setting equivalents aside; "
        f"{len(total.survivors)} unexplained survivors) in {time.monotonic() - started:.0f} s"
    )
    if failed:
        print(f"mutmut failed on: {', '.join(failed)}")
        return 1
    below = [module for module, score in everything.items() if score.rate(equivalents_killed=True) < options.fail_under]
    if below:
        print(f"below {options.fail_under} %: {', '.join(sorted(below))}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
