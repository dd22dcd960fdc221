from __future__ import annotations

import re
from pathlib import Path

import httpx2
import pytest

import parse_mcp.sandbox
from parse_mcp.sandbox import ManualClock, create_app, running_sandbox
from tests.sandbox.support import KEY, books, sandbox_client

pytestmark = pytest.mark.anyio


async def test_the_sandbox_serves_on_a_free_loopback_port_and_stops_when_the_block_ends() -> None:
    async with running_sandbox(create_app(clock=ManualClock())) as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:[0-9]+", url)
        async with httpx2.AsyncClient(timeout=5.0) as client:
            assert (await client.get(f"{url}/site/")).status_code == 200
    async with httpx2.AsyncClient(timeout=5.0) as client:
        with pytest.raises(httpx2.ConnectError):
            await client.get(f"{url}/site/")


async def test_the_sandbox_stops_cleanly_when_the_code_using_it_fails() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with running_sandbox(create_app(clock=ManualClock())) as url:
            raise RuntimeError("boom")
    async with httpx2.AsyncClient(timeout=5.0) as client:
        with pytest.raises(httpx2.ConnectError):
            await client.get(f"{url}/site/")


async def test_the_sandbox_writes_nothing_to_stdout(capfd: pytest.CaptureFixture[str]) -> None:
    async with sandbox_client() as client:
        await client.get(books("list_books"))
        await client.get("/no/such/path")
        await client.post(books("list_books"))
    assert capfd.readouterr().out == ""


async def test_each_app_has_its_own_budget_and_request_ids() -> None:
    async with sandbox_client() as first, sandbox_client() as second:
        await first.get(books("list_books"))
        reply = await second.get(books("list_books"))
    assert reply.headers["X-RateLimit-Remaining"] == "29"
    assert reply.headers["X-Credits-Remaining"] == "9999"
    assert reply.headers["X-Railway-Request-Id"] == "sbx-req-00000001"


async def test_a_sandbox_without_a_clock_runs_on_the_wall_clock() -> None:
    async with (
        running_sandbox(create_app()) as url,
        httpx2.AsyncClient(base_url=url, headers=KEY, timeout=5.0) as client,
    ):
        reply = await client.get(books("list_books"))
    assert reply.status_code == 200
    assert 0 < int(reply.headers["X-RateLimit-Daily-Reset"]) <= 86_400


def test_the_sandbox_package_never_imports_an_http_client() -> None:
    package = Path(parse_mcp.sandbox.__file__).parent
    for source in package.rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+httpx", source.read_text(), re.MULTILINE), source.name


def test_the_sandbox_imports_nothing_from_the_client_it_stands_in_for() -> None:
    # The sandbox emulates the services parse_mcp calls; sharing code with parse_mcp would hide its bugs.
    package = Path(parse_mcp.sandbox.__file__).parent
    outside = re.compile(r"^\s*(?:from|import)\s+parse_mcp(?!\.sandbox\b)[.\w]*", re.MULTILINE)
    sources = list(package.rglob("*.py"))
    assert len(sources) > 40
    for source in sources:
        assert not outside.search(source.read_text()), source.relative_to(package)


async def test_the_base_url_says_what_the_sandbox_is_and_how_to_call_each_service() -> None:
    async with running_sandbox(create_app()) as url, httpx2.AsyncClient(base_url=url) as client:
        about = (await client.get("/")).json()
        assert "stand-in for Parse.bot and the ScraperAPI AI Parser" in about["sandbox"]
        parsebot, aiparser = about["services"]["parsebot"], about["services"]["aiparser"]
        # The first calls it names work, with the keys it names.
        schemas = await client.get("/sdk/schemas", headers={"X-API-Key": parsebot["key"]})
        parsers = await client.get("/parsers", params={"api_key": aiparser["key"]})
    assert parsebot["base_url"] == aiparser["base_url"] == url
    assert schemas.status_code == 200
    assert parsers.status_code == 200
    assert about["site"] == f"{url}/site/"
