"""What keeps connections that never finish a request from taking the HTTP server down.

uvicorn alone holds a connection that sends half a request line for ever (its keep-alive timer only
starts after a first response), has no cap on connections that have not sent a complete request (its
`limit_concurrency` judges complete requests only, so it would refuse the honest client while the idle
ones hold their slots), and when the descriptors run out asyncio's accept loop logs a traceback for every
slot of the listen backlog, every second. So:

- `guarded_protocol`: uvicorn's h11 protocol, plus a deadline for each request head (from the moment the
  connection is ready for one) and a cap on open connections. At the cap a new connection closes the
  connection that has waited longest for a request head, else it gets 503 at once and is closed;
- the cap stays below the process's descriptor limit by enough to absorb the accept bursts (`ceiling`);
- `quiet_accept_errors`: running out of descriptors anyway (other files, other sockets) is one warning a
  minute, and sheds the connections waiting longest for a head so that accepting resumes.

This module loads uvicorn: only `serve_http` imports it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from parse_mcp.http_sessions import DEFAULT_SESSIONS_PER_CLIENT

logger = logging.getLogger(__name__)
ACCESS_LOGGER: Final = logging.getLogger("parse_mcp.http.access")

DEFAULT_HEADER_TIMEOUT: Final = 10.0
DEFAULT_MAX_CONNECTIONS: Final = 1000
# No descriptor limit: the cap is what the operator asked for.
UNLIMITED: Final = 2**31
# The listen queue, and how many connections asyncio accepts in one turn of the loop before any of them
# reaches our protocol. uvicorn's default (2048) lets one burst use every descriptor of a 1024 limit.
BACKLOG: Final = 128
# Descriptors the process needs besides client connections: its files, the upstream connections, Redis.
OWN_DESCRIPTORS: Final = 64
# Accepted sockets reach `connection_made` (where the cap is applied) about three turns of the loop after
# `accept`, and a shed connection frees its descriptor one turn later: room for four bursts.
IN_FLIGHT_BURSTS: Final = 4
WARN_EVERY_SECONDS: Final = 60.0
# How many connections waiting for a head to shed when accept fails for want of descriptors.
SHED_ON_EXHAUSTION: Final = 32
# asyncio's own pause before it tries `accept` again after running out of descriptors.
ACCEPT_RETRY_SECONDS: Final = 1.0

_OUT_OF_RESOURCES: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_BUSY_BODY: Final = b'{"error":"server busy: too many open connections, try again shortly"}'
_BUSY: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: application/json\r\n"
    b"content-length: " + str(len(_BUSY_BODY)).encode() + b"\r\n"
    b"retry-after: 1\r\n"
    b"connection: close\r\n\r\n" + _BUSY_BODY
)


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """How much one client may hold of the HTTP server (the flags `--header-timeout`, `--max-connections`
    and `--max-sessions-per-client`)."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    sessions_per_client: int = DEFAULT_SESSIONS_PER_CLIENT


def ceiling(descriptor_limit: int | None = None) -> int:
    """The most connections this process can hold without running out of descriptors."""
    if descriptor_limit is None:
        descriptor_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if descriptor_limit == resource.RLIM_INFINITY:
        return UNLIMITED
    return max(16, descriptor_limit - OWN_DESCRIPTORS - IN_FLIGHT_BURSTS * BACKLOG)


def connection_cap(wanted: int) -> int:
    """`wanted`, or less when the descriptor limit allows less (said once, at start-up)."""
    descriptor_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    most = ceiling(descriptor_limit)
    if wanted > most:
        logger.warning(
            "at most %d connections fit this process's descriptor limit (ulimit -n %d), fewer than "
            "--max-connections %d: capping connections at %d (raise ulimit -n to allow more)",
            most,
            descriptor_limit,
            wanted,
            most,
        )
    return min(wanted, most)


class Throttled:
    """Counts occurrences of one event and says so at most once per `every` seconds."""

    def __init__(self, what: str, every: float = WARN_EVERY_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._what = what
        self._every = every
        self._clock = clock
        self._count = 0
        self._last: float | None = None

    def note(self) -> None:
        self._count += 1
        now = self._clock()
        if self._last is None or now - self._last >= self._every:
            logger.warning("%s (%d since the last such warning; said at most once a minute)", self._what, self._count)
            self._count = 0
            self._last = now


class ConnectionGuard:
    """The state the connections of one server share: who waits for a request head, oldest first."""

    def __init__(self, limits: HttpLimits, max_connections: int) -> None:
        self.limits = limits
        self.max_connections = max_connections
        # Insertion-ordered: the first is the one that has waited longest for a head.
        self.waiting: dict[GuardedH11Protocol, None] = {}
        self.timed_out = Throttled(
            f"closed connections that sent no complete request head within {limits.header_timeout:g} s"
        )
        self.displaced = Throttled(
            f"at {max_connections} connections: closed the ones waiting longest for a request head"
        )
        self.refused = Throttled(f"at {max_connections} connections, all busy: answered new ones 503")
        self._last_exhaustion_shed: float | None = None
        self.exhausted = Throttled(
            "out of file descriptors, new connections wait in the listen queue; closed the connections "
            "waiting longest for a request head (raise ulimit -n, or lower --max-connections)"
        )

    def shed_on_exhaustion(self) -> None:
        """Close a few of the connections waiting longest for a head, once per accept retry: asyncio reports
        the failure once per backlog slot, and tries accepting again a second later."""
        now = time.monotonic()
        if self._last_exhaustion_shed is not None and now - self._last_exhaustion_shed < ACCEPT_RETRY_SECONDS:
            return
        self._last_exhaustion_shed = now
        for connection in list(self.waiting)[:SHED_ON_EXHAUSTION]:
            connection.shed()


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head deadline and a connection cap (see the module's doc)."""

    guard: ClassVar[ConnectionGuard]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # uvicorn's access logger is one for the whole process, and the embedded sandbox's server turns it off
        # for itself: this server's requests go to a logger of ours, whose lines follow --log-level and leave
        # through the root's redacting handlers like every other line (a query string can carry a token).
        self.access_logger = ACCESS_LOGGER
        self.access_log = True
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.guard.max_connections:
            oldest = next((c for c in self.guard.waiting if c is not self), None)
            if oldest is None:
                self.guard.refused.note()
                transport.write(_BUSY)
                transport.close()
                return
            self.guard.displaced.note()
            oldest.shed()
        self._await_head()

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:
            self._head_arrived()

    def on_response_complete(self) -> None:
        before = self.cycle
        super().on_response_complete()
        # Unless a pipelined request was already waiting, the connection now waits for the next head.
        if self.cycle is before and not self.transport.is_closing():
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def shed(self) -> None:
        """Close this connection, which has not sent a complete request head: there is no request to answer."""
        self._head_arrived()
        self.transport.close()

    def _await_head(self) -> None:
        # Armed once per request: bytes trickling in do not extend it, which is the whole point.
        if self._head_deadline is None:
            self.guard.waiting[self] = None
            self._head_deadline = self.loop.call_later(self.guard.limits.header_timeout, self._head_timed_out)

    def _head_arrived(self) -> None:
        self.guard.waiting.pop(self, None)
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        self.guard.timed_out.note()
        self.shed()


def guarded_protocol(guard: ConnectionGuard) -> type[GuardedH11Protocol]:
    """A protocol class bound to `guard`, for `uvicorn.Config(http=...)`: one per server."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"guard": guard})


def quiet_accept_errors(loop: asyncio.AbstractEventLoop, guard: ConnectionGuard) -> None:
    """Replace asyncio's traceback per failed accept (one per backlog slot, every second) with one warning a
    minute, and free descriptors so that accepting resumes; every other error goes where it went before."""
    previous = loop.get_exception_handler()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in _OUT_OF_RESOURCES and "accept" in context.get("message", ""):
            guard.exhausted.note()
            guard.shed_on_exhaustion()
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
