"""The whole HTTP app (`http_app`: the gate, /metrics, the session cap and the SDK's /mcp) called in this process.

No socket and no uvicorn: the test runs the app's lifespan itself and sends requests through
`httpx2.ASGITransport`, so every task lives in the test's event loop and nothing outlives it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from mcp.server.streamable_http import EventCallback, EventId, EventStore, StreamId
from mcp.types import JSONRPCMessage
from starlette.types import ASGIApp, Message

from parse_mcp.http_limits import BACKLOG, HttpLimits
from parse_mcp.http_security import HttpSecurity, http_app, http_security, serve_http
from parse_mcp.http_sessions import DEFAULT_SESSIONS_PER_CLIENT
from parse_mcp.server import build_server
from parse_mcp.settings import Secret, Settings
from tests.processes import free_port

pytestmark = pytest.mark.anyio

TOKEN = "tok_alpha_" + "A1b2C3d4E5f6G7h8"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "probe", "version": "0"}},
}
PING = {"jsonrpc": "2.0", "id": 2, "method": "ping"}


@asynccontextmanager
async def running(app: ASGIApp) -> AsyncIterator[httpx2.AsyncClient]:
    """`app` started (its lifespan run to startup), and a client that calls it in this process; shut down after."""
    to_app, app_reads = anyio.create_memory_object_stream[Message](4)
    app_writes, from_app = anyio.create_memory_object_stream[Message](4)

    async def lifespan() -> None:
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, app_reads.receive, app_writes.send)

    with anyio.fail_after(30):
        async with to_app, app_reads, app_writes, from_app, anyio.create_task_group() as tasks:
            tasks.start_soon(lifespan)
            await to_app.send({"type": "lifespan.startup"})
            assert (await from_app.receive())["type"] == "lifespan.startup.complete"
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
                yield client
            await to_app.send({"type": "lifespan.shutdown"})
            assert (await from_app.receive())["type"] == "lifespan.shutdown.complete"


class CountingEvents(EventStore):
    """An event store that numbers each event it is given: a stream that has one writes `id:` before each event."""

    def __init__(self) -> None:
        self.stored: list[str] = []

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        self.stored.append(stream_id)
        return f"event-{len(self.stored)}"

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        return None


def app_for(*tokens: str, **options: Any) -> ASGIApp:
    allowed_hosts = options.pop("allowed_hosts", ())
    security = http_security("127.0.0.1", [Secret(t) for t in tokens], allowed_hosts=allowed_hosts)
    return http_app(build_server(Settings()), security, **options)


async def initialize(client: httpx2.AsyncClient, headers: dict[str, str] | None = None) -> httpx2.Response:
    return await client.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS | BEARER | (headers or {}))


async def ping(client: httpx2.AsyncClient, session: str) -> int:
    headers = MCP_HEADERS | BEARER | {"Mcp-Session-Id": session, "Mcp-Protocol-Version": "2025-11-25"}
    return (await client.post("/mcp", json=PING, headers=headers)).status_code


async def test_the_app_serves_mcp_at_slash_mcp_behind_the_token_with_sessions_by_default() -> None:
    async with running(app_for(TOKEN)) as client:
        refused = await client.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
        opened = await initialize(client)
        elsewhere = await client.post("/other", json=INITIALIZE, headers=MCP_HEADERS | BEARER)
        health = await client.get("/healthz")
    assert refused.status_code == 401
    assert opened.status_code == 200
    assert "mcp-session-id" in opened.headers
    assert elsewhere.status_code == 404
    assert health.status_code == 200


async def test_a_stateless_app_answers_without_opening_a_session() -> None:
    async with running(app_for(TOKEN, stateless=True)) as client:
        opened = await initialize(client)
    assert opened.status_code == 200
    assert "mcp-session-id" not in opened.headers


async def test_an_app_given_an_event_store_numbers_the_events_of_a_session_so_a_client_can_resume() -> None:
    events = CountingEvents()
    async with running(app_for(TOKEN, event_store=events)) as client:
        opened = await initialize(client)
    assert opened.status_code == 200
    assert "id: event-" in opened.text
    assert events.stored
    async with running(app_for(TOKEN)) as client:
        unnumbered = await initialize(client)
    assert "id: " not in unnumbered.text


async def test_the_app_holds_the_binds_host_rules_widened_by_an_allowed_host() -> None:
    async with running(app_for(TOKEN, allowed_hosts=("mcp.example.com",))) as client:
        allowed = await initialize(client, {"Host": "mcp.example.com"})
        other = await initialize(client, {"Host": "other.example.com"})
        metrics_allowed = await client.get("/metrics", headers=BEARER | {"Host": "mcp.example.com"})
        metrics_other = await client.get("/metrics", headers=BEARER | {"Host": "other.example.com"})
        metrics_without_token = await client.get("/metrics")
    assert (allowed.status_code, other.status_code) == (200, 421)
    assert (metrics_allowed.status_code, metrics_other.status_code) == (200, 421)
    assert metrics_allowed.headers["content-type"].startswith("text/plain")
    assert metrics_without_token.status_code == 401


async def test_one_session_per_client_closes_the_older_session_when_a_newer_one_opens() -> None:
    async with running(app_for(TOKEN, sessions_per_client=1)) as client:
        first = (await initialize(client)).headers["mcp-session-id"]
        second = (await initialize(client)).headers["mcp-session-id"]
        assert (await ping(client, first), await ping(client, second)) == (404, 200)


async def test_by_default_a_client_keeps_its_older_sessions_open_up_to_the_default_cap() -> None:
    assert DEFAULT_SESSIONS_PER_CLIENT >= 2
    async with running(app_for(TOKEN)) as client:
        first = (await initialize(client)).headers["mcp-session-id"]
        second = (await initialize(client)).headers["mcp-session-id"]
        assert (await ping(client, first), await ping(client, second)) == (200, 200)


class _Heard(logging.Handler):
    """Sets `listening` when uvicorn says it accepts connections; keeps every record it hears."""

    def __init__(self) -> None:
        super().__init__()
        self.listening = anyio.Event()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if record.getMessage().startswith("Uvicorn running on"):
            self.listening.set()


@asynccontextmanager
async def serving(security: HttpSecurity, **options: Any) -> AsyncIterator[tuple[str, _Heard]]:
    """`serve_http` on a free port until the block ends, its URL (on 127.0.0.1 for a bind on every address), and
    what it logged."""
    port = free_port()
    heard = _Heard()
    root = logging.getLogger()
    root.addHandler(heard)
    try:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(lambda: serve_http(build_server(Settings()), security, port, **options))
                await heard.listening.wait()
                # While it serves, uvicorn's own SIGTERM handler is its server's `handle_exit`: the test asks that
                # server to shut down as the signal would, without sending one (uvicorn would raise it again).
                server = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
                assert isinstance(server, uvicorn.Server)
                try:
                    address = "127.0.0.1" if security.host == "0.0.0.0" else security.host  # noqa: S104
                    yield f"http://{address}:{port}", heard
                finally:
                    server.should_exit = True
    finally:
        root.removeHandler(heard)


async def test_serve_http_serves_the_gated_app_with_sessions_on_its_port_and_says_it_listens() -> None:
    async with serving(http_security("127.0.0.1", [Secret(TOKEN)])) as (url, heard), httpx2.AsyncClient() as http:
        health = await http.get(f"{url}/healthz")
        refused = await http.post(f"{url}/mcp", json=INITIALIZE, headers=MCP_HEADERS)
        opened = await http.post(f"{url}/mcp", json=INITIALIZE, headers=MCP_HEADERS | BEARER)
    assert (health.status_code, refused.status_code, opened.status_code) == (200, 401, 200)
    assert "mcp-session-id" in opened.headers
    assert [r.getMessage() for r in heard.records if r.levelno >= logging.WARNING] == []


async def test_serve_http_listens_with_a_queue_of_128_connections_not_uvicorns_2048() -> None:
    # For a listening socket, `ss` shows the listen queue's length as its Send-Q. A queue of 2,048 would let one
    # burst of connections take every descriptor of a 1,024 limit before the connection cap sees any of them.
    async with serving(http_security("127.0.0.1", [Secret(TOKEN)])) as (url, _):
        port = url.rsplit(":", 1)[1]
        listed = await anyio.run_process(["ss", "-Hltn", f"sport = :{port}"])
    state, _, send_q, *_ = listed.stdout.decode().split()
    assert (state, int(send_q)) == ("LISTEN", BACKLOG) == ("LISTEN", 128)


async def test_serve_http_on_every_address_warns_that_the_token_travels_in_clear_text() -> None:
    security = http_security("0.0.0.0", [Secret(TOKEN)], allowed_hosts=["127.0.0.1"])  # noqa: S104 - under test
    async with serving(security) as (url, heard), httpx2.AsyncClient() as http:
        opened = await http.post(f"{url}/mcp", json=INITIALIZE, headers=MCP_HEADERS | BEARER)
    assert opened.status_code == 200
    warned = [r.getMessage() for r in heard.records if r.levelno == logging.WARNING]
    assert warned == [
        "serving plain HTTP on 0.0.0.0: put a TLS-terminating proxy in front so the bearer token is not sent "
        "in clear text"
    ]


async def test_serve_http_stateless_opens_no_session() -> None:
    async with (
        serving(http_security("127.0.0.1", [Secret(TOKEN)]), stateless=True) as (url, _),
        httpx2.AsyncClient() as http,
    ):
        opened = await http.post(f"{url}/mcp", json=INITIALIZE, headers=MCP_HEADERS | BEARER)
    assert opened.status_code == 200
    assert "mcp-session-id" not in opened.headers


@pytest.mark.parametrize(("asked", "level"), [({}, logging.WARNING), ({"log_level": "debug"}, logging.DEBUG)])
async def test_serve_http_sets_uvicorns_log_level_to_the_one_asked_warning_by_default(
    asked: dict[str, str], level: int
) -> None:
    async with serving(http_security("127.0.0.1", []), **asked):
        assert logging.getLogger("uvicorn.asgi").level == level
        assert logging.getLogger("uvicorn.error").propagate is True


async def test_serve_http_given_an_event_store_numbers_a_sessions_events_and_stateless_it_does_not() -> None:
    security = http_security("127.0.0.1", [Secret(TOKEN)])
    for stateless in (False, True):
        events = CountingEvents()
        async with (
            serving(security, event_store=events, stateless=stateless) as (url, _),
            httpx2.AsyncClient() as http,
        ):
            opened = await http.post(f"{url}/mcp", json=INITIALIZE, headers=MCP_HEADERS | BEARER)
        assert opened.status_code == 200
        assert ("id: event-" in opened.text) is not stateless
        assert bool(events.stored) is not stateless


async def test_serve_http_listens_on_its_own_address_and_logs_each_request_through_our_access_logger() -> None:
    access = logging.getLogger("parse_mcp.http.access")
    level = access.level
    access.setLevel(logging.INFO)
    try:
        async with serving(http_security("127.0.0.2", [])) as (url, heard), httpx2.AsyncClient() as http:
            health = await http.get(f"{url}/healthz")
            with pytest.raises(httpx2.ConnectError):
                await http.get(url.replace("127.0.0.2", "127.0.0.1") + "/healthz")
    finally:
        access.setLevel(level)
    assert health.status_code == 200
    lines = [r.getMessage() for r in heard.records if r.name == "parse_mcp.http.access"]
    assert len(lines) == 1
    assert '"GET /healthz HTTP/1.1" 200' in lines[0]


async def test_serve_http_caps_each_clients_sessions_at_the_limit_it_is_given() -> None:
    limits = HttpLimits(sessions_per_client=1)
    async with (
        serving(http_security("127.0.0.1", [Secret(TOKEN)]), limits=limits) as (url, _),
        httpx2.AsyncClient(base_url=url) as http,
    ):
        # Each session closed by the cap is one no request is using: by the third, the first two have finished.
        opened = [(await initialize(http)).headers["mcp-session-id"] for _ in range(3)]
        assert (await ping(http, opened[0]), await ping(http, opened[2])) == (404, 200)


async def test_serve_http_says_once_when_the_process_runs_out_of_descriptors_to_accept_with() -> None:
    async with serving(http_security("127.0.0.1", [])) as (_, heard):
        asyncio.get_running_loop().call_exception_handler(
            {"message": "socket.accept() out of system resource", "exception": OSError(errno.EMFILE, "Too many")}
        )
    said = [r.getMessage() for r in heard.records if r.levelno >= logging.WARNING]
    assert len(said) == 1
    assert said[0].startswith("out of file descriptors, new connections wait in the listen queue")
