"""Typed inputs: every type, defaults, optional, validation, conditions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prbot.automation.errors import InputError
from prbot.automation.inputs import (
    FALSE_SPELLINGS,
    TRUE_SPELLINGS,
    Condition,
    ConfigField,
    validate_inputs,
)


def messages(exc: InputError) -> dict[str, str]:
    return {p.field: p.message for p in exc.problems}


def test_each_type_coerces_cli_strings() -> None:
    fields = (
        ConfigField("s", "string"),
        ConfigField("i", "int"),
        ConfigField("b", "bool"),
        ConfigField("e", "enum", values=("aws", "gcp")),
        ConfigField("j", "json"),
        ConfigField("p", "password"),
    )
    got = validate_inputs(
        fields, {"s": "x", "i": "42", "b": "yes", "e": "gcp", "j": '{"a": [1]}', "p": "hunter2"}
    )
    assert got.values == {"s": "x", "i": 42, "b": True, "e": "gcp", "j": {"a": [1]}, "p": "hunter2"}
    assert got.secrets == {"hunter2"}
    assert "p" not in got.public()


def test_typed_values_from_yaml_are_accepted() -> None:
    fields = (ConfigField("i", "int"), ConfigField("b", "bool"), ConfigField("j", "json"))
    got = validate_inputs(fields, {"i": 3, "b": False, "j": [1, 2]})
    assert got.values == {"i": 3, "b": False, "j": [1, 2]}


@pytest.mark.parametrize(
    ("field", "raw", "fragment"),
    [
        (ConfigField("i", "int"), "3.5", "must be an integer"),
        (ConfigField("i", "int"), True, "must be an integer"),
        (ConfigField("b", "bool"), "maybe", "must be true or false"),
        (ConfigField("e", "enum", values=("aws", "gcp")), "asw", "did you mean 'aws'"),
        (ConfigField("j", "json"), "{nope", "must be valid JSON"),
        (ConfigField("s", "string"), 1.10, "quote it"),
        (ConfigField("s", "string", regex="^[a-z]+$"), "Abc", "must match the pattern"),
        (ConfigField("s", "string", json=True), "{x", "must be valid JSON"),
    ],
)
def test_bad_values_name_the_field(field: ConfigField, raw: object, fragment: str) -> None:
    with pytest.raises(InputError) as err:
        validate_inputs((field,), {field.name: raw})
    assert fragment in messages(err.value)[field.name]
    assert str(err.value).startswith(f"input {field.name}: ")


def test_password_errors_do_not_echo_the_value() -> None:
    field = ConfigField("pw", "password", regex="^.{12,}$")
    with pytest.raises(InputError) as err:
        validate_inputs((field,), {"pw": "shortpw"})
    assert "shortpw" not in str(err.value)
    assert "pattern" in str(err.value)


def test_required_default_and_optional() -> None:
    fields = (
        ConfigField("name", "string"),
        ConfigField("count", "int", default=3),
        ConfigField("note", "string", optional=True),
    )
    with pytest.raises(InputError) as err:
        validate_inputs(fields, {})
    assert messages(err.value) == {"name": "is required"}
    got = validate_inputs(fields, {"name": "a"})
    assert got.values == {"name": "a", "count": 3, "note": None}
    # forms send empty strings for untouched fields
    assert validate_inputs(fields, {"name": "a", "count": "", "note": ""}).values["count"] == 3


def test_unknown_inputs_get_did_you_mean() -> None:
    with pytest.raises(InputError) as err:
        validate_inputs((ConfigField("region", "string"),), {"region": "x", "regoin": "y"})
    assert "did you mean 'region'" in messages(err.value)["regoin"]


AZURE = ConfigField(
    "resourceGroup", "string", regex="^rg-.+$", condition=Condition("cloud", "eq", "azure")
)
CLOUD = ConfigField("cloud", "enum", values=("aws", "azure"))


def test_hidden_field_is_not_required_and_dropped() -> None:
    got = validate_inputs((CLOUD, AZURE), {"cloud": "aws", "resourceGroup": "ignored"})
    assert got.values == {"cloud": "aws"}


def test_visible_conditional_field_is_required_and_validated() -> None:
    with pytest.raises(InputError) as err:
        validate_inputs((CLOUD, AZURE), {"cloud": "azure"})
    assert messages(err.value) == {"resourceGroup": "is required"}
    with pytest.raises(InputError):
        validate_inputs((CLOUD, AZURE), {"cloud": "azure", "resourceGroup": "bad"})
    got = validate_inputs((CLOUD, AZURE), {"cloud": "azure", "resourceGroup": "rg-1"})
    assert got.values == {"cloud": "azure", "resourceGroup": "rg-1"}


def test_conditions_chain_and_declared_order_does_not_matter() -> None:
    c = ConfigField("c", "string", condition=Condition("b", "eq", "on"))
    b = ConfigField("b", "string", condition=Condition("a", "eq", True))
    a = ConfigField("a", "bool")
    assert validate_inputs((c, b, a), {"a": "false"}).values == {"a": False}
    got = validate_inputs((c, b, a), {"a": "true", "b": "on", "c": "x"})
    assert list(got.values) == ["c", "b", "a"]


@pytest.mark.parametrize(
    ("operation", "value", "given", "shown"),
    [
        ("eq", 3, "3", True),
        ("eq", 3, "4", False),
        ("not", 3, "4", True),
        ("not", None, "0", True),
        ("gt", 2, "3", True),
        ("gt", 3, "3", False),
        ("gte", 3, "3", True),
        ("lt", 3, "2", True),
        ("lte", 2, "3", False),
    ],
)
def test_numeric_operations(operation: str, value: object, given: str, shown: bool) -> None:
    n = ConfigField("n", "int")
    x = ConfigField("x", "string", condition=Condition("n", operation, value))
    got = validate_inputs((n, x), {"n": given, "x": "v"})
    assert ("x" in got.values) is shown


@pytest.mark.parametrize(
    ("operation", "value", "given", "shown"),
    [
        ("prefix", "prod-", "prod-eu", True),
        ("prefix", "prod-", "dev-eu", False),
        ("suffix", "-eu", "prod-eu", True),
        ("suffix", "-us", "prod-eu", False),
        ("not", None, "", True),  # an unset optional field counts as false
    ],
)
def test_string_operations(operation: str, value: object, given: str, shown: bool) -> None:
    s = ConfigField("s", "string", optional=True)
    x = ConfigField("x", "string", condition=Condition("s", operation, value))
    got = validate_inputs((s, x), {"s": given, "x": "v"})
    assert ("x" in got.values) is shown


def test_condition_sees_the_default() -> None:
    tier = ConfigField("tier", "enum", values=("dev", "prod"), default="prod")
    approver = ConfigField("approver", "string", condition=Condition("tier", "eq", "prod"))
    with pytest.raises(InputError) as err:
        validate_inputs((tier, approver), {})
    assert messages(err.value) == {"approver": "is required"}


def test_every_bool_spelling_is_accepted_and_the_docs_list_exactly_them() -> None:
    field = ConfigField("b", "bool")
    for words, value in ((TRUE_SPELLINGS, True), (FALSE_SPELLINGS, False)):
        for word in words:
            for given in (word, word.upper(), f"  {word.title()} "):
                assert validate_inputs((field,), {"b": given}).values == {"b": value}
    with pytest.raises(InputError) as err:
        validate_inputs((field,), {"b": "y"})
    assert messages(err.value) == {
        "b": "must be true or false (true/yes/on/1 or false/no/off/0), got 'y'"
    }
    doc = (Path(__file__).resolve().parents[2] / "docs" / "definitions.md").read_text()
    paragraph = re.search(r"A `bool` input takes .*?\n\n", doc, re.S)
    assert paragraph, "docs/definitions.md no longer describes the bool spellings"
    sentence = paragraph.group(0).split("anything else is an error")[0]
    true_part, false_part = sentence.split(" or `", 1)
    assert re.findall(r"`([^`]+)`", true_part.split("spelled", 1)[1]) == list(TRUE_SPELLINGS)
    assert re.findall(r"`([^`]+)`", "`" + false_part) == list(FALSE_SPELLINGS)
