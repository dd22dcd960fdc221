"""Ids and names in request paths: each is exactly one segment, or it is refused before anything is sent.

A caller's id is text from an agent that may have read a hostile page. Percent-encoding it is not enough:
`.` and `..` are unreserved, so they pass the encoding untouched, and the HTTP client (like every URL
normaliser) then collapses them, sending the request, with the key, to another path. Servers and proxies
also decode percent-escapes (`%2e%2e`, `%2f`), treat `\\` as `/`, or fold compatibility characters
(U+2024 ONE DOT LEADER is NFKC for `.`), so each of those readings is checked too.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote, unquote

from parse_mcp.errors import RejectedLocally
from parse_mcp.guidance import refusals

# Longer than any real id or endpoint name (the tools cap them at 200), short enough that the encoded
# path stays far below the 8 KB request-line limit of common servers.
MAX_SEGMENT_CHARS = 256
# How many rounds of percent-decoding are checked: a server, then a proxy in front of it, then an
# application framework may each decode once.
_DECODING_ROUNDS = 3
_SEPARATORS = frozenset("/\\")
# Control characters (Cc), unpaired surrogates (Cs, which cannot even be encoded as UTF-8), format
# characters such as zero-width and bidi marks (Cf), and line or paragraph separators (Zl, Zp): URL
# parsers strip or reject these, and no id contains one.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Cf", "Zl", "Zp"})


def path_segment(value: str, argument: str) -> str:
    """`value` percent-encoded as exactly one path segment; refused (`RejectedLocally`, `invalid_arguments`
    with `fields=(argument,)`) when some reader of the URL could take it for another path.

    Refused:
    - the empty string, and text that is only whitespace or has whitespace around it;
    - more than `MAX_SEGMENT_CHARS` characters;
    - control, format and surrogate characters, and line or paragraph separators;
    - a value that is only dots (`.`, `..`, `...`): dot segments are removed by every URL normaliser,
      and servers on Windows drop trailing dots;
    - `/` or `\\` anywhere (the second is a separator for browsers' URL parsers and Windows servers);
    - any of the above once percent-escapes are decoded (up to three rounds: `%2e%2e`, `%252e`, `%2f`,
      `%00`), or once the text is NFKC-folded (U+2024 is `.`, U+FF0F is `/`).

    Everything else (`?`, `#`, `;`, `%`, spaces inside, any letter of any script) is sent percent-encoded,
    which every reader takes as data inside one segment.
    """
    problem = _problem(value)
    if problem is not None:
        # The value is not repeated: it may be a third party's text, and the message is said in our voice.
        message = f"{argument} is not an id: {problem}."
        raise RejectedLocally(refusals.invalid_arguments(message, argument))
    return quote(value, safe="")


def _problem(value: str) -> str | None:
    """Why `value` cannot be one path segment, in words for the agent; None when it can."""
    if not value:
        return "it is empty"
    if len(value) > MAX_SEGMENT_CHARS:
        return f"it is longer than {MAX_SEGMENT_CHARS} characters"
    if not value.strip():
        return "it is only whitespace"
    if value.strip() != value:
        return "it has whitespace around it"
    for reading in _readings(value):
        problem = _structural_problem(reading)
        if problem is not None:
            return problem
    return None


def _readings(value: str) -> list[str]:
    """The text as each reader of the URL may see it: as sent, percent-decoded, and NFKC-folded."""
    readings = [value]
    decoded = value
    for _ in range(_DECODING_ROUNDS):
        # Bytes that are not UTF-8 (`%c0%ae`, the overlong `.` old servers decoded) become surrogates,
        # which are refused, rather than replacement characters, which would hide them.
        once = unquote(decoded, errors="surrogateescape")
        if once == decoded:
            break
        readings.append(once)
        decoded = once
    return readings + [unicodedata.normalize("NFKC", reading) for reading in readings]


def _structural_problem(reading: str) -> str | None:
    categories = {unicodedata.category(char) for char in reading}
    if "Cs" in categories:
        return "it has a character that cannot be sent (an unpaired surrogate, or escapes that are not UTF-8)"
    if categories & _REFUSED_CATEGORIES:
        return "it contains a control or invisible character"
    trimmed = reading.strip()
    if not trimmed:
        return "it is only whitespace once decoded"
    # Some servers trim what they decode, so " .." counts as "..".
    if set(trimmed) == {"."}:
        return "it would change the request's path"
    if not _SEPARATORS.isdisjoint(reading):
        return "a slash or backslash would change the request's path"
    return None
