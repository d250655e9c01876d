"""The pure core's own limits on untrusted definitions, templates and inputs.

A repository's ``.prbot/`` folder and every input value are untrusted. These limits make
the common attacks (a YAML alias bomb, a template that doubles a string in a loop, a huge
format width, a pathological regular expression, an oversized input) fail fast, with an
error that names the file or field and the limit, before the expensive work is done. The
process sandbox around loading and rendering (deadline, CPU, memory) is the backstop.

Every function that loads, validates or renders takes ``limits: Limits = LIMITS``, so the
deployment's settings can replace any of them. A limit's field name appears in its error
message, so whoever reads the error knows which setting to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class Limits:
    # -- definition files (YAML)
    max_file_bytes: int = 1 * MiB  # one definition file
    max_documents: int = 100  # YAML documents in one definition file
    # nodes of one YAML document with every alias expanded (real definitions have < 200)
    max_alias_nodes: int = 10_000
    max_file_nodes: int = 25_000  # nodes written in one definition file, all documents
    # nodes written in all the definition files of one folder (ruamel parses ~20k a second)
    max_repo_nodes: int = 50_000
    # -- a repository's .prbot/ folder, all files together
    max_repo_files: int = 500
    max_repo_bytes: int = 4 * MiB
    # -- templates
    max_string: int = 1 * MiB  # the largest string one template operation may build
    max_list: int = 100_000  # the longest list (or range) one template operation may build
    max_output_file_bytes: int = 2 * MiB  # one rendered file (or field)
    max_output_bytes: int = 16 * MiB  # every file of one change together
    # -- inputs
    max_input_bytes: int = 64 * KiB  # one input value
    max_inputs: int = 200  # input values given to one run


LIMITS = Limits()


def size_text(n: int) -> str:
    """1048576 -> '1 MiB', 65536 -> '64 KiB', 1000 -> '1000 bytes'."""
    if n >= MiB and n % MiB == 0:
        return f"{n // MiB} MiB"
    if n >= KiB and n % KiB == 0:
        return f"{n // KiB} KiB"
    return f"{n} bytes"


def text_size(value: Any, budget: int, *, indent: int = 0) -> int:
    """An estimate (never much below) of ``len(str(value))``, that stops counting once it
    passes ``budget``: the cost is bounded by the budget, however many times a list holds
    the same big string or list. ``indent``: each item of a container starts a new line
    indented by ``indent`` per level (JSON/YAML/pprint with an indent)."""
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str | bytes | bytearray):
            total += len(item) + (4 if depth else 0)  # quotes and a separator when nested
        elif isinstance(item, bool) or item is None:
            total += 6
        elif isinstance(item, int):
            total += item.bit_length() * 31 // 100 + 3
        elif isinstance(item, float):
            total += 26
        elif isinstance(item, list | tuple | set | frozenset | dict):
            total += 2
            per_item = 2 + indent * (depth + 1) + (1 if indent else 0)
            if isinstance(item, dict):
                total += len(item) * (per_item + 2)
                children: Any = (x for pair in item.items() for x in pair)
            else:
                total += len(item) * per_item
                children = item
            if total > budget:
                return total
            for child in children:
                stack.append((child, depth + 1))
                if len(stack) > budget:  # each stacked item will count at least 1
                    return budget + 1
        else:
            attrs = _namespace_attrs(item)
            if attrs is not None:
                stack.append((attrs, depth))
            total += 16  # a function, a loop object, undefined: a short repr
        if total > budget:
            return total
    return total


def _namespace_attrs(value: Any) -> dict[str, Any] | None:
    """The attributes of a jinja ``namespace()`` (its repr shows them all)."""
    cls = type(value)
    if cls.__name__ != "Namespace" or not cls.__module__.startswith("jinja2"):
        return None
    try:
        attrs = object.__getattribute__(value, "_Namespace__attrs")
    except AttributeError:
        return None
    return attrs if isinstance(attrs, dict) else None


class LimitExceeded(ValueError):
    """An operation on untrusted data would go over one of the limits; the message says
    which (``template string exceeds 1 MiB (max_string) in '~'``)."""
