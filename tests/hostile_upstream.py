"""A hostile upstream: a raw HTTP/1.1 server on 127.0.0.1 that records what it receives, byte for byte,
and answers as badly as a test asks.

It is a plain anyio TCP server, not an ASGI app, so it can do what uvicorn never would: send any header
(a key in `X-Request-Id`, `Retry-After: 999999999`), lie about `Content-Length`, stall after the request,
trickle the body one byte at a time in real time, or reset the connection in the middle of an answer.

    async with hostile_upstream({"/sdk/schemas": json_answer({"apis": []})}) as upstream:
        settings = Settings(parse_base_url=upstream.url, ...)
        ...
        assert upstream.paths() == ["/sdk/schemas"]

Each request is matched to a plan by the longest path prefix (`default` when none matches). A plan is
an `Answer`, `STALL`, or a function of the request (`Seen`) that returns one, for answers that depend on
what was sent (`echo_key`). Plans can change while it runs (`upstream.plan(prefix, plan)`).

Everything is bounded: it reads at most `MAX_HEAD_BYTES` of head and `MAX_BODY_BYTES` of body per
request, and stops by itself (closing every connection, stalled ones included) after
`lifetime_seconds`, so a test that forgets it cannot hang on it.

At the end, parse-mcp wired to it: `documented_successes()` answers every documented path of both
services, and `server_for(upstream)` is the server with both base URLs (and keys) on it, on time that
jumps forward by each sleep.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final, Literal
from urllib.parse import parse_qsl

import anyio
import anyio.lowlevel
from anyio.abc import SocketAttribute, SocketStream
from anyio.streams.buffered import BufferedByteStream

from parse_mcp.runtime import Runtime
from parse_mcp.server import ParseMCPServer, build_server
from parse_mcp.settings import Secret, Settings

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_LIFETIME_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class Seen:
    """One request as it arrived: the raw request line and target, headers in order, the body."""

    request_line: str
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def path(self) -> str:
        """The raw path (still percent-encoded), without the query."""
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @property
    def key(self) -> str | None:
        """The API key as each service reads it: `X-API-Key`, else `api_key` in the query, else in a JSON body."""
        in_header = self.header("x-api-key")
        if in_header is not None:
            return in_header
        in_query = dict(parse_qsl(self.query, keep_blank_values=True)).get("api_key")
        if in_query is not None:
            return in_query
        try:
            document = json.loads(self.body) if self.body else None
        except ValueError:
            return None
        in_body = document.get("api_key") if isinstance(document, dict) else None
        return in_body if isinstance(in_body, str) else None


@dataclass(frozen=True, slots=True)
class Answer:
    """What to send back, and how.

    `headers` are sent as given, in order, and may be anything; `Content-Length` is added unless
    `content_length` is False or the headers already have one (a lie, if the test wants). With
    `trickle_seconds`, the head goes at once and then the body one byte every that many seconds.
    With `reset_after_bytes`, the connection is reset (TCP RST) after that many bytes of body.
    """

    status: int = 200
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    content_length: bool = True
    trickle_seconds: float | None = None
    reset_after_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Stall:
    """Read the request, then never answer (until the client gives up or the server's lifetime ends)."""


STALL: Final = Stall()
Plan = Answer | Stall | Callable[[Seen], Answer | Stall]
NOT_FOUND: Final = Answer(404, (("Content-Type", "application/json"),), b'{"detail": "Not Found"}')

KeyForm = Literal["plain", "upper", "lower", "url", "base64", "base64url", "json_escaped"]
KEY_FORMS: Final[tuple[KeyForm, ...]] = ("plain", "upper", "lower", "url", "base64", "base64url", "json_escaped")


def key_forms(key: str) -> dict[KeyForm, str]:
    """The key as an upstream might echo it: case-changed, fully percent-encoded, base64 (both alphabets,
    as in a Basic auth header or a token), and JSON-escaped (every character as `\\uXXXX`, as it stands
    inside a JSON string)."""
    raw = key.encode()
    return {
        "plain": key,
        "upper": key.upper(),
        "lower": key.lower(),
        "url": "".join(f"%{byte:02X}" for byte in raw),
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "json_escaped": "".join(f"\\u{ord(char):04x}" for char in key),
    }


def json_answer(document: object, status: int = 200, headers: Sequence[tuple[str, str]] = ()) -> Answer:
    return Answer(status, (("Content-Type", "application/json"), *headers), json.dumps(document).encode())


def nested_json(depth: int, leaf: str = "0") -> bytes:
    """A valid JSON document `depth` arrays deep: `[[[…0…]]]`."""
    return b"[" * depth + leaf.encode() + b"]" * depth


def echo_key(
    form: KeyForm, body: str, *, status: int = 200, headers: Sequence[tuple[str, str]] = ()
) -> Callable[[Seen], Answer]:
    """A plan that puts the request's own key, in `form`, wherever `{key}` appears in `body` and in the
    header values (written in place as the raw bytes, so a JSON body escapes nothing for it)."""

    def answer(seen: Seen) -> Answer:
        echoed = key_forms(seen.key or "")[form]
        filled = tuple((name, value.replace("{key}", echoed)) for name, value in headers)
        return Answer(status, filled, body.replace("{key}", echoed).encode())

    return answer


@dataclass
class HostileUpstream:
    """The running server: its base URL, what it has seen, and its plans (longest prefix wins)."""

    url: str
    plans: dict[str, Plan]
    default: Plan
    seen: list[Seen] = field(default_factory=list)
    # Set once it serves no more: its block ended, or its lifetime ran out.
    stopped: anyio.Event = field(default_factory=anyio.Event)

    def plan(self, prefix: str, plan: Plan) -> None:
        self.plans[prefix] = plan

    def paths(self) -> list[str]:
        """The raw path of every request, in order of arrival."""
        return [seen.path for seen in self.seen]

    def plan_for(self, seen: Seen) -> Answer | Stall:
        matching = [prefix for prefix in self.plans if seen.path.startswith(prefix)]
        plan = self.plans[max(matching, key=len)] if matching else self.default
        return plan if isinstance(plan, Answer | Stall) else plan(seen)


@asynccontextmanager
async def hostile_upstream(
    plans: Mapping[str, Plan] | None = None,
    *,
    default: Plan = NOT_FOUND,
    lifetime_seconds: float = DEFAULT_LIFETIME_SECONDS,
) -> AsyncIterator[HostileUpstream]:
    """Serve on 127.0.0.1 (a free port) until the block ends or `lifetime_seconds` pass."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(SocketAttribute.local_port)  # noqa: S610 (anyio, not Django)
    upstream = HostileUpstream(f"http://127.0.0.1:{port}", dict(plans or {}), default)
    async with listener, anyio.create_task_group() as group:
        group.cancel_scope.deadline = anyio.current_time() + lifetime_seconds

        async def serve(stream: SocketStream) -> None:
            await _serve_connection(upstream, stream)

        async def mark_stopped() -> None:
            try:
                await anyio.sleep_forever()
            finally:
                upstream.stopped.set()

        group.start_soon(listener.serve, serve, group)
        group.start_soon(mark_stopped)
        try:
            yield upstream
        finally:
            group.cancel_scope.cancel()


async def _serve_connection(upstream: HostileUpstream, stream: SocketStream) -> None:
    async with stream:
        buffered = BufferedByteStream(stream)
        while True:
            try:
                seen = await _read_request(buffered)
            except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, anyio.ClosedResourceError):
                return
            except _BadRequest as refused:
                await _send_quietly(stream, _head(refused.status, (("Connection", "close"),), 0))
                return
            upstream.seen.append(seen)
            plan = upstream.plan_for(seen)
            if isinstance(plan, Stall):
                await _until_closed(buffered)
                return
            if not await _deliver(stream, plan) or (seen.header("connection") or "").lower() == "close":
                return


class _BadRequest(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


async def _read_request(stream: BufferedByteStream) -> Seen:
    try:
        head = await stream.receive_until(b"\r\n\r\n", MAX_HEAD_BYTES)
    except anyio.DelimiterNotFound:
        raise _BadRequest(431) from None
    lines = head.decode("latin-1").split("\r\n")
    request_line = lines[0]
    parts = request_line.split(" ")
    if len(parts) != 3:
        raise _BadRequest(400)
    method, target, _version = parts
    headers = tuple(_header(line) for line in lines[1:] if line)
    seen = Seen(request_line, method, target, headers, b"")
    if (seen.header("transfer-encoding") or "").lower() == "chunked":
        body = await _read_chunked(stream)
    else:
        length = int(seen.header("content-length") or "0")
        if length > MAX_BODY_BYTES:
            raise _BadRequest(413)
        body = await stream.receive_exactly(length) if length else b""
    return Seen(request_line, method, target, headers, body)


def _header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name, value.strip()


async def _read_chunked(stream: BufferedByteStream) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        size_line = await stream.receive_until(b"\r\n", 1024)
        length = int(size_line.split(b";", 1)[0], 16)
        if length == 0:
            await stream.receive_until(b"\r\n", MAX_HEAD_BYTES)  # the (empty) trailer
            return b"".join(chunks)
        size += length
        if size > MAX_BODY_BYTES:
            raise _BadRequest(413)
        chunks.append(await stream.receive_exactly(length))
        await stream.receive_exactly(2)


def _head(status: int, headers: Sequence[tuple[str, str]], length: int | None) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Whatever"
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{name}: {value}" for name, value in headers)]
    if length is not None and not any(name.lower() == "content-length" for name, _ in headers):
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", errors="surrogateescape")


async def _deliver(stream: SocketStream, answer: Answer) -> bool:
    """Send the answer as planned; False when the connection is gone (or was reset on purpose)."""
    head = _head(answer.status, answer.headers, len(answer.body) if answer.content_length else None)
    body = answer.body
    if answer.reset_after_bytes is not None:
        await _send_quietly(stream, head + body[: answer.reset_after_bytes])
        await _reset(stream)
        return False
    if answer.trickle_seconds is None:
        return await _send_quietly(stream, head + body)
    if not await _send_quietly(stream, head):
        return False
    for index in range(len(body)):
        await anyio.sleep(answer.trickle_seconds)
        if not await _send_quietly(stream, body[index : index + 1]):
            return False
    return True


async def _send_quietly(stream: SocketStream, data: bytes) -> bool:
    try:
        await stream.send(data)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        return False
    return True


async def _reset(stream: SocketStream) -> None:
    """Close with a TCP RST instead of a FIN: linger on, timeout 0, then close."""
    raw: socket.socket = stream.extra(SocketAttribute.raw_socket)  # noqa: S610 (anyio, not Django)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await stream.aclose()


async def _until_closed(stream: BufferedByteStream) -> None:
    """Hold a stalled connection open, reading and ignoring whatever comes, until the client closes it."""
    while True:
        try:
            await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            return


# -- parse-mcp wired to it ---------------------------------------------------------------------------

PARSE_KEY: Final = "pmx_hostile_0123456789abcdef"
SCRAPER_KEY: Final = "sapi_hostile_fedcba9876543210"
TASK_ID: Final = "task-1"
SCRAPER_ID: Final = "api-1"
LISTING_ID: Final = "listing-1"


def documented_successes(endpoint_names: Sequence[str] = ("get",)) -> dict[str, Plan]:
    """Plans that answer every documented path of both services with a plausible success, so a tool call
    goes as far as it can; `/sdk/schemas/<any id>` declares GET endpoints with `endpoint_names`, so even
    a hostile endpoint name is one the upstream declares."""
    endpoints = [{"name": name, "method": "GET", "description": "d", "input_params": {}} for name in endpoint_names]
    api = {"id": SCRAPER_ID, "name": "Hostile", "slug": "hostile", "description": "d", "endpoints": endpoints}
    task = {"id": TASK_ID, "status": "completed", "result_scraper_id": SCRAPER_ID}
    parser = {"id": "parser-1", "name": "p", "status": "FINISHED", "version": 0}
    return {
        "/sdk/schemas": json_answer({"apis": [api]}),
        "/sdk/schemas/": json_answer(api),
        "/scraper/": json_answer({"status": "success", "session_id": "s-1", "encryption_key": "e-1", "data": {}}),
        "/dispatch": json_answer({"id": TASK_ID, "status": "queued"}, status=202),
        "/dispatch/tasks": json_answer({"tasks": [task]}),
        "/dispatch/tasks/": json_answer(task),
        "/marketplace/apis": json_answer({"items": []}),
        "/marketplace/apis/": json_answer({"id": LISTING_ID, "canonical_scraper_id": SCRAPER_ID, "latest_version": 1}),
        "/marketplace/by-slug/": json_answer({"id": LISTING_ID}),
        "/parsers": json_answer(parser),
        "/parse/": json_answer({"title": "t"}),
    }


# (id, refused?): refused ids never reach a path; the others reach it as one percent-encoded segment.
HOSTILE_IDS: tuple[tuple[str, bool], ...] = (
    ("", True),
    (".", True),
    ("..", True),
    ("...", True),
    ("%2e", True),
    ("%2E%2E", True),
    ("%252e%252e", True),
    ("%25252e%25252e", True),  # three rounds deep: a server, a proxy and a framework each decode once
    ("a%25252Fb", True),
    ("./x", True),
    ("a/../b", True),
    ("a/b", True),
    ("a%2Fb", True),
    ("\\", True),
    ("..\\", True),
    (" ", True),
    (" x", True),
    ("\t", True),
    ("\x00", True),
    ("a\r\nX-Injected: 1", True),
    ("\u2024", True),  # ONE DOT LEADER: NFKC-folds to "."
    ("\uff0f", True),  # FULLWIDTH SOLIDUS: NFKC-folds to "/"
    ("%00", True),
    ("%c0%ae", True),  # an overlong UTF-8 ".", once decoded by old servers
    ("x" * 5000, True),
    ("a?b", False),
    ("a#b", False),
    (";", False),
    ("a;b=c", False),
    ("%", False),
    ("a b", False),
    ("a.", False),
    ("ü", False),
)


@dataclass
class SteppingTime:
    """Time for the server under test that jumps forward by each sleep, so waits cost no real time."""

    now: float = 1_700_000_000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()


def settings_for(upstream: HostileUpstream) -> Settings:
    """Both services on the hostile upstream, each with its own key."""
    return Settings(
        parse_api_key=Secret(PARSE_KEY),
        parse_base_url=upstream.url,
        scraperapi_key=Secret(SCRAPER_KEY),
        aiparser_base_url=upstream.url,
    )


def server_for(upstream: HostileUpstream) -> ParseMCPServer:
    time = SteppingTime()
    return build_server(settings_for(upstream), runtime=Runtime(clock=time.clock, sleep=time.sleep, random=lambda: 0.0))
