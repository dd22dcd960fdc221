"""Configuration from the environment, validated once at start-up.

Keys are held as `Secret`s (pydantic's `SecretStr`): their repr and str are masked, so a key cannot leak into a
log line or an exception text by accident; code that must send a key calls `get_secret_value()` at the one place
it does so.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from parse_mcp.errors import ConfigError
from parse_mcp.policy.size import DEFAULT_MAX_DATA_CHARS
from parse_mcp.redact import Redactor, redactor_for

DEFAULT_PARSE_BASE_URL = "https://api.parse.bot"
PARSEBOT_KEY_PREFIX = "pmx_"
DEFAULT_AIPARSER_BASE_URL = "https://aiparser.scraperapi.com"

# Live scrapes take 2-20 s and sometimes minutes; a tool call must still end well before the 60 s many
# clients allow: one request may take this long, plus at most the retry policy's 15 s of waiting.
DEFAULT_REQUEST_TIMEOUT_SECONDS = 30.0
DEFAULT_CONNECT_TIMEOUT_SECONDS = 10.0

# A bearer token guards the operator's keys on a network: long enough not to be guessed, and made of the
# characters RFC 6750 allows in a bearer token, so it travels in a header unchanged.
MIN_HTTP_TOKEN_CHARS = 16
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")

REDIS_SCHEMES = ("redis", "rediss", "unix")
DEFAULT_REDIS_PREFIX = "parse-mcp"
_REDIS_PREFIX = re.compile(r"[A-Za-z0-9\-_.]{1,64}")
# A call expected to cost at least this many credits asks the user first, when the client can show a form: the
# 30,000 of an AI parser's creation always does, a scraper call of a few credits never.
DEFAULT_CONFIRM_CREDITS = 1_000

# The session secret is a key, not a password: random, and long enough that deriving from it adds nothing
# an attacker could guess.
MIN_SESSION_SECRET_CHARS = 32


# A key, token or URL with a password: pydantic's `SecretStr`, whose repr and str are masked, so that it cannot
# leak into a log line or an exception text by accident; code that must send it calls `get_secret_value()` at the
# one place it does so.
Secret = SecretStr


@dataclass(frozen=True, slots=True)
class Settings:
    parse_api_key: Secret | None = None
    parse_base_url: str = DEFAULT_PARSE_BASE_URL
    scraperapi_key: Secret | None = None
    aiparser_base_url: str = DEFAULT_AIPARSER_BASE_URL
    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS
    connect_timeout_seconds: float = DEFAULT_CONNECT_TIMEOUT_SECONDS
    max_data_chars: int = DEFAULT_MAX_DATA_CHARS
    sandbox: bool = False
    http_tokens: tuple[Secret, ...] = ()
    # Shared state (contract section 1): with a Redis URL, the account's state lives there, and the login
    # sessions with it, sealed under the session secrets (`parse_mcp.state.sealing`).
    redis_url: Secret | None = None
    redis_prefix: str = DEFAULT_REDIS_PREFIX
    session_secrets: tuple[Secret, ...] = ()
    # Spend control (README, "Spend control"): most credits per UTC day, None for no limit, and the expected cost
    # from which a call asks the user first.
    daily_credits: int | None = None
    client_daily_credits: int | None = None
    scraperapi_daily_credits: int | None = None
    confirm_credits: int = DEFAULT_CONFIRM_CREDITS
    # Where the spend ledger is kept (SQLite) when Redis is not set. None keeps it in this process's memory: what
    # code that builds `Settings` itself gets (tests); from the environment it is the platform's state directory.
    state_dir: Path | None = None

    def __post_init__(self) -> None:
        check_base_url("PARSE_API_BASE_URL", self.parse_base_url)
        check_base_url("SCRAPERAPI_AIPARSER_URL", self.aiparser_base_url)
        if self.redis_url is not None:
            check_redis_url(self.redis_url)
            check_redis_prefix(self.redis_prefix)
            if not self.session_secrets:
                raise ConfigError(
                    "PARSE_MCP_SESSION_SECRET is required with PARSE_MCP_REDIS_URL: Redis then holds the login "
                    "sessions, sealed with it. Use at least "
                    f"{MIN_SESSION_SECRET_CHARS} random characters, e.g. from "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
                )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read the contract's variables; raise `ConfigError` with a message a person can act on."""
        return cls(
            parse_api_key=_secret(env.get("PARSE_API_KEY")),
            parse_base_url=_url(env.get("PARSE_API_BASE_URL"), DEFAULT_PARSE_BASE_URL),
            scraperapi_key=_secret(env.get("SCRAPERAPI_API_KEY")),
            aiparser_base_url=_url(env.get("SCRAPERAPI_AIPARSER_URL"), DEFAULT_AIPARSER_BASE_URL),
            http_tokens=http_tokens_from_env(env),
            redis_url=_secret(env.get("PARSE_MCP_REDIS_URL")),
            redis_prefix=(env.get("PARSE_MCP_REDIS_PREFIX") or "").strip() or DEFAULT_REDIS_PREFIX,
            session_secrets=session_secrets_from_env(env),
            daily_credits=_credits(env, "PARSE_MCP_DAILY_CREDITS"),
            client_daily_credits=_credits(env, "PARSE_MCP_CLIENT_DAILY_CREDITS"),
            scraperapi_daily_credits=_credits(env, "PARSE_MCP_SCRAPERAPI_DAILY_CREDITS"),
            confirm_credits=_credits(env, "PARSE_MCP_CONFIRM_CREDITS") or DEFAULT_CONFIRM_CREDITS,
            state_dir=Path(raw_dir).expanduser()
            if (raw_dir := (env.get("PARSE_MCP_STATE_DIR") or "").strip())
            else default_state_dir(env),
        )

    def redactor(self) -> Redactor:
        """What scrubs every secret this process holds (both keys, the HTTP tokens, the Redis URL and its
        password, the session secrets) out of copied text."""
        held = (self.parse_api_key, self.scraperapi_key, *self.http_tokens, self.redis_url, *self.session_secrets)
        revealed = [secret.get_secret_value() for secret in held if secret is not None]
        password = urlsplit(self.redis_url.get_secret_value()).password if self.redis_url is not None else None
        # Both spellings of the password: as written in the URL (percent-encoded) and as sent to Redis.
        passwords = [password, unquote(password)] if password else []
        return redactor_for([*revealed, *passwords])

    def problems(self) -> list[str]:
        """What is missing, in sentences for stderr at start-up (empty when everything is configured)."""
        found: list[str] = []
        if self.parse_api_key is None:
            found.append(
                "PARSE_API_KEY is not set: the Parse.bot tools will answer ask_user until it is "
                "(or run `parse-mcp --sandbox` to rehearse without an account)."
            )
        elif not self.parse_api_key.get_secret_value().startswith(PARSEBOT_KEY_PREFIX):
            # Said without the key: a person checks what they pasted (another service's key, quotes around it).
            found.append(
                f"PARSE_API_KEY does not start with {PARSEBOT_KEY_PREFIX}, as Parse.bot keys do: check that it is "
                "the Parse.bot key, with no quotes or spaces around it."
            )
        if self.scraperapi_key is None:
            found.append("SCRAPERAPI_API_KEY is not set: the AI Parser tools are not listed.")
        return found


def http_tokens_from_env(env: Mapping[str, str]) -> tuple[Secret, ...]:
    """`PARSE_MCP_HTTP_TOKEN`: one bearer token, or several separated by commas (one per client)."""
    found: list[Secret] = []
    for position, raw in enumerate((env.get("PARSE_MCP_HTTP_TOKEN") or "").split(","), start=1):
        token = raw.strip()
        if not token:
            continue
        # The messages name the token's position, never its value.
        if len(token) < MIN_HTTP_TOKEN_CHARS:
            raise ConfigError(
                f"PARSE_MCP_HTTP_TOKEN: token {position} has {len(token)} characters; use at least "
                f"{MIN_HTTP_TOKEN_CHARS}, e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
            )
        if not _BEARER_TOKEN.fullmatch(token):
            raise ConfigError(
                f"PARSE_MCP_HTTP_TOKEN: token {position} has characters a bearer token cannot carry; use only "
                "letters, digits and - . _ ~ + / (then = at the end), separating tokens with commas."
            )
        found.append(Secret(token))
    return tuple(dict.fromkeys(found))


def session_secrets_from_env(env: Mapping[str, str]) -> tuple[Secret, ...]:
    """`PARSE_MCP_SESSION_SECRET`: one secret, or several separated by commas (the first seals new sessions,
    every one opens old ones: how a secret is rotated without logging everyone out)."""
    found: list[Secret] = []
    for position, raw in enumerate((env.get("PARSE_MCP_SESSION_SECRET") or "").split(","), start=1):
        secret = raw.strip()
        if not secret:
            continue
        if len(secret) < MIN_SESSION_SECRET_CHARS:
            raise ConfigError(
                f"PARSE_MCP_SESSION_SECRET: secret {position} has {len(secret)} characters; use at least "
                f"{MIN_SESSION_SECRET_CHARS}, e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
            )
        found.append(Secret(secret))
    return tuple(dict.fromkeys(found))


def check_redis_url(url: Secret) -> None:
    """Refuse a Redis URL redis-py would not read as Redis; the message never repeats the URL (it may hold a
    password)."""
    parts = urlsplit(url.get_secret_value())
    if parts.scheme not in REDIS_SCHEMES:
        shown = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise ConfigError(f"PARSE_MCP_REDIS_URL must start with redis://, rediss:// or unix://, got {shown}.")
    if parts.scheme == "unix" and not parts.path:
        raise ConfigError("PARSE_MCP_REDIS_URL: a unix:// URL needs the socket's path, e.g. unix:///run/redis.sock.")
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(
            f"PARSE_MCP_REDIS_URL: a {parts.scheme}:// URL needs a host, e.g. {parts.scheme}://127.0.0.1:6379/0."
        )


def check_redis_prefix(prefix: str) -> None:
    if not _REDIS_PREFIX.fullmatch(prefix):
        raise ConfigError(
            f"PARSE_MCP_REDIS_PREFIX may hold only letters, digits and - _ . (at most 64), got {prefix[:80]!r}."
        )


def check_base_url(variable: str, url: str) -> None:
    """Refuse any base URL that would send a key in clear text to another machine."""
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise ConfigError(f"{variable} must be an absolute http(s) URL, got {url!r}.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"{variable} uses plain http on {parts.hostname!r}: keys would travel in clear text. "
            "Use https://, or http:// only on a loopback address such as 127.0.0.1."
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"{variable} must not carry a query, fragment or credentials.")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _credits(env: Mapping[str, str], variable: str) -> int | None:
    """A whole number of credits from `variable`, None when unset; one line naming the variable otherwise."""
    raw = (env.get(variable) or "").strip().replace("_", "").replace(",", "")
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1 or len(raw) > 12:
        raise ConfigError(f"{variable} must be a whole number of credits from 1, e.g. 5000.")
    return int(raw)


def default_state_dir(env: Mapping[str, str]) -> Path:
    """The platform's user state directory for parse-mcp (no dependency: the three conventions written out)."""
    home = Path.home()
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / "parse-mcp"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "parse-mcp"
    state_home = env.get("XDG_STATE_HOME")
    return (Path(state_home) if state_home else home / ".local" / "state") / "parse-mcp"


def _secret(raw: str | None) -> Secret | None:
    value = (raw or "").strip()
    return Secret(value) if value else None


def _url(raw: str | None, default: str) -> str:
    value = (raw or "").strip()
    return value.rstrip("/") if value else default
