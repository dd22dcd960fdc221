"""A pytest plugin for mutation runs only: two things that hold in a normal pytest run, made to hold under mutmut.

1. A test's parameter ids stay the same when pytest runs again in one process. pytest keeps the ids it made for
   a `parametrize` mark on the mark itself and, on the next run in the same process, takes them as given ids and
   escapes them again: `[json \\u]` becomes `[json \\\\u]`. mutmut runs pytest once to learn which tests call which
   function, then selects each mutant's tests by the node ids of that first run, in a process forked from it: an
   id that changed is not found, pytest stops with exit 4, and mutmut counts the mutant as killed. Forgetting the
   kept ids before each test function is parametrized makes every run name its tests alike.
2. uvicorn still sees an ASGI app as an app. uvicorn calls the app with no argument to find out whether it is a
   factory, and expects a TypeError from an ASGI app. mutmut's trampoline around an `async def __call__` takes
   any arguments, so the call returns a coroutine instead and uvicorn serves that coroutine (every request then
   fails with 500). A plain function with the ASGI signature, in front of such an app, answers the probe as the
   app itself would without mutmut.

`bench/mutate.py` copies this file into each workspace's `tests/` and loads it with `-p`.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for mark in metafunc.definition.iter_markers("parametrize"):
        shared = getattr(mark, "_param_ids_from", None)
        if shared is not None and getattr(shared, "_param_ids_generated", None) is not None:
            object.__setattr__(shared, "_param_ids_generated", None)


def pytest_configure() -> None:
    try:
        from uvicorn.config import Config
    except ImportError:
        return
    load_app = Config.load_app

    def load_app_behind_a_function(self: Config) -> Any:
        app = load_app(self)
        if inspect.isfunction(app) or inspect.isclass(app) or not inspect.iscoroutinefunction(type(app).__call__):
            return app

        async def asgi(scope: Any, receive: Any, send: Any) -> None:
            await app(scope, receive, send)

        return asgi

    Config.load_app = load_app_behind_a_function  # type: ignore[method-assign]
