"""render_automation: (definition, inputs, repository view) -> ChangeSet + PR metadata.

Pure: no network, no clock, no disk. Creates run first, then updates (which see the
created files), then deletes. Password inputs reach file templates only; title, message,
head, labels and reviewers see them as undefined, and every error is redacted.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from prbot.automation import regex, yamledit
from prbot.automation.changeset import EXECUTABLE, REGULAR, ChangeSet, RepoView, WorkingTree
from prbot.automation.definitions import PrAutomation, TemplateSpec
from prbot.automation.errors import PathError, RenderError
from prbot.automation.inputs import ValidInputs, validate_inputs
from prbot.automation.limits import LIMITS, LimitExceeded, Limits, size_text
from prbot.automation.paths import glob_to_regex, is_glob, normalise, resolve_in_repo
from prbot.automation.templating import (
    evaluate_condition,
    render_string,
    render_value,
)
from prbot.automation.yamlload import YamlLimitError, load_all
from prbot.errors import PrbotError, redact

MAX_CHANGED_FILES = 10_000
MAX_TITLE_LENGTH = 256
_YAML_FILE = re.compile(r"\.ya?ml$", re.IGNORECASE)
_BAD_REF = re.compile(r"(\.\.|@\{|[\x00-\x20\x7f~^:?*\[\\]|//|/\.|\.lock$|\.lock/|^[-/.]|[/.]$)")


@dataclass(frozen=True)
class PullRequestSpec:
    title: str
    body: str
    commit_message: str
    head: str
    base: str | None  # None: the repository's default branch
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderResult:
    changes: ChangeSet
    pull_request: PullRequestSpec
    inputs: ValidInputs


def default_head(name: str, inputs: ValidInputs, extra: Mapping[str, Any]) -> str:
    """A head branch that is the same whenever the same automation runs with the same
    inputs, so a re-run updates its PR instead of opening another. Passwords are left out
    of the hash: a short hash of a short secret could be brute-forced."""
    canonical = json.dumps(
        {"inputs": inputs.public(), "context": extra}, sort_keys=True, default=str
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:10]
    return f"prbot/{name}-{digest}"


def check_branch_name(head: str, field: str) -> str:
    head = head.strip()
    if not head or len(head) > 200 or _BAD_REF.search(head):
        raise RenderError(f"{field}: {head!r} is not a valid branch name")
    return head


class _Renderer:
    def __init__(
        self,
        automation: PrAutomation,
        inputs: ValidInputs,
        repo: RepoView,
        extra: Mapping[str, Any],
        limits: Limits,
    ):
        self.a = automation
        self.inputs = inputs
        self.limits = limits
        self.tree = WorkingTree(repo)
        self.sizes: dict[str, int] = {}  # bytes of each file written so far
        self.total = 0  # their sum
        self.context = {**inputs.values, **extra}
        hidden = {
            name: StrictUndefined(
                hint=f"password input {name!r} is only available in file templates", name=name
            )
            for name in inputs.password_fields
        }
        self.public_context = {**inputs.public(), **hidden, **extra}

    def field(self, path: str) -> str:
        return f"{self.a.name}: {path}"

    def text(self, source: str, path: str, *, public: bool = False) -> str:
        ctx = self.public_context if public else self.context
        return render_string(source, {"context": ctx}, self.field(path), limits=self.limits)

    def pattern(self, source: str, path: str) -> str:
        return render_string(
            source, {"context": self.context}, self.field(path), glob=True, limits=self.limits
        )

    def render(self, source: str, ctx: Mapping[str, Any], name: str) -> str:
        return render_string(source, {"context": ctx}, name, limits=self.limits)

    # ---- output

    def allowance(self, before: str | bytes = b"") -> int:
        """The most one file may hold: the per-file limit, or more for an update of a file
        that was already bigger (``before``: its content)."""
        return max(self.limits.max_output_file_bytes, len(before))

    def write(
        self,
        target: str,
        content: bytes,
        path: str,
        mode: str | None = None,
        *,
        before: str | bytes = b"",
    ) -> None:
        """Write a file of the change, within the per-file and per-change limits."""
        limit = self.allowance(before)
        if len(content) > limit:
            raise RenderError(
                f"{self.field(path)}: {target} would be {len(content)} bytes, more than "
                f"{size_text(limit)} (max_output_file_bytes)"
            )
        self.total += len(content) - self.sizes.get(target, 0)
        self.sizes[target] = len(content)
        if self.total > self.limits.max_output_bytes:
            raise RenderError(
                f"{self.field(path)}: writing {target} takes the change over "
                f"{size_text(self.limits.max_output_bytes)} in all (max_output_bytes)"
            )
        self.tree.write(target, content, mode)

    def delete(self, target: str) -> None:
        self.total -= self.sizes.pop(target, 0)
        self.tree.delete(target)

    # ---- paths

    def target_path(self, rendered: str, path: str) -> str:
        try:
            return resolve_in_repo(rendered, self.tree, what=self.field(path))
        except PathError as exc:
            raise RenderError(str(exc)) from None

    def targets(self, pattern: str, path: str, *, must_match: bool = True) -> list[str]:
        if not is_glob(pattern):
            target = self.target_path(pattern, path)
            if self.tree.exists(target):
                return [target]
            if must_match:
                raise RenderError(f"{self.field(path)}: {target} does not exist in the repository")
            return []
        try:
            normalised = normalise(pattern, what=self.field(path))
        except PathError as exc:
            raise RenderError(str(exc)) from None
        regex = glob_to_regex(normalised)
        found = [p for p in self.tree.list_files() if regex.match(p)]
        if not found and must_match:
            raise RenderError(f"{self.field(path)}: no file matches {normalised!r}")
        return [self.target_path(p, path) for p in found]

    def read_text(self, target: str, path: str) -> str:
        data = self.tree.read(target) or b""
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise RenderError(f"{self.field(path)}: {target} is not UTF-8 text") from None

    def old_text(self, target: str) -> str | None:
        """The text a write to ``target`` replaces, if any (and if it is text)."""
        data = self.tree.read(target)
        try:
            return data.decode("utf-8") if data is not None else None
        except UnicodeDecodeError:
            return None

    def still_yaml(self, target: str, after: str, before: list[str | None], path: str) -> None:
        """A .yaml/.yml file written by a regex replacement or a template must still read
        as YAML (without a key twice in a mapping) if it read as YAML before. yamlEdits
        and yamlOverlays check more than this themselves (see yamledit.verify)."""
        if not _YAML_FILE.search(target):
            return
        problem = yamledit.yaml_problem(after)
        if problem is None:
            return
        if any(b is not None and yamledit.yaml_problem(b) is None for b in before):
            raise RenderError(
                f"{self.field(path)}: {target} would no longer read as YAML: {problem}; "
                "nothing was written"
            )

    # ---- operations

    def creates(self) -> None:
        for i, spec in enumerate(self.a.templates):
            path = f"spec.creates.templates[{i}]"
            ctx = {**self.context, **spec.context}
            if not evaluate_condition(
                spec.condition,
                {"context": ctx},
                self.field(f"{path}.condition"),
                limits=self.limits,
            ):
                continue
            self.create(spec, ctx, path)

    def create(self, spec: TemplateSpec, ctx: dict[str, Any], path: str) -> None:
        destination = self.render(spec.destination, ctx, self.field(f"{path}.destination"))
        for f in spec.files:
            name = posixpath.join(spec.source, f.relpath) if f.relpath else spec.source
            dest = destination
            if spec.is_folder:
                rel = self.render(f.relpath, ctx, self.field(f"{path}.source"))
                dest = posixpath.join(destination, rel)
            target = self.target_path(dest, f"{path}.destination")
            try:
                text = f.content.decode("utf-8")
            except UnicodeDecodeError:
                content = f.content  # binary templates are copied as they are
            else:
                rendered = self.render(text, ctx, name)
                # Judged against the template's own text and any file it replaces: a Helm
                # template (not YAML before rendering) is not held to it.
                if _YAML_FILE.search(target):  # else the replaced file is not read at all
                    self.still_yaml(target, rendered, [text, self.old_text(target)], path)
                content = rendered.encode()
            self.write(target, content, path, EXECUTABLE if f.executable else REGULAR)

    def updates(self) -> None:
        for i, r in enumerate(self.a.regex_replacements):
            path = f"spec.updates.regexReplacements[{i}]"
            regex_text = self.text(r.regex, f"{path}.regex")
            replacement = self.text(r.replacement, f"{path}.replacement")
            try:  # RE2: linear time in the file, whatever the pattern
                compiled = regex.compile_regex(regex_text, multiline=True)
            except regex.RegexError as exc:
                raise RenderError(f"{self.field(path)}.regex: {exc}") from None
            for target in self.targets(self.pattern(r.file, f"{path}.file"), f"{path}.file"):
                before = self.read_text(target, path)
                try:
                    after, count = regex.substitute(
                        compiled,
                        replacement,
                        before,
                        limit=self.allowance(before),
                        what=f"{target} after the replacement",
                    )
                except regex.RegexError as exc:
                    raise RenderError(f"{self.field(path)}.replacement: {exc}") from None
                except LimitExceeded as exc:
                    raise RenderError(
                        f"{self.field(path)}: {exc} (max_output_file_bytes)"
                    ) from None
                if count:  # as Go's ReplaceAllString: no match, no change, no error
                    self.still_yaml(target, after, [before], path)
                    self.write(target, after.encode(), path, before=before)
        for i, o in enumerate(self.a.yaml_overlays):
            path = f"spec.updates.yamlOverlays[{i}]"
            overlay_text = self.text(o.yaml, f"{path}.yaml")
            try:  # aliases are refused before they expand, as in definition files
                documents = load_all(YAML(typ="safe", pure=True), overlay_text, self.limits)
            except YamlLimitError as exc:
                raise RenderError(f"{self.field(path)}.yaml: the rendered overlay {exc}") from None
            except YAMLError as exc:
                raise RenderError(
                    f"{self.field(path)}.yaml: rendered overlay is not YAML: {exc}"
                ) from None
            if len(documents) > 1:
                raise RenderError(
                    f"{self.field(path)}.yaml: rendered overlay is not YAML: expected a single "
                    "document, found several"
                )
            overlay = documents[0] if documents else None
            if not isinstance(overlay, dict):
                raise RenderError(f"{self.field(path)}.yaml: the overlay must be a mapping")
            for target in self.targets(self.pattern(o.file, f"{path}.file"), f"{path}.file"):
                before = self.read_text(target, path)
                try:
                    text = yamledit.merge_overlay(
                        before,
                        overlay,
                        list_merge=o.list_merge,
                        follow_aliases=o.follow_aliases,
                        create=o.create,
                    )
                except yamledit.YamlEditError as exc:
                    raise RenderError(f"{self.field(path)}: {target}: {exc}") from None
                self.write(target, text.encode(), path, before=before)
        for i, e in enumerate(self.a.yaml_edits):
            path = f"spec.updates.yamlEdits[{i}]"
            yaml_path = self.text(e.path, f"{path}.path")
            value = self.value(e.value, f"{path}.value")
            for target in self.targets(self.pattern(e.file, f"{path}.file"), f"{path}.file"):
                before = self.read_text(target, path)
                try:
                    text = yamledit.set_value(
                        before, yaml_path, value, follow_aliases=e.follow_aliases, create=e.create
                    )
                except yamledit.YamlEditError as exc:
                    raise RenderError(f"{self.field(path)}: {target}: {exc}") from None
                self.write(target, text.encode(), path, before=before)

    def value(self, raw: Any, path: str) -> Any:
        if isinstance(raw, str):
            return render_value(
                raw, {"context": self.context}, self.field(path), limits=self.limits
            )
        if isinstance(raw, list):
            return [self.value(v, f"{path}[{i}]") for i, v in enumerate(raw)]
        if isinstance(raw, dict):
            return {k: self.value(v, f"{path}.{k}") for k, v in raw.items()}
        return raw

    def deletes(self) -> None:
        for i, pattern in enumerate(self.a.delete_files):
            path = f"spec.deletes.files[{i}]"
            for target in self.targets(self.pattern(pattern, path), path, must_match=False):
                self.delete(target)
        for i, folder in enumerate(self.a.delete_folders):
            path = f"spec.deletes.folders[{i}]"
            prefix = self.target_path(self.text(folder, path), path) + "/"
            for p in self.tree.list_files():
                if p.startswith(prefix):
                    self.delete(p)

    # ---- metadata

    def pull_request(self, extra: Mapping[str, Any]) -> PullRequestSpec:
        title = " ".join(self.text(self.a.title, "spec.title", public=True).split())
        if not title:
            raise RenderError(f"{self.field('spec.title')}: rendered to an empty title")
        if len(title) > MAX_TITLE_LENGTH:
            raise RenderError(
                f"{self.field('spec.title')}: longer than {MAX_TITLE_LENGTH} characters"
            )
        message = self.text(self.a.message, "spec.message", public=True).strip()
        if self.a.head:
            head = self.text(self.a.head, "spec.head", public=True)
        else:
            head = default_head(self.a.name, self.inputs, extra)
        head = check_branch_name(head, self.field("spec.head"))
        base = None
        if self.a.base:
            base = check_branch_name(
                self.text(self.a.base, "spec.base", public=True), self.field("spec.base")
            )
        labels = tuple(
            t
            for i, lb in enumerate(self.a.labels)
            if (t := self.text(lb, f"spec.labels[{i}]", public=True).strip())
        )
        reviewers = tuple(
            t
            for i, rv in enumerate(self.a.reviewers)
            if (t := self.text(rv, f"spec.reviewers[{i}]", public=True).strip())
        )
        return PullRequestSpec(title, message, message, head, base, labels, reviewers)


def _check_limits(changes: ChangeSet, name: str, limits: Limits) -> None:
    if len(changes) > MAX_CHANGED_FILES:
        raise RenderError(f"{name}: changes {len(changes)} files, more than {MAX_CHANGED_FILES}")
    size = sum(len(c.content or b"") for c in changes)
    if size > limits.max_output_bytes:
        raise RenderError(
            f"{name}: changes {size} bytes, more than {size_text(limits.max_output_bytes)} "
            "(max_output_bytes)"
        )


def render_automation(
    automation: PrAutomation,
    inputs: Mapping[str, Any] | ValidInputs,
    repo: RepoView,
    *,
    extra_context: Mapping[str, Any] | None = None,
    limits: Limits = LIMITS,
) -> RenderResult:
    """Render ``automation`` for ``inputs`` against ``repo``.

    Raises InputError (bad inputs, one problem per field) or RenderError (a template,
    path or edit failed, or a limit was reached); neither message contains a password
    input's value.
    """
    valid = (
        inputs
        if isinstance(inputs, ValidInputs)
        else validate_inputs(automation.configuration, inputs, limits)
    )
    extra = dict(extra_context or {})
    renderer = _Renderer(automation, valid, repo, extra, limits)
    try:
        renderer.creates()
        renderer.updates()
        renderer.deletes()
        pull_request = renderer.pull_request(extra)
        changes = renderer.tree.changeset()
        _check_limits(changes, automation.name, limits)
    except PrbotError as exc:
        if not valid.secrets:
            raise
        raise type(exc)(redact(str(exc), valid.secrets)) from None
    return RenderResult(changes, pull_request, valid)
