"""A pytest plugin for mutation runs: a test's parameter ids stay the same when pytest runs again in one process.

pytest keeps the ids it made for a `parametrize` mark on the mark itself and, on the next run in the same process,
takes them as given ids and escapes them again: `[json \\u]` becomes `[json \\\\u]`. mutmut runs pytest once to
learn which tests call which function, then selects each mutant's tests by the node ids of that first run, in a
process forked from it: an id that changed is not found, pytest stops with exit 4, and mutmut counts the mutant as
killed. Forgetting the kept ids before each test function is parametrized makes every run name its tests alike.

`bench/mutate.py` copies this file into each workspace's `tests/` and loads it with `-p`.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for mark in metafunc.definition.iter_markers("parametrize"):
        shared = getattr(mark, "_param_ids_from", None)
        if shared is not None and getattr(shared, "_param_ids_generated", None) is not None:
            object.__setattr__(shared, "_param_ids_generated", None)
