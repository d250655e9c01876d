"""A jsonschema validator for ``prbot.automation.input_schema``'s schemas as a page
would check them: draft 2020-12 plus what the page evaluates itself.

- ``pattern`` is searched with RE2 (``prbot.automation.regex``): its ``$`` is the end of
  the text, as in ECMA-262 (a browser's RegExp), not "before a final newline" as in
  Python's ``re``, which jsonschema would use;
- ``x-prbot-pattern`` (an int input's validation.regex) is searched in the decimal text;
- ``contentMediaType: application/json`` is asserted (JSON text), not only annotated.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from prbot.automation import regex
from prbot.automation.inputs import (
    CoercionError,
    ConfigField,
    coerce,
    condition_holds,
    evaluation_order,
)


def _pattern(
    validator: Any, pattern: str, instance: Any, _schema: Any
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not regex.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _int_pattern(validator: Any, pattern: str, instance: Any, _s: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "integer") and not regex.search(pattern, str(instance)):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _media(validator: Any, media: str, instance: Any, _schema: Any) -> Iterator[ValidationError]:
    if media == "application/json" and validator.is_type(instance, "string"):
        try:
            json.loads(instance)
        except ValueError:
            yield ValidationError(f"{instance!r} is not JSON text")


InputsValidator = validators.extend(
    Draft202012Validator,
    {"pattern": _pattern, "x-prbot-pattern": _int_pattern, "contentMediaType": _media},
)


def schema_accepts(schema: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    return InputsValidator(schema).is_valid(values)


def hidden_fields(fields: tuple[ConfigField, ...], values: Mapping[str, Any]) -> set[str]:
    """The inputs whose condition is false for these values (a page leaves them out), by
    the validator's rules: an unset field counts as its default."""
    by_name = {f.name: f for f in fields}
    current: dict[str, Any] = {}
    hidden: set[str] = set()
    for f in evaluation_order(fields):
        c = f.condition
        if c is not None and (
            c.field in hidden or not condition_holds(c, by_name[c.field], current.get(c.field))
        ):
            hidden.add(f.name)
            continue
        given = values.get(f.name)
        if given is None or (given == "" and f.type != "json"):
            if f.default is not None:
                current[f.name] = f.default
            continue
        with contextlib.suppress(CoercionError):
            current[f.name] = coerce(f, given)
    return hidden
