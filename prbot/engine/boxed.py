"""What runs inside the sandbox's processes: the untrusted work, as plain functions over
picklable values (see ``prbot.engine.sandbox``). Nothing here does I/O but the command
line's reads of a local folder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prbot.automation.changeset import SYMLINK, DirRepoView, MemoryRepoView, RepoFile
from prbot.automation.definitions import PrAutomation
from prbot.automation.errors import PrbotError
from prbot.automation.inputs import ValidInputs
from prbot.automation.limits import LIMITS, Limits
from prbot.automation.loader import DefinitionSet, load_view
from prbot.automation.render import RenderResult, render_automation
from prbot.automation.template_checks import name_problems
from prbot.scm.port import Snapshot


@dataclass
class SnapshotView:
    """A RepoView over a Snapshot that notes which file contents it was asked for."""

    snapshot: Snapshot
    contents: dict[str, bytes]
    missing: set[str] = field(default_factory=set)

    def list_files(self) -> list[str]:
        return sorted(self.snapshot.entries)

    def read(self, path: str) -> bytes | None:
        if path not in self.snapshot.entries:
            return None
        if path in self.contents:
            return self.contents[path]
        self.missing.add(path)
        return b""  # a placeholder: this pass's result is thrown away

    def mode(self, path: str) -> str | None:
        entry = self.snapshot.entries.get(path)
        return entry.mode if entry else None

    def symlink_target(self, path: str) -> str | None:
        entry = self.snapshot.entries.get(path)
        if entry is None or entry.mode != SYMLINK:
            return None
        return self.contents[path].decode("utf-8", "surrogateescape")


def render_pass(
    automation: PrAutomation,
    inputs: ValidInputs,
    snapshot: Snapshot,
    contents: dict[str, bytes],
    extra_context: Mapping[str, Any] | None,
    limits: Limits = LIMITS,
) -> tuple[RenderResult | None, set[str]]:
    """One render over the files read so far: the result, or the files it still needs."""
    view = SnapshotView(snapshot, contents)
    try:
        result = render_automation(
            automation, inputs, view, extra_context=extra_context, limits=limits
        )
    except PrbotError:
        if not view.missing:
            raise
        return None, view.missing
    return (None, view.missing) if view.missing else (result, set())


def render_folder(
    automation: PrAutomation,
    inputs: Mapping[str, Any] | ValidInputs,
    folder: str,
    extra_context: Mapping[str, Any] | None,
    limits: Limits = LIMITS,
) -> RenderResult:
    """``prbot render``: the automation over a local checkout."""
    view = DirRepoView(Path(folder))
    return render_automation(automation, inputs, view, extra_context=extra_context, limits=limits)


def load_files(files: dict[str, RepoFile], root: str, limits: Limits = LIMITS) -> DefinitionSet:
    """A repository's ``.prbot/`` files, read by the parent, parsed here."""
    return load_view(MemoryRepoView(files), root=root, limits=limits)


def load_path(path: str, limits: Limits = LIMITS, check_names: bool = False) -> DefinitionSet:
    """``prbot validate`` / ``prbot render``: a definition file or a folder of them.

    ``check_names`` (``prbot validate``): also report every name a template reads that
    is not an input (``context.nme``); the automation is still loaded, so that pipelines
    naming it are checked as usual."""
    target = Path(path)
    if target.is_dir():
        loaded = load_view(DirRepoView(target), display_root=str(target), limits=limits)
    else:
        parent = target.parent
        loaded = load_view(
            DirRepoView(parent), files=[target.name], display_root=str(parent), limits=limits
        )
    if check_names:
        for automation in loaded.automations.values():
            loaded.problems += name_problems(automation)
    return loaded
