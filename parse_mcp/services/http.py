"""The shared HTTP transport: one `httpx2.AsyncClient` per service per process.

One call goes: pacing gate (wait for a token, or refuse before sending) -> send -> headers into `Meta`
and the pacer's picture -> a failure classified by the service's own classifier -> a safe retry, or
the failure raised with `meta.attempts` and `meta.waited_seconds`. It reads at most `MAX_BODY_BYTES`
of an answer and turns every transport fault into a `TransportFailure` that says whether the request
may have reached the service. Nothing it logs contains a query string, a header value or a body, so
no key can leak through it.

The pacer is reached through a `PacingStore` (`parse_mcp.state.pacing`): `MemoryPacing` keeps the picture in this
process, and `RedisPacing` one picture for every process on the account.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import anyio
import httpx2

from parse_mcp import __version__
from parse_mcp.errors import CallFailed, ErrorRecord, RejectedLocally, TransportFailure, UpstreamFailure
from parse_mcp.guidance import refusals
from parse_mcp.guidance.classify import Purpose, TransportFault, classify_transport, classify_unexpected_success
from parse_mcp.guidance.table import ROWS
from parse_mcp.meta import Meta, RateSnapshot, read_meta, read_rate
from parse_mcp.metrics import upstream_answered
from parse_mcp.policy.deadline import time_left
from parse_mcp.policy.pacing import Go, Refuse
from parse_mcp.policy.progress import announce, retrying_in, waiting_for_rate_limit
from parse_mcp.policy.retry import DEFAULT_RETRY, RetryPolicy, retry_delay
from parse_mcp.policy.size import loads_bounded
from parse_mcp.redact import Redactor
from parse_mcp.runtime import REAL_TIME, Runtime
from parse_mcp.state.pacing import MemoryPacing, PacingStore

logger = logging.getLogger(__name__)
# httpx2 logs every request's full URL at INFO, and the AI Parser key travels in the query string.
logging.getLogger("httpx2").setLevel(logging.WARNING)
logging.getLogger("httpcore2").setLevel(logging.WARNING)

# An error envelope is a few hundred bytes and an endpoint's data rarely a few megabytes; past this the
# answer is refused rather than held in memory.
MAX_BODY_BYTES = 16 * 1024 * 1024
USER_AGENT = f"parse-mcp/{__version__}"
# A wait is not worth taking if it leaves the request less than this before the call's budget runs out.
MIN_REQUEST_SECONDS = 1.0
# A connection idle this long is not used again. Servers commonly close idle ones after 5 s (uvicorn, so the
# sandbox; Node; Apache), and httpx2's own 5 s raced them: a request sent as the server closed the connection
# came back as "the connection broke" (a call's failure, retry_later), seen in throughput runs that left 4 to 5 s
# between rounds. Node's HTTP client (undici) keeps them 4 s for the same reason. The other limits: httpx2's.
KEEPALIVE_SECONDS = 4.0

Method = Literal["GET", "POST", "PATCH", "DELETE"]
NO_SECRETS = Redactor()


@dataclass(frozen=True, slots=True)
class Request:
    # What the request is for: the classifier reads it to name a failure once and for all.
    purpose: Purpose
    method: Method
    path: str
    query: Sequence[tuple[str, str]] = ()
    json_body: object = None
    has_body: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    # A request that starts paid work (a build, a revision): a timeout must not lead to a second one.
    creates_work: bool = False
    # A request that spends the rate-limit budget (and whose answer describes it): it goes through pacing.
    paced: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer as it arrived (body capped), before a service client reads it."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    meta: Meta
    rate: RateSnapshot | None
    redactor: Redactor = NO_SECRETS

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299

    def json(self) -> object:
        """The body as JSON, at any depth, without the keys this server holds; raises ValueError when it is not
        JSON. Success data is a third party's text too: a key it echoes is removed like one in an error."""
        return self.redactor.json(loads_bounded(self.body), source=self.body)


# (purpose, status, lower-case headers, body, now) -> the record of a failure: the final verdict, never revised.
Classifier = Callable[[Purpose, int, Mapping[str, str], bytes, float], ErrorRecord]


class HttpClient:
    """Sends requests to one service's base URL with that service's fixed headers."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str],
        request_timeout: float,
        connect_timeout: float,
        classify: Classifier,
        transport: httpx2.AsyncBaseTransport | None = None,
        runtime: Runtime = REAL_TIME,
        retry: RetryPolicy = DEFAULT_RETRY,
        max_body_bytes: int = MAX_BODY_BYTES,
        redactor: Redactor = NO_SECRETS,
        pacing: PacingStore | None = None,
    ) -> None:
        self._classify = classify
        self._redactor = redactor
        self._clock = runtime.clock
        self._sleep = runtime.sleep
        self._random = runtime.random
        self._retry = retry
        self._pacing: PacingStore = pacing if pacing is not None else MemoryPacing()
        self._max_body_bytes = max_body_bytes
        self._client = httpx2.AsyncClient(
            base_url=base_url,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **headers},
            timeout=httpx2.Timeout(request_timeout, connect=connect_timeout),
            transport=transport,
            limits=httpx2.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_SECONDS),
            follow_redirects=False,
            # Proxies from the environment would see the key; a user who needs one configures it explicitly.
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, request: Request) -> Reply:
        """The answer of a 2xx; any other outcome raises `CallFailed` after the retries that are safe.

        Everything here fits in the tool call's time budget (`policy.deadline`): a wait that would not
        leave time for the request is not taken, and a request still unanswered when the budget runs out
        is abandoned and reported as a timeout (which, for work-creating requests, means "it may have run").
        """
        attempts, waited = 0, 0.0
        while True:
            go = await self._take_turn(attempts, waited) if request.paced else Go(0.0)
            if go.wait > 0:
                await self._wait_holding(go, go.wait)
                waited += go.wait
            attempts += 1
            try:
                reply = await self._send_in_time(request, go)
            except CallFailed as exc:
                failure = exc
            else:
                upstream_answered(request.purpose, reply.status, go.wait)  # Prometheus, when serving HTTP
                if reply.ok:
                    return replace(reply, meta=reply.meta.with_attempts(attempts, waited))
                record = self._classify(request.purpose, reply.status, reply.headers, reply.body, self._clock())
                failure = UpstreamFailure(record, reply.meta)
                if ROWS[record.code].fault == "rate_limit":  # the service's own 429, of any limit it names
                    await self._pacing.rejected(self._clock(), record.limit_type, record.retry_after)
            delay = retry_delay(
                failure,
                repeat=ROWS[failure.record.code].repeat,
                method=request.method,
                attempt=attempts,
                waited=waited,
                policy=self._retry,
                random=self._random,
            )
            if delay is None or delay + MIN_REQUEST_SECONDS > self._time_left():
                failure.meta = failure.meta.with_attempts(attempts, waited)
                raise failure
            logger.info("%s %s: %s, retrying in %.2f s", request.method, request.path, failure.record.code, delay)
            await announce(retrying_in(delay))
            await self._sleep(delay)
            waited += delay

    async def _take_turn(self, attempts: int, waited: float) -> Go:
        """A reservation from the pacer, waiting (without spinning) while the first answer is awaited."""
        while True:
            now = self._clock()
            max_wait = min(self._retry.wait_budget_seconds - waited, self._time_left(now) - MIN_REQUEST_SECONDS)
            decision = await self._pacing.reserve(now, max(0.0, max_wait))
            if isinstance(decision, Go):
                return decision
            if isinstance(decision, Refuse):
                raise RejectedLocally(
                    refusals.held_back(decision.limit_type, decision.retry_after),
                    Meta().with_attempts(attempts, waited),
                )
            # Learn: another call (maybe in another process) is finding out the budget. Ask again once its
            # answer may have come; a stalled one stops holding us at `retry_at`, and the pacer then lets
            # this call probe in its place.
            await self._pacing.await_answer(now, decision)

    async def _wait_holding(self, go: Go, seconds: float) -> None:
        """Sleep before sending, telling a client that asked for progress; a call cancelled meanwhile gives its
        reservation back."""
        try:
            await announce(waiting_for_rate_limit(seconds))
            await self._sleep(seconds)
        except anyio.get_cancelled_exc_class():
            # Shielded: a shared store awaits, and the cancellation would otherwise stop the release too.
            with anyio.CancelScope(shield=True):
                await self._pacing.release(self._clock(), go)
            raise

    async def _send_in_time(self, request: Request, go: Go) -> Reply:
        """One request within the time left; what it teaches about the budget goes to the pacer."""
        left = self._time_left()
        answered = False
        rate: RateSnapshot | None = None
        try:
            if left <= 0:
                raise TransportFailure(_out_of_time(request, reached=False), reached=False)
            with anyio.fail_after(left):
                reply = await self._send_once(request)
            answered, rate = True, reply.rate
            return reply
        except TimeoutError:
            logger.info("%s %s: the call's time budget ran out", request.method, request.path)
            raise TransportFailure(_out_of_time(request, reached=True), reached=True) from None
        except CallFailed as exc:
            never_sent = isinstance(exc, RejectedLocally) or (isinstance(exc, TransportFailure) and not exc.reached)
            if never_sent and request.paced:
                await self._pacing.release(self._clock(), go)  # the service spent nothing on it
            raise
        finally:
            # Also on cancellation (shielded, for a shared store's awaits): a probe that will never be
            # answered must not hold the others.
            if request.paced:
                with anyio.CancelScope(shield=True):
                    await self._learn(rate, answered=answered, probe=go.probe is not None)

    def _time_left(self, now: float | None = None) -> float:
        left = time_left(self._clock() if now is None else now)
        return math.inf if left is None else left

    async def _learn(self, rate: RateSnapshot | None, *, answered: bool, probe: bool) -> None:
        # Either one wakes the calls waiting for a first answer.
        if rate is not None:
            await self._pacing.observe(rate)
        elif probe:
            await self._pacing.no_picture(answered=answered)

    async def _send_once(self, request: Request) -> Reply:
        started = time.monotonic()
        try:
            built = self._client.build_request(
                request.method,
                request.path,
                params=list(request.query) or None,
                json=request.json_body if request.has_body else None,
                headers=dict(request.headers),
            )
        except httpx2.InvalidURL:
            # httpx2 refuses a query longer than 64 KiB before sending: the arguments were too long.
            message = "The request URL would be too long: send shorter parameters."
            raise RejectedLocally(refusals.invalid_arguments(message)) from None
        try:
            response = await self._client.send(built, stream=True)
            try:
                body = await _read_capped(response, self._max_body_bytes)
            finally:
                await response.aclose()
        except httpx2.TransportError as exc:
            fault, reached = _fault_of(exc)
            logger.info("%s %s: no answer (%s)", request.method, request.path, fault)
            raise TransportFailure(
                classify_transport(fault, creates_work=request.creates_work), reached=reached
            ) from None
        headers = {key.lower(): value for key, value in response.headers.items()}
        meta = read_meta(headers, self._redactor)
        logger.debug("%s %s -> %d in %.0f ms", request.method, request.path, response.status_code, _ms_since(started))
        if body is None:
            reason = f"The answer was larger than {self._max_body_bytes} bytes."
            record = classify_unexpected_success(response.status_code, headers, reason, redactor=self._redactor)
            raise UpstreamFailure(record, meta)
        return Reply(response.status_code, headers, body, meta, read_rate(headers, now=self._clock()), self._redactor)


def _out_of_time(request: Request, *, reached: bool) -> ErrorRecord:
    """The call's budget ran out: before sending (nothing can have run), or while waiting for the answer
    (a request that creates work may have started it)."""
    return classify_transport("deadline", creates_work=request.creates_work and reached)


async def _read_capped(response: httpx2.Response, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _fault_of(exc: httpx2.TransportError) -> tuple[TransportFault, bool]:
    """Which fault, and whether the request may have reached the service."""
    if isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.PoolTimeout | httpx2.ProxyError):
        return "connect", False
    if isinstance(exc, httpx2.TimeoutException):
        return "timeout", True
    return "protocol", True


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000
