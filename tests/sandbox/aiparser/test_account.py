"""The account: credits (402) charged for creation and successful parses, and the rate window (429)."""

from __future__ import annotations

import pytest

from parse_mcp.sandbox import ManualClock
from parse_mcp.sandbox.aiparser import AiParserConfig
from tests.sandbox.aiparser.support import BOOK, JS_BOOK, MISSING_BOOK, OTHER_BOOK, aiparser_sandbox, detail

pytestmark = pytest.mark.anyio


async def test_creation_costs_30000_credits_even_when_generation_later_fails() -> None:
    async with aiparser_sandbox(AiParserConfig(credits=60_000)) as ai:
        first = await ai.create_reply(MISSING_BOOK)
        second = await ai.create_reply(BOOK)
        refused = await ai.create_reply(BOOK)
    assert (first.status_code, second.status_code) == (201, 201)
    assert (refused.status_code, detail(refused)) == (
        402,
        "Credits exhausted: creating a parser costs 30000 API credits and the account has 0 left. "
        "Upgrade your plan or contact support.",
    )


async def test_a_refused_create_leaves_no_parser_and_no_charge() -> None:
    async with aiparser_sandbox(AiParserConfig(credits=29_999)) as ai:
        refused = await ai.create_reply(BOOK)
        listed = await ai.get("/parsers")
    assert refused.status_code == 402
    assert listed.json() == []


async def test_an_invalid_create_is_refused_with_400_before_credits_are_checked() -> None:
    async with aiparser_sandbox(AiParserConfig(credits=0)) as ai:
        reply = await ai.send("POST", "/parsers", {"name": "Books"})
    assert reply.status_code == 400


async def test_a_parse_costs_1_credit_and_10_with_render_and_only_successes_are_charged() -> None:
    async with aiparser_sandbox(AiParserConfig(credits=30_000 + 12)) as ai:
        parser_id = await ai.create_finished(BOOK)
        rendered = await ai.parse(parser_id, JS_BOOK, render="true")
        failed = [await ai.parse(parser_id, MISSING_BOOK) for _ in range(3)]
        plain = await ai.parse(parser_id, OTHER_BOOK)
        second_plain = await ai.parse(parser_id, OTHER_BOOK)
        refused = await ai.parse(parser_id, OTHER_BOOK)
        refused_render = await ai.parse(parser_id, OTHER_BOOK, render="true")
    assert [r.status_code for r in (rendered, *failed, plain, second_plain)] == [200, 500, 500, 500, 200, 200]
    assert (refused.status_code, detail(refused)) == (
        402,
        "Credits exhausted: this parse costs 1 API credit and the account has 0 left. "
        "Upgrade your plan or contact support.",
    )
    assert detail(refused_render).startswith("Credits exhausted: this parse with render=true costs 10 API credits")


async def test_prices_come_from_the_config() -> None:
    config = AiParserConfig(credits=7, create_cost=5, parse_cost=2, render_cost=3)
    async with aiparser_sandbox(config) as ai:
        parser_id = await ai.create_finished(BOOK)
        assert (await ai.parse(parser_id, BOOK)).status_code == 200
        assert (await ai.parse(parser_id, BOOK)).status_code == 402


async def test_generation_time_comes_from_the_config() -> None:
    async with aiparser_sandbox(AiParserConfig(generation_seconds=5)) as ai:
        parser_id = await ai.create(BOOK)
        ai.clock.advance(5)
        assert (await ai.details(parser_id))["status"] == "FINISHED"


async def test_more_parses_than_the_limit_in_a_rolling_minute_answer_429_with_retry_after() -> None:
    clock = ManualClock()
    async with aiparser_sandbox(AiParserConfig(requests_per_minute=3), clock) as ai:
        parser_id = await ai.create_finished(BOOK)
        spent = []
        for _ in range(3):
            spent.append(await ai.parse(parser_id, BOOK))
            clock.advance(10)
        refused = await ai.parse(parser_id, BOOK)
        clock.advance(29)
        still_refused = await ai.parse(parser_id, BOOK)
        clock.advance(1)
        admitted = await ai.parse(parser_id, BOOK)
    assert [r.status_code for r in spent] == [200, 200, 200]
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "30")
    assert detail(refused) == "Too many requests: this account may make 3 parse requests per minute. Retry in 30 s."
    assert (still_refused.status_code, still_refused.headers["Retry-After"]) == (429, "1")
    assert admitted.status_code == 200


async def test_a_refused_parse_does_not_count_against_the_window_but_a_failed_one_does() -> None:
    clock = ManualClock()
    async with aiparser_sandbox(AiParserConfig(requests_per_minute=2), clock) as ai:
        parser_id = await ai.create_finished(BOOK)
        failed = await ai.parse(parser_id, MISSING_BOOK)
        ok = await ai.parse(parser_id, BOOK)
        refusals = [await ai.parse(parser_id, BOOK) for _ in range(5)]
        clock.advance(60)
        after = await ai.parse(parser_id, BOOK)
    assert (failed.status_code, ok.status_code) == (500, 200)
    assert {r.status_code for r in refusals} == {429}
    assert {r.headers["Retry-After"] for r in refusals} == {"60"}
    assert after.status_code == 200


async def test_the_rate_window_applies_to_parsing_not_to_reading_parsers() -> None:
    async with aiparser_sandbox(AiParserConfig(requests_per_minute=1)) as ai:
        parser_id = await ai.create_finished(BOOK)
        await ai.parse(parser_id, BOOK)
        polls = [await ai.get(f"/parsers/{parser_id}") for _ in range(5)]
    assert {r.status_code for r in polls} == {200}


def test_a_config_that_could_never_work_is_refused() -> None:
    with pytest.raises(ValueError, match="credits cannot be negative"):
        AiParserConfig(credits=-1)
    with pytest.raises(ValueError, match="requests_per_minute must be at least 1"):
        AiParserConfig(requests_per_minute=0)
    with pytest.raises(ValueError, match="generation_seconds cannot be negative"):
        AiParserConfig(generation_seconds=-1.0)
    with pytest.raises(ValueError, match="prices cannot be negative"):
        AiParserConfig(render_cost=-1)
