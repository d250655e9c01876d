"""The names a template reads, checked against what its context will hold.

A misspelled ``context.nme`` would otherwise pass ``prbot validate`` and fail only when the
automation renders (``StrictUndefined``). The check reads Jinja's own syntax tree, so loop
variables, ``set`` variables, macro arguments and filters are what Jinja says they are.

Not reported, because they do not fail at render time:

- a name the template tests with ``is defined`` / ``is undefined`` or passes through the
  ``default`` (``d``) filter: the author expects it may be missing (the whole template is
  given the benefit of the doubt for that name);
- ``context.get(...)``, ``context.items()``, ``context.keys()``, ``context.values()``;
- any template that binds ``context`` itself (``{% set context = ... %}``, a loop or macro
  argument of that name): what it holds is no longer known.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

import jinja2
from jinja2 import meta, nodes

from prbot.automation.templating import ENVIRONMENT, as_template
from prbot.errors import did_you_mean

ROOT = "context"
_GUARD_TESTS = frozenset({"defined", "undefined"})
_GUARD_FILTERS = frozenset({"default", "d"})
_DICT_METHODS = frozenset({"get", "items", "keys", "values"})


@dataclass(frozen=True)
class UnknownName:
    """One name a template reads that its context will not hold."""

    line: int  # the template's own line, from 1
    message: str


def _walk(tree: nodes.Node) -> Iterator[tuple[nodes.Node, nodes.Node | None]]:
    """Every node with its parent, in source order (a stack: a deep template is data)."""
    stack: list[tuple[nodes.Node, nodes.Node | None]] = [(tree, None)]
    while stack:
        node, parent = stack.pop()
        yield node, parent
        stack.extend((child, node) for child in reversed(list(node.iter_child_nodes())))


def _context_key(node: nodes.Node) -> str | None:
    """``x`` for ``context.x`` and ``context['x']``; None for anything else."""
    if isinstance(node, nodes.Getattr):
        target, key = node.node, node.attr
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        target, key = node.node, node.arg.value
    else:
        return None
    if isinstance(target, nodes.Name) and target.name == ROOT and target.ctx == "load":
        return key if isinstance(key, str) else None
    return None


def _is_guard(parent: nodes.Node | None, node: nodes.Node) -> bool:
    if isinstance(parent, nodes.Test) and parent.node is node:
        return parent.name in _GUARD_TESTS
    if isinstance(parent, nodes.Filter) and parent.node is node:
        return parent.name in _GUARD_FILTERS
    return False


def _binds_root(tree: nodes.Template) -> bool:
    return any(
        isinstance(n, nodes.Name) and n.name == ROOT and n.ctx in ("store", "param")
        for n in tree.find_all(nodes.Name)
    )


def unknown_names(
    source: str,
    known: Collection[str],
    *,
    expression: bool = False,
    hidden: dict[str, str] | None = None,
) -> list[UnknownName]:
    """Every ``context.NAME`` in ``source`` whose NAME is not in ``known``, and every root
    variable other than ``context`` and Jinja's globals, in order, each with a did-you-mean.

    ``hidden``: names that exist but are undefined here, with the reason (a password input
    in a title). A template that does not parse has no names (its syntax error is reported
    by ``syntax_error``)."""
    text = as_template(source, expression)
    if text is None:
        return []
    try:
        tree = ENVIRONMENT.parse(text)
        return _unknown(tree, known, hidden or {})
    except (jinja2.TemplateSyntaxError, RecursionError):
        return []  # a syntax error is reported by syntax_error; too deep: not checked


def _unknown(
    tree: nodes.Template, known: Collection[str], hidden: dict[str, str]
) -> list[UnknownName]:
    if _binds_root(tree):
        return []
    uses: list[tuple[int, str]] = []
    guarded: set[str] = set()
    for node, parent in _walk(tree):
        key = _context_key(node)
        if key is None:
            continue
        if _is_guard(parent, node):
            guarded.add(key)
        elif not (isinstance(parent, nodes.Call) and parent.node is node and key in _DICT_METHODS):
            uses.append((node.lineno, key))
    found: list[UnknownName] = []
    reported: set[str] = set()
    for line, key in uses:
        if key in guarded or key in reported or (key in known and key not in hidden):
            continue
        reported.add(key)
        if key in hidden:
            found.append(UnknownName(line, f"{ROOT}.{key} {hidden[key]}"))
            continue
        hint = did_you_mean(key, [k for k in known if k not in hidden])
        found.append(UnknownName(line, f"{ROOT}.{key} is not an input{hint}"))
    # jinja2.meta counts a name set only inside {% if %} branches as undeclared; any name
    # the template binds somewhere is its own, not a misspelling
    bound = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    roots = meta.find_undeclared_variables(tree) - {ROOT} - set(ENVIRONMENT.globals) - bound
    for name in sorted(roots, key=lambda n: _first_line(tree, n)):
        hint = f" (did you mean '{ROOT}.{name}'?)" if name in known else ""
        found.append(
            UnknownName(
                _first_line(tree, name),
                f"{name} is not defined: the only variable is {ROOT}{hint}",
            )
        )
    return sorted(found, key=lambda u: u.line)


def _first_line(tree: nodes.Template, name: str) -> int:
    return min(
        (n.lineno for n in tree.find_all(nodes.Name) if n.name == name and n.ctx == "load"),
        default=1,
    )
