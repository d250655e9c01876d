"""Loading definitions from a folder, a file, or a repository's ``.prbot/`` folder.

Everything is read through a ``RepoView``, so the same code loads the deployment's
``automations/`` from disk and a repository's ``.prbot/`` fetched from an SCM. Template
sources are read here, once, so that rendering needs no I/O.
"""

from __future__ import annotations

import datetime
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from prbot.automation.changeset import EXECUTABLE, SYMLINK, RepoView
from prbot.automation.definitions import (
    Catalog,
    Definition,
    Pipeline,
    PrAutomation,
    TemplateFile,
    parse_document,
)
from prbot.automation.errors import DefinitionError, PathError, Problem
from prbot.automation.limits import LIMITS, Limits, size_text
from prbot.automation.paths import normalise
from prbot.automation.schema import Located
from prbot.automation.template_checks import field_lines, template_problems
from prbot.automation.yamlload import FolderBudget, YamlLimitError, load_all
from prbot.errors import did_you_mean

MAX_TEMPLATE_BYTES = 16 * 1024 * 1024  # all templates of one automation together
_DEFINITION_MARKER = re.compile(rb"^apiVersion:\s*[\"']?prbot\.dev/", re.MULTILINE)
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass
class DefinitionSet:
    """Every definition found, by kind and name, plus the problems met on the way."""

    automations: dict[str, PrAutomation] = field(default_factory=dict)
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    catalogs: dict[str, Catalog] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def add(self, definition: Definition, where: Located) -> None:
        table: dict[str, Any] = {
            "PrAutomation": self.automations,
            "Pipeline": self.pipelines,
            "Catalog": self.catalogs,
        }[definition.kind]
        other = table.get(definition.name)
        if other is not None:
            self.problems.append(
                where.problem(
                    "metadata.name",
                    f"a {definition.kind} named {definition.name!r} is already defined "
                    f"in {other.source_file}",
                )
            )
            return
        table[definition.name] = definition

    def merge(self, other: DefinitionSet) -> None:
        for d in [*other.automations.values(), *other.pipelines.values(), *other.catalogs.values()]:
            self.add(d, Located(d.source_file))
        self.problems += other.problems

    def check_references(self) -> None:
        """Cross-document checks: every pipeline stage names a known automation."""
        for p in self.pipelines.values():
            for i, stage in enumerate(p.stages):
                if stage.automation not in self.automations:
                    hint = did_you_mean(stage.automation, list(self.automations))
                    self.problems.append(
                        Problem(
                            f"no PrAutomation named {stage.automation!r}{hint}",
                            f"spec.stages[{i}].automation",
                            p.source_file,
                        )
                    )

    def raise_for_problems(self) -> None:
        if self.problems:
            raise DefinitionError(self.problems)


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


def to_plain(value: Any) -> Any:
    """ruamel's round-trip types -> plain dict/list/str/int/float/bool/None."""
    if isinstance(value, dict):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return bool(value) if type(value).__name__ == "ScalarBoolean" else int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _line_finder(doc: Any, first_line: int):
    """A function from a field path to the 1-based line it sits on (best effort)."""

    def line_of(path: str) -> int | None:
        node, line = doc, first_line
        for key, index in _STEP.findall(path):
            step: str | int = int(index) if index else key
            try:
                if isinstance(step, int) and isinstance(node, list):
                    line = node.lc.item(step)[0] + 1
                    node = node[step]
                elif isinstance(step, str) and isinstance(node, dict):
                    if step not in node:
                        break
                    line = node.lc.key(step)[0] + 1
                    node = node[step]
                else:
                    break
            except (AttributeError, KeyError, IndexError, TypeError):
                break
        return line

    return line_of


def parse_text(
    text: bytes, display: str, limits: Limits = LIMITS, folder: FolderBudget | None = None
) -> tuple[list[Definition], list[Problem]]:
    """Parse every document of one definition file (no template loading).

    A file over ``limits.max_file_bytes``, with more than ``limits.max_documents``
    documents, or whose aliases expand past ``limits.max_alias_nodes`` is refused before
    any value is built from it (see ``yamlload``). ``folder``: the node budget of the
    folder the file is loaded with."""
    where = Located(display)
    if len(text) > limits.max_file_bytes:
        return [], [
            where.problem(
                "",
                f"is {len(text)} bytes; a definition file may have at most "
                f"{size_text(limits.max_file_bytes)} (max_file_bytes)",
            )
        ]
    try:
        docs = load_all(_yaml(), text.decode("utf-8"), limits, folder)
    except UnicodeDecodeError:
        return [], [where.problem("", "is not UTF-8 text")]
    except YamlLimitError as exc:
        return [], [Problem(exc.message, "", display, exc.document, exc.line)]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        return [], [Problem(f"invalid YAML: {exc.problem or exc.context}", "", display, None, line)]
    except YAMLError as exc:
        return [], [where.problem("", f"invalid YAML: {exc}")]
    definitions: list[Definition] = []
    problems: list[Problem] = []
    number = 0
    for doc in docs:
        if doc is None:
            continue  # an empty document, e.g. after a trailing ---
        number += 1
        first_line = getattr(getattr(doc, "lc", None), "line", 0) + 1
        located = Located(display, number, _line_finder(doc, first_line))
        definition, found = parse_document(to_plain(doc), located)
        problems += found
        if isinstance(definition, PrAutomation):
            definition = replace(definition, field_lines=field_lines(definition, located.line_of))
        if definition is not None:
            definitions.append(definition)
    return definitions, problems


def _attach_templates(
    automation: PrAutomation, view: RepoView, folder: str, root: str, display_root: str
) -> tuple[PrAutomation, list[Problem]]:
    problems: list[Problem] = []
    specs = []
    total = 0
    all_files = view.list_files()
    for i, spec in enumerate(automation.templates):
        where = f"spec.creates.templates[{i}].source"

        def fail(message: str, where: str = where) -> None:
            problems.append(Problem(message, where, automation.source_file))

        try:
            source = normalise(posixpath.join(folder, spec.source), what="source")
        except PathError as exc:
            fail(str(exc))
            continue
        if root and not (source == root or source.startswith(root + "/")):
            fail(f"{spec.source!r} is outside the definitions folder {display_root!r}")
            continue
        if view.mode(source) == SYMLINK:
            fail(f"{spec.source!r} is a symlink; templates must be regular files")
            continue
        content = view.read(source)
        if content is not None:
            files = (TemplateFile("", content, view.mode(source) == EXECUTABLE),)
            is_folder = False
        else:
            prefix = source + "/"
            members = [p for p in all_files if p.startswith(prefix)]
            if not members:
                fail(f"{spec.source!r} does not exist (looked for {source})")
                continue
            files = tuple(
                TemplateFile(p[len(prefix) :], view.read(p) or b"", view.mode(p) == EXECUTABLE)
                for p in members
                if view.mode(p) != SYMLINK
            )
            is_folder = True
        total += sum(len(f.content) for f in files)
        if total > MAX_TEMPLATE_BYTES:
            fail(f"templates are larger than {MAX_TEMPLATE_BYTES} bytes in all")
            continue
        specs.append(replace(spec, files=files, is_folder=is_folder))
    return replace(automation, templates=tuple(specs)), problems


def _folder_problem(
    view: RepoView, root: str, display: str, limits: Limits
) -> tuple[Problem | None, dict[str, bytes]]:
    """A repository's definitions folder over ``limits.max_repo_files`` or
    ``limits.max_repo_bytes`` (counting every regular file under ``root``); else the
    contents read on the way, so no file is read twice."""
    listed = [
        p
        for p in view.list_files()
        if (not root or p.startswith(root + "/")) and view.mode(p) != SYMLINK
    ]
    if len(listed) > limits.max_repo_files:
        return Problem(
            f"has {len(listed)} files; at most {limits.max_repo_files} are read (max_repo_files)",
            "",
            display,
        ), {}
    contents: dict[str, bytes] = {}
    total = 0
    for path in listed:
        data = view.read(path) or b""
        total += len(data)
        if total > limits.max_repo_bytes:
            return Problem(
                f"holds more than {size_text(limits.max_repo_bytes)} of files; at most that "
                "much is read (max_repo_bytes)",
                "",
                display,
            ), {}
        contents[path] = data
    return None, contents


def load_view(
    view: RepoView,
    *,
    root: str = "",
    files: Iterable[str] | None = None,
    display_root: str = "",
    limits: Limits = LIMITS,
) -> DefinitionSet:
    """Load every definition file under ``root`` in ``view`` (or just ``files``).

    ``display_root`` is prefixed to paths in messages (the folder as the user named it).
    A folder (``files`` not given) is untrusted as a whole: more than
    ``limits.max_repo_files`` files or ``limits.max_repo_bytes`` bytes in all under
    ``root`` is one problem and nothing is loaded. Every definition file is held to the
    YAML limits of ``parse_text``.
    """
    root = root.strip("/")
    contents: dict[str, bytes] = {}
    if files is None:
        problem, contents = _folder_problem(view, root, display_root or root or ".", limits)
        if problem is not None:
            return DefinitionSet(problems=[problem])
        candidates = [
            p
            for p in view.list_files()
            if p.endswith((".yaml", ".yml"))
            and (not root or p.startswith(root + "/"))
            and view.mode(p) != SYMLINK
        ]
        wanted = None
    else:
        candidates = list(files)
        wanted = set(candidates)
    result = DefinitionSet()
    budget = FolderBudget(limits)
    for path in candidates:
        if budget.spent:
            break  # the problem is recorded on the file that went over
        text = contents[path] if path in contents else view.read(path)
        display = posixpath.join(display_root, path) if display_root else path
        if text is None:
            result.problems.append(Problem("does not exist", "", display))
            continue
        if wanted is None and not _DEFINITION_MARKER.search(text):
            continue  # not a definition (a template, a values file, ...)
        definitions, problems = parse_text(text, display, limits, budget)
        result.problems += problems
        folder = posixpath.dirname(path)
        for d in definitions:
            if isinstance(d, PrAutomation):
                d, found = _attach_templates(d, view, folder, root, display_root or ".")
                found = found or template_problems(d)
                result.problems += found
                if found:
                    continue
            result.add(d, Located(display))
    return result
