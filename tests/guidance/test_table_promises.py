"""The guidance table's promises, word for word: what `guide()` gives for a record and its context.

Each test states one promise of the pure table (the sentences, the wait, the fields to fix, the call prepared)
and asserts the guidance exactly, so a changed word, a lost argument or a flipped condition is noticed.
"""

from __future__ import annotations

import pytest

from parse_mcp.errors import ErrorRecord
from parse_mcp.guidance.table import (
    PREPARED_REVISION,
    CallContext,
    Evidence,
    Failure,
    Instead,
    IntArg,
    NextCall,
    NextCallSpec,
    RevisionDescription,
    Row,
    describe_for_revision,
    guide,
    human_wait,
)
from parse_mcp.json_types import JsonValue
from parse_mcp.voice import POSITION_NOTE

EVERY_TOOL = frozenset(
    {
        "execute_endpoint",
        "describe_api",
        "revise_api",
        "list_apis",
        "login",
        "list_tasks",
        "wait_for_task",
        "wait_for_parser",
        "list_parsers",
        "search_marketplace",
        "parse_url",
        "get_parser",
    }
)


def context(
    arguments: dict[str, JsonValue] | None = None, evidence: Evidence | None = None, tool: str = "execute_endpoint"
) -> CallContext:
    return CallContext(tool=tool, arguments=arguments or {}, listed_tools=EVERY_TOOL, evidence=evidence or Evidence())


def said(failure: Failure) -> tuple[str, str]:
    return failure.summary, failure.next_step


# -- names copied from the call's arguments ------------------------------------------------------------------


def test_an_id_given_as_an_integer_is_said_as_that_number() -> None:
    failure = guide(ErrorRecord(code="id_not_found", http_status=404), context({"scraper_id": 42}))
    assert failure.summary == "No API with id 42 exists for this key (HTTP 404)."


def test_an_argument_given_as_a_boolean_is_never_said_as_a_name() -> None:
    failure = guide(ErrorRecord(code="scraper_bug", http_status=500), context({"endpoint": True}))
    assert failure.summary == (
        "The scraper behind the endpoint crashed (HTTP 500 scraper_bug): the API itself is broken, not the input."
    )


def test_an_id_the_call_did_not_give_is_called_given() -> None:
    failure = guide(ErrorRecord(code="id_not_found", http_status=404), context())
    assert failure.summary == "No API with id given exists for this key (HTTP 404)."


def test_an_api_id_at_a_pinned_snapshot_version_is_said_with_that_version() -> None:
    failure = guide(
        ErrorRecord(code="id_not_found", http_status=404), context({"scraper_id": "a-1", "snapshot_version": 5})
    )
    assert failure.summary == "No API with id a-1 at version 5 exists for this key (HTTP 404)."


def test_a_parser_id_at_a_pinned_version_is_said_with_that_version() -> None:
    failure = guide(
        ErrorRecord(code="parser_not_found", http_status=404),
        context({"parser_id": "p-1", "version": 3}, tool="get_parser"),
    )
    assert said(failure) == (
        "No parser with id p-1 at version 3 exists for this key (HTTP 404).",
        "Look the id up with list_parsers and call again with an id from there.",
    )
    assert failure.next_call == NextCall("list_parsers", {})


def test_a_parser_id_the_call_did_not_give_is_called_given() -> None:
    failure = guide(ErrorRecord(code="parser_not_found", http_status=404), context(tool="get_parser"))
    assert failure.summary == "No parser with id given exists for this key (HTTP 404)."


def test_a_listing_is_named_when_the_call_gave_it_and_called_given_when_not() -> None:
    named = guide(ErrorRecord(code="listing_not_found", http_status=404), context({"listing": "books-1"}))
    assert said(named) == (
        "No marketplace listing has the id or slug books-1 (HTTP 404).",
        "Find the listing with search_marketplace and call again with its id or slug.",
    )
    unnamed = guide(ErrorRecord(code="listing_not_found", http_status=404), context())
    assert unnamed.summary == "No marketplace listing has the id or slug given (HTTP 404)."


def test_a_task_is_named_when_the_call_gave_it_and_called_given_when_not() -> None:
    named = guide(ErrorRecord(code="task_not_found", http_status=404), context({"task_id": "t-7"}))
    assert named.summary == "No task with id t-7 exists for this key (HTTP 404)."
    unnamed = guide(ErrorRecord(code="task_not_found", http_status=404), context())
    assert unnamed.summary == "No task with id given exists for this key (HTTP 404)."
    assert unnamed.next_call == NextCall("list_tasks", {})


def test_a_broken_endpoint_the_call_did_not_name_is_called_the_endpoint() -> None:
    failure = guide(ErrorRecord(code="scraper_bug", http_status=500), context())
    assert failure.summary == (
        "The scraper behind the endpoint crashed (HTTP 500 scraper_bug): the API itself is broken, not the input."
    )


def test_a_task_id_given_as_a_scraper_id_names_the_scraper_the_task_built() -> None:
    failure = guide(
        ErrorRecord(code="id_not_found", http_status=404),
        context({"scraper_id": "t-1", "endpoint": "e"}, Evidence(scraper_for_task="api-9")),
    )
    assert said(failure) == (
        "t-1 is a task id, not a scraper id (HTTP 404); the API that task built is api-9.",
        "Call again with scraper_id api-9 (the task's result_scraper_id).",
    )
    assert failure.next_call == NextCall("execute_endpoint", {"scraper_id": "api-9", "endpoint": "e"})


# -- statuses ------------------------------------------------------------------------------------------------


def test_the_http_status_is_said_as_its_number_and_as_none_when_there_is_none() -> None:
    with_status = guide(ErrorRecord(code="unexpected_status", http_status=418), context())
    assert (
        with_status.summary == "Parse.bot answered HTTP 418, which its documentation does not describe for this call."
    )
    without = guide(ErrorRecord(code="unexpected_status"), context())
    assert without.summary == "Parse.bot answered HTTP (none), which its documentation does not describe for this call."


def test_the_upstream_status_is_said_as_its_number_and_as_unknown_when_there_is_none() -> None:
    with_status = guide(ErrorRecord(code="upstream_other", upstream_status_code=418), context())
    assert with_status.summary == "The target site answered HTTP 418, which a retry will not change."
    without = guide(ErrorRecord(code="upstream_other"), context())
    assert without.summary == "The target site answered HTTP (unknown), which a retry will not change."


# -- the fields to fix -----------------------------------------------------------------------------------------


def test_input_with_no_field_named_is_called_the_input() -> None:
    failure = guide(ErrorRecord(code="input_invalid", http_status=422, message="bad"), context({"endpoint": "e"}))
    assert failure.guidance.fix_fields == ()
    assert said(failure) == (
        "The scraper rejected the input of e (HTTP 422 stale_input): the input is not valid.",
        "Correct the input against the endpoint's input_params (error.message says what is expected), then call again.",
    )


def test_one_field_named_is_said_with_is_and_two_with_are() -> None:
    evidence = Evidence(known_params=("slug", "date", "page"))
    one = guide(ErrorRecord(code="input_invalid", fields=("slug",)), context({"endpoint": "e"}, evidence))
    assert one.guidance.fix_fields == ("slug",)
    assert said(one) == (
        "The scraper rejected the input of e (HTTP 422 stale_input): slug is not valid.",
        "Correct slug against the endpoint's input_params (error.message says what is expected), then call again.",
    )
    two = guide(ErrorRecord(code="input_invalid", fields=("slug", "page")), context({"endpoint": "e"}, evidence))
    assert two.guidance.fix_fields == ("slug", "page")
    assert said(two) == (
        "The scraper rejected the input of e (HTTP 422 stale_input): slug, page are not valid.",
        "Correct slug, page against the endpoint's input_params (error.message says what is expected), then call "
        "again.",
    )


def test_a_declared_parameter_whose_name_may_not_be_said_is_named_by_its_place_with_a_note() -> None:
    evidence = Evidence(known_params=("slug", "bad name"))
    failure = guide(ErrorRecord(code="input_invalid", fields=("bad name",)), context({"endpoint": "e"}, evidence))
    assert failure.guidance.fix_fields == ("input_params#2",)
    assert failure.next_step == (
        f"Correct input_params#2 ({POSITION_NOTE}) against the endpoint's input_params (error.message says what is "
        "expected), then call again."
    )


def test_our_own_checks_name_the_fields_they_refused_even_when_the_endpoint_declares_others() -> None:
    failure = guide(
        ErrorRecord(code="invalid_arguments", message="limit must be positive", fields=("limit",)),
        context({"scraper_id": "a-1"}, Evidence(known_params=("slug",))),
    )
    assert failure.guidance.fix_fields == ("limit",)
    assert said(failure) == (
        "The arguments were refused before anything was sent: limit must be positive.",
        "Correct limit and call again.",
    )
    assert failure.next_call == NextCall("describe_api", {"scraper_id": "a-1"})


def test_our_own_checks_message_is_one_sentence_ending_in_one_full_stop() -> None:
    ended = guide(ErrorRecord(code="invalid_arguments", message="  limit is wrong.  "), context())
    assert ended.summary == "The arguments were refused before anything was sent: limit is wrong."
    bare = guide(ErrorRecord(code="invalid_arguments", message="limit is wrong"), context())
    assert bare.summary == "The arguments were refused before anything was sent: limit is wrong."


def test_our_own_checks_without_a_message_say_the_arguments_do_not_match() -> None:
    failure = guide(ErrorRecord(code="invalid_arguments"), context())
    assert said(failure) == (
        "The arguments were refused before anything was sent: they do not match what the tool accepts.",
        "Correct the input and call again.",
    )


# -- the endpoints of an API -----------------------------------------------------------------------------------


def test_an_unknown_endpoint_lists_the_apis_endpoints_when_every_name_may_be_said() -> None:
    failure = guide(
        ErrorRecord(code="unknown_endpoint"),
        context({"scraper_id": "a-1", "endpoint": "nope"}, Evidence(endpoint_names=("get_book", "list_books"))),
    )
    assert failure.summary == "API a-1 has no endpoint named nope; its endpoints are: get_book, list_books."
    assert failure.guidance.fix_fields == ("endpoint",)


def test_an_unknown_endpoint_counts_the_apis_endpoints_when_a_name_may_not_be_said() -> None:
    failure = guide(
        ErrorRecord(code="unknown_endpoint"),
        context({"scraper_id": "a-1", "endpoint": "nope"}, Evidence(endpoint_names=("get_book", "bad name"))),
    )
    assert failure.summary == (
        "API a-1 has no endpoint named nope; it has 2 endpoints, and some of their names are not repeated here: "
        "see describe_api."
    )


def test_an_unknown_endpoint_says_when_the_apis_endpoints_were_not_read() -> None:
    failure = guide(ErrorRecord(code="unknown_endpoint"), context({"scraper_id": "a-1", "endpoint": "nope"}))
    assert failure.summary == "API a-1 has no endpoint named nope; this server has not read its endpoints."


# -- the network -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("connect", "the connection failed before the request was sent"),
        ("timeout", "it did not answer in time"),
        ("deadline", "this call's time budget ran out before the answer was complete"),
        ("protocol", "the connection broke during the answer"),
        (None, "the connection failed"),
        ("other", "the connection failed"),
    ],
)
def test_a_network_failure_says_how_the_connection_failed(kind: str | None, phrase: str) -> None:
    failure = guide(ErrorRecord(code="network_read", kind=kind), context({"scraper_id": "a-1"}))
    assert said(failure) == (
        f"No answer from Parse.bot: {phrase}.",
        "Wait 5 s, then make the same call again unchanged.",
    )
    assert failure.guidance.retry_after_seconds == 5.0
    assert failure.next_call == NextCall("execute_endpoint", {"scraper_id": "a-1"})


# -- rendering -------------------------------------------------------------------------------------------------


def test_an_extraction_failure_without_rendering_suggests_it_in_words_fields_and_call() -> None:
    unset: list[dict[str, JsonValue]] = [{}, {"render": False}]
    for scraper_params in unset:
        arguments: dict[str, JsonValue] = {"parser_id": "p-1", "scraper_params": scraper_params}
        failure = guide(ErrorRecord(code="extraction_failed", http_status=500), context(arguments, tool="parse_url"))
        assert failure.guidance.fix_fields == ("scraper_params.render",)
        assert said(failure) == (
            "Parse.bot could not extract data from that URL (HTTP 500); the page may need JavaScript rendering.",
            "Wait 30 s and call again with scraper_params.render set to true; if it keeps failing, check the URL is "
            "the same page type as the parser's examples.",
        )
        assert failure.next_call == NextCall("parse_url", {"parser_id": "p-1", "scraper_params": {"render": True}})


def test_an_extraction_failure_with_rendering_on_suggests_no_rendering() -> None:
    arguments: dict[str, JsonValue] = {"parser_id": "p-1", "scraper_params": {"render": True}}
    failure = guide(ErrorRecord(code="extraction_failed", http_status=500), context(arguments, tool="parse_url"))
    assert failure.guidance.fix_fields == ()
    assert said(failure) == (
        "Parse.bot could not extract data from that URL (HTTP 500).",
        "Wait 30 s and call again; if it keeps failing, check the URL is the same page type as the parser's examples.",
    )


# -- what a rerun costs, the next plan -------------------------------------------------------------------------


def test_a_gone_answer_says_what_running_the_call_again_costs() -> None:
    unknown = guide(ErrorRecord(code="result_expired"), context())
    assert unknown.next_step == (
        "To see the rest, make the original call again (it costs its credits again), then read its pages with "
        "read_result."
    )
    known = guide(ErrorRecord(code="result_expired", rerun_credits=40), context())
    assert known.next_step == (
        "To see the rest, make the original call again (running it again costs about 40 credits), then read its "
        "pages with read_result."
    )


def test_credits_exhausted_without_a_next_plan_adds_nothing() -> None:
    failure = guide(ErrorRecord(code="credits_exhausted", http_status=402), context())
    assert said(failure) == (
        "The Parse.bot account has run out of credits (HTTP 402).",
        "Tell the user the credits are exhausted; make no more paid calls until they top up.",
    )


# -- the parser's status ---------------------------------------------------------------------------------------


def test_a_failed_parser_gives_the_status_documents_own_words_as_the_message() -> None:
    record = ErrorRecord(code="parser_bad_request", http_status=400, message="Bad request")
    failed = guide(
        record,
        context({"parser_id": "p-1"}, Evidence(parser_status="FAILED", parser_error="no data"), tool="parse_url"),
    )
    assert failed.error == ErrorRecord(code="parser_failed", http_status=400, message="no data")
    assert failed.summary == "Parser p-1 failed to generate, so it cannot be used (HTTP 400)."
    unsaid = guide(record, context({"parser_id": "p-1"}, Evidence(parser_status="FAILED"), tool="parse_url"))
    assert unsaid.error == ErrorRecord(code="parser_failed", http_status=400, message="Bad request")


# -- waits -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (-3, "0 s"),
        (121, "3 min"),
        (7199, "120 min"),
        (7200, "2 h 0 min"),
        (7261, "2 h 2 min"),
        (3 * 3600 + 1, "3 h 1 min"),
    ],
)
def test_a_wait_is_said_in_seconds_minutes_or_hours_rounded_up(seconds: float, text: str) -> None:
    assert human_wait(seconds) == text


# -- the revision's description --------------------------------------------------------------------------------


def revision(record: ErrorRecord, arguments: dict[str, JsonValue]) -> str:
    return describe_for_revision(record, context(arguments))


def test_a_revision_for_a_refusing_site_asks_for_credentials() -> None:
    record = ErrorRecord(code="upstream_auth", http_status=502, upstream_status_code=403)
    assert revision(record, {"endpoint": "get_book", "params": {"slug": "x"}}) == (
        'The get_book endpoint fails when called with {"slug": "x"}: the target site refuses the scraper with HTTP '
        "403 (upstream_error). Update the stored credentials or request headers so the site accepts the scraper "
        "again."
    )


def test_a_revision_for_a_block_asks_to_get_past_the_protection_and_names_its_kind() -> None:
    kind = ErrorRecord(code="blocked", http_status=503, kind="ip_burned")
    assert revision(kind, {"endpoint": "get_book"}) == (
        "The get_book endpoint fails when called with no parameters: the site's bot protection blocks every proxy "
        "(blocked, ip_burned). Make the scraper get past the site's protection reliably."
    )
    no_kind = ErrorRecord(code="blocked", http_status=503)
    assert revision(no_kind, {"endpoint": "get_book"}) == (
        "The get_book endpoint fails when called with no parameters: the site's bot protection blocks every proxy "
        "(blocked). Make the scraper get past the site's protection reliably."
    )


def test_a_revision_for_a_crash_asks_to_fix_the_endpoint() -> None:
    record = ErrorRecord(code="scraper_bug", http_status=500, kind="scraper_bug")
    assert revision(record, {"endpoint": "get_book", "params": []}) == (
        "The get_book endpoint fails when called with no parameters: it fails with HTTP 500 (scraper_bug). Fix the "
        "endpoint so it returns data for valid input."
    )


def test_a_revision_for_a_call_that_named_no_endpoint_says_an_endpoint_in_a_sentence() -> None:
    record = ErrorRecord(code="scraper_bug", http_status=500, kind="scraper_bug")
    assert revision(record, {}) == (
        "An endpoint fails when called with no parameters: it fails with HTTP 500 (scraper_bug). Fix the endpoint "
        "so it returns data for valid input."
    )


def test_a_revision_shows_empty_params_as_no_parameters() -> None:
    record = ErrorRecord(code="scraper_bug", http_status=500, kind="scraper_bug")
    assert revision(record, {"endpoint": "e", "params": {}}).startswith(
        "The e endpoint fails when called with no parameters:"
    )


def test_a_revision_shows_plain_sayable_params_sorted_and_unescaped_and_counts_the_rest() -> None:
    record = ErrorRecord(code="scraper_bug", http_status=500, kind="scraper_bug")
    params: dict[str, JsonValue] = {"b": "café", "a": 1, "bad name": "x", "nested": {"k": 1}}
    assert revision(record, {"endpoint": "e", "params": params}).startswith(
        'The e endpoint fails when called with {"a": 1, "b": "café"} and 2 more parameters: it fails'
    )
    plain: dict[str, JsonValue] = {"b": 2, "a": 1}
    assert revision(record, {"endpoint": "e", "params": plain}).startswith(
        'The e endpoint fails when called with {"a": 1, "b": 2}: it fails'
    )


def test_a_revision_shows_at_most_300_characters_of_params() -> None:
    record = ErrorRecord(code="scraper_bug", http_status=500, kind="scraper_bug")
    shown = '{"q": "' + "x" * 400
    assert revision(record, {"endpoint": "e", "params": {"q": "x" * 400}}).startswith(
        f"The e endpoint fails when called with {shown[:300]}: it fails"
    )


# -- next calls and the rows' evidence -------------------------------------------------------------------------


def test_a_next_call_with_a_name_that_may_not_be_said_is_refused_or_not_offered() -> None:
    with pytest.raises(ValueError, match=r"^a next call must name only speakable names$"):
        NextCall("execute_endpoint", {"bad name": 1})
    assert NextCall.offer("execute_endpoint", {"bad name": 1}) is None
    assert NextCall.offer("execute_endpoint", {"ok": 1}) == NextCall("execute_endpoint", {"ok": 1})


def test_an_optional_argument_of_a_next_call_is_built_from_the_record() -> None:
    spec = NextCallSpec(tool="revise_api", optional={"description": RevisionDescription(), "version": IntArg("v")})
    record = ErrorRecord(code="scraper_bug", http_status=500)
    built = spec.build(record, context({"endpoint": "e", "v": 2}))
    assert built == NextCall(
        "revise_api",
        {
            "description": "The e endpoint fails when called with no parameters: it fails with HTTP 500 "
            "(scraper_bug). Fix the endpoint so it returns data for valid input.",
            "version": 2,
        },
    )


def test_a_row_asks_for_the_evidence_of_its_call_its_other_wording_and_the_parsers_status_together() -> None:
    row = Row(
        cause="a test row",
        action="check_id",
        fault="caller",
        retryable=False,
        summary="s.",
        next_step="n.",
        next_call=PREPARED_REVISION,
        instead_when_found=Instead(evidence="scraper_for_task", summary="s.", next_step="n."),
        decided_by_status={"FAILED": "parser_failed"},
    )
    assert row.evidence() == {"task_id", "scraper_for_task", "parser_status"}
