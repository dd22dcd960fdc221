"""Scrub secrets out of anything that came from elsewhere before it is kept, shown or logged.

A service may echo what it was sent: a key in an error message, in a request-id header, in the data of
a successful answer, in a URL with `api_key=` in it, or re-encoded on the way (percent-encoded by a
proxy, base64 inside a token, `\\u0070`-style escaped in raw JSON, upper-cased by a logger). `Redactor` is
built once from the keys this server holds and removes every one of those forms with one compiled
regex; anything merely shaped like a key is removed from text by pattern, so neither reaches a
result, a log line or an exception text.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
from collections.abc import Iterable
from functools import lru_cache

REDACTED = "[redacted]"

# A shorter secret would also match ordinary words (the sandbox's ScraperAPI key is `sandbox`), so it is
# left to the key-shaped patterns instead of being scrubbed by value.
MIN_SECRET_LENGTH = 8

# Shapes of secrets whose value this server may not know: a Parse.bot key, a session's encryption key
# (a Fernet token), and the value after anything named like a key. Each alternative opens with a plain
# character (see `_compiled`).
_KEY_SHAPES = (
    r"pmx_[A-Za-z0-9_\-]{4,}",
    r"gAAAAA[A-Za-z0-9_\-=]{8,}",
    *(
        f"{first}(?i:{rest})[\"']?\\s*[=:]\\s*[\"']?[^\\s&\"',;]+"
        for name in ("api[_-]?key", "encryption[_-]?key", "x-api-key")
        for first, rest in ((name[0], name[1:]), (name[0].upper(), name[1:]))
    ),
)
# Splits a matched `api_key=value` into the part that stays (name and separator) and the value.
_NAMED_VALUE = re.compile(r"(?i)((?:api[_-]?key|encryption[_-]?key|x-api-key)[\"']?\s*[=:]\s*[\"']?)")

# Base64 characters that differ between alphabets or get escaped on the way: `+`/`-` and `/`/`_` are
# the standard and URL-safe spellings, `%2B`/`%2F` a URL-encoded blob (`%252B` encoded twice), `\/` a blob in
# PHP-style JSON.
_BASE64_VARIANTS = {
    "+": ("\\+", "-", "%(?i:2b)", "%25(?i:2b)"),
    "/": ("/", "_", "\\\\/", "%(?i:2f)", "%25(?i:2f)"),
}


class Redactor:
    """Removes every known form of the given secrets (and key-shaped text) from strings and JSON values.

    Built once per process from both services' keys: the pattern is compiled here, so a call costs one
    regex scan. `json` scrubs the known secrets only: success data may legitimately hold key-shaped
    values (a login's encryption key, which the server keeps for itself), and must not be altered.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        kept = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        forms = [alternative for secret in kept for alternative in _forms_of(secret)]
        self._count = len(kept)
        self._known = _compiled(forms) if forms else None
        self._plain = _plain_needles(kept)
        self._everything = _compiled([*forms, *_KEY_SHAPES])

    def __repr__(self) -> str:
        # The compiled patterns spell the secrets out: never let a debug print show them.
        return f"Redactor({self._count} secrets)"

    def text(self, text: str) -> str:
        """The text with every form of every known secret, and anything key-shaped, replaced."""
        return self._everything.sub(_replacement, text)

    def json(self, value: object, *, source: bytes | None = None) -> object:
        """A JSON value with the known secrets removed from every string and dict key, at any depth.

        Returns the very same object when nothing had to change: a clean answer costs one scan (of `source`,
        the JSON text it was parsed from, when given and plain enough to judge; else of the value serialised
        again). Otherwise it walks without recursion (any depth is safe, a cycle is not followed twice) and
        rebuilds only the containers on the way to a changed string (a cycle, which JSON cannot express, is not
        followed into).
        """
        known = self._known
        if known is None:
            return value
        clean = _source_is_clean(known, self._plain, source) if source is not None else None
        if clean or (clean is None and not _may_hold(known, value)):
            return value
        if isinstance(value, str):
            return known.sub(REDACTED, value)
        replaced: dict[int, object] = {}
        for container in reversed(_containers_parents_first(value)):
            rebuilt = _rebuilt(container, known, replaced)
            if rebuilt is not container:
                replaced[id(container)] = rebuilt
        return replaced.get(id(value), value)


class RedactingFilter(logging.Filter):
    """A log filter that scrubs each record's formatted message (and its traceback) before any handler
    writes it. Install it on a handler, so records from every logger that reach it are covered."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed call must still be scrubbed, not crash the logger
            message = f"{record.msg!s} {record.args!r}"
        record.msg = self._redactor.text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redactor.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redactor.text(record.stack_info)
        return True


def redactor_for(secrets: Iterable[str] = ()) -> Redactor:
    """The Redactor of these secrets, built once: compiling the pattern is the costly part."""
    return _cached_redactor(tuple(sorted(set(secrets))))


@lru_cache(maxsize=16)
def _cached_redactor(secrets: tuple[str, ...]) -> Redactor:
    return Redactor(secrets)


def _replacement(match: re.Match[str]) -> str:
    # `api_key=...` keeps its name, so the reader still sees which parameter was removed.
    named = _NAMED_VALUE.match(match.group())
    return f"{named.group(1)}{REDACTED}" if named else REDACTED


def _compiled(alternatives: list[str]) -> re.Pattern[str]:
    """One pattern for all the alternatives. Each opens with a plain, case-sensitive character, which
    lets the regex engine skip every position whose character cannot start a match without trying the
    alternatives there: this is what keeps a megabyte scan in a few milliseconds."""
    return re.compile("|".join(alternatives))


def _forms_of(secret: str) -> list[str]:
    """Regex alternatives, one per encoding family of `secret` and per character that can open it."""
    forms = _textual(secret)
    forms.extend(_opened(_hex_options(secret.encode().hex()[0]), f"(?i:{secret.encode().hex()[1:]})"))
    for alignment in range(3):
        core = _base64_core(secret, alignment)
        if core:
            forms.extend(_opened(_BASE64_VARIANTS.get(core[0], (re.escape(core[0]),)), _base64_rest(core[1:])))
    return forms


def _opened(openings: Iterable[str], rest: str) -> list[str]:
    return [opening + rest for opening in openings]


def _textual(secret: str) -> list[str]:
    """The secret in any letter case, each character plain, percent-encoded (any hex case) or
    JSON-escaped: this covers `quote`, `quote_plus`, a fully encoded key and a half-encoded one."""
    rest = "(?i:" + "".join("(?:" + "|".join(_spellings(ch)) + ")" for ch in secret[1:]) + ")"
    return [opening + rest for spelling in _spellings(secret[0]) for opening in _case_insensitive_opening(spelling)]


def _spellings(ch: str) -> list[str]:
    """Regexes for one character as it may appear in text, to be read case-insensitively."""
    utf16 = ch.encode("utf-16-be").hex()
    spellings = [
        re.escape(ch),
        "".join(f"%{byte:02x}" for byte in ch.encode()),
        # Percent-encoded twice (`%2B` re-encoded as `%252B`), as a client encoding an encoded query does.
        "".join(f"%25{byte:02x}" for byte in ch.encode()),
        "".join(r"\\u" + utf16[start : start + 4] for start in range(0, len(utf16), 4)),
    ]
    if ch == " ":
        spellings.append(r"\+")
    if ch in '"\\/':
        spellings.append(re.escape("\\" + ch))
    return spellings


def _case_insensitive_opening(spelling: str) -> list[str]:
    """`spelling` with its first character as a case-sensitive literal (one alternative per case) and
    the remainder case-insensitive."""
    head, tail = (spelling[:2], spelling[2:]) if spelling.startswith("\\") else (spelling[:1], spelling[1:])
    rest = f"(?i:{tail})" if tail else ""
    return [case + rest for case in dict.fromkeys((head, head.lower(), head.upper()))]


def _hex_options(digit: str) -> tuple[str, ...]:
    return (digit.lower(), digit.upper()) if digit.isalpha() else (digit,)


def _base64_core(secret: str, alignment: int) -> str:
    """The base64 characters that depend on the secret's bytes alone, when it starts `alignment` bytes
    into a longer blob (0, 1 or 2 cover every position), in either alphabet, padded or not."""
    raw = secret.encode()
    blob = base64.b64encode(bytes(alignment) + raw).decode()
    first = math.ceil(alignment * 8 / 6)
    last = (alignment + len(raw)) * 8 // 6
    return blob[first:last]


def _base64_rest(core: str) -> str:
    return "".join(
        "(?:" + "|".join(_BASE64_VARIANTS[ch]) + ")" if ch in _BASE64_VARIANTS else re.escape(ch) for ch in core
    )


def _may_hold(known: re.Pattern[str], value: object) -> bool:
    """Whether any string in `value` may hold a secret, by one C-speed serialisation and scan. A value
    `json.dumps` cannot take (too deep, cyclic, odd keys) is assumed to, and is walked instead."""
    if isinstance(value, str):
        return known.search(value) is not None
    if not isinstance(value, dict | list):
        return False
    try:
        serialised = json.dumps(value, ensure_ascii=False, check_circular=True, default=_opaque)
    except (RecursionError, ValueError, TypeError):
        return True
    return known.search(serialised) is not None


def _source_is_clean(known: re.Pattern[str], plain: PlainNeedles | None, source: bytes) -> bool | None:
    """Whether the JSON text a value was parsed from shows that none of its strings holds a secret: True when
    the text holds no form of one, False when it does; None when the text cannot tell.

    Parsing changes a string only where the text escapes a character. The pattern knows each character of a
    secret in its `\\u0070`-style spelling and `/` as `\\/`, and the other escapes (`\\"`, `\\\\`, `\\n`...) spell
    nothing a secret or its encodings contain; but a `\\u` escape can also spell a character of an encoding
    (the `%` of a percent-encoded key): text with one is judged on the parsed value instead.

    ASCII text with neither `%` nor a backslash, which most answers are, can spell a secret only as plain
    substrings (`PlainNeedles`), which C finds several times faster than the pattern, whose answer it gives.
    """
    if json.detect_encoding(source) not in ("utf-8", "utf-8-sig"):
        return None  # UTF-16 or UTF-32 text: the pattern reads characters, not their bytes
    if plain is not None and source.isascii() and b"%" not in source and b"\\" not in source:
        return not plain.found_in(source)
    text = source.decode("utf-8", "surrogateescape")
    if "\\u" in text:
        return None
    return known.search(text) is None


class PlainNeedles:
    """What every form the pattern knows of some secrets reduces to in ASCII text without `%` or a backslash:
    the secret and its hex digits in any letter case, and its base64 cores with `-` and `_` read as `+` and
    `/` (the URL-safe alphabet). Percent-encoded and escaped forms need the characters such text lacks."""

    def __init__(self, any_case: tuple[bytes, ...], base64_cores: tuple[bytes, ...]) -> None:
        self._any_case = any_case
        self._base64_cores = base64_cores

    def found_in(self, text: bytes) -> bool:
        lowered = text.lower()
        if any(needle in lowered for needle in self._any_case):
            return True
        standard = text.translate(_URL_SAFE_TO_STANDARD)
        return any(core in standard for core in self._base64_cores)


_URL_SAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def _plain_needles(secrets: Iterable[str]) -> PlainNeedles | None:
    """The plain substrings of these secrets' forms; None when one has a form that is not plain in such text: a
    space (which may be spelled `+`), or a character beyond ASCII (whose case the pattern folds by Unicode's
    rules, where `K` also matches the Kelvin sign)."""
    any_case: list[bytes] = []
    cores: list[bytes] = []
    for secret in secrets:
        if not secret.isascii() or " " in secret:
            return None
        any_case += [secret.lower().encode(), secret.encode().hex().encode()]
        cores += [core.encode() for alignment in range(3) if (core := _base64_core(secret, alignment))]
    return PlainNeedles(tuple(any_case), tuple(cores)) if any_case else None


def _opaque(_value: object) -> None:
    # Only strings are scrubbed: anything json cannot serialise holds no text of ours to look at.
    return None


def _containers_parents_first(value: object) -> list[dict[object, object] | list[object]]:
    """Every dict and list reachable from `value`, each listed once, a parent before its children."""
    order: list[dict[object, object] | list[object]] = []
    seen: set[int] = set()
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, dict | list) and id(node) not in seen:
            seen.add(id(node))
            order.append(node)
            pending.extend(node.values() if isinstance(node, dict) else node)
    return order


def _rebuilt(
    container: dict[object, object] | list[object], known: re.Pattern[str], replaced: dict[int, object]
) -> object:
    """`container` with scrubbed strings and already-rebuilt children, or itself when nothing changed."""
    if isinstance(container, list):
        copy: list[object] | None = None
        for index, item in enumerate(container):
            cleaned = _cleaned(item, known, replaced)
            if cleaned is not item:
                copy = copy if copy is not None else list(container)
                copy[index] = cleaned
        return container if copy is None else copy
    pairs = [(_cleaned(key, known, replaced), _cleaned(item, known, replaced)) for key, item in container.items()]
    if all(
        new_key is key and new_item is item
        for (new_key, new_item), (key, item) in zip(pairs, container.items(), strict=True)
    ):
        return container
    return dict(pairs)


def _cleaned(item: object, known: re.Pattern[str], replaced: dict[int, object]) -> object:
    if isinstance(item, str):
        return known.sub(REDACTED, item) if known.search(item) else item
    return replaced.get(id(item), item)
