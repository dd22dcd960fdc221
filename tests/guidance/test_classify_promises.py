"""The classifier's promises, one reply at a time: the exact record (code, fields, wait, message) each reply gives."""

from __future__ import annotations

import json

from parse_mcp.errors import ErrorRecord
from parse_mcp.guidance.classify import (
    Purpose,
    classify_aiparser,
    classify_parsebot,
    classify_unexpected_success,
    parsebot_code,
    scrub,
)

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
SECRET = "hunter2-very-secret-value"


def parsebot(
    body: object, status: int = 400, headers: dict[str, str] | None = None, *, purpose: Purpose = "execute"
) -> ErrorRecord:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return classify_parsebot(status, headers or {}, raw, now=NOW, purpose=purpose)


def aiparser(body: object, status: int = 400, headers: dict[str, str] | None = None) -> ErrorRecord:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return classify_aiparser("parser", status, headers or {}, raw, now=NOW)


# A block's reading


def test_a_block_with_a_usable_wait_lifts_even_when_its_kind_is_a_lasting_one() -> None:
    record = parsebot({"error": {"status": "blocked", "kind": "ip_burned", "retry_after": 30}}, 403)
    assert record.code == "blocked_transient"
    assert record.retry_after == 30
    assert record.wait_read == 30


def test_a_block_of_a_lasting_kind_and_no_wait_is_permanent() -> None:
    record = parsebot({"error": {"status": "blocked", "kind": "ip_burned"}}, 403)
    assert record.code == "blocked"
    assert record.retry_after is None


def decided(http_status: int, *, status: str | None = None, detail_only: bool = False, envelope: bool = True) -> str:
    """The code `parsebot_code` decides for an execute call with no kind, wait, limit or message."""
    return parsebot_code(
        purpose="execute",
        http_status=http_status,
        status=status,
        kind=None,
        upstream=None,
        retry_after=None,
        limit_type=None,
        message="",
        has_error_key=True,
        has_detail_only=detail_only,
        is_envelope=envelope,
    )


def test_the_decision_alone_reads_a_block_with_no_kind_and_no_wait_as_permanent() -> None:
    assert decided(403, status="blocked") == "blocked"


def test_the_decision_alone_reads_a_404_with_only_a_detail_as_a_wrong_path() -> None:
    assert decided(404, detail_only=True, envelope=False) == "path_not_found"


def test_the_decision_alone_reads_a_500_with_an_envelope_as_a_scraper_bug() -> None:
    assert decided(500) == "scraper_bug"


# The envelope's verdict


def test_an_upstream_error_of_500_or_599_is_transient_and_600_is_not() -> None:
    def upstream(code: int) -> str:
        return parsebot({"error": {"status": "upstream_error", "upstream_status_code": code}}, 502).code

    assert upstream(500) == "upstream_transient"
    assert upstream(501) == "upstream_transient"
    assert upstream(599) == "upstream_transient"
    assert upstream(600) == "upstream_other"


def test_an_envelope_status_of_error_is_a_scraper_bug_whatever_the_http_status() -> None:
    record = parsebot({"error": {"status": "error", "message": "boom"}}, 400)
    assert record.code == "scraper_bug"
    assert record.status == "error"
    assert record.message == "boom"


def test_the_kind_scraper_bug_is_a_scraper_bug_without_a_status() -> None:
    record = parsebot({"error": {"kind": "scraper_bug", "message": "boom"}}, 400)
    assert record.code == "scraper_bug"
    assert record.kind == "scraper_bug"


# The HTTP status as the fallback


def test_a_400_that_mentions_a_session_or_encryption_alone_is_a_session_pair_fault() -> None:
    assert parsebot({"error": {"message": "Session expired"}}, 400).code == "session_pair"
    assert parsebot({"error": {"message": "Bad Encryption key"}}, 400).code == "session_pair"
    assert parsebot({"error": {"message": "Something else"}}, 400).code == "bad_request"


def test_a_404_with_no_error_key_is_a_wrong_path() -> None:
    record = parsebot({}, 404)
    assert record.code == "path_not_found"
    assert record.message == ""


def test_a_404_with_an_error_key_and_a_detail_names_a_wrong_id() -> None:
    record = parsebot({"error": "no such scraper", "detail": "not here"}, 404)
    assert record.code == "id_not_found"
    assert record.message == "no such scraper"


def test_a_500_with_an_envelope_is_a_scraper_bug_and_a_503_with_one_is_the_service() -> None:
    assert parsebot({"error": {"message": "boom"}}, 500).code == "scraper_bug"
    assert parsebot({"error": {"message": "boom"}}, 503).code == "service_unavailable"
    assert parsebot({"error": {"message": "boom"}}, 501).code == "service_unavailable"
    assert parsebot({"message": "boom"}, 500).code == "service_unavailable"


def test_the_edges_of_the_5xx_and_2xx_ranges() -> None:
    assert parsebot({}, 599).code == "service_unavailable"
    assert parsebot({}, 600).code == "unexpected_status"
    assert parsebot({}, 299).code == "unexpected_response"
    assert parsebot({}, 300).code == "unexpected_status"


# Where the kind and the limit come from


def test_the_kind_is_read_from_the_envelope_code_the_top_error_code_or_the_top_kind() -> None:
    assert parsebot({"error": {"code": "quota_hit"}}).kind == "quota_hit"
    assert parsebot({"error_code": "quota_hit"}).kind == "quota_hit"
    assert parsebot({"kind": "quota_hit"}).kind == "quota_hit"
    assert parsebot({"error": {"kind": "first", "code": "second"}, "error_code": "third"}).kind == "first"


def test_a_limit_type_at_the_top_level_decides_a_429() -> None:
    record = parsebot({"limit_type": "daily", "message": "daily cap"}, 429)
    assert record.code == "rate_limited_daily"
    assert record.limit_type == "daily"
    assert record.retry_after == 57_600.0  # to the next UTC midnight


def test_names_that_fail_the_grammar_are_cut_at_their_limits() -> None:
    long_name = "x " * 30  # not a name: it has spaces
    record = parsebot(
        {
            "error": {
                "status": long_name,
                "kind": long_name,
                "limit_type": long_name,
                "block_type": long_name,
                "vendor": long_name,
            }
        },
        400,
    )
    cut_40 = "x x x x x x x x x x x x x x x x x x x x "
    assert record.status == cut_40
    assert record.kind == cut_40
    assert record.block_type == cut_40
    assert record.vendor == cut_40
    assert record.limit_type == "x x x x x x x x x x "


def test_the_other_sources_of_a_kind_and_a_limit_are_cut_at_their_limits_too() -> None:
    long_name = "y " * 30
    assert parsebot({"error": {"code": long_name}}).kind == "y y y y y y y y y y y y y y y y y y y y "
    assert parsebot({"error_code": long_name}).kind == "y y y y y y y y y y y y y y y y y y y y "
    assert parsebot({"kind": long_name}).kind == "y y y y y y y y y y y y y y y y y y y y "
    assert parsebot({"limit_type": long_name}).limit_type == "y y y y y y y y y y "


def test_a_name_that_passes_only_once_cleaned_ends_in_an_ellipsis_and_other_text_does_not() -> None:
    record = parsebot({"error": {"kind": " quota ", "status": "bad status"}})
    assert record.kind == "quota…"
    assert record.status == "bad status"


# What the record copies


def test_a_snippet_keeps_its_layout_and_a_message_does_not() -> None:
    record = parsebot({"error": {"message": "a\n\n  b\x00c", "snippet": "a\n  b\tc"}})
    assert record.snippet == "a\n  b\tc"
    assert record.message == "a bc"


def test_a_url_is_cut_at_500_characters() -> None:
    url = "https://x.test/" + "a" * 600
    assert parsebot({"error": {"url": url}}).url == url[:500]


def test_a_request_id_is_cut_at_128_characters() -> None:
    request_id = "req-" + "ab-" * 70
    record = parsebot({"error": {"message": "m"}}, 400, {"x-railway-request-id": request_id})
    assert record.request_id == request_id[:128]


def test_a_next_tier_name_is_cut_at_60_characters() -> None:
    record = parsebot({"error": {"next_tier": {"display_name": "Pro plan " * 10, "credits": 500}}}, 402)
    assert record.next_tier == {"display_name": ("Pro plan " * 10)[:60], "credits": 500}


# The message


def test_a_string_error_is_the_message_cut_at_300_characters_and_a_blank_one_is_no_message() -> None:
    assert parsebot({"error": "e" * 400}).message == "e" * 300
    assert parsebot({"error": "   "}).message == ""


def test_a_message_is_read_from_the_envelope_error_or_detail_key() -> None:
    assert parsebot({"error": {"error": "from error"}}).message == "from error"
    assert parsebot({"error": {"detail": "from detail"}}).message == "from detail"


def test_a_validation_error_says_each_field_and_its_message_for_the_first_five() -> None:
    detail = [{"loc": ["body", f"field{i}"], "msg": f"bad {i}"} for i in range(6)]
    record = parsebot({"detail": detail}, 422)
    assert record.code == "input_invalid"
    assert record.message == "field0: bad 0; field1: bad 1; field2: bad 2; field3: bad 3; field4: bad 4"
    assert record.fields == ("field0", "field1", "field2", "field3", "field4", "field5")


def test_a_validation_error_without_a_field_or_a_msg_says_what_it_has() -> None:
    record = parsebot({"detail": [{"loc": [], "msg": "no place"}, {"loc": ["body", "count"]}]}, 422)
    assert record.message == "no place; count: invalid"
    assert record.fields == ("count",)


def test_a_validation_msg_is_cut_at_100_characters() -> None:
    record = parsebot({"detail": [{"loc": ["query", "limit"], "msg": "m" * 150}]}, 422)
    assert record.message == "limit: " + "m" * 100


def test_at_most_ten_fields_are_taken_from_a_validation_error() -> None:
    detail = [{"loc": ["body", f"f{i}"], "msg": "bad"} for i in range(11)]
    assert parsebot({"detail": detail}, 422).fields == tuple(f"f{i}" for i in range(10))


def test_a_field_is_its_loc_name_with_or_without_a_place_and_at_most_200_characters() -> None:
    assert parsebot({"detail": [{"loc": ["count"], "msg": "bad"}]}, 422).fields == ("count",)
    assert parsebot({"detail": [{"loc": ["body"], "msg": "bad"}]}, 422).fields == ()
    assert parsebot({"detail": [{"loc": ["body", ""], "msg": "bad"}]}, 422).fields == ()
    assert parsebot({"detail": [{"loc": ["body", "f" * 200], "msg": "bad"}]}, 422).fields == ("f" * 200,)
    assert parsebot({"detail": [{"loc": ["body", "f" * 201], "msg": "bad"}]}, 422).fields == ()


# Numbers


def test_attempts_are_kept_only_within_a_signed_32_bit_range() -> None:
    def attempts(value: object) -> int | None:
        return parsebot({"error": {"attempts": value}}).attempts

    assert attempts(-100) == -100
    assert attempts(-(2**31) + 1) == -(2**31) + 1
    assert attempts(-(2**31)) is None
    assert attempts(2**31 - 1) == 2**31 - 1
    assert attempts(2**31) is None
    assert attempts(3.0) == 3
    assert attempts(404.0) == 404
    assert attempts(2.0**31) is None
    assert attempts("7") == 7
    assert attempts("123456789") == 123456789
    assert attempts("1234567890") is None


# The body's size


def test_a_body_over_a_megabyte_is_not_read_as_json_and_one_of_exactly_a_megabyte_is() -> None:
    def padded(size: int) -> bytes:
        head = b'{"error": {"message": "boom", "pad": "'
        tail = b'"}}'
        return head + b"p" * (size - len(head) - len(tail)) + tail

    exact = parsebot(padded(1_000_000), 400)
    assert exact.message == "boom"
    over = parsebot(padded(1_000_001), 400)
    assert over.message == "The response was not JSON (1000001 bytes)."


# The wait


def test_a_wait_is_looked_for_at_the_top_level_when_the_envelope_has_none() -> None:
    record = parsebot({"error": {"message": "slow down"}, "retry_after": 30}, 429)
    assert record.code == "rate_limited_burst"
    assert record.retry_after == 30
    assert record.wait_read == 30


def test_the_first_wait_sent_is_the_one_recorded_when_none_is_usable() -> None:
    record = parsebot({"error": {"message": "slow down", "retry_after": 100_000}}, 429, {"retry-after": "soon"})
    assert record.retry_after is None
    assert record.wait_read == "soon"
    record = parsebot({"error": {"message": "m", "retry_after": "later"}, "retry_after": 100_000}, 429)
    assert record.wait_read == "later"


def test_a_wait_is_recorded_as_sent_up_to_two_to_the_53() -> None:
    def read(value: object) -> object:
        return parsebot({"error": {"message": "m", "retry_after": value}}, 429).wait_read

    assert read(100_000) == 100_000
    assert read(2**53) == 2**53
    assert read(2**53 + 1) == "unreadable"
    exact = read(float(2**53))
    assert exact == 2**53
    assert isinstance(exact, int)
    beyond = read(float(2**54))
    assert beyond == float(2**54)
    assert isinstance(beyond, float)


# The AI Parser


def test_an_ai_parser_message_is_its_detail_or_its_error() -> None:
    assert aiparser({"detail": "bad url"}).message == "bad url"
    assert aiparser({"error": "quota"}).message == "quota"
    assert aiparser({}).message == ""
    assert aiparser(b"<html>oops</html>").message == "The response was not JSON (17 bytes)."


def test_an_ai_parser_422_is_a_bad_request_with_its_fields() -> None:
    record = aiparser({"detail": [{"loc": ["body", "url"], "msg": "bad"}]}, 422)
    assert record.code == "parser_bad_request"
    assert record.message == "url: bad"
    assert record.fields == ("url",)


def test_an_ai_parser_401_that_mentions_a_session_is_an_expired_session() -> None:
    assert aiparser({"detail": "Session expired"}, 401).code == "session_expired"
    assert aiparser({"detail": "Who are you"}, 401).code == "unauthorized"


def test_an_ai_parser_record_carries_its_request_id() -> None:
    record = aiparser({"detail": "gone"}, 404, {"x-request-id": "req-123"})
    assert record.code == "parser_not_found"
    assert record.request_id == "req-123"


# An unexpected success


def test_an_unexpected_success_carries_its_status_reason_and_request_id() -> None:
    record = classify_unexpected_success(200, {"x-railway-request-id": "req-1"}, "not JSON")
    assert record == ErrorRecord(code="unexpected_response", message="not JSON", http_status=200, request_id="req-1")


# Scrubbing


def test_scrub_with_a_list_of_secrets_removes_them_from_texts_fields_and_next_tier() -> None:
    record = ErrorRecord(
        code="bad_request",
        message=f"the key {SECRET} was refused",
        fields=("count", SECRET),
        next_tier={"display_name": f"plan {SECRET}", "credits": 5},
    )
    scrubbed = scrub(record, [SECRET])
    assert scrubbed.message == "the key [redacted] was refused"
    assert scrubbed.fields == ("count",)
    assert scrubbed.next_tier == {"display_name": "plan [redacted]", "credits": 5}
