"""Who may reach the streamable HTTP transport: bearer tokens, DNS-rebinding protection, a health check.

Anyone who reaches the port can spend the operator's keys, so:

- a non-loopback bind refuses to start without `PARSE_MCP_HTTP_TOKEN` (`http_security` raises `ConfigError`);
- with a token, every request but `GET /healthz` must carry `Authorization: Bearer <token>` (401 otherwise),
  `GET /metrics` (Prometheus, `parse_mcp.metrics`) included;
- the SDK's Host/Origin checks stay on for every bind, widened only by `--allowed-host`/`--allowed-origin`.

Each configured token is its own principal, a short non-secret id (`principal_for`). The gate hands it to
the SDK the way the SDK's own bearer middleware does (an `AuthenticatedUser` in the ASGI scope), so the
SDK binds each HTTP session to the principal that opened it, and a tool reads it with `principal_of`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http import EventStore
from mcp.server.transport_security import TransportSecuritySettings
from starlette.authentication import AuthCredentials
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from parse_mcp.errors import ConfigError
from parse_mcp.settings import Secret
from parse_mcp.state.keys import session_tag

if TYPE_CHECKING:
    from parse_mcp.http_limits import HttpLimits

logger = logging.getLogger(__name__)

MCP_PATH: Final = "/mcp"
HEALTH_PATH: Final = "/healthz"
METRICS_PATH: Final = "/metrics"
PRINCIPAL_PREFIX: Final = "token:"

# What the SDK itself allows for a loopback bind; any port, because a client may reach us through a tunnel.
LOOPBACK_HOSTS: Final = ("127.0.0.1:*", "localhost:*", "[::1]:*")
LOOPBACK_ORIGINS: Final = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")

_HEALTHY: Final = b'{"status":"ok"}'
# The same answer for a missing, malformed or wrong token: a prober learns nothing about which it was.
_UNAUTHORIZED: Final = b'{"error":"unauthorized"}'


@dataclass(frozen=True, slots=True)
class HttpSecurity:
    """What the HTTP transport enforces for one bind; build it with `http_security`."""

    host: str
    tokens: tuple[Secret, ...]
    allowed_hosts: tuple[str, ...]
    allowed_origins: tuple[str, ...]

    @property
    def requires_token(self) -> bool:
        return bool(self.tokens)

    def transport_security(self) -> TransportSecuritySettings:
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=list(self.allowed_hosts),
            allowed_origins=list(self.allowed_origins),
        )


def http_security(
    host: str,
    tokens: Sequence[Secret],
    *,
    allowed_hosts: Iterable[str] = (),
    allowed_origins: Iterable[str] = (),
) -> HttpSecurity:
    """The rules for serving on `host`; raise `ConfigError` when that bind would be open to the network."""
    extra_hosts = [_host_patterns(value) for value in allowed_hosts]
    extra_origins = [_origin_pattern(value) for value in allowed_origins]
    loopback = is_loopback(host)
    if not loopback and not tokens:
        raise ConfigError(
            f"--host {host} accepts connections from other machines, which could then spend your API keys: "
            "set PARSE_MCP_HTTP_TOKEN to a long random token (clients send it as `Authorization: Bearer …`), "
            "or bind to 127.0.0.1."
        )
    if _is_unspecified(host) and not extra_hosts:
        raise ConfigError(
            f"--host {host} listens on every address, so clients reach it by a name or address it cannot guess, "
            "and DNS-rebinding protection would refuse them all (421): add --allowed-host with the name or "
            "address clients use (e.g. --allowed-host mcp.example.com)."
        )
    own_hosts = list(LOOPBACK_HOSTS) if loopback else []
    own_origins = list(LOOPBACK_ORIGINS) if loopback else []
    if not _is_unspecified(host) and host != "localhost":
        bound = _bracketed(host)
        own_hosts.append(f"{bound}:*")
        own_origins += [f"http://{bound}:*", f"https://{bound}:*"]
    return HttpSecurity(
        host=host,
        tokens=tuple(dict.fromkeys(tokens)),
        allowed_hosts=tuple(dict.fromkeys([*own_hosts, *(p for patterns in extra_hosts for p in patterns)])),
        allowed_origins=tuple(dict.fromkeys([*own_origins, *extra_origins])),
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def principal_for(token: Secret) -> str:
    """A short id for the holder of `token`: stable across requests, processes and replicas, and not the token.

    64 bits of a hash of a token of at least 16 characters: the token cannot be recovered from it."""
    return PRINCIPAL_PREFIX + hashlib.sha256(token.get_secret_value().encode()).hexdigest()[:16]


def principal_of(request: object) -> str | None:
    """The principal whose bearer token authenticated the HTTP request a message arrived on, else None.

    Read from the ASGI scope of that request (in both protocol eras the SDK hands it to the request's
    context), where only `BearerGate` puts it: no header can set it. None over stdio, in memory, and over
    HTTP without a configured token."""
    if not isinstance(request, HTTPConnection):
        return None
    user = request.scope.get("user")
    if isinstance(user, AuthenticatedUser) and user.access_token.client_id.startswith(PRINCIPAL_PREFIX):
        return user.access_token.client_id
    return None


class BearerGate:
    """Pure ASGI: answers `GET /healthz` itself, and lets any other request through only with a known token.

    Without tokens (a loopback bind nobody configured) every request passes, unauthenticated."""

    def __init__(self, app: ASGIApp, tokens: Sequence[Secret]) -> None:
        self._app = app
        # Digests, not tokens: every comparison then takes the same time whatever the presented value's
        # length, and the tokens themselves are not kept in one more place.
        self._known = tuple((hashlib.sha256(t.get_secret_value().encode()).digest(), principal_for(t)) for t in tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._app(scope, receive, send)
            return
        if scope["type"] != "http":
            return  # uvicorn runs with websockets off; refuse anything else by not answering it
        if scope["path"] == HEALTH_PATH and scope["method"] in ("GET", "HEAD"):
            await _respond(send, 200, _HEALTHY, head_only=scope["method"] == "HEAD")
            return
        tagged = session_tag.set(secrets.token_hex(8))
        try:
            await self._pass(scope, receive, send)
        finally:
            session_tag.reset(tagged)

    async def _pass(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._known:
            await self._app(scope, receive, send)
            return
        principal = self._principal(scope)
        if principal is None:
            await _respond(send, 401, _UNAUTHORIZED, [(b"www-authenticate", b"Bearer")])
            return
        user = AuthenticatedUser(AccessToken(token=principal, client_id=principal, scopes=[]))
        # The same two keys the SDK's AuthenticationMiddleware sets: its session manager then refuses a
        # session id presented with another principal's token, and `get_access_token()` works in-request.
        authenticated: Scope = {**scope, "user": user, "auth": AuthCredentials([])}
        reset = auth_context_var.set(user)
        try:
            await self._app(authenticated, receive, send)
        finally:
            auth_context_var.reset(reset)

    def _principal(self, scope: Scope) -> str | None:
        values = [value for name, value in scope["headers"] if name.lower() == b"authorization"]
        if len(values) != 1:
            return None  # none, or several that a proxy and this server might read differently
        scheme, _, credentials = values[0].strip().partition(b" ")
        if scheme.lower() != b"bearer":
            return None
        presented = hashlib.sha256(credentials.strip()).digest()
        found = None
        for digest, principal in self._known:
            # No early exit: the time taken does not say which token, if any, matched.
            if hmac.compare_digest(presented, digest):
                found = principal
        return found


def http_app(
    server: MCPServer[Any],
    security: HttpSecurity,
    *,
    stateless: bool = False,
    event_store: EventStore | None = None,
    sessions_per_client: int | None = None,
) -> ASGIApp:
    """The server's streamable HTTP app at `/mcp`, behind the bearer gate, with DNS-rebinding protection and
    at most `sessions_per_client` open MCP sessions per principal (`http_sessions`' default when None)."""
    # Imported here: a stdio server imports this module for `principal_of` only, and starts sooner without it.
    from parse_mcp import metrics
    from parse_mcp.http_sessions import DEFAULT_SESSIONS_PER_CLIENT, SessionCap

    metrics.install()  # before the server's lifespan opens its ledger, which then counts for /metrics

    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=stateless,
        event_store=event_store,
        transport_security=security.transport_security(),
        host=security.host,
    )
    # Inside the gate: the cap counts sessions by the principal the gate has put in the scope.
    per_client = DEFAULT_SESSIONS_PER_CLIENT if sessions_per_client is None else sessions_per_client
    served = MetricsRoute(app if stateless else SessionCap(app, MCP_PATH, per_client), security)
    return BearerGate(served, security.tokens)


class MetricsRoute:
    """Pure ASGI, inside the bearer gate: answers `GET /metrics` with Prometheus' text format, after the same Host
    and Origin checks the SDK makes on `/mcp` (DNS-rebinding protection), and passes anything else on."""

    def __init__(self, app: ASGIApp, security: HttpSecurity) -> None:
        from mcp.server.transport_security import TransportSecurityMiddleware

        self._app = app
        self._checks = TransportSecurityMiddleware(security.transport_security())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != METRICS_PATH:
            await self._app(scope, receive, send)
            return
        from starlette.requests import Request
        from starlette.responses import Response

        from parse_mcp import metrics

        refused = await self._checks.validate_request(Request(scope, receive), is_post=False)
        if refused is not None:
            await refused(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await Response(status_code=405, headers={"allow": "GET, HEAD"})(scope, receive, send)
            return
        body, content_type = metrics.exposition()
        headers = {"cache-control": "no-store"}
        answer = Response(b"" if scope["method"] == "HEAD" else body, media_type=content_type, headers=headers)
        await answer(scope, receive, send)


async def serve_http(
    server: MCPServer[Any],
    security: HttpSecurity,
    port: int,
    *,
    stateless: bool = False,
    event_store: EventStore | None = None,
    limits: HttpLimits | None = None,
    log_level: str = "warning",
) -> None:
    """Serve `http_app` with uvicorn until interrupted.

    `stateless`: every request stands alone (no MCP session, no stream to resume), so any replica behind a
    load balancer can answer it. A client's login sessions and breaker then rest on its bearer token's
    principal, shared through Redis; `event_store` is not used in that mode.

    `limits`: the request-head deadline, the connection cap and the sessions per client (`http_limits`).
    uvicorn logs through the root logger's handlers, at `log_level`, so its lines (the access log's request
    paths included) leave through the same redacting filter as every other line."""
    # Imported here: a server that speaks stdio, and every tool reading `principal_of`, never needs uvicorn.
    import uvicorn

    from parse_mcp.http_limits import (
        BACKLOG,
        ConnectionGuard,
        HttpLimits,
        connection_cap,
        guarded_protocol,
        quiet_accept_errors,
    )

    limits = limits or HttpLimits()
    if not is_loopback(security.host):
        logger.warning(
            "serving plain HTTP on %s: put a TLS-terminating proxy in front so the bearer token is not sent "
            "in clear text",
            security.host,
        )
    guard = ConnectionGuard(limits, connection_cap(limits.max_connections))
    app = http_app(
        server,
        security,
        stateless=stateless,
        event_store=None if stateless else event_store,
        sessions_per_client=limits.sessions_per_client,
    )
    config = uvicorn.Config(
        app,
        host=security.host,
        port=port,
        ws="none",
        http=guarded_protocol(guard),
        backlog=BACKLOG,
        # No logging configuration of uvicorn's own: its loggers propagate to the root's scrubbed handlers,
        # at the levels `_uvicorn_logs_at` sets.
        log_config=None,
        log_level=None,
    )
    _uvicorn_logs_at(log_level)
    quiet_accept_errors(asyncio.get_running_loop(), guard)
    await uvicorn.Server(config).serve()


# The one line of uvicorn's that is said at every level: it tells the person, and the scripts that start this
# server, that connections are now accepted (the cli's own line comes before the bind).
_LISTENING: Final = "Uvicorn running on"


class _AtLevelBesidesListening(logging.Filter):
    """Passes records at `level` or above, and the line that says the server listens."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self._level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self._level or str(record.msg).startswith(_LISTENING)


def _uvicorn_logs_at(level_name: str) -> None:
    """uvicorn's loggers at --log-level (uvicorn's own default is INFO, whatever was asked)."""
    level = logging.getLevelName(level_name.upper())
    error_log = logging.getLogger("uvicorn.error")
    error_log.setLevel(min(level, logging.INFO))
    for old in [f for f in error_log.filters if isinstance(f, _AtLevelBesidesListening)]:
        error_log.removeFilter(old)
    error_log.addFilter(_AtLevelBesidesListening(level))
    logging.getLogger("uvicorn.asgi").setLevel(level)


def check_port(host: str, port: int) -> None:
    """Refuse, in one line a person can act on, a port this server cannot listen on (out of range, in use, not
    allowed), before anything says it is serving; uvicorn would otherwise log the error and exit after the
    banner. Bound the way asyncio binds (address reuse on), then released at once for uvicorn to take."""
    if not 1 <= port <= 65_535:
        raise ConfigError(f"--port {port} is not a TCP port: choose one from 1 to 65535.")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise ConfigError(
                f"--port {port}: cannot listen on {host} ({exc.strerror or exc}): choose another --port, or stop "
                "what listens there."
            ) from None


def endpoint_url(host: str, port: int, allowed_hosts: Sequence[str] = ()) -> str:
    """Where clients reach this server: the bound address, or, for a bind on every address (which is no address
    to connect to), the first name it accepts (`--allowed-host`), with its own port when it names one."""
    if _is_unspecified(host) and allowed_hosts:
        name = allowed_hosts[0]
        _, _, port_part = name.rpartition(":")
        has_port = port_part.isdigit() and not name.endswith("]")
        return f"http://{name}{MCP_PATH}" if has_port else f"http://{name}:{port}{MCP_PATH}"
    return f"http://{_bracketed(host)}:{port}{MCP_PATH}"


async def _respond(
    send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = (), *, head_only: bool = False
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head_only else body})


def _host_patterns(value: str) -> list[str]:
    """`--allowed-host` as Host-header patterns: a name without a port matches it on any port, or none."""
    host = value.strip().lower()
    parts = urlsplit(f"//{host}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port == -1 or parts.path or parts.query or parts.username or "*" in host:
        raise ConfigError(
            f"--allowed-host {json.dumps(value)} is not a host name or address with an optional port "
            "(e.g. mcp.example.com, mcp.example.com:8443, 10.0.0.5)."
        )
    if port is not None:
        return [host]
    return [host, f"{host}:*"]


def _origin_pattern(value: str) -> str:
    """`--allowed-origin` exactly as browsers send Origin: scheme://host[:port], no path."""
    origin = value.strip().rstrip("/").lower()
    parts = urlsplit(origin)
    try:
        valid_port = parts.port is None or parts.port > 0
    except ValueError:
        valid_port = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not valid_port or parts.path or "*" in origin:
        raise ConfigError(
            f"--allowed-origin {json.dumps(value)} is not an origin (scheme://host[:port], e.g. https://app.example.com)."
        )
    return origin


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _bracketed(host: str) -> str:
    bare = host.strip("[]")
    return f"[{bare}]" if ":" in bare else bare
