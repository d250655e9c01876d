"""An automation's ``configuration[]`` as a JSON Schema (draft 2020-12) of its inputs.

The schema is for a page (or a script) building and checking a form; the inputs
validator (``prbot.automation.inputs.validate_inputs``) stays the judge. They agree on
*canonical* values: JSON strings for string, enum and password inputs, integers for int,
booleans for bool, any JSON value (or a string of JSON text) for json; an unset input is
left out, never ``null``; and a hidden input (its condition is false) is left out too.
The validator is more lenient than that (``"3"`` for an int, ``"yes"`` for a bool).

What each input becomes (every property keeps the declared order and has
``x-prbot-type``, the input's type as written):

- string: ``type: string``, ``maxLength`` (max_input_bytes: a bound, the limit is in
  UTF-8 bytes), ``pattern`` from ``validation.regex`` anchored as ``^(?:...)$`` (the
  validator matches the whole value), ``contentMediaType: application/json`` for
  ``validation.json``. An empty string is "not given" to the validator: a required
  input has ``minLength: 1``; one with a default or optional accepts "" (the pattern is
  ``^(?:...)?$``, an enum lists "" too).
- password: a string with ``format: password`` and ``writeOnly``; its default is never
  shown.
- enum: ``type: string`` and ``enum``: the values (those ``validation.regex`` refuses
  are left out, as the validator would refuse them).
- int: ``type: integer``; a ``validation.regex`` is ``x-prbot-pattern``, matched against
  the decimal text (JSON Schema's ``pattern`` ignores numbers).
- bool: ``type: boolean``. json: any value but a string that is not JSON text.

Conditions: every conditional input carries ``x-prbot-when``, its condition as written
(``{"field", "operation", "value"}``, operation lower-case): the page shows the input
while the condition holds *and* that field is shown itself, with the semantics of
``prbot.automation.inputs.condition_holds`` (an unset field counts as its default). For
standard validators the schema also says when a hidden input stops being required:
``allOf`` holds one ``{"if": <visible>, "then": {"required": [name]}}`` per conditional
required input. That ``if`` is exact (it is built by evaluating ``condition_holds``) for
every condition on an enum or bool field, eq/not on string, password and int fields,
prefix/suffix on string fields and gt/lt/gte/lte on int fields; any other condition
(prefix on an int, gt on a string, anything on a json field, whose text is parsed
first) has no ``if/then``, only ``x-prbot-when``: the schema is then looser than the
validator (it never requires that input).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from prbot.automation import regex
from prbot.automation.inputs import CoercionError, Condition, ConfigField, coerce, condition_holds
from prbot.automation.limits import LIMITS, Limits

DIALECT = "https://json-schema.org/draft/2020-12/schema"
STRING_LIKE = ("string", "password", "enum")  # an empty string counts as "not given"
# the characters ECMA-262 (and so a browser's RegExp with the u flag) lets one escape
_ECMA_SYNTAX = re.compile(r"([\^$\\.*+?()\[\]{}|/])")
_COMPARE = {"gt": "exclusiveMinimum", "gte": "minimum", "lt": "exclusiveMaximum", "lte": "maximum"}

Schema = dict[str, Any] | bool


def inputs_schema(fields: tuple[ConfigField, ...], limits: Limits = LIMITS) -> dict[str, Any]:
    """The JSON Schema of an object of input values; see the module docstring."""
    by_name = {f.name: f for f in fields}
    properties: dict[str, Any] = {}
    required: list[str] = []
    rules: list[dict[str, Any]] = []
    for f in fields:
        prop = field_schema(f, limits)
        if f.condition is None:
            if f.required:
                required.append(f.name)
                prop.update(_non_empty(f))
        else:
            c = f.condition
            prop["x-prbot-when"] = {"field": c.field, "operation": c.operation, "value": c.value}
            visible = visibility(f, by_name)
            if f.required and visible is not None:
                then: dict[str, Any] = {"required": [f.name]}
                if _non_empty(f):
                    then["properties"] = {f.name: _non_empty(f)}
                rules.append({"if": visible, "then": then})
        properties[f.name] = prop
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "maxProperties": limits.max_inputs,
    }
    if required:
        schema["required"] = required
    if rules:
        schema["allOf"] = rules
    return schema


def field_schema(f: ConfigField, limits: Limits = LIMITS) -> dict[str, Any]:
    """One input's schema, without the parts that depend on the other inputs."""
    out: dict[str, Any] = {"title": f.display_name or f.name, "x-prbot-type": f.type}
    if f.documentation:
        out["description"] = f.documentation
    if f.placeholder:
        out["x-prbot-placeholder"] = f.placeholder
    # "" is "not given" to the validator: fine for an input that needs no value
    blank_ok = not f.required
    if f.type in ("string", "password"):
        out.update(type="string", maxLength=limits.max_input_bytes)
        if f.regex is not None:
            out["pattern"] = f"^(?:{f.regex})?$" if blank_ok else f"^(?:{f.regex})$"
        if f.json and blank_ok:
            out["anyOf"] = [{"const": ""}, {"contentMediaType": "application/json"}]
        elif f.json:
            out["contentMediaType"] = "application/json"
        if f.type == "password":
            out.update(format="password", writeOnly=True)
    elif f.type == "enum":
        values = [v for v in f.values if _passes(f, v)]
        out.update(type="string", enum=[*values, ""] if blank_ok and "" not in values else values)
    elif f.type == "int":
        out["type"] = "integer"
        if f.regex is not None:
            out["x-prbot-pattern"] = f"^(?:{f.regex})$"
    elif f.type == "bool":
        out["type"] = "boolean"
    else:  # json: a string given for it is parsed, so only JSON text is a valid string
        out["anyOf"] = [
            {"type": ["object", "array", "number", "boolean"]},
            {"type": "string", "contentMediaType": "application/json"},
        ]
    if f.default is not None and f.type != "password":  # a password default stays secret
        out["default"] = f.default
    return out


def visibility(f: ConfigField, by_name: Mapping[str, ConfigField]) -> Schema | None:
    """A schema that holds exactly when ``f`` is shown: each condition on the way up holds.
    None when one of them has no JSON Schema form (see the module docstring)."""
    parts: list[Schema] = []
    seen: set[str] = set()
    cur: ConfigField | None = f
    while cur is not None and cur.condition is not None:
        if cur.name in seen:  # a cycle: definitions refuse them; never loop here
            return None
        seen.add(cur.name)
        other = by_name.get(cur.condition.field)
        if other is None:
            return None
        part = condition_schema(cur.condition, other)
        if part is None:
            return None
        parts.append(part)
        cur = other
    return parts[0] if len(parts) == 1 else {"allOf": parts}


def condition_schema(cond: Condition, other: ConfigField) -> Schema | None:
    """A schema of the inputs object that holds exactly when ``cond`` on ``other`` does.
    The validator sees ``other``'s given value, else its default, else None."""
    when_given = _holds_for_values(cond, other)
    if when_given is None:
        return None
    given: dict[str, Any] = {"required": [other.name]}
    if other.type in STRING_LIKE:
        given["properties"] = {other.name: {"minLength": 1}}
    holds = {"required": [other.name], "properties": {other.name: when_given}}
    if condition_holds(cond, other, other.default):  # an unset field: its default
        return {"anyOf": [{"not": given}, holds]}
    return {"allOf": [given, holds]}


def _holds_for_values(cond: Condition, other: ConfigField) -> Schema | None:
    """The schema of ``other``'s given (valid, canonical) values for which cond holds."""
    if other.type == "json":  # a string given is parsed first: no JSON Schema form
        return None
    domain: list[Any] | None = None
    if other.type == "bool":
        domain = [True, False]
    elif other.type == "enum":
        domain = [v for v in other.values if _passes(other, v)]
    if domain is not None:  # finitely many values: ask the validator's own function
        chosen = [v for v in domain if condition_holds(cond, other, v)]
        return {"enum": chosen} if chosen else False
    op = cond.operation
    if op == "eq":
        return _equal_to(cond.value, other)
    if op == "not":
        if cond.value is not None:
            return _negate(_equal_to(cond.value, other))
        return {"enum": [0] if other.type == "int" else [""]}
    if op in ("prefix", "suffix") and other.type in STRING_LIKE:
        affix = _ECMA_SYNTAX.sub(r"\\\1", str(cond.value))
        return {"pattern": f"^{affix}" if op == "prefix" else f"{affix}$"}
    if op in _COMPARE and other.type == "int":
        try:
            bound = float(cond.value)
        except (TypeError, ValueError):
            return False  # the validator's comparison fails: the condition never holds
        if math.isnan(bound):
            return False
        if math.isinf(bound):
            return None
        return {_COMPARE[op]: int(bound) if bound.is_integer() else bound}
    return None


def _equal_to(expected: Any, other: ConfigField) -> Schema:
    """Values of ``other`` equal to ``expected`` as the validator compares (``_equal``:
    coerced to the field's type, else their text compared)."""
    try:
        return {"const": coerce(other, expected)}
    except CoercionError:
        pass
    text = str(expected)
    if other.type in STRING_LIKE:
        return {"const": text}
    if other.type == "int":
        return {"const": int(text)} if re.fullmatch(r"-?(0|[1-9]\d*)", text) else False
    return False  # no int has this text


def _negate(schema: Schema) -> Schema:
    if isinstance(schema, bool):
        return not schema
    return {"not": schema}


def _non_empty(f: ConfigField) -> dict[str, Any]:
    """A required string input given "" is "not given" to the validator."""
    return {"minLength": 1} if f.type in ("string", "password") else {}


def _passes(f: ConfigField, value: str) -> bool:
    """Does the field's validation.regex accept this (enum) value?"""
    if f.regex is None:
        return True
    try:
        return regex.fullmatch(f.regex, value)
    except regex.RegexError:
        return False
