"""What operators watch: Prometheus metrics at /metrics behind the bearer token when serving HTTP, the outcome of
each tool call on the SDK's OpenTelemetry span, and no cost to stdio serving (prometheus_client never loaded).

Real uvicorn serving the real app, a real MCP client over streamable HTTP, the sandbox behind it; the spans are
read with the OpenTelemetry SDK's own in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2
import mcp.shared._otel
import pytest
from mcp import Client
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from parse_mcp import metrics
from parse_mcp.sandbox import FAILURE_LAB_ID
from tests.conftest import Sandbox
from tests.test_http_security import bearer, mcp_client, serving
from tests.test_imports import _modules_serving_stdio
from tests.tools.test_isolation import TOKENS, security

ITEMS = {"scraper_id": FAILURE_LAB_ID, "endpoint": "list_items", "params": {"count": 2}}
BURST = {"scraper_id": FAILURE_LAB_ID, "endpoint": "burst_limit", "params": {}}
BROKEN = {"scraper_id": FAILURE_LAB_ID, "endpoint": "scraper_bug", "params": {}}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(page: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def scrape(url: str, token: str) -> Samples:
    async with httpx2.AsyncClient() as http:
        answer = await http.get(f"{url}/metrics", headers=bearer(token))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return samples(answer.text)


@pytest.mark.anyio
async def test_metrics_need_the_token_and_count_calls_requests_429s_credits_and_refusals(sandbox: Sandbox) -> None:
    server = sandbox.server(replace(sandbox.settings(), daily_credits=6))
    async with serving(security(TOKENS[0]), server) as url:
        async with httpx2.AsyncClient() as http:
            refused = await http.get(f"{url}/metrics")
            wrong = await http.get(f"{url}/metrics", headers=bearer(TOKENS[1]))
            healthy = await http.get(f"{url}/healthz")
        before = await scrape(url, TOKENS[0])
        async with mcp_client(url, "auto", bearer(TOKENS[0])) as client:
            limited = await client.call_tool("execute_endpoint", BURST)
            results = [await client.call_tool("execute_endpoint", ITEMS) for _ in range(3)]
            await client.call_tool("no_such_tool", {})
        after = await scrape(url, TOKENS[0])
    assert refused.status_code == 401
    assert wrong.status_code == 401
    assert healthy.status_code == 200, "/healthz stays the one path without a token"
    assert limited.is_error is True
    assert [r.is_error for r in results] == [False, False, True]
    assert results[2].structured_content is not None
    assert results[2].structured_content["error"]["code"] == "spend_limit_reached"
    code = limited.structured_content["error"]["code"] if limited.structured_content else None
    assert grew(before, after, "parse_mcp_tool_calls_total", tool="execute_endpoint", code="ok") == 2
    assert grew(before, after, "parse_mcp_tool_calls_total", tool="execute_endpoint", code="spend_limit_reached") == 1
    assert grew(before, after, "parse_mcp_tool_calls_total", tool="execute_endpoint", code=str(code)) == 1
    assert grew(before, after, "parse_mcp_tool_calls_total", tool="unknown", code="invalid_arguments") == 1, (
        "a name no tool has is one label value, whatever the client sent"
    )
    rate_limited = grew(before, after, "parse_mcp_upstream_rate_limited_total", service="parsebot")
    assert rate_limited >= 1
    # The two calls charged, each 429, and the reads of the API's schema that execute_endpoint makes first.
    assert grew(before, after, "parse_mcp_upstream_requests_total", service="parsebot") >= 2 + rate_limited
    assert grew(before, after, "parse_mcp_credits_spent_total", service="parsebot") == 6
    assert grew(before, after, "parse_mcp_spend_refusals_total", limit="daily") == 1


@pytest.mark.anyio
async def test_metrics_answer_only_the_hosts_mcp_answers_and_only_reads() -> None:
    async with serving(security(TOKENS[0])) as url, httpx2.AsyncClient() as http:
        rebound = await http.get(f"{url}/metrics", headers={**bearer(TOKENS[0]), "Host": "evil.example"})
        posted = await http.post(f"{url}/metrics", headers=bearer(TOKENS[0]))
    assert rebound.status_code == 421
    assert posted.status_code == 405


def test_pacing_waits_are_counted_in_seconds_for_the_service_the_request_went_to() -> None:
    metrics.install()
    before = samples(metrics.exposition()[0].decode())
    metrics.upstream_answered("parse", 200, 1.5)
    metrics.upstream_answered("execute", 200, 0.0)
    after = samples(metrics.exposition()[0].decode())
    assert grew(before, after, "parse_mcp_pacing_wait_seconds_total", service="scraperapi") == 1.5
    assert grew(before, after, "parse_mcp_pacing_wait_seconds_total", service="parsebot") == 0
    assert grew(before, after, "parse_mcp_upstream_requests_total", service="scraperapi") == 1


@pytest.mark.anyio
async def test_serving_stdio_loads_no_prometheus_client_and_no_opentelemetry_sdk(tmp_path: Path) -> None:
    served = await _modules_serving_stdio(
        "import sys\nfrom parse_mcp.cli import main\nsys.exit(main([]))\n", tmp_path / "served.json"
    )
    assert "parse_mcp.metrics" in served, "the module itself is loaded: it is what the hooks call"
    assert not {m for m in served if m.startswith(("prometheus_client", "opentelemetry.sdk"))}


# -- the span of each tool call --------------------------------------------------------------------------------


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """The SDK's tracer, for this test only, made by a real OpenTelemetry SDK provider that keeps its spans."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(mcp.shared._otel, "_tracer", provider.get_tracer("mcp-python-sdk"))
    yield exporter
    provider.shutdown()


def tool_span(exporter: InMemorySpanExporter, tool: str) -> dict[str, Any]:
    found: list[ReadableSpan] = [s for s in exporter.get_finished_spans() if s.name == f"tools/call {tool}"]
    assert len(found) == 1, [s.name for s in exporter.get_finished_spans()]
    return dict(found[0].attributes or {})


@pytest.mark.anyio
async def test_each_tool_calls_span_carries_its_outcome_action_and_credits(
    sandbox: Sandbox, spans: InMemorySpanExporter
) -> None:
    async with Client(sandbox.server()) as client:
        await client.call_tool("execute_endpoint", ITEMS)
        ok = tool_span(spans, "execute_endpoint")
        spans.clear()
        await client.call_tool("execute_endpoint", BROKEN)
        failed = tool_span(spans, "execute_endpoint")
        spans.clear()
        await client.call_tool("execute_endpoint", {"scraper_id": 5})
        rejected = tool_span(spans, "execute_endpoint")
    assert ok[metrics.ATTR_OK] is True
    assert ok[metrics.ATTR_CREDITS] == 3
    assert metrics.ATTR_ERROR_CODE not in ok
    assert failed[metrics.ATTR_OK] is False
    assert failed[metrics.ATTR_ERROR_CODE] == "scraper_bug"
    assert failed[metrics.ATTR_ACTION] == "revise_api"
    assert failed["error.type"] == "tool_error", "the SDK's own attribute is still there"
    assert rejected[metrics.ATTR_ERROR_CODE] == "invalid_arguments", "arguments refused before the tool ran count too"
    assert rejected[metrics.ATTR_ACTION] == "fix_input"
