"""The weather pages of the target site, under /site/weather/: a city index and a 5-day forecast per city.

The City Weather marketplace API reads them; its releases differ in what they read from the same page.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from html import escape

from parse_mcp.sandbox.site.page import SitePage, html_page

FORECAST_DAYS = 5
CITIES: Mapping[str, str] = {
    "leeds": "Leeds",
    "lisbon": "Lisbon",
    "denver": "Denver",
    "osaka": "Osaka",
    "nairobi": "Nairobi",
}
_SUMMARIES = ("Sunny", "Partly cloudy", "Cloudy", "Light rain", "Showers", "Windy")
_CITY = re.compile(r"/site/weather/([a-z]+)\.html")


def render(path: str, _query: Mapping[str, str]) -> SitePage:
    if path == "/site/weather/":
        return _index()
    if city := _CITY.fullmatch(path):
        return _forecast(city.group(1))
    return _not_found(f"There is no page at {escape(path)}.")


def _index() -> SitePage:
    items = "".join(f'<li class="city"><a href="{slug}.html">{name}</a></li>' for slug, name in CITIES.items())
    body = f'<h1>City Weather (sandbox)</h1><p>Five-day forecasts.</p><ul class="cities">{items}</ul>'
    return SitePage(200, html_page("City Weather", body))


def _forecast(slug: str) -> SitePage:
    name = CITIES.get(slug)
    if name is None:
        return _not_found(f"No forecast for a city called {escape(slug)}.")
    rows = "".join(_day_row(slug, day) for day in range(1, FORECAST_DAYS + 1))
    body = (
        f'<h1 class="city-name">{name}</h1>'
        '<table class="forecast"><tr><th>Day</th><th>Summary</th><th>High (°C)</th><th>Low (°C)</th>'
        f"<th>Humidity</th></tr>{rows}</table>"
    )
    return SitePage(200, html_page(f"{name} forecast", body))


def _day_row(slug: str, day: int) -> str:
    # crc32 rather than hash(): the same city must show the same forecast in every process.
    seed = zlib.crc32(f"{slug}|{day}".encode())
    high = 8 + seed % 22
    low = high - 4 - seed % 7
    return (
        '<tr class="day">'
        f'<td class="day-number">{day}</td><td class="summary">{_SUMMARIES[seed % len(_SUMMARIES)]}</td>'
        f'<td class="high">{high}</td><td class="low">{low}</td><td class="humidity">{30 + seed % 60}%</td></tr>'
    )


def _not_found(detail: str) -> SitePage:
    body = f'<h1>Page not found</h1><p>{detail}</p><p><a href="/site/weather/">All cities</a></p>'
    return SitePage(404, html_page("404 Not Found", body))
