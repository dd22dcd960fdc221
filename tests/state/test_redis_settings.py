"""The Redis variables, checked at start-up: a URL redis-py reads as Redis, a session secret to seal sessions
with, and neither ever shown back."""

from __future__ import annotations

import pytest

from parse_mcp.errors import ConfigError
from parse_mcp.settings import DEFAULT_REDIS_PREFIX, Secret, Settings

SECRET = "s" * 40


def test_redis_is_off_unless_its_url_is_set() -> None:
    settings = Settings.from_env({"PARSE_MCP_SESSION_SECRET": SECRET})

    assert settings.redis_url is None
    assert settings.redis_prefix == DEFAULT_REDIS_PREFIX


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://:pw@cache.example:6380/1", "unix:///run/r.sock"])
def test_the_three_redis_schemes_are_accepted(url: str) -> None:
    settings = Settings.from_env({"PARSE_MCP_REDIS_URL": url, "PARSE_MCP_SESSION_SECRET": SECRET})

    assert settings.redis_url == Secret(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "redis://", "unix://"])
def test_any_other_redis_url_stops_start_up_without_repeating_it(url: str) -> None:
    with pytest.raises(ConfigError, match="PARSE_MCP_REDIS_URL") as refused:
        Settings.from_env({"PARSE_MCP_REDIS_URL": url + "?password=hunter2-secret", "PARSE_MCP_SESSION_SECRET": SECRET})

    assert "hunter2-secret" not in str(refused.value)


def test_redis_without_a_session_secret_stops_start_up() -> None:
    with pytest.raises(ConfigError, match="PARSE_MCP_SESSION_SECRET is required"):
        Settings.from_env({"PARSE_MCP_REDIS_URL": "redis://127.0.0.1:6379/0"})


def test_a_short_session_secret_stops_start_up_naming_its_length_not_its_value() -> None:
    with pytest.raises(ConfigError, match="12 characters") as refused:
        Settings.from_env({"PARSE_MCP_SESSION_SECRET": "short-secret"})

    assert "short-secret" not in str(refused.value)


def test_a_prefix_that_could_reach_into_other_keys_stops_start_up() -> None:
    env = {"PARSE_MCP_REDIS_URL": "redis://127.0.0.1/0", "PARSE_MCP_SESSION_SECRET": SECRET}

    with pytest.raises(ConfigError, match="PARSE_MCP_REDIS_PREFIX"):
        Settings.from_env({**env, "PARSE_MCP_REDIS_PREFIX": "team:*"})


def test_the_redis_url_its_password_and_the_session_secrets_are_redacted() -> None:
    url = "rediss://default:p%40ss-w0rd-9Q@cache.example:6380/0"
    settings = Settings.from_env({"PARSE_MCP_REDIS_URL": url, "PARSE_MCP_SESSION_SECRET": f"{SECRET},{'t' * 40}"})
    redact = settings.redactor()

    text = redact.text(f"failed: {url} with p@ss-w0rd-9Q and p%40ss-w0rd-9Q, secrets {SECRET} {'t' * 40}")

    for secret in (url, "p@ss-w0rd-9Q", "p%40ss-w0rd-9Q", SECRET, "t" * 40):
        assert secret not in text
    assert "SecretStr('**********')" in repr(settings)
    assert url not in repr(settings)
