"""No client can exhaust the HTTP server: half-open connections, a connection flood, a session flood, and
the bearer token kept out of every log line (issue 14).

Real `parse-mcp --sandbox --transport http` processes on 127.0.0.1, real sockets, real MCP clients."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import logging
import resource
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from parse_mcp.http_limits import ConnectionGuard, HttpLimits, ceiling, quiet_accept_errors
from parse_mcp.http_sessions import SessionCap
from tests.processes import free_port, limited_http_server, until_healthy

pytestmark = pytest.mark.anyio

TOKEN_A = "tok_alpha_" + "A1b2C3d4E5f6G7h8"
TOKEN_B = "tok_bravo_" + "Z9y8X7w6V5u4T3s2"
# Characters that percent-encoding and base64 both change, so that each form differs from the plain one.
ODD_TOKEN = "tok~~~+/~" + "Q7w8E9r0T1y2U3i4=="
HALF_OPEN = 1100
DESCRIPTOR_LIMIT = 1024
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
PROTOCOL = "2025-11-25"


def initialize(name: str = "probe") -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": name, "version": "0"}},
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def mcp_client(url: str, token: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers=bearer(token), timeout=30) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        yield client


@contextmanager
def serving(
    tmp_path: Path, *args: str, tokens: str = TOKEN_A, descriptor_limit: int | None = None, log_level: str = "debug"
) -> Iterator[tuple[str, Path, int]]:
    """The server process: its base URL, the file its stderr goes to, and its pid."""
    port = free_port()
    log = tmp_path / f"stderr-{port}.log"
    env = {"PARSE_MCP_HTTP_TOKEN": tokens} if tokens else {}
    with (
        log.open("wb") as stderr,
        limited_http_server(
            port, *args, extra_env=env, stderr=stderr, descriptor_limit=descriptor_limit, log_level=log_level
        ) as process,
    ):
        yield f"http://127.0.0.1:{port}", log, process.pid


def half_open(port: int, count: int) -> list[socket.socket]:
    """`count` connections that each send half a request line and then nothing."""
    held = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        # A connection the server already closed to make room is still one it had to deal with.
        with contextlib.suppress(OSError):
            connection.sendall(b"GET /healthz HT")
        held.append(connection)
    return held


def closed_by_server(connection: socket.socket, seconds: float) -> bytes:
    """What the server sent before closing the connection, within `seconds` (then closed here too)."""
    with connection:
        connection.settimeout(seconds)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        return received


def raise_descriptor_limit(wanted: int) -> None:
    """This test process opens the flood itself: it needs more descriptors than the server may have."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= wanted, "the test needs ulimit -n of 1,500 or more"


def descriptor_limit_of(pid: int) -> int:
    line = next(x for x in Path(f"/proc/{pid}/limits").read_text().splitlines() if x.startswith("Max open files"))
    return int(line.split()[3])


# ------------------------------------------------------------------------ connections ----


async def test_half_open_connections_do_not_starve_healthz_or_an_authorised_client(tmp_path: Path) -> None:
    raise_descriptor_limit(HALF_OPEN + 400)
    with serving(tmp_path, descriptor_limit=DESCRIPTOR_LIMIT) as (url, log, pid):
        await until_healthy(url)
        port = int(url.rsplit(":", 1)[1])
        limit = descriptor_limit_of(pid)
        before = log.stat().st_size
        flood = await anyio.to_thread.run_sync(half_open, port, HALF_OPEN)
        try:
            started = time.monotonic()
            with anyio.fail_after(1):
                async with httpx2.AsyncClient() as http:
                    health = await http.get(f"{url}/healthz")
            healthz_seconds = time.monotonic() - started
            started = time.monotonic()
            with anyio.fail_after(1):
                async with mcp_client(url, TOKEN_A) as client:
                    listed = await client.call_tool("list_apis", {})
            client_seconds = time.monotonic() - started
            grown = log.read_bytes()[before:]
        finally:
            for connection in flood:
                connection.close()
    assert limit == DESCRIPTOR_LIMIT
    assert health.status_code == 200
    assert listed.structured_content is not None
    assert listed.structured_content["ok"] is True
    assert healthz_seconds < 1, f"/healthz took {healthz_seconds:.3f} s"
    assert client_seconds < 1, f"the authorised client took {client_seconds:.3f} s"
    assert len(grown) < 100_000, f"stderr grew by {len(grown)} bytes"
    assert b"Traceback" not in grown
    # The flood did reach the cap: the server made room by closing the connections that had sent nothing useful.
    assert b"closed the ones waiting longest for a request head" in grown


async def test_a_connection_that_sends_half_a_request_line_is_closed_after_the_header_timeout(tmp_path: Path) -> None:
    with serving(tmp_path, "--header-timeout", "0.5") as (url, _, _):
        await until_healthy(url)
        port = int(url.rsplit(":", 1)[1])
        silent, halting = half_open(port, 1)[0], socket.create_connection(("127.0.0.1", port))
        halting.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
        started = time.monotonic()
        answers = [await anyio.to_thread.run_sync(closed_by_server, c, 10) for c in (silent, halting)]
        waited = time.monotonic() - started
    assert answers == [b"", b""]  # closed without an answer: there is no request to answer
    assert 0.4 <= waited < 5


async def test_at_the_connection_cap_a_new_connection_displaces_an_idle_one_or_gets_503(tmp_path: Path) -> None:
    with serving(tmp_path, "--max-connections", "4", tokens="") as (url, _, _):
        await until_healthy(url)
        port = int(url.rsplit(":", 1)[1])
        busy = [_busy_connection(port) for _ in range(3)]
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = b""
        while not first.endswith(b'{"status":"ok"}'):
            first += idle.recv(65536)
        busy.append(_busy_connection(port))  # the fifth connection: the idle one makes room for it
        displaced = await anyio.to_thread.run_sync(closed_by_server, idle, 10)
        refused = await anyio.to_thread.run_sync(closed_by_server, socket.create_connection(("127.0.0.1", port)), 10)
        for connection in busy:
            connection.close()
    assert first.startswith(b"HTTP/1.1 200 ")
    assert displaced == b""
    assert refused.startswith(b"HTTP/1.1 503 ")
    assert b"too many open connections" in refused


def _busy_connection(port: int) -> socket.socket:
    """A connection whose request head is complete and whose body never comes: the server is serving it."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{"
    )
    connection.sendall(head.encode())
    return connection


async def test_accept_failures_for_want_of_descriptors_are_one_warning_and_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    others: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: others.append(context))
    try:
        quiet_accept_errors(loop, ConnectionGuard(HttpLimits(), 100))
        with caplog.at_level(logging.WARNING):
            for _ in range(2048):  # what asyncio reports when accept fails: once per slot of the backlog
                loop.call_exception_handler(
                    {"message": "socket.accept() out of system resource", "exception": OSError(errno.EMFILE, "")}
                )
            loop.call_exception_handler({"message": "something else", "exception": ValueError("other")})
    finally:
        loop.set_exception_handler(previous)
    warnings = [r for r in caplog.records if r.name == "parse_mcp.http_limits"]
    assert len(warnings) == 1
    assert "out of file descriptors" in warnings[0].getMessage()
    assert warnings[0].exc_info is None
    assert [context["message"] for context in others] == ["something else"]


def test_the_connection_cap_stays_below_the_descriptor_limit() -> None:
    assert ceiling(1024) < 1024 - 256
    assert ceiling(1_048_576) > 1000
    assert ceiling(10) >= 1


# --------------------------------------------------------------------------- sessions ----


async def open_session(http: httpx2.AsyncClient, url: str, token: str) -> str:
    answer = await http.post(f"{url}/mcp", json=initialize(), headers=MCP_HEADERS | bearer(token))
    assert answer.status_code == 200, answer.text
    return answer.headers["mcp-session-id"]


async def list_tools(http: httpx2.AsyncClient, url: str, token: str, session: str) -> int:
    """The status `tools/list` gets on `session`."""
    headers = MCP_HEADERS | bearer(token) | {"Mcp-Session-Id": session, "Mcp-Protocol-Version": PROTOCOL}
    request = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    return (await http.post(f"{url}/mcp", json=request, headers=headers)).status_code


async def test_one_client_opening_many_sessions_does_not_stop_another_or_lose_its_newest(tmp_path: Path) -> None:
    cap, opened = 20, 60
    with serving(tmp_path, "--max-sessions-per-client", str(cap), tokens=f"{TOKEN_A},{TOKEN_B}") as (url, _, _):
        await until_healthy(url)
        async with httpx2.AsyncClient(timeout=30) as http:
            with anyio.fail_after(60):
                flood = [await open_session(http, url, TOKEN_A) for _ in range(opened)]
            with anyio.fail_after(30):
                async with mcp_client(url, TOKEN_B) as other:
                    listed = await other.call_tool("list_apis", {})
            statuses = [await list_tools(http, url, TOKEN_A, session) for session in flood]
    assert listed.structured_content is not None
    assert listed.structured_content["ok"] is True
    # The newest `cap` sessions still work; every older one was closed as the client opened more.
    assert statuses == [404] * (opened - cap) + [200] * cap


async def test_a_busy_session_is_never_closed_to_make_room(tmp_path: Path) -> None:
    with serving(tmp_path, "--max-sessions-per-client", "1") as (url, _, _):
        await until_healthy(url)
        async with httpx2.AsyncClient(timeout=30) as http:
            session = await open_session(http, url, TOKEN_A)
            headers = MCP_HEADERS | bearer(TOKEN_A) | {"Mcp-Session-Id": session, "Mcp-Protocol-Version": PROTOCOL}
            # An open GET stream keeps the session busy for as long as it lasts.
            async with http.stream("GET", f"{url}/mcp", headers=headers | {"Accept": "text/event-stream"}) as stream:
                assert stream.status_code == 200
                refused = await http.post(f"{url}/mcp", json=initialize(), headers=MCP_HEADERS | bearer(TOKEN_A))
            still = await list_tools(http, url, TOKEN_A, session)
    assert refused.status_code == 503
    assert "Too many open sessions for this client" in refused.json()["error"]["message"]
    assert still == 200


async def test_a_session_counts_as_open_from_the_moment_its_response_starts() -> None:
    # The client may use a session as soon as it reads the answer that names it, while the server is still
    # finishing its side: the cap must know the session by then, or a stream opened at once passes for idle.
    finishing = anyio.Event()
    started = anyio.Event()

    async def sdk(_scope: Any, _receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"mcp-session-id", b"s-1")]})
        await send({"type": "http.response.body", "body": b"{}"})
        await finishing.wait()

    async def client_side(message: Any) -> None:
        if message["type"] == "http.response.start":
            started.set()

    async def no_body() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    cap = SessionCap(sdk, "/mcp", per_client=1)
    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": [(b"host", b"127.0.0.1")]}
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(cap, scope, no_body, client_side)
            await started.wait()
            assert cap.open_sessions("local") == 1
            finishing.set()


# ------------------------------------------------------------------------------- logs ----


def token_forms(token: str) -> dict[str, bytes]:
    raw = token.encode()
    return {
        "plain": raw,
        "upper": token.upper().encode(),
        "percent": quote(token, safe="").encode(),
        "base64": base64.b64encode(raw).rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "hex": raw.hex().encode(),
    }


@pytest.mark.parametrize("log_level", ["debug", "warning"])
async def test_the_token_never_reaches_the_log_in_any_form_at_any_level(tmp_path: Path, log_level: str) -> None:
    forms = token_forms(ODD_TOKEN)
    assert len(set(forms.values())) == len(forms)
    with serving(tmp_path, tokens=ODD_TOKEN, log_level=log_level) as (url, log, _):
        await until_healthy(url)
        async with httpx2.AsyncClient(timeout=30) as http:
            for name, form in forms.items():
                text = form.decode()
                # In the query string, of an open path and of a guarded one (401), as sent: not re-encoded.
                await http.get(f"{url}/healthz?probe={name}&token={text}")
                await http.post(f"{url}/mcp?probe={name}&access_token={text}", json=initialize(), headers=MCP_HEADERS)
                # In headers, next to the right token, and in the body of a call whose answer echoes it.
                headers = MCP_HEADERS | bearer(ODD_TOKEN) | {"X-Api-Key": text}
                opened = await http.post(f"{url}/mcp", json=initialize(text), headers=headers)
                session = {"Mcp-Session-Id": opened.headers["mcp-session-id"], "Mcp-Protocol-Version": PROTOCOL}
                call = {"name": f"probe-{name}-{text}", "arguments": {}}
                request = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call}
                answer = await http.post(f"{url}/mcp", json=request, headers=headers | session)
                assert answer.status_code == 200
        written = log.read_bytes()
    leaked = {name: form for name, form in forms.items() if form.lower() in written.lower()}
    assert leaked == {}
    if log_level == "debug":
        # Every place the token was sent did reach the log, through the redactor: the lines are there, the
        # token is not.
        for name in forms:
            assert f"probe={name}&token=".encode() in written  # the access log's request line
            assert f"probe-{name}-".encode() in written  # the body, echoed in the answer the SDK logs
    else:
        # At warning, uvicorn says nothing below it but the one line that says the server listens.
        said_below_warning = [line for line in written.splitlines() if b" INFO " in line or b" DEBUG " in line]
        assert len(said_below_warning) == 1
        assert b"INFO uvicorn.error: Uvicorn running on http://127.0.0.1:" in said_below_warning[0]
