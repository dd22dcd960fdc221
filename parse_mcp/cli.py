"""`parse-mcp`: serve over stdio (default) or streamable HTTP, run the sandbox, the demo, the doctor, or show usage.

On stdio, stdout belongs to the protocol: everything this module logs goes to stderr.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from parse_mcp import __version__
from parse_mcp.errors import CallFailed, ConfigError
from parse_mcp.guidance.table import CallContext, guide
from parse_mcp.policy.retry import RetryPolicy
from parse_mcp.redact import RedactingFilter
from parse_mcp.settings import DEFAULT_AIPARSER_BASE_URL, DEFAULT_PARSE_BASE_URL, Settings, http_tokens_from_env

if TYPE_CHECKING:
    from mcp.server.streamable_http import EventStore

    from parse_mcp.http_limits import HttpLimits
    from parse_mcp.http_security import HttpSecurity
    from parse_mcp.state.ledger import Ledger
    from parse_mcp.usage import LedgerKind

logger = logging.getLogger("parse_mcp")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_HTTP_PORT = 8765
DEFAULT_SANDBOX_PORT = 8787
# `parse-mcp usage`: a week by default; the ledger keeps 35 days (state.ledger.RETENTION_DAYS, checked by a test).
DEFAULT_USAGE_DAYS = 7
MAX_USAGE_DAYS = 35
# A young-generation collection once this many container objects are allocated and alive, not Python's 700: see
# `settle_heap`.
YOUNG_GENERATION_THRESHOLD = 20_000
# The doctor sends each check once: a person is waiting, and a failure is worth seeing at once.
ONE_ATTEMPT = RetryPolicy(max_attempts=1)
# The guidance context of each check: the tool an agent would have called, and the service's own names.
PARSEBOT_CHECK = CallContext(tool="list_tasks", arguments={}, listed_tools=frozenset())
AIPARSER_CHECK = CallContext(
    tool="list_parsers",
    arguments={},
    listed_tools=frozenset(),
    service="ScraperAPI AI Parser",
    key_variable="SCRAPERAPI_API_KEY",
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        _refuse_stray_http_flags(args)
        _refuse_stray_usage_flags(args)
        if args.command == "sandbox":
            anyio.run(_run_sandbox_alone, args.host or DEFAULT_HOST, args.port or DEFAULT_SANDBOX_PORT)
            return 0
        if args.command in ("demo", "doctor", "usage"):
            return _to_a_reader(args)
        anyio.run(_serve, args)
        return 0
    except ConfigError as exc:
        print(f"parse-mcp: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _to_a_reader(args: argparse.Namespace) -> int:
    """Run `demo`, `doctor` or `usage`, which print for a person or a script; a reader that stops early
    (`parse-mcp doctor | head`) ends it quietly, as it ends any command-line tool, not with a BrokenPipeError
    traceback."""
    try:
        if args.command == "demo":
            from parse_mcp.demo import run_demo

            code = anyio.run(run_demo)
        elif args.command == "usage":
            code = anyio.run(_usage, _usage_days(args.days), args.json)
        else:
            code = anyio.run(_doctor_for, args.sandbox)
        sys.stdout.flush()  # here, where a closed pipe can still be caught, rather than at exit
        return code
    except BrokenPipeError:
        # Whatever is still buffered goes nowhere: the exit's own flush then has nothing to fail on.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


# The flags that only mean something to `--transport http` (and, for the first two, to `sandbox`), by their
# `argparse` destination and how they are spelled.
_HTTP_FLAGS = {
    "host": "--host",
    "port": "--port",
    "stateless": "--stateless",
    "allowed_host": "--allowed-host",
    "allowed_origin": "--allowed-origin",
    "header_timeout": "--header-timeout",
    "max_connections": "--max-connections",
    "max_sessions_per_client": "--max-sessions-per-client",
}
_SANDBOX_FLAGS = frozenset({"host", "port"})


def _refuse_stray_http_flags(args: argparse.Namespace) -> None:
    """An HTTP flag given where nothing serves HTTP is refused, not ignored: `parse-mcp --port 9000` would
    otherwise serve stdio, and the person would wait for a port that never opens."""
    if args.command == "serve" and args.transport == "http":
        return
    allowed = _SANDBOX_FLAGS if args.command == "sandbox" else frozenset()
    given = [
        flag
        for dest, flag in _HTTP_FLAGS.items()
        if dest not in allowed and getattr(args, dest) not in (None, False, [])
    ]
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        where = "over stdio" if args.command == "serve" else f"to `parse-mcp {args.command}`"
        raise ConfigError(
            f"{', '.join(given)} {verb} only with --transport http, not {where}: add --transport http, or leave "
            f"{'it' if len(given) == 1 else 'them'} out."
        )


_USAGE_FLAGS = {"days": "--days", "json": "--json"}


def _refuse_stray_usage_flags(args: argparse.Namespace) -> None:
    """`--days` and `--json` belong to `parse-mcp usage`: given elsewhere they are refused, not ignored."""
    if args.command == "usage":
        return
    given = [flag for dest, flag in _USAGE_FLAGS.items() if getattr(args, dest) not in (None, False)]
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        raise ConfigError(f"{', '.join(given)} {verb} only to `parse-mcp usage`.")


def _usage_days(text: str | None) -> int:
    """`--days N`: a whole number of UTC days from 1 to the ledger's retention."""
    if text is None:
        return DEFAULT_USAGE_DAYS
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_USAGE_DAYS:
        raise ConfigError(
            f"--days {text[:20]!r} is not a number of days from 1 to {MAX_USAGE_DAYS} (the ledger keeps "
            f"{MAX_USAGE_DAYS} days)."
        )
    return days


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parse-mcp",
        description="MCP server for Parse.bot APIs and ScraperAPI AI parsers.",
        epilog=_environment_epilog(),
        # The epilog is a table: keep its lines as written.
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "sandbox", "demo", "doctor", "usage"],
        help="serve (default): the MCP server; sandbox: the local stand-in for both services alone; "
        "demo: a guided tour; doctor: check the configuration and keys; usage: credits spent per day, service, "
        "API and endpoint, client, and failures by code, from the spend ledger",
    )
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="default: stdio")
    parser.add_argument("--host", default=None, help="for http and sandbox (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="http: 8765, sandbox: 8787")
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="HOST",
        help="http: also accept this Host header (a name or address, optionally :port; repeatable), "
        "for a deployment behind a proxy or a DNS name",
    )
    parser.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="http: also accept requests from this browser Origin (scheme://host[:port]; repeatable)",
    )
    parser.add_argument(
        "--stateless",
        action="store_true",
        help="http: no MCP sessions, every request stands alone, for replicas behind a load balancer without "
        "sticky sessions (a client's login sessions then rest on its bearer token; share them with "
        "PARSE_MCP_REDIS_URL)",
    )
    parser.add_argument(
        "--header-timeout",
        type=_positive(float),
        default=None,
        metavar="SECONDS",
        help="http: close a connection that has not sent a complete request head this long after it opened "
        "or after its last response (default 10)",
    )
    parser.add_argument(
        "--max-connections",
        type=_positive(int),
        default=None,
        metavar="N",
        help="http: most open connections; beyond it a new one closes the one waiting longest for a request "
        "head, or gets 503 when none is waiting (default 1000, less when ulimit -n is too low for it)",
    )
    parser.add_argument(
        "--max-sessions-per-client",
        type=_positive(int),
        default=None,
        metavar="N",
        help="http: most open MCP sessions per client (bearer token, or this machine without one); one more "
        "closes that client's session idle for longest (default 100)",
    )
    parser.add_argument("--sandbox", action="store_true", help="wire the server to the embedded sandbox (no key)")
    parser.add_argument(
        "--read-only", action="store_true", help="list only the tools that change nothing and spend no credits"
    )
    parser.add_argument(
        "--toolsets",
        default=None,
        metavar="NAMES",
        help="list only these toolsets, comma-separated: apis, tasks, marketplace, parsers (default: all)",
    )
    parser.add_argument(
        "--days",
        default=None,
        metavar="N",
        help=f"usage: the last N UTC days, today included (default {DEFAULT_USAGE_DAYS}, at most {MAX_USAGE_DAYS})",
    )
    parser.add_argument(
        "--json", action="store_true", help="usage: JSON for scripts instead of the table (a stable shape, see README)"
    )
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--version", action="version", version=f"parse-mcp {__version__}")
    return parser


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse type: a number of `kind` above zero."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not above zero")
        return value

    return parse


# Every variable `parse_mcp.settings` reads, as `--help` lists them (a test keeps the two in step).
ENVIRONMENT = {
    "PARSE_API_KEY": "Parse.bot key (pmx_...), sent only as the X-API-Key header",
    "PARSE_API_BASE_URL": f"Parse.bot base URL (default {DEFAULT_PARSE_BASE_URL})",
    "SCRAPERAPI_API_KEY": "ScraperAPI key; the AI Parser tools are listed only when it is set",
    "SCRAPERAPI_AIPARSER_URL": f"AI Parser base URL (default {DEFAULT_AIPARSER_BASE_URL})",
    "PARSE_MCP_HTTP_TOKEN": "bearer token(s) for --transport http, comma-separated; required on a non-loopback --host",
    "PARSE_MCP_REDIS_URL": "redis://, rediss:// or unix:// URL: account state shared by every process and replica "
    "(in memory when unset)",
    "PARSE_MCP_REDIS_PREFIX": "key prefix in Redis (default parse-mcp)",
    "PARSE_MCP_SESSION_SECRET": "at least 32 random characters sealing login sessions in Redis; required with "
    "PARSE_MCP_REDIS_URL (comma-separated to rotate)",
    "PARSE_MCP_DAILY_CREDITS": "most Parse.bot credits all agents on this key may spend per UTC day (no limit unset)",
    "PARSE_MCP_CLIENT_DAILY_CREDITS": "most Parse.bot credits one client may spend per UTC day (no limit unset)",
    "PARSE_MCP_SCRAPERAPI_DAILY_CREDITS": "most ScraperAPI credits (AI Parser) per UTC day (no limit unset)",
    "PARSE_MCP_CONFIRM_CREDITS": "a call expected to cost at least this many credits asks the user first (1000)",
    "PARSE_MCP_STATE_DIR": "where the spend ledger (SQLite) lives without Redis (default: the user state directory)",
}


def _environment_epilog() -> str:
    width = max(map(len, ENVIRONMENT))
    lines = [f"  {name.ljust(width)}  {meaning}" for name, meaning in ENVIRONMENT.items()]
    return "\n".join(
        [
            "environment variables:",
            *lines,
            "",
            "A base URL must be https://, or http:// on a loopback address. Without --sandbox and a key, the",
            "server still starts and its tools answer ask_user naming the variable to set.",
        ]
    )


async def _serve(args: argparse.Namespace) -> None:
    # Imported here, not above: `--version`, `sandbox`, `demo` and `doctor` start without the server's modules.
    from parse_mcp.http_security import check_port, endpoint_url, serve_http
    from parse_mcp.server import build_server, parse_toolsets

    # Judged before anything starts (the sandbox included): an open bind must not serve even briefly, and a
    # mistyped toolset must not serve fewer tools than meant.
    security = _http_security(args) if args.transport == "http" else None
    toolsets = parse_toolsets(args.toolsets)
    async with _settings_for(args.sandbox) as settings:
        _scrub_logs(settings)
        for problem in settings.problems() if not settings.sandbox else []:
            logger.warning("%s", problem)
        with _rich_unloaded():
            server = build_server(settings, read_only=args.read_only, toolsets=toolsets)
        settle_heap()
        if security is not None:
            host, port = args.host or DEFAULT_HOST, args.port or DEFAULT_HTTP_PORT
            check_port(host, port)
            access = "bearer token required" if security.requires_token else "no token: this machine only"
            mode = ", stateless" if args.stateless else ""
            where = endpoint_url(host, port, args.allowed_host)
            print(f"parse-mcp: streamable HTTP at {where} ({access}{mode})", file=sys.stderr)
            async with _event_store(settings, stateless=args.stateless) as event_store:
                await serve_http(
                    server,
                    security,
                    port,
                    stateless=args.stateless,
                    event_store=event_store,
                    limits=_http_limits(args),
                    log_level=args.log_level,
                )
        else:
            await server.run_stdio_async()


def settle_heap() -> None:
    """Leave what the start built (modules, models, schemas, the tool catalog: about 90,000 objects, alive until
    exit) out of every later garbage collection, and collect the young generation less often.

    A call allocates a few hundred short-lived objects and frees nearly all of them by reference counting, yet
    with Python's defaults a collection ran every couple of calls and a full one, walking the whole start-up heap
    (about 30 ms), every few hundred: 0.17 ms of the server's CPU a call under `python -m bench.throughput`'s
    load, 0.01 ms with this (`python -m bench.gc_cost`). Cyclic garbage waits a little longer for its collection:
    the young generation holds at most YOUNG_GENERATION_THRESHOLD objects.

    No collection first: the start leaves about 150 unreachable objects, which the freeze keeps for good, while a
    full collection here would cost every start 20 to 30 ms (`python -m bench.cold_start` holds it to 0.10 s)."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)


@contextmanager
def _rich_unloaded() -> Iterator[None]:
    """While the server is built, `import rich` fails as it does where rich is not installed.

    `MCPServer()` imports rich to hand `logging.basicConfig` a rich handler, which basicConfig drops: `main` has
    configured the root logger already. Without rich the SDK falls back to a plain handler, dropped alike. The
    import cost every start about 12 ms (`python -m bench.cold_start`), for nothing."""
    if "rich" in sys.modules:  # loaded already: nothing to save
        yield
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # None there is how Python marks a module unimportable
    try:
        yield
    finally:
        if "rich" in sys.modules and sys.modules["rich"] is None:
            del sys.modules["rich"]


@asynccontextmanager
async def _event_store(settings: Settings, *, stateless: bool) -> AsyncIterator[EventStore | None]:
    """With Redis, the HTTP streams' events live there (a reconnecting client can resume); else none is kept,
    as before. A stateless server has no stream to resume."""
    if settings.redis_url is None or stateless:
        yield None
        return
    # Here, not at the top: only a Redis deployment loads redis and cryptography.
    from parse_mcp.state.events import RedisEventStore
    from parse_mcp.state.redis_stores import redis_stores

    async with redis_stores(settings) as (shared, sealer):
        yield RedisEventStore(shared, sealer)


def _scrub_logs(settings: Settings) -> None:
    """Every log line leaves through a filter that removes the secrets this process holds, in any form,
    whatever a library or an upstream put in it."""
    scrubber = RedactingFilter(settings.redactor())
    for handler in logging.getLogger().handlers:
        handler.addFilter(scrubber)


def _http_limits(args: argparse.Namespace) -> HttpLimits:
    from parse_mcp.http_limits import HttpLimits

    # Only what was given: the defaults are HttpLimits' own, which `--help` quotes.
    given = {
        "header_timeout": args.header_timeout,
        "max_connections": args.max_connections,
        "sessions_per_client": args.max_sessions_per_client,
    }
    return HttpLimits(**{name: value for name, value in given.items() if value is not None})


def _http_security(args: argparse.Namespace) -> HttpSecurity:
    from parse_mcp.http_security import http_security

    return http_security(
        args.host or DEFAULT_HOST,
        http_tokens_from_env(os.environ),
        allowed_hosts=args.allowed_host,
        allowed_origins=args.allowed_origin,
    )


@asynccontextmanager
async def _settings_for(sandbox: bool) -> AsyncIterator[Settings]:
    if not sandbox:
        yield Settings.from_env(os.environ)
        return
    # Imported only here: serving the real services never loads the sandbox or the demo.
    from parse_mcp.demo import sandbox_settings
    from parse_mcp.sandbox import create_app, running_sandbox

    async with running_sandbox(create_app()) as base_url:
        logger.info("sandbox at %s", base_url)
        # The sandbox stands in for the services, not for the HTTP transport's own token.
        yield replace(sandbox_settings(base_url), http_tokens=http_tokens_from_env(os.environ))


async def _run_sandbox_alone(host: str, port: int) -> None:
    from parse_mcp.sandbox import PARSEBOT_KEY, create_app, running_sandbox
    from parse_mcp.sandbox.aiparser import AIPARSER_KEY

    async with running_sandbox(create_app(), host=host, port=port) as base_url:
        print(f"parse-mcp sandbox at {base_url}", flush=True)
        print(f"  Parse.bot:  PARSE_API_BASE_URL={base_url}  PARSE_API_KEY={PARSEBOT_KEY}", flush=True)
        print(f"  AI Parser:  SCRAPERAPI_AIPARSER_URL={base_url}  SCRAPERAPI_API_KEY={AIPARSER_KEY}", flush=True)
        print(f"  target site: {base_url}/site/", flush=True)
        await anyio.sleep_forever()


async def _usage(days: int, as_json: bool) -> int:
    """`parse-mcp usage`: the ledger's last `days` days, as a table with a bar a day, or as JSON. Read from where the
    server keeps it (the SQLite file under PARSE_MCP_STATE_DIR, or Redis with PARSE_MCP_REDIS_URL), without ever
    saying the Redis URL (it may hold a password)."""
    from parse_mcp.state.ledger import LedgerUnavailable
    from parse_mcp.usage import usage_json, usage_text
    from parse_mcp.voice import printable_json

    settings = Settings.from_env(os.environ)
    try:
        async with _usage_ledger(settings) as (ledger, kind, source):
            found = await ledger.usage(days)
    except LedgerUnavailable as exc:
        print(f"parse-mcp: the spend ledger could not be read ({exc}): {_where(settings)}", file=sys.stderr)
        return 1
    if as_json:
        print(printable_json(usage_json(found, ledger=kind)))
    else:
        encoding = sys.stdout.encoding or "ascii"
        print(usage_text(found, source=source, unicode=_can_encode("█▏", encoding)), end="")
    return 0


def _where(settings: Settings) -> str:
    if settings.redis_url is not None:
        return "Redis at PARSE_MCP_REDIS_URL"
    return f"the SQLite ledger under {settings.state_dir}"


@asynccontextmanager
async def _usage_ledger(settings: Settings) -> AsyncIterator[tuple[Ledger, LedgerKind, str]]:
    """The ledger's store itself (not the fail-over the server uses: a report must not show an empty memory when
    the store cannot be read), what kind it is, and where, in words that hold no secret."""
    from parse_mcp.state import limits_of
    from parse_mcp.state.ledger import LEDGER_FILE, MemoryLedger, open_ledger

    limits = limits_of(settings)
    if settings.redis_url is not None:
        from parse_mcp.state.redis_stores import redis_stores

        async with redis_stores(settings) as (shared, _):
            store = open_ledger(limits, time.time, redis=shared.client, redis_prefix=shared.keys.key("ledger")).store
            yield store, "redis", f"{_where(settings)}, prefix {settings.redis_prefix}"
        return
    path = None if settings.state_dir is None else settings.state_dir / LEDGER_FILE
    if path is None or not path.is_file():
        # Nothing recorded yet: said so, without creating the file a server would make.
        yield MemoryLedger(limits, time.time), "none", f"no ledger yet at {path}"
        return
    store = open_ledger(limits, time.time, state_dir=path.parent).store
    try:
        yield store, "sqlite", f"the SQLite ledger at {path}"
    finally:
        await store.aclose()


def _can_encode(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


async def _doctor_for(sandbox: bool) -> int:
    async with _settings_for(sandbox) as settings:
        return await _doctor(settings)


async def _doctor(settings: Settings) -> int:
    """Check each configured key with the cheapest call the service documents: one request per key, never
    repeated (a person waits for the answer), and a failure told as the guidance an agent would get. Then
    the version, and a client configuration that starts this server as it was checked."""
    from parse_mcp.services.aiparser import AiParserClient
    from parse_mcp.services.parsebot import ParseBotClient

    print(f"parse-mcp {__version__}{' (embedded sandbox)' if settings.sandbox else ''}")
    healthy = True
    print(f"Parse.bot base URL: {settings.parse_base_url}")
    if settings.parse_api_key is None:
        print("  PARSE_API_KEY: not set (the Parse.bot tools will answer ask_user)")
        healthy = False
    else:
        for problem in settings.problems():
            if problem.startswith("PARSE_API_KEY"):
                print(f"  warning: {problem}")
        client = ParseBotClient.from_settings(settings, settings.parse_api_key, retry=ONE_ATTEMPT)
        healthy &= await _check(
            "PARSE_API_KEY", "GET /dispatch/tasks", client.list_tasks(limit=1), client.aclose, PARSEBOT_CHECK
        )
    print(f"AI Parser base URL: {settings.aiparser_base_url}")
    if settings.scraperapi_key is None:
        print("  SCRAPERAPI_API_KEY: not set (the AI Parser tools are not listed)")
    else:
        parsers = AiParserClient.from_settings(settings, settings.scraperapi_key, retry=ONE_ATTEMPT)
        healthy &= await _check(
            "SCRAPERAPI_API_KEY", "GET /parsers", parsers.list_parsers(), parsers.aclose, AIPARSER_CHECK
        )
    print()
    print('A client configuration (Claude Desktop, Cursor, Claude Code\'s .mcp.json; VS Code calls the key "servers"):')
    print(json.dumps(client_configuration(settings), indent=2))
    return 0 if healthy else 1


async def _check(
    variable: str, call: str, request: Awaitable[object], close: Callable[[], Awaitable[None]], context: CallContext
) -> bool:
    """Await one check; say whether it passed, and on failure what an agent would be told, in words."""
    try:
        await request
    except CallFailed as exc:
        guidance = guide(exc.record, context)
        # What happened, in the guidance's words, then the code (with the HTTP status) for a search or a bug
        # report; the next step is said to the person at the terminal, who is the one to act.
        print(f"  {variable}: the check failed: {guidance.summary} [{exc}]")
        print(f"    next step: {_for_the_person(variable, context.service, guidance.code) or guidance.next_step}")
        return False
    finally:
        await close()
    print(f"  {variable}: accepted ({call} answered)")
    return True


# What the person at the terminal does about the failures only a person can fix (an agent is told "ask the user").
_FOR_THE_PERSON = {
    "unauthorized": "{variable} is set but {service} refused it: {shape}check for quotes or spaces around it, and "
    "that the key is still active in the service's dashboard.",
    "credits_exhausted": "{variable} works, but the account has no credits left: add credits or change plan in the "
    "service's dashboard.",
    "forbidden": "{variable} works, but the account's plan does not allow this call: check the plan in the "
    "service's dashboard.",
}
_KEY_SHAPES = {"PARSE_API_KEY": "Parse.bot keys start with pmx_; "}


def _for_the_person(variable: str, service: str, code: str) -> str | None:
    said = _FOR_THE_PERSON.get(code)
    return said.format(variable=variable, service=service, shape=_KEY_SHAPES.get(variable, "")) if said else None


def client_configuration(settings: Settings) -> dict[str, object]:
    """The `mcpServers` entry that starts this server as configured: keys as placeholders (a key is never
    printed), base URLs only where they differ from the services' own."""
    command, args = _launcher()
    args = [*args, "--sandbox"] if settings.sandbox else args
    entry: dict[str, object] = {"command": command, "args": args} if args else {"command": command}
    if not settings.sandbox:
        env = {"PARSE_API_KEY": "pmx_... (your Parse.bot key)"}
        if settings.parse_base_url != DEFAULT_PARSE_BASE_URL:
            env["PARSE_API_BASE_URL"] = settings.parse_base_url
        if settings.scraperapi_key is not None:
            env["SCRAPERAPI_API_KEY"] = "... (your ScraperAPI key)"
        if settings.aiparser_base_url != DEFAULT_AIPARSER_BASE_URL:
            env["SCRAPERAPI_AIPARSER_URL"] = settings.aiparser_base_url
        entry["env"] = env
    return {"mcpServers": {"parse": entry}}


def _launcher() -> tuple[str, list[str]]:
    """How a client should start this server: the installed script by its absolute path (a desktop client
    does not see a virtual environment's PATH), or `uvx parse-mcp` when this copy is uvx's temporary one."""
    script = Path(sys.executable).parent / ("parse-mcp.exe" if os.name == "nt" else "parse-mcp")
    uvx_cache = any(part.startswith("archive-v") for part in script.parts)
    if script.is_file() and not uvx_cache:
        return str(script), []
    return "uvx", ["parse-mcp"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
