"""City Weather: a shared marketplace API with two releases, and this account's personal copy of release 1.

Release 2 updated `get_forecast` (each day gains `humidity`) and added `list_cities`. The copy predates it,
so `GET /dispatch/tasks/{WEATHER_COPY_TASK_ID}/updates` lists both until they are merged. Executing the
canonical with `API-Snapshot-Version: 1` serves release 1: no humidity, and no list_cities.
"""

from __future__ import annotations

from parse_mcp.sandbox.parsebot.apis import ScraperApi, ScraperEndpoint, ScraperParam
from parse_mcp.sandbox.parsebot.envelopes import JsonObject, input_format_invalid
from parse_mcp.sandbox.parsebot.execution import Call, fetch_document, require
from parse_mcp.sandbox.parsebot.json_schema import INTEGER, STRING, array_of, obj
from parse_mcp.sandbox.scenarios.weather.pages import FORECAST_DAYS
from parse_mcp.sandbox.site.dom import Element

WEATHER_CANONICAL_ID = "0c4a7e11-2f3b-4c5d-8e6f-ca7a10900001"
WEATHER_LISTING_ID = "57b88850-1c2d-4e3f-9a0b-3ea7be900001"
WEATHER_COPY_ID = "7f3c2a91-4b8e-4d2a-9c61-c0b1e5000005"
WEATHER_COPY_TASK_ID = "task-7f3c2a91-weather"
DAYS_MESSAGE = f"days must be an integer from 1 to {FORECAST_DAYS}"
CITY_MESSAGE = "city must be a city slug such as 'leeds' (list_cities lists them)"

_DAY_V1 = obj(day=INTEGER, summary=STRING, high_c=INTEGER, low_c=INTEGER)
_DAY_V2 = obj(day=INTEGER, summary=STRING, high_c=INTEGER, low_c=INTEGER, humidity=INTEGER)


def get_forecast_release_1(call: Call) -> JsonObject:
    return _forecast(call, with_humidity=False)


def get_forecast(call: Call) -> JsonObject:
    return _forecast(call, with_humidity=True)


def list_cities(call: Call) -> JsonObject:
    document = fetch_document(call, "/site/weather/")
    cities = []
    for item in document.find_all("li", cls="city"):
        link = require(item.find("a"))
        cities.append({"name": link.text(), "slug": link.attrs.get("href", "").removesuffix(".html")})
    return {"count": len(cities), "cities": cities}


def _forecast(call: Call, *, with_humidity: bool) -> JsonObject:
    city = call.params.required_text("city").strip().lower()
    if not city.isalpha():
        raise input_format_invalid(CITY_MESSAGE)
    days = call.params.integer("days", DAYS_MESSAGE)
    if days is None or not 1 <= days <= FORECAST_DAYS:
        raise input_format_invalid(DAYS_MESSAGE)
    document = fetch_document(call, f"/site/weather/{city}.html")
    rows = document.find_all("tr", cls="day")[:days]
    return {
        "city": require(document.find("h1", cls="city-name")).text(),
        "days": [_day(row, with_humidity) for row in rows],
    }


def _day(row: Element, with_humidity: bool) -> JsonObject:
    day: JsonObject = {
        "day": int(require(row.find("td", cls="day-number")).text()),
        "summary": require(row.find("td", cls="summary")).text(),
        "high_c": int(require(row.find("td", cls="high")).text()),
        "low_c": int(require(row.find("td", cls="low")).text()),
    }
    if with_humidity:
        day["humidity"] = int(require(row.find("td", cls="humidity")).text().rstrip("%"))
    return day


_FORECAST_PARAMS = {
    "city": ScraperParam("string", "The city's slug, e.g. 'leeds', 'lisbon', 'denver', 'osaka' or 'nairobi'.", True),
    "days": ScraperParam("integer", f"How many days to return, 1 to {FORECAST_DAYS}.", default=3),
}
_FORECAST_SAMPLE = {"city": "leeds", "days": 3}
_NOT_FOUND = "An unknown city fails with 502 upstream_error, upstream_status_code 404."

FORECAST_RELEASE_1 = ScraperEndpoint(
    name="get_forecast",
    method="GET",
    description=f"A city's forecast, day by day: summary, high and low in °C. {_NOT_FOUND}",
    handler=get_forecast_release_1,
    params=_FORECAST_PARAMS,
    return_schema=obj(city=STRING, days=array_of(_DAY_V1)),
    sample_params=_FORECAST_SAMPLE,
)
FORECAST_RELEASE_2 = ScraperEndpoint(
    name="get_forecast",
    method="GET",
    description=f"A city's forecast, day by day: summary, high and low in °C, and humidity in %. {_NOT_FOUND}",
    handler=get_forecast,
    params=_FORECAST_PARAMS,
    return_schema=obj(city=STRING, days=array_of(_DAY_V2)),
    sample_params=_FORECAST_SAMPLE,
    release_note="Release 2: each day now also has humidity (in %).",
)
LIST_CITIES = ScraperEndpoint(
    name="list_cities",
    method="GET",
    description="Every city with a forecast: name and slug (the slug is get_forecast's city).",
    handler=list_cities,
    return_schema=obj(count=INTEGER, cities=array_of(obj(name=STRING, slug=STRING))),
    release_note="Release 2: new endpoint listing the cities get_forecast knows.",
)

_DESCRIPTION = (
    "Five-day forecasts for the cities on the sandbox's weather pages (/site/weather/). A shared marketplace "
    "API with two releases: release 2 added list_cities and humidity in get_forecast; pin release 1 with "
    "API-Snapshot-Version: 1."
)

WEATHER_CANONICAL = ScraperApi(
    id=WEATHER_CANONICAL_ID,
    slug="city-weather-sandbox",
    name="City Weather (sandbox)",
    description=_DESCRIPTION,
    site_path="/site/weather/",
    task_id="",
    task="",
    endpoints=(FORECAST_RELEASE_2, LIST_CITIES),
    versions=(1, 2),
    releases={1: (FORECAST_RELEASE_1,)},
    marketplace_id=WEATHER_LISTING_ID,
)

WEATHER_COPY = ScraperApi(
    id=WEATHER_COPY_ID,
    slug="city-weather-sandbox-copy",
    name="City Weather (sandbox)",
    description=(
        "This account's personal copy of the City Weather marketplace API, made at release 1 and behind the "
        f"canonical: GET /dispatch/tasks/{WEATHER_COPY_TASK_ID}/updates lists list_cities (new) and "
        "get_forecast (updated); preview-update runs the canonical's version, merge-updates brings them here."
    ),
    site_path="/site/weather/",
    task_id=WEATHER_COPY_TASK_ID,
    task="five-day forecasts by city",
    endpoints=(FORECAST_RELEASE_1,),
    versions=(1,),
    marketplace_id=WEATHER_LISTING_ID,
)
