"""The hostile upstream does what other tests rely on: it records raw requests and misbehaves on demand."""

from __future__ import annotations

import base64
import json
import time

import anyio
import httpx2
import pytest

from tests.hostile_upstream import (
    STALL,
    Answer,
    echo_key,
    hostile_upstream,
    json_answer,
    key_forms,
    nested_json,
)

pytestmark = pytest.mark.anyio


async def _raw_exchange(url: str, request: bytes) -> bytes:
    """Send bytes as they are (no client normalises them) and read until the server closes."""
    host, port = url.removeprefix("http://").split(":")
    async with await anyio.connect_tcp(host, int(port)) as stream:
        await stream.send(request)
        received = b""
        with anyio.fail_after(5):
            while True:
                try:
                    received += await stream.receive()
                except anyio.EndOfStream:
                    return received


async def test_it_records_the_raw_request_line_target_headers_and_body() -> None:
    async with hostile_upstream() as upstream:
        request = b"POST /a/../b/%2e?api_key=k HTTP/1.1\r\nHost: x\r\nX-Odd: 1\r\nContent-Length: 2\r\n"
        await _raw_exchange(upstream.url, request + b"Connection: close\r\n\r\nhi")

    [seen] = upstream.seen
    assert seen.request_line == "POST /a/../b/%2e?api_key=k HTTP/1.1"
    assert (seen.method, seen.target, seen.path, seen.query) == (
        "POST",
        "/a/../b/%2e?api_key=k",
        "/a/../b/%2e",
        "api_key=k",
    )
    assert seen.header("x-odd") == "1"
    assert seen.body == b"hi"
    assert seen.key == "k"


async def test_the_longest_matching_prefix_answers_and_anything_else_is_a_404() -> None:
    plans = {"/a": json_answer({"which": "a"}), "/a/b": json_answer({"which": "a/b"}, status=201)}
    async with hostile_upstream(plans) as upstream, httpx2.AsyncClient(base_url=upstream.url) as client:
        nested = await client.get("/a/b/c")
        short = await client.get("/a/x")
        other = await client.get("/z")

    assert (nested.status_code, nested.json()) == (201, {"which": "a/b"})
    assert (short.status_code, short.json()) == (200, {"which": "a"})
    assert (other.status_code, other.json()) == (404, {"detail": "Not Found"})
    assert upstream.paths() == ["/a/b/c", "/a/x", "/z"]


async def test_hostile_headers_are_sent_exactly_as_planned() -> None:
    headers = (("Retry-After", "999999999"), ("X-RateLimit-Refill-Per-Min", "0.000001"), ("X-Request-Id", "pmx_k"))
    async with (
        hostile_upstream({"/": Answer(429, headers, b"{}")}) as upstream,
        httpx2.AsyncClient(base_url=upstream.url) as client,
    ):
        response = await client.get("/x")

    assert response.status_code == 429
    assert [(name, response.headers[name]) for name, _ in headers] == list(headers)


async def test_a_stalled_answer_never_comes() -> None:
    async with (
        hostile_upstream({"/": STALL}) as upstream,
        httpx2.AsyncClient(base_url=upstream.url, timeout=httpx2.Timeout(5, read=0.2)) as client,
    ):
        with pytest.raises(httpx2.ReadTimeout):
            await client.get("/slow")

    assert upstream.paths() == ["/slow"]


async def test_a_trickled_body_arrives_whole_one_byte_at_a_time_in_real_time() -> None:
    interval = 0.02
    async with (
        hostile_upstream({"/": Answer(body=b"abcde", trickle_seconds=interval)}) as upstream,
        httpx2.AsyncClient(base_url=upstream.url) as client,
    ):
        started = time.monotonic()
        async with client.stream("GET", "/t") as response:
            chunks = [chunk async for chunk in response.aiter_raw()]
        elapsed = time.monotonic() - started

    assert b"".join(chunks) == b"abcde"
    assert len(chunks) == 5
    assert elapsed >= 5 * interval


async def test_a_reset_cuts_the_answer_off_mid_body() -> None:
    answer = Answer(body=b"x" * 1000, reset_after_bytes=10)
    async with hostile_upstream({"/": answer}) as upstream, httpx2.AsyncClient(base_url=upstream.url) as client:
        with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
            await client.get("/r")


async def test_a_deeply_nested_document_is_valid_json() -> None:
    assert json.loads(nested_json(50)) == json.loads("[" * 50 + "0" + "]" * 50)
    assert len(nested_json(900)) == 1801


async def test_the_key_is_echoed_in_the_form_asked_in_body_and_headers() -> None:
    key = "pmx_secret"
    plan = echo_key("base64", '{"error": "bad key {key}"}', status=401, headers=(("X-Request-Id", "req-{key}"),))
    async with hostile_upstream({"/": plan}) as upstream, httpx2.AsyncClient(base_url=upstream.url) as client:
        response = await client.get("/k", headers={"X-API-Key": key})

    encoded = base64.b64encode(key.encode()).decode()
    assert response.status_code == 401
    assert response.json() == {"error": f"bad key {encoded}"}
    assert response.headers["x-request-id"] == f"req-{encoded}"


async def test_every_key_form_differs_from_the_plain_key() -> None:
    forms = key_forms("pmx_Secret")
    others = {form: text for form, text in forms.items() if form != "plain"}
    assert forms["plain"] == "pmx_Secret"
    assert "pmx_Secret" not in others.values()
    assert forms["json_escaped"].startswith("\\u0070")
    assert json.loads(f'"{forms["json_escaped"]}"') == "pmx_Secret"


async def test_it_stops_by_itself_when_its_lifetime_runs_out() -> None:
    async with hostile_upstream(lifetime_seconds=0.1) as upstream:
        with anyio.fail_after(5):
            await upstream.stopped.wait()
        async with httpx2.AsyncClient(base_url=upstream.url) as client:
            with pytest.raises(httpx2.ConnectError):
                await client.get("/late")
