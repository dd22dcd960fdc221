"""The redactor's exact promises, each one a mutation test found unguarded (docs/mutation.md).

Each test builds its own redactor: one built at import would hide, from mutation testing, the code that builds it.
"""

from __future__ import annotations

import base64
import json

from parse_mcp.redact import REDACTED, Redactor

KEY = "pmx_live_4f9a8b7c6d5e_Zq+/x"


def test_the_base64_of_a_whole_secret_is_removed_to_its_last_character() -> None:
    secret = "s3cr3t-" * 4 + "tail1"  # 33 bytes: its base64 has no character shared with a neighbour
    assert len(secret) % 3 == 0
    blob = base64.b64encode(secret.encode()).decode()
    assert Redactor([secret]).text(f"<{blob}>") == f"<{REDACTED}>"


def test_a_url_safe_base64_blob_is_removed_when_the_secrets_own_characters_open_with_an_underscore() -> None:
    # One byte before the secret puts `/` (URL-safe `_`) first among the characters that depend on it alone.
    secret = "oé-secret-tail"
    blob = base64.urlsafe_b64encode(b"X" + secret.encode() + b"!").decode()
    assert blob[2] == "_"
    assert Redactor([secret]).text(f"<{blob}>") == f"<{blob[:2]}{REDACTED}{blob[-3:]}>"


def test_a_secret_beyond_ascii_in_another_letter_case_is_found_inside_a_value_without_a_source() -> None:
    assert Redactor(["éclair-secret-1"]).json({"m": ["ÉCLAIR-SECRET-1"]}) == {"m": [REDACTED]}


def test_a_secret_with_a_space_is_found_spelled_with_plus_signs_in_plain_ascii_source_text() -> None:
    redactor = Redactor(["secret with space"])
    source = b'{"m": "the secret+with+space here"}'
    assert redactor.json(json.loads(source), source=source) == {"m": f"the {REDACTED} here"}


def test_a_clean_value_of_a_secret_with_a_space_is_judged_by_its_plain_ascii_source_and_returned_as_it_was() -> None:
    value = {"m": "nothing to see"}
    assert Redactor(["secret with space"]).json(value, source=b'{"m": "nothing to see"}') is value


def test_a_secret_beyond_ascii_is_found_in_ascii_source_text_that_spells_it_by_unicodes_case_rules() -> None:
    # The long s (U+017F) upper-cases to an ASCII S: no plain substring of the secret's UTF-8 holds that.
    source = b'{"m": "SECRET-VALUE-1"}'
    assert Redactor(["\u017fecret-value-1"]).json(json.loads(source), source=source) == {"m": REDACTED}


def test_a_clean_list_beside_a_secret_is_kept_as_the_very_same_list() -> None:
    value: dict[str, object] = {"clean": [1, "two", [3]], "k": KEY}
    scrubbed = Redactor([KEY]).json(value)
    assert scrubbed == {"clean": [1, "two", [3]], "k": REDACTED}
    assert isinstance(scrubbed, dict)
    assert scrubbed["clean"] is value["clean"]


def test_a_backslash_before_a_letter_is_not_a_spelling_of_that_letter() -> None:
    # Only the escapes JSON gives a character of its own (`\"`, `\\`, `\/`) spell it with a backslash.
    text = "a secret-\\X-value b"
    assert Redactor(["secret-X-value"]).text(text) == text
    assert Redactor(["secret-/-value"]).text("a secret-\\/-value b") == f"a {REDACTED} b"


def test_a_clean_value_that_json_cannot_serialise_is_walked_and_returned_as_the_very_same_object() -> None:
    cyclic: dict[str, object] = {"a": "nothing here"}
    cyclic["self"] = cyclic
    assert Redactor([KEY]).json(cyclic) is cyclic
    deep: list[object] = ["nothing here"]
    for _ in range(5_000):
        deep = [deep]
    assert Redactor([KEY]).json(deep) is deep


def test_a_source_that_is_not_valid_utf_8_is_still_judged_by_its_text() -> None:
    clean = {"m": "caf\udcff"}
    assert Redactor([KEY]).json(clean, source=b'{"m": "caf\xff"}') is clean
    dirty = {"m": f"{KEY} \udcff"}
    assert Redactor([KEY]).json(dirty, source=f'{{"m": "{KEY} '.encode() + b'\xff"}') == {"m": f"{REDACTED} \udcff"}
