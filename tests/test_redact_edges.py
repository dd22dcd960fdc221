"""The redactor's edges that a mutant broke without a test noticing (`make mutate`): the log filter on records
of every shape, secrets that contain one another, and a secret written with spaces, quotes, slashes and
characters beyond the BMP, in each spelling the redactor claims (JSON escapes, percent-encoding once and
twice, a form's `+` for a space)."""

from __future__ import annotations

import json
import logging
import re
import sys
from urllib.parse import quote, quote_plus

import pytest

from parse_mcp.redact import REDACTED, RedactingFilter, Redactor

KEY = "pmx_live_4f9a8b7c6d5e_Zq+/x"


def scrub(made: logging.LogRecord) -> bool:
    """The filter, built here (not when the module is imported), applied to one record."""
    return RedactingFilter(Redactor([KEY])).filter(made)


def record(msg: str, args: tuple[object, ...] = (), **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("tests.redact.edges", logging.WARNING, __file__, 1, msg, args, None)
    for name, value in extra.items():
        setattr(made, name, value)
    return made


def test_the_log_filter_keeps_the_record_and_writes_its_message_scrubbed_with_no_arguments_left() -> None:
    sent = record("sent %s to %s", (KEY, "/x"))
    assert scrub(sent) is True
    assert sent.msg == f"sent {REDACTED} to /x"
    assert sent.args is None
    assert sent.getMessage() == f"sent {REDACTED} to /x"


def test_a_log_call_with_too_few_arguments_is_still_written_scrubbed() -> None:
    odd = record("odd %s %s", (KEY,))
    assert scrub(odd) is True
    assert odd.msg == f"odd %s %s ('{REDACTED}',)"
    assert odd.args is None


def test_a_traceback_is_formatted_once_and_scrubbed_and_a_formatted_one_is_scrubbed_too() -> None:
    try:
        raise ValueError(f"bad key {KEY}")
    except ValueError:
        failing = record("failed", exc_info=sys.exc_info())
    assert scrub(failing) is True
    assert isinstance(failing.exc_text, str)
    assert "ValueError: bad key [redacted]" in failing.exc_text
    assert KEY not in failing.exc_text
    formatted = record("failed", exc_text=f"Traceback: {KEY}")
    assert scrub(formatted) is True
    assert formatted.exc_text == f"Traceback: {REDACTED}"
    plain = record("no traceback")
    assert scrub(plain) is True
    assert plain.exc_text is None


def test_a_stack_is_scrubbed() -> None:
    stacked = record("here", stack_info=f"Stack (most recent call last): {KEY}")
    assert scrub(stacked) is True
    assert stacked.stack_info == f"Stack (most recent call last): {REDACTED}"


def test_the_redactor_says_how_many_secrets_it_holds_and_never_which() -> None:
    assert repr(Redactor([KEY, "0123456789abcdef", "short"])) == "Redactor(2 secrets)"


@pytest.mark.parametrize("order", [0, 1])
def test_a_secret_that_contains_another_is_removed_whole(order: int) -> None:
    short, long = "abcdefgh12345678", "abcdefgh12345678XYZW9"
    redactor = Redactor([short, long] if order else [long, short])
    assert redactor.text(f"a {long} b") == f"a {REDACTED} b"
    assert redactor.text(f"a {short} b") == f"a {REDACTED} b"
    assert redactor.json({"v": long}) == {"v": REDACTED}


def test_without_secrets_json_is_returned_as_it_is_even_when_key_shaped() -> None:
    value = {"key": "pmx_abcdefgh", "api_key": "0123456789"}
    assert Redactor([]).json(value) is value
    assert Redactor(["short"]).json(value) is value


def test_clean_json_with_its_source_is_returned_as_it_is_and_a_dirty_one_is_scrubbed() -> None:
    redactor = Redactor([KEY])
    clean = {"a": "b"}
    assert redactor.json(clean, source=json.dumps(clean).encode()) is clean
    dirty = {"a": KEY}
    assert redactor.json(dirty, source=json.dumps(dirty).encode()) == {"a": REDACTED}


# Every character the spellings treat apart: a space, a quote, a backslash, a slash, a letter beyond ASCII and
# one beyond the BMP (two UTF-16 units in a JSON escape).
ODD_SECRET = 'se cr"et\\/é😀-tail'
SPELLINGS = {
    "as is": ODD_SECRET,
    "JSON, ASCII only": json.dumps(ODD_SECRET)[1:-1],
    "JSON": json.dumps(ODD_SECRET, ensure_ascii=False)[1:-1],
    "percent-encoded": quote(ODD_SECRET, safe=""),
    "percent-encoded twice": quote(quote(ODD_SECRET, safe=""), safe=""),
    "a form's encoding": quote_plus(ODD_SECRET, safe=""),
}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_a_secret_with_spaces_quotes_slashes_and_wide_characters_is_removed_in_every_spelling(spelling: str) -> None:
    written = SPELLINGS[spelling]
    assert Redactor([ODD_SECRET]).text(f"<{written}>") == f"<{REDACTED}>", written


def _upper_escapes(text: str) -> str:
    return re.sub(r"\\u([0-9a-f]{4})", lambda found: "\\u" + found.group(1).upper(), text)


MORE_SPELLINGS = {
    "upper case": ODD_SECRET.upper(),
    "percent-encoded, lower-case hex": quote(ODD_SECRET, safe="").lower(),
    "JSON, upper-case escapes": _upper_escapes(json.dumps(ODD_SECRET)[1:-1]),
}


@pytest.mark.parametrize("spelling", sorted(MORE_SPELLINGS))
def test_the_same_secret_is_removed_in_any_letter_case_of_its_spellings(spelling: str) -> None:
    written = MORE_SPELLINGS[spelling]
    assert Redactor([ODD_SECRET]).text(f"<{written}>") == f"<{REDACTED}>", written


# A secret that opens with a slash: its first character is spelled with a backslash in PHP-style JSON (`\/`)
# and as `%2F` or `%2f` in a URL.
SLASHED = "/odd-secret-5678"


@pytest.mark.parametrize(
    "written",
    [SLASHED, "\\" + SLASHED, "%2F" + SLASHED[1:], "%2f" + SLASHED[1:], "%252F" + SLASHED[1:], "\\u002F" + SLASHED[1:]],
)
def test_a_secret_that_opens_with_a_slash_is_removed_however_its_first_character_is_spelled(written: str) -> None:
    assert Redactor([SLASHED]).text(f"<{written}>") == f"<{REDACTED}>"


def test_a_secret_written_in_hex_is_removed_in_either_case_even_when_its_first_digit_is_a_letter() -> None:
    secret = "é-secret-1234"
    hexed = secret.encode().hex()
    assert hexed[0].isalpha()
    redactor = Redactor([secret])
    assert redactor.text(f"<{hexed}>") == f"<{REDACTED}>"
    assert redactor.text(f"<{hexed.upper()}>") == f"<{REDACTED}>"


def test_a_secret_that_contains_another_in_another_letter_case_is_removed_whole() -> None:
    short, long = "abcdefgh12345678", "ABCDEFGH12345678XYZW9"
    redactor = Redactor([short, long])
    assert redactor.text("<abcdefgh12345678xyzw9>") == f"<{REDACTED}>"
