"""The JSON Schema of an automation's inputs (prbot.automation.input_schema): valid
draft 2020-12 for every shipped automation and every Plural port, each input type and
rule where it belongs, passwords without defaults, conditions as x-prbot-when and
if/then; and, by hypothesis, the schema accepts exactly the canonical values the inputs
validator accepts (hidden inputs left out, as a page leaves them out)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from prbot.automation.changeset import DirRepoView
from prbot.automation.definitions import PrAutomation
from prbot.automation.errors import InputError
from prbot.automation.input_schema import inputs_schema, visibility
from prbot.automation.inputs import Condition, ConfigField, validate_inputs
from prbot.automation.loader import load_view
from tests.support.input_schemas import hidden_fields, schema_accepts

ROOT = Path(__file__).resolve().parents[2]
PORTS = sorted(p.parent for p in (ROOT / "tests" / "plural").glob("*/automation.yaml"))


def shipped() -> list[PrAutomation]:
    found = load_view(DirRepoView(ROOT / "automations"), display_root="automations")
    for port in PORTS:
        found.merge(load_view(DirRepoView(port), files=["automation.yaml"]))
    assert not found.problems, found.problems
    return list(found.automations.values())


SHIPPED = shipped()

# every type, every rule, every operation, chains and passwords; in small groups, so
# that random values often satisfy a whole group
GROUPS = (
    (
        ConfigField("s", "string", optional=True),
        ConfigField("t", "string", condition=Condition("s", "prefix", "a.")),
        ConfigField("g", "string", condition=Condition("t", "suffix", "z")),  # a chain
    ),
    (
        ConfigField("n", "int", default=5),
        ConfigField("m", "string", regex=r"[a-c]+", condition=Condition("n", "gt", 3)),
        ConfigField("q", "int", regex=r"[1-9]", condition=Condition("n", "lte", "2")),
    ),
    (
        ConfigField("b", "bool", optional=True),
        ConfigField("c", "int", condition=Condition("b", "eq", True)),
    ),
    (
        ConfigField("e", "enum", values=("dev", "prod", "x9"), default="dev", regex="[a-z]+"),
        ConfigField("d", "string", json=True, condition=Condition("e", "not", "prod")),
        ConfigField("h", "enum", values=("a", "b"), condition=Condition("e", "prefix", "p")),
    ),
    (
        ConfigField("k", "json", optional=True),
        ConfigField("j", "string", condition=Condition("k", "not")),
    ),
    (
        ConfigField("o", "string", optional=True),
        ConfigField("r", "string", condition=Condition("o", "eq", "on")),
    ),
    (
        ConfigField("p", "password", regex=r"[^ ]{2,}", default="hunter2"),
        ConfigField("p2", "password", optional=True),
        ConfigField("u", "string", regex="[a-z]*"),
    ),
)
SYNTHETIC = tuple(f for group in GROUPS for f in group)


def values_for(f: ConfigField) -> st.SearchStrategy[Any]:
    """Canonical values for ``f``: mostly valid ones (so conditions open and close), and
    some that are not."""
    if f.type == "int":
        return st.integers(-3, 12)
    if f.type == "bool":
        return st.booleans()
    if f.type == "enum":
        return st.sampled_from(f.values) | st.sampled_from(["", "qa", "Prod"])
    if f.type == "json":
        return st.one_of(
            st.integers(-1, 1), st.booleans(), st.just([]), st.just({}), st.just({"a": 1}),
            st.sampled_from(["", "1", "[]", "{}", "nope", "0"]),
        )  # fmt: skip
    words = ["a.", "a.z", "a.bz", "on", "abc", "9", "{}", "[1]", "x", "a.x", "ca"]
    good = st.sampled_from(words)
    if f.regex is not None:
        good = st.from_regex(f.regex, fullmatch=True).filter(lambda v: "\n" not in v)
    bad = st.sampled_from(["", "ab c"]) | st.text(alphabet="abcz. {}[]1", max_size=6)
    return st.one_of(good, good, good, bad)


MISSING = object()


def inputs_for(fields: tuple[ConfigField, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """Each input mostly given (a required one left out is refused whatever the rest)."""
    each = {f.name: st.one_of(*[values_for(f)] * 4, st.just(MISSING)) for f in fields}
    return st.fixed_dictionaries(each).map(
        lambda d: {k: v for k, v in d.items() if v is not MISSING}
    )


def validator_accepts(fields: tuple[ConfigField, ...], values: dict[str, Any]) -> bool:
    try:
        validate_inputs(fields, values)
    except InputError:
        return False
    return True


def agree(fields: tuple[ConfigField, ...], values: dict[str, Any]) -> None:
    """The same verdict; where a condition has no JSON Schema form, the schema may accept
    what the validator refuses (it never requires that input), never the reverse."""
    shown = {k: v for k, v in values.items() if k not in hidden_fields(fields, values)}
    expected = validator_accepts(fields, shown)
    got = schema_accepts(inputs_schema(fields), shown)
    by_name = {f.name: f for f in fields}
    if all(visibility(f, by_name) is not None for f in fields if f.condition):
        assert got == expected, (shown, expected)
    else:
        assert got or not expected, (shown, expected)


# ---------------------------------------------------------------- shape


@pytest.mark.parametrize("automation", SHIPPED, ids=lambda a: a.name)
def test_every_shipped_schema_is_valid_json_schema(automation: PrAutomation) -> None:
    schema = inputs_schema(automation.configuration)
    Draft202012Validator.check_schema(schema)
    assert list(schema["properties"]) == [f.name for f in automation.configuration]
    assert schema["additionalProperties"] is False
    for f in automation.configuration:
        prop = schema["properties"][f.name]
        assert prop["x-prbot-type"] == f.type
        assert prop["title"] == (f.display_name or f.name)
        if f.regex is not None and f.type in ("string", "password"):
            assert prop["pattern"] == f"^(?:{f.regex}){'' if f.required else '?'}$"
        if f.type == "enum":  # "" is "not given": fine when a default or nothing will do
            assert prop["enum"] == list(f.values) + ([] if f.required else [""])
        if f.condition is not None:
            assert prop["x-prbot-when"]["field"] == f.condition.field
            assert visibility(f, {g.name: g for g in automation.configuration}) is not None
    unconditional = [f.name for f in automation.configuration if f.required and not f.condition]
    assert schema.get("required", []) == unconditional


def test_every_input_type_and_rule() -> None:
    schema = inputs_schema(SYNTHETIC)
    Draft202012Validator.check_schema(schema)
    props = schema["properties"]
    assert props["s"] == {
        "title": "s",
        "x-prbot-type": "string",
        "type": "string",
        "maxLength": 65536,
    }
    assert props["n"]["type"] == "integer" and props["n"]["default"] == 5
    assert props["q"]["x-prbot-pattern"] == "^(?:[1-9])$" and "pattern" not in props["q"]
    assert props["b"]["type"] == "boolean"
    assert props["e"]["enum"] == ["dev", "prod", ""]  # "x9" fails the enum's own regex
    assert props["d"]["contentMediaType"] == "application/json"
    assert props["p"]["pattern"] == "^(?:[^ ]{2,})?$"  # "" means "the default" here
    assert {"type": "string", "contentMediaType": "application/json"} in props["k"]["anyOf"]
    assert props["j"]["x-prbot-when"] == {"field": "k", "operation": "not", "value": None}
    by_name = {f.name: f for f in SYNTHETIC}
    assert visibility(by_name["j"], by_name) is None  # on a json field: parsed text
    # passwords: marked, write-only, and their defaults never shown
    for name in ("p", "p2"):
        assert props[name]["format"] == "password" and props[name]["writeOnly"] is True
        assert "default" not in props[name]
    assert "hunter2" not in repr(schema)
    assert schema["required"] == ["u"]  # "" is "not given" to the validator: minLength 1
    assert props["u"]["minLength"] == 1 and props["u"]["pattern"] == "^(?:[a-z]*)$"
    # each conditional required input: one if/then
    assert [rule["then"]["required"] for rule in schema["allOf"]] == [
        ["t"], ["g"], ["m"], ["q"], ["c"], ["d"], ["h"], ["r"]
    ]  # fmt: skip


def test_unexpressible_conditions_keep_only_x_prbot_when() -> None:
    fields = (
        ConfigField("n", "int"),
        ConfigField("a", "string", condition=Condition("n", "prefix", "1")),
        ConfigField("s", "string"),
        ConfigField("b", "string", condition=Condition("s", "gt", 3)),
    )
    schema = inputs_schema(fields)
    assert "allOf" not in schema
    assert schema["properties"]["a"]["x-prbot-when"]["operation"] == "prefix"
    assert schema["properties"]["b"]["x-prbot-when"]["operation"] == "gt"


# ---------------------------------------------------------------- the same verdicts


def test_cluster_create_examples() -> None:
    [cluster] = [a for a in SHIPPED if a.name == "cluster-create"]
    fields, schema = cluster.configuration, inputs_schema(cluster.configuration)
    good = {"name": "dev-eu-1", "cloud": "aws", "region": "eu-west-1"}
    assert schema_accepts(schema, good) and validator_accepts(fields, good)
    azure = {**good, "cloud": "azure"}
    assert not schema_accepts(schema, azure) and not validator_accepts(fields, azure)
    azure["resourceGroup"] = "rg-1"
    assert schema_accepts(schema, azure) and validator_accepts(fields, azure)
    for bad in ({"nodeCount": 51}, {"nodeCount": 0}, {"tier": "qa"}, {"name": "A"}, {"x": 1}):
        assert not schema_accepts(schema, {**good, **bad})
        assert not validator_accepts(fields, {**good, **bad})
    assert schema_accepts(schema, {**good, "nodeCount": 50})


@pytest.mark.parametrize("fields", GROUPS, ids=lambda g: "-".join(f.name for f in g))
def test_schema_and_validator_agree_on_every_rule(fields: tuple[ConfigField, ...]) -> None:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(values=inputs_for(fields))
    def check(values: dict[str, Any]) -> None:
        agree(fields, values)

    check()


@pytest.mark.parametrize("automation", SHIPPED, ids=lambda a: a.name)
def test_schema_and_validator_agree_on_shipped_automations(automation: PrAutomation) -> None:
    fields = automation.configuration

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(values=inputs_for(fields))
    def check(values: dict[str, Any]) -> None:
        agree(fields, values)

    check()


def test_patterns_are_anchored_whole_value() -> None:
    schema = inputs_schema((ConfigField("v", "string", regex="[0-9]+"),))
    assert schema_accepts(schema, {"v": "42"})
    for bad in ("42a", "a42", "42\n"):  # a final newline too: RE2's $ is the end
        assert not schema_accepts(schema, {"v": bad})
    assert re.fullmatch(schema["properties"]["v"]["pattern"], "42")
