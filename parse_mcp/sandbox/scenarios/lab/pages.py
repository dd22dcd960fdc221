"""The Failure Lab's target site: pages that answer any status, a flight search, and job postings.

Every URL that appears in a Failure Lab error envelope is one of these pages, so a person can open it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from html import escape
from http import HTTPStatus

from parse_mcp.sandbox.site.page import SitePage, html_page

TRIP_TYPES = ("one_way", "round_trip")
GONE_JOB_PREFIX = "gone-"

_STATUS = re.compile(r"/site/lab/status/([0-9]{3})")
_JOB = re.compile(r"/site/lab/jobs/([^/]+)")
_AIRLINE_CODES = ("SB", "PX", "LB")
_JOB_TITLES = ("Data Engineer", "Support Specialist", "Product Designer", "Warehouse Lead", "Nurse Practitioner")
_COMPANIES = ("Acme Freight", "Northwind Health", "Globex Retail", "Initech Labs")
_CITIES = ("Leeds", "Lisbon", "Denver", "Osaka", "Nairobi")


def status_phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown Status"


def render(path: str, query: Mapping[str, str]) -> SitePage:
    if path == "/site/lab/":
        return _index()
    if status := _STATUS.fullmatch(path):
        return _status_page(int(status.group(1)))
    if path == "/site/lab/flights/search":
        return _flight_search(query)
    if path == "/site/lab/redesigned.html":
        return _redesigned()
    if job := _JOB.fullmatch(path):
        return _job(job.group(1))
    return SitePage(
        404, html_page("404 Not Found", f"<h1>Page not found</h1><p>There is no page at {escape(path)}.</p>")
    )


def _index() -> SitePage:
    body = (
        "<h1>Failure Lab target site</h1>"
        "<p>Pages the Failure Lab (sandbox) scrapers read:</p><ul>"
        '<li><a href="status/503">status/{code}</a>: answers with that HTTP status</li>'
        '<li><a href="flights/search?origin=LHR&amp;destination=JFK&amp;trip_type=one_way">flights/search</a></li>'
        '<li><a href="jobs/job-42">jobs/{job_id}</a>: ids starting with gone- were removed (410)</li>'
        '<li><a href="redesigned.html">redesigned.html</a>: a page whose layout changed</li></ul>'
    )
    return SitePage(200, html_page("Failure Lab", body))


def _status_page(code: int) -> SitePage:
    if code < 200 or 300 <= code < 400 or code > 599:
        return SitePage(404, html_page("404 Not Found", f"<h1>Page not found</h1><p>No status page for {code}.</p>"))
    title = f"{code} {status_phrase(code)}"
    body = f"<h1>{title}</h1><p>The target site answered HTTP {code} because the Failure Lab asked it to.</p>"
    return SitePage(code, html_page(title, body))


def _flight_search(query: Mapping[str, str]) -> SitePage:
    origin, destination = query.get("origin", ""), query.get("destination", "")
    trip_type, date = query.get("trip_type", ""), query.get("date", "")
    if not origin or not destination:
        return _bad_request("origin and destination are required")
    if trip_type not in TRIP_TYPES:
        return _bad_request("trip_type must be 'one_way' or 'round_trip'")
    rows = "".join(_flight_row(origin, destination, date, trip_type, n) for n in range(3))
    body = (
        f"<h1>Flights from {escape(origin)} to {escape(destination)}</h1>"
        f'<table class="flights"><tr><th>Flight</th><th>Departs</th><th>Arrives</th><th>Price</th></tr>{rows}</table>'
    )
    return SitePage(200, html_page("Flight search", body))


def _flight_row(origin: str, destination: str, date: str, trip_type: str, n: int) -> str:
    # crc32 rather than hash(): the same search must list the same flights in every process.
    seed = zlib.crc32(f"{origin}|{destination}|{date}|{n}".encode())
    departs = 6 * 60 + n * 240 + seed % 60
    arrives = departs + 90 + seed % 180
    fare = 79 + seed % 400
    price = fare * 2 - 20 if trip_type == "round_trip" else fare
    return (
        '<tr class="flight">'
        f'<td class="flight-number">{_AIRLINE_CODES[n]}{100 + seed % 900}</td>'
        f'<td class="departs">{_clock_time(departs)}</td><td class="arrives">{_clock_time(arrives)}</td>'
        f'<td class="price">${price}.00</td></tr>'
    )


def _clock_time(minutes: int) -> str:
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def _bad_request(message: str) -> SitePage:
    body = f'<h1>400 Bad Request</h1><p class="error">{escape(message)}</p>'
    return SitePage(400, html_page("400 Bad Request", body))


def _job(job_id: str) -> SitePage:
    if job_id.startswith(GONE_JOB_PREFIX):
        body = f"<h1>410 Gone</h1><p>Job posting {escape(job_id)} was removed by the employer.</p>"
        return SitePage(410, html_page("410 Gone", body))
    seed = zlib.crc32(job_id.encode())
    body = (
        '<article class="job">'
        f'<h1 class="job-title">{_JOB_TITLES[seed % len(_JOB_TITLES)]}</h1>'
        f'<p class="company">{_COMPANIES[seed % len(_COMPANIES)]}</p>'
        f'<p class="location">{_CITIES[seed % len(_CITIES)]}</p>'
        f'<p class="job-id">{escape(job_id)}</p></article>'
    )
    return SitePage(200, html_page("Job posting", body))


def _redesigned() -> SitePage:
    # The prices moved from a table into cards; a scraper written for the table finds nothing to read.
    body = '<h1>Prices</h1><div class="cards"><div class="card">Basic: $10</div><div class="card">Pro: $30</div></div>'
    return SitePage(200, html_page("Prices (new design)", body))
