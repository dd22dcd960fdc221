"""The HTTP transport's gate: bearer tokens, DNS-rebinding protection, /healthz, and each token's principal.

Real uvicorn on 127.0.0.1 serving the real app (`http_app`), real requests through httpx2, and a real MCP
client over streamable HTTP in both protocol eras."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import TextContent

from parse_mcp.errors import ConfigError
from parse_mcp.http_security import (
    LOOPBACK_HOSTS,
    HttpSecurity,
    endpoint_url,
    http_app,
    http_security,
    principal_for,
    principal_of,
)
from parse_mcp.server import build_server
from parse_mcp.settings import Secret, Settings
from tests.processes import free_port, read_until_listening, sandbox_http_server, serving_app

pytestmark = pytest.mark.anyio

TOKEN_A = "tok_alpha_" + "A1b2C3d4E5f6G7h8"
TOKEN_B = "tok_bravo_" + "Z9y8X7w6V5u4T3s2"
ERAS = ["auto", "legacy"]

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "probe", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@asynccontextmanager
async def serving(
    security: HttpSecurity, server: MCPServer[Any] | None = None, *, stateless: bool = False
) -> AsyncIterator[str]:
    """Serve `http_app` on a free loopback port and yield its base URL."""
    app = http_app(server or build_server(Settings()), security, stateless=stateless)
    async with serving_app(app) as url:
        with anyio.fail_after(30):
            yield url


def guarded(*tokens: str, allowed_hosts: tuple[str, ...] = ()) -> HttpSecurity:
    return http_security("127.0.0.1", [Secret(t) for t in tokens], allowed_hosts=allowed_hosts)


def whoami_server() -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("whoami")

    @server.tool()
    def whoami(ctx: Context[Any, Any]) -> str:
        """The principal of the request this call arrived on."""
        return principal_of(ctx.request_context.request) or "none"

    return server


@asynccontextmanager
async def mcp_client(url: str, mode: str, headers: dict[str, str] | None = None) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers=headers or {}) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as client,
    ):
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def whoami(client: Client) -> str:
    result = await client.call_tool("whoami", {})
    content = result.content[0]
    assert isinstance(content, TextContent)
    return content.text


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        f"Bearer {TOKEN_B}",
        f"Bearer {TOKEN_A[:-1]}",
        f"Bearer {TOKEN_A}x",
        f"Basic {TOKEN_A}",
        TOKEN_A,
    ],
    ids=["absent", "empty", "another", "prefix", "longer", "basic", "no-scheme"],
)
async def test_a_request_without_the_right_token_gets_401_bearer_and_a_body_that_reveals_nothing(
    authorization: str | None,
) -> None:
    headers = dict(MCP_HEADERS) | ({"Authorization": authorization} if authorization else {})
    async with serving(guarded(TOKEN_A)) as url, httpx2.AsyncClient() as http:
        answer = await http.post(f"{url}/mcp", json=INITIALIZE, headers=headers)
        elsewhere = await http.get(f"{url}/anything-else", headers=headers)
    for response in (answer, elsewhere):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json() == {"error": "unauthorized"}
        assert "mcp-session-id" not in response.headers


async def test_two_authorization_headers_are_refused_even_when_one_is_right() -> None:
    headers = [*MCP_HEADERS.items(), ("Authorization", f"Bearer {TOKEN_A}"), ("Authorization", "Bearer nope")]
    async with serving(guarded(TOKEN_A)) as url, httpx2.AsyncClient() as http:
        answer = await http.post(f"{url}/mcp", json=INITIALIZE, headers=headers)
    assert answer.status_code == 401


@pytest.mark.parametrize("mode", ERAS)
async def test_with_the_right_token_an_mcp_client_lists_the_tools(mode: str) -> None:
    async with serving(guarded(TOKEN_A, TOKEN_B)) as url:
        for token in (TOKEN_A, TOKEN_B):
            async with mcp_client(url, mode, bearer(token)) as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
                assert {"execute_endpoint", "list_apis", "login"} <= tools


@pytest.mark.parametrize("mode", ERAS)
async def test_an_mcp_client_without_the_token_cannot_connect(mode: str) -> None:
    # The SDK's client turns the 401 into an error response it cannot use, raised from its task group.
    refused = pytest.RaisesGroup(MCPError, flatten_subgroups=True)
    async with serving(guarded(TOKEN_A)) as url:
        with refused:
            async with mcp_client(url, mode, bearer(TOKEN_B)) as client:
                await client.list_tools()


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [("Host", "evil.com", 421), ("Host", "evil.com:80", 421), ("Origin", "http://evil.com", 403)],
)
async def test_dns_rebinding_protection_holds_even_for_a_request_with_the_right_token(
    header: str, value: str, status: int
) -> None:
    headers = MCP_HEADERS | bearer(TOKEN_A) | {header: value}
    async with serving(guarded(TOKEN_A)) as url, httpx2.AsyncClient() as http:
        answer = await http.post(f"{url}/mcp", json=INITIALIZE, headers=headers)
    assert answer.status_code == status


async def test_dns_rebinding_protection_holds_on_a_loopback_bind_without_a_token() -> None:
    async with serving(guarded()) as url, httpx2.AsyncClient() as http:
        foreign_host = await http.post(f"{url}/mcp", json=INITIALIZE, headers=MCP_HEADERS | {"Host": "evil.com"})
        foreign_origin = await http.post(
            f"{url}/mcp", json=INITIALIZE, headers=MCP_HEADERS | {"Origin": "http://evil.com"}
        )
        own = await http.post(f"{url}/mcp", json=INITIALIZE, headers=MCP_HEADERS)
    assert (foreign_host.status_code, foreign_origin.status_code, own.status_code) == (421, 403, 200)


@pytest.mark.parametrize("mode", ERAS)
async def test_an_allowed_host_admits_clients_that_use_that_name(mode: str) -> None:
    security = guarded(TOKEN_A, allowed_hosts=("mcp.example.com",))
    async with serving(security) as url:
        async with mcp_client(url, mode, bearer(TOKEN_A) | {"Host": "mcp.example.com"}) as client:
            assert (await client.list_tools()).tools
        async with httpx2.AsyncClient() as http:
            other = await http.post(
                f"{url}/mcp", json=INITIALIZE, headers=MCP_HEADERS | bearer(TOKEN_A) | {"Host": "other.example.com"}
            )
    assert other.status_code == 421


@pytest.mark.parametrize("tokens", [(TOKEN_A,), ()], ids=["with-token", "without-token"])
async def test_healthz_answers_without_a_token_and_says_nothing_but_ok(tokens: tuple[str, ...]) -> None:
    async with serving(guarded(*tokens)) as url, httpx2.AsyncClient() as http:
        answer = await http.get(f"{url}/healthz")
        headers_only = await http.head(f"{url}/healthz")
        posted = await http.post(f"{url}/healthz")
    assert answer.status_code == 200
    assert answer.content == b'{"status":"ok"}'
    assert answer.headers["content-type"] == "application/json"
    assert (headers_only.status_code, headers_only.content) == (200, b"")
    assert posted.status_code == (401 if tokens else 404)


@pytest.mark.parametrize("path", ["/healthz-x", "/healthzz", "/healthz/", "/healthz/../mcp", "/HEALTHZ", "/x/healthz"])
async def test_only_the_exact_healthz_path_skips_the_token(path: str) -> None:
    async with serving(guarded(TOKEN_A)) as url, httpx2.AsyncClient() as http:
        answer = await http.get(f"{url}{path}")
    assert answer.status_code == 401
    assert answer.json() == {"error": "unauthorized"}


@pytest.mark.parametrize("stateless", [False, True], ids=["sessions", "stateless"])
@pytest.mark.parametrize("mode", ERAS)
async def test_each_token_is_its_own_stable_principal_that_a_tool_can_read(mode: str, stateless: bool) -> None:
    async with serving(guarded(TOKEN_A, TOKEN_B), whoami_server(), stateless=stateless) as url:
        async with mcp_client(url, mode, bearer(TOKEN_A)) as first:
            a_once, a_twice = await whoami(first), await whoami(first)
        async with mcp_client(url, mode, bearer(TOKEN_A)) as again:
            a_new_connection = await whoami(again)
        async with mcp_client(url, mode, bearer(TOKEN_B)) as other:
            b = await whoami(other)
    assert a_once == a_twice == a_new_connection == principal_for(Secret(TOKEN_A))
    assert b == principal_for(Secret(TOKEN_B))
    assert a_once != b
    assert a_once.startswith("token:")
    assert len(a_once) == len("token:") + 16
    assert TOKEN_A not in a_once


@pytest.mark.parametrize("mode", ERAS)
async def test_without_a_configured_token_there_is_no_principal_whatever_the_client_sends(mode: str) -> None:
    forged = bearer(TOKEN_A) | {"X-Principal": "token:0123456789abcdef", "X-User": "token:0123456789abcdef"}
    async with serving(guarded(), whoami_server()) as url, mcp_client(url, mode, forged) as client:
        assert await whoami(client) == "none"


async def test_headers_cannot_forge_a_principal_next_to_a_valid_token() -> None:
    forged = bearer(TOKEN_A) | {"X-Principal": principal_for(Secret(TOKEN_B)), "User": "token:ffffffffffffffff"}
    async with serving(guarded(TOKEN_A, TOKEN_B), whoami_server()) as url, mcp_client(url, "auto", forged) as client:
        assert await whoami(client) == principal_for(Secret(TOKEN_A))


async def test_an_in_memory_client_has_no_principal() -> None:
    async with Client(whoami_server()) as client:
        assert await whoami(client) == "none"


async def test_a_session_opened_with_one_token_is_unknown_to_another_token() -> None:
    async with serving(guarded(TOKEN_A, TOKEN_B)) as url, httpx2.AsyncClient() as http:
        opened = await http.post(f"{url}/mcp", json=INITIALIZE, headers=MCP_HEADERS | bearer(TOKEN_A))
        session = {"Mcp-Session-Id": opened.headers["mcp-session-id"], "Mcp-Protocol-Version": "2025-11-25"}
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        as_b = await http.post(f"{url}/mcp", json=ping, headers=MCP_HEADERS | bearer(TOKEN_B) | session)
        as_a = await http.post(f"{url}/mcp", json=ping, headers=MCP_HEADERS | bearer(TOKEN_A) | session)
    assert as_b.status_code == 404
    assert as_a.status_code == 200


def test_a_loopback_bind_allows_the_loopback_names_and_nothing_else_by_default() -> None:
    security = http_security("127.0.0.1", [])
    assert set(security.allowed_hosts) == set(LOOPBACK_HOSTS)
    assert not security.requires_token
    settings = security.transport_security()
    assert settings.enable_dns_rebinding_protection
    assert "http://evil.com" not in settings.allowed_origins


def test_a_non_loopback_bind_allows_its_own_address_plus_what_the_operator_adds() -> None:
    security = http_security(
        "192.0.2.10",
        [Secret(TOKEN_A)],
        allowed_hosts=["MCP.example.com", "proxy.example.com:8443"],
        allowed_origins=["https://App.example.com/"],
    )
    assert security.allowed_hosts == (
        "192.0.2.10:*",
        "mcp.example.com",
        "mcp.example.com:*",
        "proxy.example.com:8443",
    )
    assert "https://app.example.com" in security.allowed_origins
    assert "127.0.0.1:*" not in security.allowed_hosts
    assert http_security("2001:db8::5", [Secret(TOKEN_A)]).allowed_hosts == ("[2001:db8::5]:*",)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("allowed_hosts", "https://mcp.example.com"),
        ("allowed_hosts", "mcp.example.com/mcp"),
        ("allowed_hosts", "*"),
        ("allowed_hosts", "mcp.example.com:notaport"),
        ("allowed_origins", "mcp.example.com"),
        ("allowed_origins", "https://app.example.com/path"),
        ("allowed_origins", "*"),
    ],
)
def test_a_malformed_allowance_is_refused_at_start_up(option: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        http_security("127.0.0.1", [], **{option: [value]})
    assert json.dumps(value) in str(caught.value)


# ---------------------------------------------------------------- the whole process ----


@pytest.mark.parametrize("mode", ERAS)
async def test_the_server_process_with_tokens_serves_their_holders_and_never_shows_a_token(mode: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    tokens = {"PARSE_MCP_HTTP_TOKEN": f"{TOKEN_A},{TOKEN_B}"}
    with sandbox_http_server(port, tokens, stdout=subprocess.PIPE) as process:
        started = await read_until_listening(process)
        async with httpx2.AsyncClient() as http:
            refused = await http.post(f"{url}/mcp", json=INITIALIZE, headers=MCP_HEADERS | bearer(TOKEN_B + "x"))
            health = await http.get(f"{url}/healthz")
        with anyio.fail_after(60):
            async with mcp_client(url, mode, bearer(TOKEN_A)) as client:
                listed = await client.call_tool("list_apis", {})
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert b"bearer token required" in started
    assert (refused.status_code, health.status_code) == (401, 200)
    assert listed.structured_content is not None
    assert listed.structured_content["ok"] is True
    for token in (TOKEN_A, TOKEN_B):
        for shown in (started, out, err, refused.content, health.content, json.dumps(listed.model_dump()).encode()):
            assert token.encode() not in shown


@pytest.mark.parametrize(
    ("host", "allowed", "url"),
    [
        ("127.0.0.1", [], "http://127.0.0.1:8765/mcp"),
        ("::1", [], "http://[::1]:8765/mcp"),
        ("0.0.0.0", ["mcp.example.com"], "http://mcp.example.com:8765/mcp"),  # noqa: S104 - the bind under test
        ("0.0.0.0", ["mcp.example.com:443", "other.example"], "http://mcp.example.com:443/mcp"),  # noqa: S104
        ("::", ["[2001:db8::1]"], "http://[2001:db8::1]:8765/mcp"),
    ],
)
def test_the_banner_names_an_address_clients_can_reach(host: str, allowed: list[str], url: str) -> None:
    assert endpoint_url(host, 8765, allowed) == url
