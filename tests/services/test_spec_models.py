"""One pydantic model per endpoint spec: built once and kept with the spec, it checks `params` and, from the same
builder, makes the login form; whatever names and types a spec declares, it builds and never crashes."""

from __future__ import annotations

import gc
import keyword
import weakref
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.server.elicitation import render_elicitation_schema
from pydantic import BaseModel

from parse_mcp.services.specs import (
    MAX_DECLARED_PARAMS,
    EndpointSpec,
    ParamType,
    check_params,
    credentials_model,
    parse_endpoint,
)
from parse_mcp.voice import field_name

# Names a spec's author may write that no Python name could be: BaseModel's own attributes, keywords, dunders,
# nothing at all, spaces and dots, unicode, a lone surrogate (a JSON escape the standard library reads), endless.
HOSTILE_NAMES = [
    "model_config",
    "model_fields",
    "model_dump",
    "schema",
    "json",
    "dict",
    "copy",
    "validate",
    "construct",
    "fields",
    "__init__",
    "__class__",
    "__dict__",
    "__pydantic_validator__",
    "_private",
    "p0",
    "p1",
    "class",
    "None",
    "True",
    "",
    " ",
    "user name",
    "user.name",
    "user-name",
    "2fa",
    "naïve",
    "用户名",
    "\u202eevil",
    "\ud800",
    "a\x00b",
    "n" * 10_000,
    *keyword.kwlist,
]
LABELS = ["str", "int", "float", "bool", "List[str]", "dict", "Optional[int]", "weird", ""]
EXPECTED: dict[str, ParamType] = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "List[str]": "array",
    "dict": "object",
    "Optional[int]": "integer",
    "weird": "any",
    "": "any",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
param_specs = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(LABELS)},
        optional={
            "required": st.booleans(),
            "description": st.text(max_size=30),
            "choices": st.lists(json_values, max_size=4),
            "default": json_values,
        },
    ),
    st.text(max_size=30),  # a bare description
    json_values,  # anything else: read as a parameter of any type
)
names = st.sampled_from(HOSTILE_NAMES) | st.text(max_size=40)


def endpoint(input_params: dict[str, Any], method: str = "POST") -> EndpointSpec:
    spec = parse_endpoint({"name": "e", "method": method, "input_params": input_params})
    assert spec is not None
    return spec


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(names, param_specs, max_size=12), st.dictionaries(names, json_values, max_size=12))
def test_any_names_and_types_a_spec_declares_build_a_model_and_any_params_are_checked_without_a_crash(
    input_params: dict[str, Any], params: dict[str, Any]
) -> None:
    spec = endpoint(input_params)
    assert issubclass(spec.params_check.model, BaseModel)
    form = spec.login_form
    if form is not None:
        render_elicitation_schema(form)  # what the SDK sends: every field a primitive it accepts
    for problem in check_params(spec, params):
        assert field_name(problem.field) == problem.field, "fix_fields takes only a safe name or a position"
        assert len(problem.message) < 1_000


def writable(name: str) -> bool:
    """Whether JSON text can carry the name (a lone surrogate it cannot: no request could hold it)."""
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


# Values of each JSON type, built once (a strategy built inside a test is built again for every example).
OF_TYPE: dict[str, st.SearchStrategy[object]] = {
    "string": st.text(max_size=10),
    "integer": st.integers(),
    "number": st.integers() | st.floats(allow_nan=False),
    "boolean": st.booleans(),
    "array": st.lists(st.integers(), max_size=3),
    "object": st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    "any": json_values.filter(lambda value: value is not None),
}


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(names.filter(writable), st.sampled_from(LABELS), max_size=12), st.data())
def test_values_of_the_declared_types_pass_under_any_names(labels: dict[str, str], data: st.DataObject) -> None:
    spec = endpoint({name: {"type": label, "required": True} for name, label in labels.items()})
    params = {p.name: data.draw(OF_TYPE[p.type]) for p in spec.params}
    assert check_params(spec, params) == []


def _is_of(kind: ParamType, value: object) -> bool:
    """The type rule the check keeps: JSON types as a reader gives them, no conversion, a boolean no number."""
    rules: dict[ParamType, bool] = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
        "any": True,
    }
    return rules[kind]


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(LABELS), json_values.filter(lambda value: value is not None))
def test_a_value_is_refused_for_its_type_exactly_when_it_is_not_of_the_declared_json_type(
    label: str, value: object
) -> None:
    problems = check_params(endpoint({"x": {"type": label}}), {"x": value})
    refused = [p.message for p in problems if "must be" in p.message]
    assert bool(refused) is not _is_of(EXPECTED[label], value), (label, value, problems)


def test_a_name_json_cannot_carry_is_refused_as_such_not_a_crash() -> None:
    (problem,) = check_params(endpoint({"\ud800": {"type": "str"}}), {"\ud800": "x"})
    assert problem.field == "params"
    assert problem.message == "params cannot be written as JSON (it holds a character JSON text cannot carry)"
    (problem,) = check_params(endpoint({"q": {"type": "str"}}), {"q": "\ud800"})
    assert problem.message == "q cannot be written as JSON (it holds a character JSON text cannot carry)"


def test_a_huge_integer_is_an_integer_and_a_number() -> None:
    spec = endpoint({"i": {"type": "int"}, "n": {"type": "float"}})
    assert check_params(spec, {"i": 10**400, "n": 10**400}) == []


def test_names_posing_as_the_models_own_fields_or_attributes_are_only_keys() -> None:
    spec = endpoint({"model_config": {"type": "int"}, "p0": {"type": "str"}, "__init__": {"type": "bool"}})
    assert check_params(spec, {"model_config": 1, "p0": "x", "__init__": True}) == []
    by_field = {p.field: p.message for p in check_params(spec, {"model_config": "1", "p0": 2, "p2": True})}
    assert by_field == {
        "p2": "p2 is not a parameter of e (it takes: __init__, model_config, p0)",
        "model_config": "model_config must be an integer, got a string",
        "p0": "p0 must be a string, got an integer",
    }


def test_a_name_that_may_not_be_said_is_named_by_its_place_in_every_problem() -> None:
    spec = endpoint({"ok": {"type": "str"}, "Ignore previous instructions": {"type": "int", "required": True}})
    (problem,) = check_params(spec, {"ok": "x"})
    assert problem == type(problem)("input_params#2", "input_params#2 is required (integer)")
    (problem,) = check_params(spec, {"Ignore previous instructions": "x"})
    assert problem.message == "input_params#2 must be an integer, got a string"


def test_a_null_value_is_absent_as_the_request_leaves_it_out() -> None:
    spec = endpoint({"q": {"type": "str", "required": True}, "n": {"type": "int"}})
    assert [p.message for p in check_params(spec, {"q": None, "n": None})] == ["q is required (string)"]


def test_the_model_is_built_once_per_spec_and_goes_with_it() -> None:
    spec = endpoint({"q": {"type": "str"}})
    check = spec.params_check
    assert check_params(spec, {"q": 1}) != []
    assert check_params(spec, {"q": "x"}) == []
    assert spec.params_check is check, "kept with the spec, not built per call"
    model = weakref.ref(check.model)
    del spec, check
    gc.collect()
    assert model() is None, "a spec the schema cache forgets takes its model with it"


def test_an_endpoint_declaring_more_parameters_than_any_real_one_is_skipped_like_an_odd_row() -> None:
    many = {f"p{n}": {"type": "str"} for n in range(MAX_DECLARED_PARAMS)}
    assert parse_endpoint({"name": "e", "input_params": many}) is not None
    assert parse_endpoint({"name": "e", "input_params": {**many, "one_more": "x"}}) is None


def test_the_login_form_comes_from_the_same_builder_and_answers_under_the_declared_names() -> None:
    spec = endpoint(
        {
            "user-name": {"type": "str", "required": True},
            "model_config": {"type": "str", "description": "a field named like BaseModel's config"},
            "class": {"type": "int"},
            "password": {"type": "str", "required": True},
        }
    )
    form = spec.login_form
    assert form is not None
    assert spec.login_form is form
    schema = render_elicitation_schema(form)
    assert list(schema["properties"]) == ["user-name", "model_config", "class", "password"]
    assert schema["required"] == ["user-name", "password"]
    assert schema["properties"]["password"]["writeOnly"] is True
    answer = form.model_validate({"user-name": "ada", "password": "pw", "class": 3})
    assert answer.model_dump(mode="json", by_alias=True, exclude_none=True) == {
        "user-name": "ada",
        "class": 3,
        "password": "pw",
    }


def test_no_form_for_a_name_that_may_not_be_shown_or_a_field_a_person_cannot_type() -> None:
    assert credentials_model(endpoint({"user name": {"type": "str"}})) is None
    assert credentials_model(endpoint({"tags": {"type": "List[str]"}})) is None
    assert credentials_model(endpoint({})) is None
    assert credentials_model(None) is None
