"""Time and chance, injected: everything that waits or jitters takes these, so tests never sleep."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio


@dataclass(frozen=True, slots=True)
class Runtime:
    clock: Callable[[], float] = time.time  # epoch seconds: rate-limit resets and Retry-After dates use it
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    random: Callable[[], float] = field(default=random.random)


REAL_TIME = Runtime()
