"""Exact promises of `policy/size.py`, each one a mutation test found unguarded."""

from __future__ import annotations

from parse_mcp.policy.size import compact_json


def test_compact_json_writes_the_value_given_without_spaces_and_beyond_ascii_as_it_is() -> None:
    assert compact_json({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'
