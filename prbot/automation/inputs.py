"""Typed inputs: an automation's ``configuration[]`` and the validation of values against it.

Conditions are honoured: a field whose condition is false is hidden, so it is neither
required nor present in the context, and fields conditioned on a hidden field are hidden
too. Password values are collected so that callers can keep them out of everything but
file templates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from prbot.automation import regex
from prbot.automation.errors import InputError, Problem
from prbot.automation.limits import LIMITS, Limits, size_text, text_size
from prbot.errors import did_you_mean

FieldType = Literal["string", "int", "bool", "enum", "json", "password"]
FIELD_TYPES: tuple[str, ...] = ("string", "int", "bool", "enum", "json", "password")
OPERATIONS: tuple[str, ...] = ("eq", "not", "gt", "lt", "gte", "lte", "prefix", "suffix")
MAX_NAME_SHOWN = 64  # an unknown input's name is cut to this in messages

# A bool input given as text (a form, --set, a slash-command): these spellings, in any
# case, surrounding spaces ignored. docs/definitions.md lists them (a test keeps it so).
TRUE_SPELLINGS: tuple[str, ...] = ("true", "yes", "on", "1")
FALSE_SPELLINGS: tuple[str, ...] = ("false", "no", "off", "0")


@dataclass(frozen=True)
class Condition:
    field: str
    operation: str
    value: Any = None


@dataclass(frozen=True)
class ConfigField:
    name: str
    type: FieldType
    display_name: str = ""
    documentation: str = ""
    placeholder: str = ""
    default: Any = None
    optional: bool = False
    values: tuple[str, ...] = ()
    regex: str | None = None
    json: bool = False
    condition: Condition | None = None

    @property
    def required(self) -> bool:
        return not self.optional and self.default is None


@dataclass(frozen=True)
class ValidInputs:
    """Inputs after validation: the visible fields only, coerced to their types."""

    values: Mapping[str, Any]
    password_fields: frozenset[str] = frozenset()
    secrets: frozenset[str] = field(default_factory=frozenset)

    def public(self) -> dict[str, Any]:
        """The values with passwords removed: safe for titles, logs and the store."""
        return {k: v for k, v in self.values.items() if k not in self.password_fields}


class CoercionError(ValueError):
    pass


def coerce(f: ConfigField, raw: Any) -> Any:
    """Turn a raw value (a CLI/form string, or a typed value from YAML/JSON) into f's type.

    Sizes are checked by ``validate_inputs`` (``check_size``) before a value gets here."""
    if f.type in ("string", "password", "enum"):
        if isinstance(raw, bool | float):
            raise CoercionError("must be a string (quote it in YAML to keep it as written)")
        if isinstance(raw, int):
            raw = str(raw)
        if not isinstance(raw, str):
            raise CoercionError(f"must be a string, got {type(raw).__name__}")
        if f.type == "enum" and raw not in f.values:
            hint = did_you_mean(raw, list(f.values))
            raise CoercionError(f"must be one of {', '.join(f.values)}, got {raw!r}{hint}")
        return raw
    if f.type == "int":
        if isinstance(raw, bool):
            raise CoercionError("must be an integer, got a boolean")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str) and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", raw):
            return int(raw)
        raise CoercionError(f"must be an integer, got {raw!r}")
    if f.type == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in TRUE_SPELLINGS + FALSE_SPELLINGS:
            return raw.strip().lower() in TRUE_SPELLINGS
        raise CoercionError(
            f"must be true or false ({'/'.join(TRUE_SPELLINGS)} or "
            f"{'/'.join(FALSE_SPELLINGS)}), got {raw!r}"
        )
    if f.type == "json":
        if isinstance(raw, str):
            try:
                return json.loads(raw)
            except json.JSONDecodeError as exc:
                raise CoercionError(
                    f"must be valid JSON ({exc.msg} at column {exc.colno})"
                ) from None
        if isinstance(raw, dict | list | int | float | bool) or raw is None:
            return raw
        raise CoercionError(f"must be JSON, got {type(raw).__name__}")
    raise CoercionError(f"has unknown type {f.type!r}")


def check_constraints(f: ConfigField, value: Any) -> None:
    """validation.regex and validation.json, on the value's text form."""
    if f.type in ("bool", "json"):
        return
    text = str(value)
    if f.regex is not None:
        try:
            matched = regex.fullmatch(f.regex, text)  # RE2: linear time, whatever the input
        except regex.RegexError as exc:
            raise CoercionError(f"cannot be checked: its validation pattern {exc}") from None
        if not matched:
            shown = "" if f.type == "password" else f", got {text!r}"
            raise CoercionError(f"must match the pattern {f.regex}{shown}")
    if f.json:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise CoercionError(f"must be valid JSON ({exc.msg} at column {exc.colno})") from None


def condition_holds(cond: Condition, other: ConfigField, value: Any) -> bool:
    """Evaluate ``other`` (whose current value is ``value``, None when unset) against cond."""
    op = cond.operation
    if op == "not":
        if cond.value is None:
            return not value
        return not _equal(other, value, cond.value)
    if value is None:
        return False
    if op == "eq":
        return _equal(other, value, cond.value)
    if op in ("prefix", "suffix"):
        text, affix = str(value), str(cond.value)
        return text.startswith(affix) if op == "prefix" else text.endswith(affix)
    try:
        left, right = float(value), float(cond.value)
    except (TypeError, ValueError):
        return False
    return {
        "gt": left > right,
        "lt": left < right,
        "gte": left >= right,
        "lte": left <= right,
    }[op]


def _equal(f: ConfigField, value: Any, expected: Any) -> bool:
    try:
        return value == coerce(f, expected)
    except CoercionError:
        return str(value) == str(expected)


def evaluation_order(fields: tuple[ConfigField, ...]) -> list[ConfigField]:
    """Fields ordered so that every condition's field comes before the field it guards.

    Assumes references were checked (definitions do that) and there are no cycles.
    """
    by_name = {f.name: f for f in fields}
    done: dict[str, ConfigField] = {}

    def visit(f: ConfigField, seen: tuple[str, ...]) -> None:
        if f.name in done or f.name in seen:
            return
        if f.condition and f.condition.field in by_name:
            visit(by_name[f.condition.field], (*seen, f.name))
        done[f.name] = f

    for f in fields:
        visit(f, ())
    return list(done.values())


def check_size(value: Any, limits: Limits = LIMITS) -> str | None:
    """The problem with one input value's size (UTF-8 bytes of its text or JSON form)."""
    limit = limits.max_input_bytes
    if isinstance(value, str):
        size = len(value) if len(value) * 4 <= limit else len(value.encode("utf-8", "replace"))
    else:
        size = text_size(value, limit)
    if size > limit:
        return f"is larger than {size_text(limit)} (max_input_bytes)"
    return None


def _shown(name: Any) -> str:
    text = str(name)
    return text if len(text) <= MAX_NAME_SHOWN else text[:MAX_NAME_SHOWN] + "..."


def validate_inputs(
    fields: tuple[ConfigField, ...], raw: Mapping[str, Any], limits: Limits = LIMITS
) -> ValidInputs:
    """Validate raw inputs; raise InputError with one Problem per bad or missing field.

    At most ``limits.max_inputs`` values, each at most ``limits.max_input_bytes``: over
    either is refused before any value is looked at further."""
    if len(raw) > limits.max_inputs:
        raise InputError(
            [
                Problem(
                    f"{len(raw)} input values given; at most {limits.max_inputs} are accepted "
                    "(max_inputs)"
                )
            ]
        )
    too_big = [
        Problem(message, _shown(name))
        for name, value in raw.items()
        if (message := check_size(value, limits))
    ]
    if too_big:
        raise InputError(too_big)
    by_name = {f.name: f for f in fields}
    problems: list[Problem] = []
    for name in raw:
        if name not in by_name:
            shown = _shown(name)
            hint = did_you_mean(shown, list(by_name)) if shown == str(name) else ""
            problems.append(Problem(f"is not an input of this automation{hint}", shown))

    values: dict[str, Any] = {}
    current: dict[str, Any] = {}  # what conditions see: given, else default
    hidden: set[str] = set()
    for f in evaluation_order(fields):
        cond = f.condition
        if cond is not None and (
            cond.field in hidden
            or not condition_holds(cond, by_name[cond.field], current.get(cond.field))
        ):
            hidden.add(f.name)
            continue
        given = raw.get(f.name)
        if given is None or (isinstance(given, str) and given == "" and f.type != "json"):
            if f.default is not None:
                values[f.name] = current[f.name] = f.default
            elif f.optional:
                # present as None so `{% if context.x %}` works; hidden fields stay absent
                values[f.name] = None
            else:
                problems.append(Problem("is required", f.name))
            continue
        try:
            value = coerce(f, given)
            check_constraints(f, value)
        except CoercionError as exc:
            problems.append(Problem(str(exc), f.name))
            continue
        values[f.name] = current[f.name] = value

    if problems:
        raise InputError(problems)
    passwords = frozenset(f.name for f in fields if f.type == "password")
    secrets = frozenset(str(values[n]) for n in passwords if values.get(n) is not None)
    # keep the declared order: templates and forms show fields as the author listed them
    ordered = {f.name: values[f.name] for f in fields if f.name in values}
    return ValidInputs(ordered, passwords, secrets)
