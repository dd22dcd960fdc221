"""Transport faults a real server cannot produce on demand, through httpx2.MockTransport."""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import anyio
import anyio.lowlevel
import httpx2
import pytest
import uvicorn

from parse_mcp.errors import ErrorRecord, TransportFailure, UpstreamFailure
from parse_mcp.guidance.classify import Purpose, classify_parsebot
from parse_mcp.runtime import Runtime
from parse_mcp.services.http import KEEPALIVE_SECONDS, HttpClient, Request


def classify(purpose: Purpose, status: int, headers: Mapping[str, str], body: bytes, now: float) -> ErrorRecord:
    return classify_parsebot(status, headers, body, now=now, purpose=purpose)


pytestmark = pytest.mark.anyio


class Backoff:
    """Waits recorded and not slept, so a retried call costs no real time, on a clock that stands still.

    While `held`, a wait lasts until it is cancelled: calls queued for their turn stay queued."""

    def __init__(self, *, held: bool = False) -> None:
        self.slept: list[float] = []
        self.held = held

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.held:
            await anyio.sleep_forever()
        await anyio.lowlevel.checkpoint()

    @property
    def runtime(self) -> Runtime:
        return Runtime(clock=lambda: 1_800_000_000.0, sleep=self.sleep, random=lambda: 0.0)


def client_raising(exc: Exception, backoff: Backoff | None = None) -> HttpClient:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise exc

    return HttpClient(
        "https://api.example.test",
        headers={"X-API-Key": "pmx_secret_value"},
        request_timeout=1.0,
        connect_timeout=1.0,
        classify=classify,
        transport=httpx2.MockTransport(handler),
        runtime=(backoff or Backoff()).runtime,
    )


async def test_a_refused_connection_never_reached_the_service_and_is_safe_to_repeat() -> None:
    backoff = Backoff()
    client = client_raising(httpx2.ConnectError("refused"), backoff)
    with pytest.raises(TransportFailure) as caught:
        await client.send(Request("build", "POST", "/dispatch", creates_work=True))
    assert caught.value.reached is False
    assert caught.value.record.code == "network_read"
    assert backoff.slept == [0.5, 1.0], "a build that never reached the service was sent again, after backoff"
    await client.aclose()


async def test_a_timed_out_build_may_have_started_and_must_not_be_repeated() -> None:
    client = client_raising(httpx2.ReadTimeout("slow"))
    with pytest.raises(TransportFailure) as caught:
        await client.send(Request("build", "POST", "/dispatch", creates_work=True))
    assert caught.value.reached is True
    assert caught.value.record.code == "network_write"
    assert "pmx_secret_value" not in str(caught.value)
    await client.aclose()


async def test_a_timed_out_read_is_retry_later() -> None:
    client = client_raising(httpx2.ReadTimeout("slow"))
    with pytest.raises(TransportFailure) as caught:
        await client.send(Request("discover", "GET", "/sdk/schemas"))
    assert caught.value.record.code == "network_read"
    assert caught.value.record.kind == "timeout"
    await client.aclose()


async def test_a_broken_answer_counts_as_possibly_run() -> None:
    client = client_raising(httpx2.RemoteProtocolError("eof"))
    with pytest.raises(TransportFailure) as caught:
        await client.send(Request("execute", "GET", "/x"))
    assert caught.value.reached is True
    assert caught.value.record.kind == "protocol"
    await client.aclose()


async def test_an_answer_larger_than_the_cap_is_refused_without_holding_it() -> None:
    client = HttpClient(
        "https://api.example.test",
        headers={},
        request_timeout=1.0,
        connect_timeout=1.0,
        classify=classify,
        transport=httpx2.MockTransport(lambda request: httpx2.Response(200, content=b"x" * 5000)),
        max_body_bytes=1000,
    )
    with pytest.raises(UpstreamFailure) as caught:
        await client.send(Request("execute", "GET", "/x"))
    assert caught.value.record.code == "unexpected_response"
    await client.aclose()


async def test_headers_become_meta_and_the_rate_picture() -> None:
    headers = {
        "X-Credits-Charged": "1",
        "X-Credits-Remaining": "199",
        "X-RateLimit-Remaining": "29",
        "X-RateLimit-Daily-Remaining": "99",
        "X-RateLimit-Reset": "1800000012",
        "X-RateLimit-Burst": "30",
        "X-RateLimit-Refill-Per-Min": "5",
        "X-RateLimit-Daily-Reset": "3600",
        "X-Railway-Request-Id": "req-9",
    }
    client = HttpClient(
        "https://api.example.test",
        headers={},
        request_timeout=1.0,
        connect_timeout=1.0,
        classify=classify,
        transport=httpx2.MockTransport(lambda request: httpx2.Response(200, json={}, headers=headers)),
        runtime=Runtime(clock=lambda: 1_800_000_000.0),
    )
    reply = await client.send(Request("execute", "GET", "/x"))
    assert reply.meta.model_dump() == {
        "credits_charged": 1,
        "credits_remaining": 199,
        "rate_limit_remaining": 29,
        "daily_remaining": 99,
        "request_id": "req-9",
        "attempts": 1,
        "waited_seconds": 0.0,
    }
    assert reply.rate is not None
    assert (reply.rate.burst, reply.rate.refill_per_minute, reply.rate.daily_reset_in) == (30, 5, 3600.0)
    await client.aclose()


async def test_calls_cancelled_while_they_wait_their_turn_give_their_tokens_back() -> None:
    # One token a second, none left: each queued call waits a second longer than the one before it.
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Burst": "1", "X-RateLimit-Refill-Per-Min": "60"}
    backoff = Backoff(held=True)
    client = HttpClient(
        "https://api.example.test",
        headers={},
        request_timeout=1.0,
        connect_timeout=1.0,
        classify=classify,
        transport=httpx2.MockTransport(lambda request: httpx2.Response(200, json={}, headers=headers)),
        runtime=backoff.runtime,
    )
    paced = Request("execute", "GET", "/x", paced=True)
    await client.send(paced)
    with anyio.move_on_after(5) as scope:
        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(client.send, paced)
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
    assert len(backoff.slept) == 10
    assert max(backoff.slept) > 10, "the ten calls were queued a second apart"
    backoff.held = False
    with anyio.fail_after(5):
        fresh = await client.send(paced)
    assert fresh.meta.waited_seconds is not None
    assert fresh.meta.waited_seconds <= 1.1, "the ten cancelled calls' reservations were given back"
    await client.aclose()


def test_an_idle_connection_is_let_go_before_a_server_with_uvicorns_keep_alive_may_close_it() -> None:
    # The sandbox is served by uvicorn with its default: a connection reused at the moment it closes it fails.
    # (Read from the signature: building a `uvicorn.Config` would install uvicorn's logging in this process.)
    uvicorns = inspect.signature(uvicorn.Config).parameters["timeout_keep_alive"].default
    assert uvicorns > KEEPALIVE_SECONDS
