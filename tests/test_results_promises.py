"""A result carries exactly the parts it is given (`results.py`), each one a mutation test found unguarded."""

from __future__ import annotations

from typing import get_args

from parse_mcp.errors import ErrorCode, ErrorRecord
from parse_mcp.guidance.table import NextCall, guide
from parse_mcp.results import ToolResult
from tests.test_results import CALL


def test_a_success_carries_the_next_step_and_the_next_call_it_is_given() -> None:
    call = NextCall("read_result", {"result_id": "r-1", "cursor": "10"})
    result = ToolResult.success("e returned data.", [1], next_step="Read the next page.", next_call=call)
    assert (result.next_step, result.next_call) == ("Read the next page.", call)


def test_a_failure_carries_the_next_call_its_guidance_decided() -> None:
    decided = [guide(ErrorRecord(code=code), CALL) for code in get_args(ErrorCode)]
    with_a_call = [failure for failure in decided if failure.next_call is not None]
    assert with_a_call, "some row of the table offers a ready call"
    for failure in with_a_call:
        assert ToolResult.failure(failure).next_call == failure.next_call
