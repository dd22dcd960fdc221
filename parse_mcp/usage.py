"""What was spent, shown: `parse-mcp usage` (a table with a bar a day, or JSON for scripts) and the
`parse://usage/today` resource's picture. Pure: days and standings in, text or JSON-ready objects out.

The JSON shape of `parse-mcp usage --json` (version 1; fields are only ever added):

    {"version": 1, "days_asked": 7, "ledger": "sqlite" | "redis" | "none",
     "total": {"calls": int, "credits": int, "by_service": {"parsebot": int, "scraperapi": int}},
     "days": [                                          # oldest first, today last, every day even when empty
       {"day": "YYYY-MM-DD", "calls": int, "credits": int,
        "by_service": {"parsebot": int, "scraperapi": int},
        "by_endpoint": [{"service": str, "api": str, "endpoint": str, "credits": int}],   # most credits first
        "by_client": {client: int}, "by_tool": {tool: int},
        "failures": {error_code: calls}}]}

`credits` adds both services' credits together (each service counts its own kind; `by_service` keeps them apart).
Every name a third party wrote (an API's id, an endpoint's name) reaches a terminal with its invisible and control
characters escaped: as JSON \\u escapes (the same text once parsed; write the JSON with `voice.printable_json`),
and in the table as the same escapes, shown.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal

from parse_mcp.state.ledger import DayUsage, Today

JSON_VERSION: Final = 1
SERVICES: Final = ("parsebot", "scraperapi")
SERVICE_NAMES: Final = {"parsebot": "Parse.bot", "scraperapi": "ScraperAPI"}
LedgerKind = Literal["sqlite", "redis", "none"]

BAR_WIDTH: Final = 20
_EIGHTHS: Final = " ▏▎▍▌▋▊▉"
_FULL: Final = "█"
_NAME_CHARS: Final = 48  # a name longer than this is cut in the table (never in the JSON)
_TOP: Final = 10  # the table lists this many endpoints, clients and tools; the JSON lists them all


# -- JSON ------------------------------------------------------------------------------------------------------


def usage_json(days: Sequence[DayUsage], *, ledger: LedgerKind) -> dict[str, Any]:
    """The stable shape above."""
    return {
        "version": JSON_VERSION,
        "days_asked": len(days),
        "ledger": ledger,
        "total": {
            "calls": sum(day.calls for day in days),
            "credits": sum(day.credits for day in days),
            "by_service": _services(_summed(day.by_service for day in days)),
        },
        "days": [_day_json(day) for day in days],
    }


def _day_json(day: DayUsage) -> dict[str, Any]:
    return {
        "day": day.day,
        "calls": day.calls,
        "credits": day.credits,
        "by_service": _services(day.by_service),
        "by_endpoint": [
            {"service": service, "api": api, "endpoint": endpoint, "credits": credits}
            for (service, api, endpoint), credits in _ranked(day.by_endpoint)
        ],
        "by_client": dict(_ranked(day.by_client)),
        "by_tool": {tool or "(none)": credits for tool, credits in _ranked(day.by_tool)},
        "failures": dict(_ranked(day.failures)),
    }


def today_json(today: Today, usage: DayUsage, client: str) -> dict[str, Any]:
    """The `parse://usage/today` picture for one client: the day's spend by service and by endpoint, this client's
    own spend beside the account's total (never another client's name), what is left under each limit set, and
    the seconds until the limits reset at UTC midnight."""
    return {
        "day": today.day,
        "seconds_to_midnight": int(today.seconds_to_midnight),
        "by_service": _services(today.spent),
        "by_endpoint": [
            {"service": service, "api": api, "endpoint": endpoint, "credits": credits}
            for (service, api, endpoint), credits in _ranked(usage.by_endpoint)
        ],
        "by_client": {"this_client": usage.by_client.get(client, 0), "all_clients": usage.credits},
        "failures": dict(_ranked(usage.failures)),
        "limits": [
            {
                "limit": standing.limit,
                "variable": standing.variable,
                "credits_a_day": standing.limit_credits,
                "spent": standing.spent,
                "reserved": standing.reserved,
                "left": standing.left,
            }
            for standing in today.standings
        ],
    }


# -- the table ---------------------------------------------------------------------------------------------------


def usage_text(days: Sequence[DayUsage], *, source: str, unicode: bool = True) -> str:
    """The table a person reads: a line a day with a bar per service used (so a spike is seen before it is
    read), then the window's spend by service, API and endpoint, client and tool, and failures by code.
    `unicode=False` draws the bars with `#` for a terminal that cannot show block characters."""
    services = [s for s in SERVICES if any(day.by_service.get(s, 0) for day in days)] or ["parsebot"]
    peaks = {s: max(day.by_service.get(s, 0) for day in days) for s in services}
    lines = [f"Credits spent in the last {len(days)} UTC day{'s' if len(days) != 1 else ''} ({source})", ""]
    header = "day       " + "".join(f"  {SERVICE_NAMES[s]:<{BAR_WIDTH + 9}}" for s in services) + "  calls  failed"
    lines.append(header.rstrip())
    for day in days:
        cells = ""
        for service in services:
            credits = day.by_service.get(service, 0)
            cells += f"  {bar(credits, peaks[service], unicode=unicode):<{BAR_WIDTH}} {credits:>8,}"
        lines.append(f"{day.day}{cells}  {day.calls:>5,}  {sum(day.failures.values()):>6,}")
    total_calls = sum(day.calls for day in days)
    if not total_calls:
        lines += ["", "Nothing was spent in these days."]
        return "\n".join(lines) + "\n"
    by_service = _summed(day.by_service for day in days)
    lines += ["", "By service:"]
    lines += [f"  {SERVICE_NAMES.get(s, s):<12} {by_service.get(s, 0):>10,}" for s in SERVICES if s in by_service]
    by_endpoint = _summed(day.by_endpoint for day in days)
    lines += ["", "By API and endpoint:"]
    shown = [
        (SERVICE_NAMES.get(service, service), f"{_shown(api)}  {_shown(endpoint)}", credits)
        for (service, api, endpoint), credits in _ranked(by_endpoint)[:_TOP]
    ]
    width = max(len(name) for _, name, _ in shown)
    lines += [f"  {service:<12} {name:<{width}} {credits:>10,}" for service, name, credits in shown]
    lines += _more(len(by_endpoint))
    for title, totals in (
        ("By client:", _summed(day.by_client for day in days)),
        ("By tool:", _summed(day.by_tool for day in days)),
    ):
        lines += ["", title]
        lines += [
            f"  {_shown(name or '(none)'):<{_NAME_CHARS}} {credits:>10,}" for name, credits in _ranked(totals)[:_TOP]
        ]
        lines += _more(len(totals))
    failures = _summed(day.failures for day in days)
    lines += ["", "Failures by code (paid calls that failed):"]
    if failures:
        lines += [f"  {_shown(code):<{_NAME_CHARS}} {calls:>10,}" for code, calls in _ranked(failures)]
    else:
        lines.append("  none")
    return "\n".join(lines) + "\n"


def bar(value: int, peak: int, *, unicode: bool = True, width: int = BAR_WIDTH) -> str:
    """`value` as a bar `width` characters long at `peak`, in eighths of a character; a value above zero always
    shows (one eighth at least), zero shows nothing."""
    if value <= 0 or peak <= 0:
        return ""
    eighths = max(1, round(min(value, peak) / peak * width * 8))
    if not unicode:
        return "#" * max(1, round(eighths / 8))
    full, rest = divmod(eighths, 8)
    return _FULL * full + (_EIGHTHS[rest] if rest else "")


# -- shared ------------------------------------------------------------------------------------------------------


def _services(totals: Mapping[Any, int]) -> dict[str, int]:
    return {service: totals.get(service, 0) for service in SERVICES}


def _summed(parts: Iterable[Mapping[Any, int]]) -> dict[Any, int]:
    totals: dict[Any, int] = {}
    for part in parts:
        for key, value in part.items():
            totals[key] = totals.get(key, 0) + value
    return totals


def _ranked(totals: Mapping[Any, int]) -> list[tuple[Any, int]]:
    """Largest first, then by name: the same order on every run."""
    return sorted(totals.items(), key=lambda item: (-item[1], str(item[0])))


def _more(count: int) -> list[str]:
    return [f"  … and {count - _TOP} more (--json lists them all)"] if count > _TOP else []


def _clean(text: str) -> str:
    """A third party's name with every character that is not printable written as its \\u escape."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


def _shown(text: str) -> str:
    """A name for the table: escaped like `_clean`, and cut to fit its column."""
    cleaned = _clean(unicodedata.normalize("NFC", text))
    return cleaned if len(cleaned) <= _NAME_CHARS else cleaned[: _NAME_CHARS - 1] + "…"
