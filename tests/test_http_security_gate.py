"""The HTTP gate's promises, each checked exactly by calling the ASGI apps in this process: no socket, no uvicorn.

`BearerGate` and `MetricsRoute` are pure ASGI, so a test hands them a scope and reads every message they send.
Behind them stands a small ASGI app of the test's own that records what reached it (the scope, the principal in
the SDK's context variable, the session tag) and answers 204. `tests/test_http_security.py` holds the same gate
end to end, through uvicorn and real MCP clients.
"""

from __future__ import annotations

import hashlib
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.authentication import AuthCredentials
from starlette.requests import HTTPConnection
from starlette.types import Message, Receive, Scope, Send

from parse_mcp import metrics
from parse_mcp.errors import ConfigError
from parse_mcp.http_security import (
    LOOPBACK_HOSTS,
    LOOPBACK_ORIGINS,
    BearerGate,
    MetricsRoute,
    check_port,
    endpoint_url,
    http_security,
    is_loopback,
    principal_for,
    principal_of,
)
from parse_mcp.http_security import _uvicorn_logs_at as uvicorn_logs_at
from parse_mcp.settings import Secret
from parse_mcp.state.keys import session_tag

pytestmark = pytest.mark.anyio

TOKEN_A = "tok_alpha_" + "A1b2C3d4E5f6G7h8"
TOKEN_B = "tok_bravo_" + "Z9y8X7w6V5u4T3s2"
UNAUTHORIZED = b'{"error":"unauthorized"}'
HEALTHY = b'{"status":"ok"}'


@dataclass
class Behind:
    """The app behind the gate: records each request that reached it, and answers 204."""

    reached: list[Scope] = field(default_factory=list)
    principals: list[str | None] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    received: list[Message] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.reached.append(scope)
        user = auth_context_var.get()
        self.principals.append(user.access_token.client_id if user is not None else None)
        self.tags.append(session_tag.get())
        self.received.append(await receive())
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        elif scope["type"] == "lifespan":
            await send({"type": "lifespan.startup.complete"})


@dataclass
class Answer:
    status: int | None
    headers: dict[bytes, bytes]
    body: bytes
    messages: list[Message]


async def ask(
    app: Any,
    path: str = "/mcp",
    *,
    method: str = "POST",
    headers: Iterable[tuple[bytes, bytes]] = (),
    kind: str = "http",
    host: bytes = b"127.0.0.1:8000",
) -> Answer:
    """Send one request to an ASGI app and gather its answer."""
    scope: Scope = {
        "type": kind,
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "http_version": "1.1",
        "headers": [(b"host", host), *headers],
    }
    sent: list[Message] = []

    async def receive() -> Message:
        if kind == "lifespan":
            return {"type": "lifespan.startup"}
        return {"type": "http.request", "body": b"the body", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    with anyio.fail_after(5):
        await app(scope, receive, send)
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(
        status=None if start is None else start["status"],
        headers={} if start is None else dict(start["headers"]),
        body=body,
        messages=sent,
    )


def bearer(token: str, scheme: bytes = b"Bearer") -> tuple[bytes, bytes]:
    return (b"authorization", scheme + b" " + token.encode())


def gate(*tokens: str) -> tuple[BearerGate, Behind]:
    behind = Behind()
    return BearerGate(behind, [Secret(token) for token in tokens]), behind


# ---------------------------------------------------------------- /healthz ----


@pytest.mark.parametrize("tokens", [(TOKEN_A,), ()], ids=["with-token", "without-token"])
async def test_get_healthz_is_answered_by_the_gate_itself_with_exactly_ok_and_never_reaches_the_app(
    tokens: tuple[str, ...],
) -> None:
    guard, behind = gate(*tokens)
    answer = await ask(guard, "/healthz", method="GET")
    assert answer.status == 200
    assert answer.body == HEALTHY
    assert answer.headers == {
        b"content-type": b"application/json",
        b"content-length": str(len(HEALTHY)).encode(),
        b"cache-control": b"no-store",
    }
    assert behind.reached == []


async def test_head_healthz_gets_the_headers_of_ok_and_no_body() -> None:
    guard, behind = gate(TOKEN_A)
    answer = await ask(guard, "/healthz", method="HEAD")
    assert answer.status == 200
    assert answer.body == b""
    assert answer.headers[b"content-length"] == str(len(HEALTHY)).encode()
    assert behind.reached == []


@pytest.mark.parametrize("path", ["/healthz-x", "/healthzz", "/healthz/", "/HEALTHZ", "/x/healthz", "/health"])
async def test_with_a_token_set_only_the_exact_healthz_path_is_answered_without_one(path: str) -> None:
    guard, behind = gate(TOKEN_A)
    answer = await ask(guard, path, method="GET")
    assert answer.status == 401
    assert answer.body == UNAUTHORIZED
    assert behind.reached == []


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
async def test_healthz_by_another_method_needs_the_token_like_any_request(method: str) -> None:
    guard, behind = gate(TOKEN_A)
    refused = await ask(guard, "/healthz", method=method)
    allowed = await ask(guard, "/healthz", method=method, headers=[bearer(TOKEN_A)])
    assert (refused.status, allowed.status) == (401, 204)
    assert len(behind.reached) == 1


# ---------------------------------------------------------------- the token ----


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"authorization", b"Bearer")],
        [(b"authorization", b"Bearer ")],
        [bearer(TOKEN_B)],
        [bearer(TOKEN_A[:-1])],
        [bearer(TOKEN_A + "x")],
        [bearer(TOKEN_A, b"Basic")],
        [bearer(TOKEN_A, b"Bearerx")],
        [(b"authorization", TOKEN_A.encode())],
        [bearer(TOKEN_A), (b"authorization", b"Bearer nope")],
        [bearer(TOKEN_A), bearer(TOKEN_A)],
        [(b"x-authorization", b"Bearer " + TOKEN_A.encode())],
    ],
    ids=[
        "absent",
        "scheme only",
        "empty token",
        "another",
        "prefix",
        "longer",
        "basic",
        "longer scheme",
        "no scheme",
        "two, one right",
        "the right one twice",
        "another header",
    ],
)
async def test_a_request_without_exactly_one_right_bearer_token_gets_401_and_never_reaches_the_app(
    headers: list[tuple[bytes, bytes]],
) -> None:
    guard, behind = gate(TOKEN_A)
    answer = await ask(guard, "/mcp", headers=headers)
    assert answer.status == 401
    assert answer.body == UNAUTHORIZED
    assert answer.headers == {
        b"content-type": b"application/json",
        b"content-length": str(len(UNAUTHORIZED)).encode(),
        b"cache-control": b"no-store",
        b"www-authenticate": b"Bearer",
    }
    assert behind.reached == []


@pytest.mark.parametrize(
    "header",
    [
        bearer(TOKEN_A),
        bearer(TOKEN_A, b"bearer"),
        bearer(TOKEN_A, b"BEARER"),
        (b"Authorization", b"Bearer " + TOKEN_A.encode()),
        (b"authorization", b"  Bearer  " + TOKEN_A.encode() + b"  "),
    ],
    ids=["as sent", "lower-case scheme", "upper-case scheme", "capitalised header name", "padded"],
)
async def test_the_right_token_passes_whatever_the_case_of_the_scheme_and_the_spaces_around_it(
    header: tuple[bytes, bytes],
) -> None:
    guard, behind = gate(TOKEN_A)
    answer = await ask(guard, "/mcp", headers=[header])
    assert answer.status == 204
    assert behind.principals == [principal_for(Secret(TOKEN_A))]


async def test_each_token_reaches_the_app_as_its_own_principal_in_the_scope_and_in_the_sdk_context() -> None:
    guard, behind = gate(TOKEN_A, TOKEN_B)
    for token in (TOKEN_B, TOKEN_A):
        assert (await ask(guard, "/anywhere", headers=[bearer(token)])).status == 204
    expected = [principal_for(Secret(TOKEN_B)), principal_for(Secret(TOKEN_A))]
    assert behind.principals == expected
    for scope, principal in zip(behind.reached, expected, strict=True):
        user = scope["user"]
        assert isinstance(user, AuthenticatedUser)
        assert (user.access_token.token, user.access_token.client_id) == (principal, principal)
        assert user.access_token.scopes == []
        assert isinstance(scope["auth"], AuthCredentials)
        assert scope["auth"].scopes == []
        assert principal_of(HTTPConnection(scope)) == principal
    assert auth_context_var.get() is None, "the principal does not outlive its request"


async def test_a_principal_is_token_and_sixteen_hex_digits_of_the_tokens_sha256() -> None:
    expected = "token:" + hashlib.sha256(TOKEN_A.encode()).hexdigest()[:16]
    assert principal_for(Secret(TOKEN_A)) == expected


async def test_without_tokens_every_request_reaches_the_app_with_no_principal_whatever_it_sends() -> None:
    guard, behind = gate()
    answer = await ask(guard, "/mcp", headers=[bearer(TOKEN_A)])
    assert answer.status == 204
    assert behind.principals == [None]
    assert "user" not in behind.reached[0]
    assert principal_of(HTTPConnection(behind.reached[0])) is None


async def test_each_request_past_the_gate_gets_a_fresh_session_tag_of_sixteen_hex_digits() -> None:
    guard, behind = gate(TOKEN_A)
    for _ in range(2):
        await ask(guard, "/mcp", headers=[bearer(TOKEN_A)])
    first, second = behind.tags
    assert first != second
    for tag in (first, second):
        assert len(tag) == 16
        int(tag, 16)
    assert session_tag.get() == "", "the tag does not outlive its request"


async def test_lifespan_passes_through_the_gate_and_a_websocket_is_never_answered_nor_passed_on() -> None:
    guard, behind = gate(TOKEN_A)
    lifespan = await ask(guard, "/", kind="lifespan")
    websocket = await ask(guard, "/mcp", kind="websocket", headers=[bearer(TOKEN_A)])
    assert [scope["type"] for scope in behind.reached] == ["lifespan"]
    assert behind.received == [{"type": "lifespan.startup"}]
    assert lifespan.messages == [{"type": "lifespan.startup.complete"}]
    assert websocket.messages == []


@pytest.mark.parametrize("tokens", [(TOKEN_A,), ()], ids=["with-token", "without-token"])
async def test_the_app_behind_the_gate_reads_the_requests_own_body(tokens: tuple[str, ...]) -> None:
    guard, behind = gate(*tokens)
    await ask(guard, "/mcp", headers=[bearer(TOKEN_A)])
    assert behind.received == [{"type": "http.request", "body": b"the body", "more_body": False}]


def test_only_a_principal_the_gate_made_counts_and_nothing_but_an_http_connection_has_one() -> None:
    foreign = AuthenticatedUser(AccessToken(token="x", client_id="oauth-client", scopes=[]))
    ours = AuthenticatedUser(AccessToken(token="x", client_id="token:0123456789abcdef", scopes=[]))
    base: Scope = {"type": "http", "headers": []}
    assert principal_of(HTTPConnection({**base, "user": foreign})) is None
    assert principal_of(HTTPConnection({**base, "user": "token:0123456789abcdef"})) is None
    assert principal_of(HTTPConnection({**base, "user": ours})) == "token:0123456789abcdef"
    assert principal_of({"user": ours}) is None
    assert principal_of(None) is None


# ---------------------------------------------------------------- /metrics ----


def metrics_route(*, allowed_hosts: tuple[str, ...] = ()) -> tuple[MetricsRoute, Behind]:
    metrics.install()
    behind = Behind()
    return MetricsRoute(behind, http_security("127.0.0.1", [], allowed_hosts=allowed_hosts)), behind


async def test_metrics_answers_get_with_prometheus_text_that_no_cache_keeps() -> None:
    route, behind = metrics_route()
    answer = await ask(route, "/metrics", method="GET")
    body, content_type = metrics.exposition()
    assert answer.status == 200
    assert answer.body == body
    assert answer.headers[b"content-type"] == content_type.encode()
    assert answer.headers[b"cache-control"] == b"no-store"
    assert behind.reached == []


async def test_metrics_answers_head_with_its_headers_and_no_body() -> None:
    route, _ = metrics_route()
    answer = await ask(route, "/metrics", method="HEAD")
    assert answer.status == 200
    assert answer.body == b""
    assert answer.headers[b"cache-control"] == b"no-store"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_metrics_by_another_method_is_405_naming_get_and_head(method: str) -> None:
    route, behind = metrics_route()
    answer = await ask(route, "/metrics", method=method)
    assert answer.status == 405
    assert answer.headers[b"allow"] == b"GET, HEAD"
    assert behind.reached == []


@pytest.mark.parametrize(
    ("host", "origin", "status"),
    [(b"evil.com", [], 421), (b"evil.com:8000", [], 421), (b"127.0.0.1:8000", [(b"origin", b"http://evil.com")], 403)],
    ids=["foreign host", "foreign host and port", "foreign origin"],
)
async def test_metrics_keeps_the_same_host_and_origin_checks_as_the_mcp_endpoint(
    host: bytes, origin: list[tuple[bytes, bytes]], status: int
) -> None:
    route, behind = metrics_route()
    answer = await ask(route, "/metrics", method="GET", headers=origin, host=host)
    assert answer.status == status
    assert behind.reached == []


async def test_metrics_admits_an_allowed_host() -> None:
    route, _ = metrics_route(allowed_hosts=("mcp.example.com",))
    answer = await ask(route, "/metrics", method="GET", host=b"mcp.example.com")
    assert answer.status == 200


@pytest.mark.parametrize(("path", "kind"), [("/mcp", "http"), ("/metricsx", "http"), ("/metrics", "lifespan")])
async def test_anything_but_an_http_request_for_metrics_goes_on_to_the_app(path: str, kind: str) -> None:
    route, behind = metrics_route()
    await ask(route, path, method="GET", kind=kind)
    assert [scope["path"] for scope in behind.reached] == [path]


# ---------------------------------------------------------------- the rules of a bind ----


@pytest.mark.parametrize("host", ["192.0.2.10", "example.com", "::", "0.0.0.0"])  # noqa: S104 - binds under test
def test_a_bind_other_machines_can_reach_refuses_to_start_without_a_token(host: str) -> None:
    with pytest.raises(ConfigError) as caught:
        http_security(host, [], allowed_hosts=["mcp.example.com"])
    assert str(caught.value).startswith(f"--host {host} accepts connections from other machines")
    assert "PARSE_MCP_HTTP_TOKEN" in str(caught.value)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]"])  # noqa: S104 - binds under test
def test_a_bind_on_every_address_needs_an_allowed_host(host: str) -> None:
    with pytest.raises(ConfigError) as caught:
        http_security(host, [Secret(TOKEN_A)])
    assert str(caught.value).startswith(f"--host {host} listens on every address")
    assert "--allowed-host" in str(caught.value)
    allowed = http_security(host, [Secret(TOKEN_A)], allowed_hosts=["mcp.example.com"])
    assert allowed.allowed_hosts == ("mcp.example.com", "mcp.example.com:*")
    assert allowed.allowed_origins == ()


def test_localhost_allows_exactly_the_loopback_names_and_origins() -> None:
    security = http_security("localhost", [])
    assert security.allowed_hosts == LOOPBACK_HOSTS
    assert security.allowed_origins == LOOPBACK_ORIGINS
    assert security.host == "localhost"


def test_a_loopback_address_adds_its_own_name_and_both_schemes_to_the_loopback_ones() -> None:
    security = http_security("::1", [])
    assert security.allowed_hosts == LOOPBACK_HOSTS, "its own name is one of them already"
    assert security.allowed_origins == (*LOOPBACK_ORIGINS, "https://[::1]:*")
    other = http_security("127.0.0.2", [])
    assert other.allowed_hosts == (*LOOPBACK_HOSTS, "127.0.0.2:*")
    assert other.allowed_origins == (*LOOPBACK_ORIGINS, "http://127.0.0.2:*", "https://127.0.0.2:*")


def test_an_address_bind_allows_its_own_address_in_both_schemes_and_the_operators_origins() -> None:
    security = http_security(
        "192.0.2.10", [Secret(TOKEN_A)], allowed_origins=["https://App.example.com/", "https://app.example.com"]
    )
    assert security.allowed_hosts == ("192.0.2.10:*",)
    assert security.allowed_origins == ("http://192.0.2.10:*", "https://192.0.2.10:*", "https://app.example.com")


def test_the_same_token_given_twice_is_kept_once_and_the_rules_say_a_token_is_required() -> None:
    security = http_security("127.0.0.1", [Secret(TOKEN_A), Secret(TOKEN_B), Secret(TOKEN_A)])
    assert [token.get_secret_value() for token in security.tokens] == [TOKEN_A, TOKEN_B]
    assert security.requires_token
    assert not http_security("127.0.0.1", []).requires_token


def test_the_sdk_checks_exactly_the_hosts_and_origins_of_the_rules() -> None:
    security = http_security("127.0.0.1", [], allowed_hosts=["mcp.example.com:8443"], allowed_origins=["https://a.b"])
    settings = security.transport_security()
    assert settings.enable_dns_rebinding_protection is True
    assert settings.allowed_hosts == list(security.allowed_hosts)
    assert settings.allowed_origins == list(security.allowed_origins)
    assert "mcp.example.com:8443" in settings.allowed_hosts
    assert "https://a.b" in settings.allowed_origins


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("[::1]", True),
        ("192.0.2.10", False),
        ("LOCALHOST.example", False),
        ("0.0.0.0", False),  # noqa: S104 - a bind under test
    ],
)
def test_loopback_is_localhost_or_a_loopback_address_bracketed_or_not(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("value", "patterns"),
    [
        ("  MCP.Example.com ", ["mcp.example.com", "mcp.example.com:*"]),
        ("mcp.example.com:8443", ["mcp.example.com:8443"]),
        ("10.0.0.5", ["10.0.0.5", "10.0.0.5:*"]),
        ("[2001:db8::1]", ["[2001:db8::1]", "[2001:db8::1]:*"]),
    ],
)
def test_an_allowed_host_without_a_port_matches_it_on_any_port_and_with_one_on_that_port(
    value: str, patterns: list[str]
) -> None:
    security = http_security("192.0.2.10", [Secret(TOKEN_A)], allowed_hosts=[value])
    assert security.allowed_hosts == ("192.0.2.10:*", *patterns)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("allowed_hosts", "user@mcp.example.com"),
        ("allowed_hosts", "mcp.example.com?x=1"),
        ("allowed_hosts", "mcp.example.com:99999"),
        ("allowed_hosts", ""),
        ("allowed_hosts", "*.example.com"),
        ("allowed_origins", "ftp://app.example.com"),
        ("allowed_origins", "https://"),
        ("allowed_origins", "https://app.example.com:0"),
        ("allowed_origins", "https://app.example.com:99999"),
        ("allowed_origins", "https://*.example.com"),
    ],
)
def test_an_allowance_that_is_not_a_host_or_an_origin_is_refused_naming_the_option(option: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        http_security("127.0.0.1", [], **{option: [value]})
    flag = "--allowed-host" if option == "allowed_hosts" else "--allowed-origin"
    assert str(caught.value).startswith(f'{flag} "{value}" is not a')


def test_an_origin_is_kept_lower_cased_without_its_trailing_slash_and_with_its_port() -> None:
    security = http_security("127.0.0.1", [], allowed_origins=[" HTTPS://App.Example.com:8443/ "])
    assert security.allowed_origins[-1] == "https://app.example.com:8443"


# ---------------------------------------------------------------- the port and uvicorn's logs ----


@pytest.mark.parametrize("port", [0, -1, 65_536])
def test_a_port_outside_1_to_65535_is_refused_before_anything_binds(port: int) -> None:
    with pytest.raises(ConfigError) as caught:
        check_port("127.0.0.1", port)
    assert str(caught.value) == f"--port {port} is not a TCP port: choose one from 1 to 65535."


def test_a_port_in_use_is_refused_naming_the_host_and_a_free_one_is_accepted() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as caught:
            check_port("127.0.0.1", port)
    assert str(caught.value).startswith(f"--port {port}: cannot listen on 127.0.0.1 (")
    assert "choose another --port" in str(caught.value)
    check_port("127.0.0.1", port)  # released: free again


def test_a_free_port_on_the_ipv6_loopback_is_accepted_bracketed_or_not() -> None:
    if not socket.has_ipv6:
        return
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("::1", 0))
        except OSError:
            return  # no IPv6 loopback on this machine: nothing to check
        port = probe.getsockname()[1]
    check_port("[::1]", port)
    check_port("::1", port)


@pytest.mark.parametrize(("level", "number"), [("warning", logging.WARNING), ("debug", logging.DEBUG)])
def test_uvicorn_logs_at_the_level_asked_and_always_says_it_listens(level: str, number: int) -> None:
    uvicorn_logs_at("error")
    uvicorn_logs_at(level)
    error_log = logging.getLogger("uvicorn.error")
    assert error_log.level == min(number, logging.INFO)
    assert logging.getLogger("uvicorn.asgi").level == number
    assert len(error_log.filters) == 1, "the filter of an earlier call is replaced, not stacked"
    (only,) = error_log.filters

    assert isinstance(only, logging.Filter)

    def passes(levelno: int, message: str) -> bool:
        return bool(only.filter(logging.LogRecord("uvicorn.error", levelno, __file__, 1, message, None, None)))

    assert passes(logging.INFO, "Uvicorn running on http://127.0.0.1:8000") is True
    assert passes(number, "at the level") is True
    assert passes(number - 1, "below the level") is False
    assert passes(logging.INFO, "Started server process") is (number <= logging.INFO)
    uvicorn_logs_at("warning")


# ---------------------------------------------------------------- exact words and edges ----


def test_an_open_bind_is_refused_in_exactly_these_words() -> None:
    with pytest.raises(ConfigError) as caught:
        http_security("192.0.2.10", [])
    assert str(caught.value) == (
        "--host 192.0.2.10 accepts connections from other machines, which could then spend your API keys: "
        "set PARSE_MCP_HTTP_TOKEN to a long random token (clients send it as `Authorization: Bearer …`), "
        "or bind to 127.0.0.1."
    )
    with pytest.raises(ConfigError) as unnamed:
        http_security("0.0.0.0", [Secret(TOKEN_A)])  # noqa: S104 - a bind under test
    assert str(unnamed.value) == (
        "--host 0.0.0.0 listens on every address, so clients reach it by a name or address it cannot guess, "
        "and DNS-rebinding protection would refuse them all (421): add --allowed-host with the name or "
        "address clients use (e.g. --allowed-host mcp.example.com)."
    )


def test_a_malformed_host_or_origin_is_refused_in_exactly_these_words() -> None:
    with pytest.raises(ConfigError) as host:
        http_security("127.0.0.1", [], allowed_hosts=["a/b"])
    assert str(host.value) == (
        '--allowed-host "a/b" is not a host name or address with an optional port '
        "(e.g. mcp.example.com, mcp.example.com:8443, 10.0.0.5)."
    )
    with pytest.raises(ConfigError) as origin:
        http_security("127.0.0.1", [], allowed_origins=["a/b"])
    assert str(origin.value) == (
        '--allowed-origin "a/b" is not an origin (scheme://host[:port], e.g. https://app.example.com).'
    )


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("http://app.example.com", "http://app.example.com"),
        ("https://app.example.com:1", "https://app.example.com:1"),
        ("https://boX", "https://box"),
        ("https://boX/", "https://box"),
    ],
)
def test_an_http_or_https_origin_on_any_port_from_1_is_taken_as_written_lower_cased(value: str, kept: str) -> None:
    assert http_security("127.0.0.1", [], allowed_origins=[value]).allowed_origins[-1] == kept


@pytest.mark.parametrize(
    ("host", "allowed", "url"),
    [
        ("127.0.0.1", ["mcp.example.com"], "http://127.0.0.1:8765/mcp"),
        ("::", ["[2001:db8::1]:8443"], "http://[2001:db8::1]:8443/mcp"),
        ("[::1]", [], "http://[::1]:8765/mcp"),
        ("mcpX", [], "http://mcpX:8765/mcp"),
    ],
)
def test_the_banner_names_the_bound_address_unless_it_is_every_address(host: str, allowed: list[str], url: str) -> None:
    assert endpoint_url(host, 8765, allowed) == url


@pytest.mark.parametrize("port", [1, 65_535])
def test_the_first_and_last_tcp_ports_are_ports(port: int) -> None:
    refusal = ""
    try:
        check_port("127.0.0.1", port)
    except ConfigError as refused:  # not allowed to this user, or in use: refused for that, never for its number
        refusal = str(refused)
    assert refusal == "" or refusal.startswith(f"--port {port}: cannot listen on 127.0.0.1 (")


def test_a_port_in_use_is_refused_in_exactly_these_words() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as caught:
            check_port("127.0.0.1", port)
    assert str(caught.value) == (
        f"--port {port}: cannot listen on 127.0.0.1 (Address already in use): choose another --port, or stop "
        "what listens there."
    )


def test_a_host_name_is_bound_as_written() -> None:
    with pytest.raises(ConfigError) as caught:
        check_port("Xlocalhost", 8765)
    assert str(caught.value).startswith("--port 8765: cannot listen on Xlocalhost (")
