"""Settings: the base-URL rule that keeps keys off clear-text links, and keys that never show."""

from __future__ import annotations

import pytest

from parse_mcp.errors import ConfigError
from parse_mcp.settings import DEFAULT_PARSE_BASE_URL, Secret, Settings


def test_defaults_point_at_the_real_services_and_hold_no_key() -> None:
    settings = Settings.from_env({})
    assert settings.parse_base_url == DEFAULT_PARSE_BASE_URL
    assert settings.parse_api_key is None
    assert settings.scraperapi_key is None
    assert any("PARSE_API_KEY" in p for p in settings.problems())


def test_keys_and_urls_are_read_from_the_contract_variables() -> None:
    settings = Settings.from_env(
        {
            "PARSE_API_KEY": " pmx_abc123 ",
            "PARSE_API_BASE_URL": "http://127.0.0.1:8787/",
            "SCRAPERAPI_API_KEY": "sk",
            "SCRAPERAPI_AIPARSER_URL": "https://parser.example.com",
        }
    )
    assert settings.parse_api_key == Secret("pmx_abc123")
    assert settings.parse_base_url == "http://127.0.0.1:8787"
    assert settings.aiparser_base_url == "https://parser.example.com"
    assert settings.problems() == []


@pytest.mark.parametrize(
    "url", ["http://localhost:9000", "http://127.0.0.2", "http://[::1]:8080", "https://api.parse.bot"]
)
def test_https_or_loopback_http_is_accepted(url: str) -> None:
    assert Settings.from_env({"PARSE_API_BASE_URL": url}).parse_base_url == url


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://api.parse.bot", "clear text"),
        ("http://10.0.0.5:8000", "clear text"),
        ("ftp://api.parse.bot", "absolute http(s) URL"),
        ("api.parse.bot", "absolute http(s) URL"),
        ("https://user:pw@api.parse.bot", "credentials"),
    ],
)
def test_a_base_url_that_could_leak_a_key_is_refused_with_a_reason(url: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"SCRAPERAPI_AIPARSER_URL": url})
    assert words in str(caught.value)
    assert "SCRAPERAPI_AIPARSER_URL" in str(caught.value)


def test_a_secret_never_shows_itself() -> None:
    secret = Secret("pmx_topsecret")
    settings = Settings(parse_api_key=secret)
    for shown in (repr(secret), str(secret), f"{secret}", repr(settings)):
        assert "pmx_topsecret" not in shown
    assert secret.get_secret_value() == "pmx_topsecret"


def test_http_tokens_are_read_as_secrets_one_per_comma_without_blanks_or_repeats() -> None:
    first, second = "tok_" + "a" * 20, "tok_" + "b" * 20
    settings = Settings.from_env({"PARSE_MCP_HTTP_TOKEN": f" {first} ,, {second},{first}, "})
    assert settings.http_tokens == (Secret(first), Secret(second))
    assert first not in repr(settings)
    assert Settings.from_env({}).http_tokens == ()


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("tok_" + "a" * 20 + ",short-secret", "token 2 has 12 characters; use at least 16"),
        ("has a space inside it ok", "characters a bearer token cannot carry"),
        ('quote"inside-the-token-value', "characters a bearer token cannot carry"),
        ("=starts-with-padding-here", "characters a bearer token cannot carry"),
    ],
)
def test_a_weak_or_unsendable_http_token_is_refused_without_showing_it(raw: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"PARSE_MCP_HTTP_TOKEN": raw})
    message = str(caught.value)
    assert words in message
    assert "PARSE_MCP_HTTP_TOKEN" in message
    for token in raw.split(","):
        assert token not in message


def test_a_parse_key_without_the_pmx_prefix_is_warned_about_without_showing_it() -> None:
    settings = Settings.from_env({"PARSE_API_KEY": '"sk-another-services-key"', "SCRAPERAPI_API_KEY": "s" * 20})
    (problem,) = settings.problems()
    assert problem.startswith("PARSE_API_KEY does not start with pmx_")
    assert "sk-another" not in problem
    assert Settings.from_env({"PARSE_API_KEY": "pmx_fine", "SCRAPERAPI_API_KEY": "s" * 20}).problems() == []


def test_spend_limits_are_read_as_whole_credits_and_a_bad_one_is_one_line_naming_its_variable() -> None:
    settings = Settings.from_env(
        {
            "PARSE_MCP_DAILY_CREDITS": "5_000",
            "PARSE_MCP_CLIENT_DAILY_CREDITS": " 500 ",
            "PARSE_MCP_SCRAPERAPI_DAILY_CREDITS": "90,000",
            "PARSE_MCP_CONFIRM_CREDITS": "250",
            "PARSE_MCP_STATE_DIR": "/srv/parse-mcp/state",
        }
    )
    assert (settings.daily_credits, settings.client_daily_credits, settings.scraperapi_daily_credits) == (
        5_000,
        500,
        90_000,
    )
    assert settings.confirm_credits == 250
    assert str(settings.state_dir) == "/srv/parse-mcp/state"
    for bad in ("0", "-5", "ten", "1.5", "٣", "9" * 13):
        with pytest.raises(ConfigError) as refused:
            Settings.from_env({"PARSE_MCP_DAILY_CREDITS": bad})
        assert str(refused.value).startswith("PARSE_MCP_DAILY_CREDITS must be a whole number")


def test_without_the_variables_there_is_no_limit_and_the_ledger_lives_in_the_user_state_directory() -> None:
    settings = Settings.from_env({"XDG_STATE_HOME": "/srv/state"})
    assert (settings.daily_credits, settings.client_daily_credits, settings.scraperapi_daily_credits) == (None,) * 3
    assert settings.confirm_credits == 1_000
    assert str(settings.state_dir) == "/srv/state/parse-mcp"
    assert Settings().state_dir is None, "settings built in code keep the ledger in memory"
