"""A small declarative schema for definition documents, with located, helpful errors.

Why not a library: errors must name the file, document, field path and line, and an
unknown field must get a did-you-mean; that is most of what a validator does, and the
runtime dependency list stays short.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prbot.automation.errors import Problem
from prbot.errors import did_you_mean

Check = Callable[[Any], str | None]  # returns an error message or None


@dataclass(frozen=True)
class Node:
    """Base of schema nodes; ``check`` runs after the type matched."""

    check: Check | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Str(Node):
    choices: tuple[str, ...] = ()
    case_insensitive: bool = False


@dataclass(frozen=True)
class Int(Node):
    minimum: int | None = None


@dataclass(frozen=True)
class Bool(Node):
    pass


@dataclass(frozen=True)
class AnyValue(Node):
    pass


@dataclass(frozen=True)
class ListOf(Node):
    item: Node = field(default_factory=AnyValue)


@dataclass(frozen=True)
class MapOf(Node):
    """A mapping with free string keys (labels, extra context)."""

    value: Node = field(default_factory=AnyValue)


@dataclass(frozen=True)
class Field:
    node: Node
    required: bool = False


@dataclass(frozen=True)
class Obj(Node):
    fields: Mapping[str, Field] = field(default_factory=dict)
    one_of: tuple[str, ...] = ()  # exactly one of these keys must be present


@dataclass
class Located:
    """Where the value being validated came from, for error lines."""

    file: str = ""
    document: int | None = None
    line_of: Callable[[str], int | None] = lambda _path: None

    def problem(self, path: str, message: str) -> Problem:
        return Problem(message, path, self.file, self.document, self.line_of(path))


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def validate(value: Any, node: Node, path: str, where: Located) -> list[Problem]:
    """Check ``value`` against ``node``; return every problem found (not just the first)."""
    problems: list[Problem] = []

    def fail(message: str) -> list[Problem]:
        problems.append(where.problem(path, message))
        return problems

    if isinstance(node, Str):
        if not isinstance(value, str):
            return fail(f"must be a string, got {_type_name(value)}")
        if node.choices:
            ok = value.lower() in node.choices if node.case_insensitive else value in node.choices
            if not ok:
                hint = did_you_mean(value, list(node.choices))
                return fail(f"must be one of {', '.join(node.choices)}, got {value!r}{hint}")
    elif isinstance(node, Int):
        if isinstance(value, bool) or not isinstance(value, int):
            return fail(f"must be an integer, got {_type_name(value)}")
        if node.minimum is not None and value < node.minimum:
            return fail(f"must be at least {node.minimum}, got {value}")
    elif isinstance(node, Bool):
        if not isinstance(value, bool):
            return fail(f"must be true or false, got {_type_name(value)}")
    elif isinstance(node, ListOf):
        if not isinstance(value, list):
            return fail(f"must be a list, got {_type_name(value)}")
        for i, item in enumerate(value):
            problems += validate(item, node.item, _join(path, i), where)
    elif isinstance(node, MapOf):
        if not isinstance(value, dict):
            return fail(f"must be a mapping, got {_type_name(value)}")
        for k, v in value.items():
            if not isinstance(k, str):
                problems.append(where.problem(path, f"keys must be strings, got {k!r}"))
                continue
            problems += validate(v, node.value, _join(path, k), where)
    elif isinstance(node, Obj):
        if not isinstance(value, dict):
            return fail(f"must be a mapping, got {_type_name(value)}")
        known = list(node.fields)
        for key in value:
            if key not in node.fields:
                hint = did_you_mean(str(key), known)
                problems.append(where.problem(_join(path, str(key)), f"unknown field{hint}"))
        for name, spec in node.fields.items():
            if name in value:
                if value[name] is None and not spec.required:
                    continue  # an empty optional field is the same as leaving it out
                problems += validate(value[name], spec.node, _join(path, name), where)
            elif spec.required:
                problems.append(where.problem(_join(path, name), "is required"))
        if node.one_of:
            present = [k for k in node.one_of if k in value]
            if len(present) != 1:
                options = " or ".join(node.one_of)
                problems.append(where.problem(path, f"must have exactly one of {options}"))
    if not problems and node.check is not None:
        message = node.check(value)
        if message:
            problems.append(where.problem(path, message))
    return problems
