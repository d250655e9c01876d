"""What ``prbot validate`` finds in an automation's templates without rendering them.

Every templated field of a definition and every template file is parsed by Jinja once:
syntax errors, regular expressions RE2 cannot run, and names the context will not hold
(``context.nme``). Each problem names the definition file and the line of the field
(``field_lines``, noted when the file was parsed) and, for a template of more than one
line, the line within the template.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Collection, Iterable
from typing import Any

from prbot.automation.definitions import PrAutomation
from prbot.automation.errors import Problem
from prbot.automation.template_names import unknown_names
from prbot.automation.templating import regex_problems, syntax_error

# What the context holds besides the inputs: a pipeline stage's ``pipeline`` mapping
# (name, promotion, repo, requested_by, stages, stage.name/index/previous/next).
DOCUMENTED_CONTEXT = ("pipeline",)
# Fields rendered where password inputs are undefined (see render.py).
PUBLIC_FIELDS = (
    "spec.title", "spec.message", "spec.head", "spec.base", "spec.labels", "spec.reviewers",
)  # fmt: skip
PASSWORD_HIDDEN = "is a password input, only available in file templates"


def templated_fields(a: PrAutomation) -> Iterable[tuple[str, str, bool]]:
    """(field path, template text, is an expression) for every templated field."""
    yield "spec.title", a.title, False
    if a.message != a.title:  # left out, the message is the title: checked once
        yield "spec.message", a.message, False
    for name in ("head", "base"):
        if getattr(a, name):
            yield f"spec.{name}", getattr(a, name), False
    for i, v in enumerate(a.labels):
        yield f"spec.labels[{i}]", v, False
    for i, v in enumerate(a.reviewers):
        yield f"spec.reviewers[{i}]", v, False
    for i, t in enumerate(a.templates):
        yield f"spec.creates.templates[{i}].destination", t.destination, False
        if t.condition:
            yield f"spec.creates.templates[{i}].condition", t.condition, True
    for i, r in enumerate(a.regex_replacements):
        for name in ("file", "regex", "replacement"):
            yield f"spec.updates.regexReplacements[{i}].{name}", getattr(r, name), False
    for i, o in enumerate(a.yaml_overlays):
        yield f"spec.updates.yamlOverlays[{i}].file", o.file, False
        yield f"spec.updates.yamlOverlays[{i}].yaml", o.yaml, False
    for i, e in enumerate(a.yaml_edits):
        yield f"spec.updates.yamlEdits[{i}].file", e.file, False
        yield f"spec.updates.yamlEdits[{i}].path", e.path, False
        yield from _value_strings(f"spec.updates.yamlEdits[{i}].value", e.value)
    for i, v in enumerate(a.delete_files):
        yield f"spec.deletes.files[{i}]", v, False
    for i, v in enumerate(a.delete_folders):
        yield f"spec.deletes.folders[{i}]", v, False


def _value_strings(path: str, value: Any) -> Iterable[tuple[str, str, bool]]:
    if isinstance(value, str):
        yield path, value, False
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _value_strings(f"{path}[{i}]", v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _value_strings(f"{path}.{k}", v)


def located_paths(a: PrAutomation) -> Iterable[str]:
    """Every field path a template problem can name: for ``field_lines``."""
    for path, _text, _expression in templated_fields(a):
        yield path
    for i in range(len(a.templates)):
        yield f"spec.creates.templates[{i}].source"


def field_lines(
    a: PrAutomation, line_of: Callable[[str], int | None]
) -> tuple[tuple[str, int], ...]:
    return tuple((p, line) for p in located_paths(a) if (line := line_of(p)) is not None)


def _at(text: str, line: int) -> str:
    """``template line N: `` for a template of several lines; nothing for one line."""
    return f"template line {line}: " if "\n" in text.strip("\n") else ""


def _template_files(a: PrAutomation) -> Iterable[tuple[int, str, str]]:
    """(template index, file name as written, text) of each template file that is text."""
    for i, t in enumerate(a.templates):
        for f in t.files:
            try:
                text = f.content.decode("utf-8")
            except UnicodeDecodeError:
                continue  # binary: copied, not rendered
            yield i, posixpath.join(t.source, f.relpath) if f.relpath else t.source, text


def template_problems(a: PrAutomation) -> list[Problem]:
    """Problems found at load time in any templated field or template file: Jinja syntax
    errors, and literal patterns (of ``regex_replace``, ``match``) that RE2 cannot run."""
    problems = []

    def problem(message: str, path: str) -> None:
        problems.append(Problem(message, path, a.source_file, line=a.line_of(path)))

    for path, text, expression in templated_fields(a):
        found = syntax_error(text, expression=expression)
        if found:
            problem(f"{_at(text, found[0])}template syntax error: {found[1]}", path)
            continue
        for line, message in regex_problems(text, expression=expression):
            problem(f"{_at(text, line)}{message}", path)
    for i, name, text in _template_files(a):
        where = f"spec.creates.templates[{i}].source"
        found = syntax_error(text)
        if found:
            problem(f"template syntax error in {name} at line {found[0]}: {found[1]}", where)
            continue
        for line, message in regex_problems(text):
            problem(f"in {name} at line {line}: {message}", where)
    return problems


def _known(a: PrAutomation) -> tuple[set[str], dict[str, str]]:
    names = {f.name for f in a.configuration} | set(DOCUMENTED_CONTEXT)
    hidden = {f.name: PASSWORD_HIDDEN for f in a.configuration if f.type == "password"}
    return names, hidden


def _template_index(path: str) -> int | None:
    prefix = "spec.creates.templates["
    if not path.startswith(prefix):
        return None
    return int(path[len(prefix) : path.index("]")])


def _template_context(a: PrAutomation, index: int) -> set[str]:
    """The ``context:`` keys of every template entry with the same source as entry
    ``index``: one file used with several contexts (``{env: prod, production: true}`` and
    ``{env: dev, replicas: 1}``) may read a key in a branch only some of them take."""
    source = a.templates[index].source
    return {k for t in a.templates if t.source == source for k in t.context}


def name_problems(a: PrAutomation) -> list[Problem]:
    """Every name a template reads that is not an input of ``a`` (nor the documented
    context, nor the template's own ``context:``), with a did-you-mean."""
    names, passwords = _known(a)
    problems = []

    def check(
        text: str, path: str, known: Collection[str], hidden: dict[str, str], expression: bool
    ) -> None:
        for found in unknown_names(text, known, expression=expression, hidden=hidden):
            problems.append(
                Problem(
                    f"{_at(text, found.line)}{found.message}",
                    path,
                    a.source_file,
                    line=a.line_of(path),
                )
            )

    for path, text, expression in templated_fields(a):
        public = path.startswith(PUBLIC_FIELDS)
        index = _template_index(path)
        known = names | _template_context(a, index) if index is not None else names
        check(text, path, known, passwords if public else {}, expression)
    for i, name, text in _template_files(a):
        path = f"spec.creates.templates[{i}].source"
        for found in unknown_names(text, names | _template_context(a, i)):
            problems.append(
                Problem(
                    f"in {name} at line {found.line}: {found.message}",
                    path,
                    a.source_file,
                    line=a.line_of(path),
                )
            )
    return problems
