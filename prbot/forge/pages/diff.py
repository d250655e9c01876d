"""Unified diffs between two commits, split per file and per line for the pages.

File names come from ``git diff-tree -z`` (``git.changed_paths``), never parsed out of the
diff text, so a name with spaces, quotes or ``<`` in it is shown exactly as stored. Both
commands list files in git's path order with renames off, so the n-th ``diff --git``
section belongs to the n-th changed path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prbot.forge import git

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # sha1 of git's empty tree
MAX_LINES = 5000  # a page shows at most this many diff lines; the rest is summarised
STATUS_NAMES = {"A": "added", "M": "modified", "D": "deleted", "T": "type changed"}
# header lines git prints before the first hunk that say nothing a reader needs
_NOISE = ("diff --git ", "index ", "--- ", "+++ ")


@dataclass(frozen=True)
class DiffLine:
    kind: str  # add | del | ctx | hunk | meta
    text: str


@dataclass
class FileDiff:
    path: str
    status: str  # added | modified | deleted | type changed
    lines: list[DiffLine] = field(default_factory=list)
    additions: int = 0
    deletions: int = 0
    omitted: int = 0  # lines not shown because the page reached MAX_LINES


def raw_diff(git_dir: Path, old: str | None, new: str) -> bytes:
    """``git diff`` text from ``old`` (None: the empty tree) to ``new``."""
    args = ["diff", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames"]
    # git._run keeps the forge's fixed environment (no user config, hooks or pager)
    return git._run(git_dir, [*args, old or EMPTY_TREE, new]).stdout


def file_diffs(git_dir: Path, old: str | None, new: str) -> list[FileDiff]:
    """Every changed file between two commits with its coloured lines (blocking: run it
    in a thread)."""
    paths = git.changed_paths(git_dir, old, new)
    sections = _sections(raw_diff(git_dir, old, new).decode("utf-8", "replace"))
    budget = MAX_LINES
    out: list[FileDiff] = []
    for i, (letter, path) in enumerate(paths):
        fd = FileDiff(path, STATUS_NAMES.get(letter, letter))
        lines = sections[i] if i < len(sections) else []
        budget = _fill(fd, lines, budget)
        out.append(fd)
    return out


def _sections(text: str) -> list[list[str]]:
    sections: list[list[str]] = []
    for line in text.split("\n"):
        if line.startswith("diff --git "):
            sections.append([])
        if sections and line:
            sections[-1].append(line)
    return sections


def _fill(fd: FileDiff, lines: list[str], budget: int) -> int:
    in_hunk = False
    for line in lines:
        if line.startswith("@@"):
            in_hunk, kind = True, "hunk"
        elif not in_hunk:
            if line.startswith(_NOISE):
                continue
            kind = "meta"  # new/deleted file mode, "Binary files ... differ"
        elif line.startswith("+"):
            kind = "add"
            fd.additions += 1
        elif line.startswith("-"):
            kind = "del"
            fd.deletions += 1
        else:
            kind = "ctx"  # " context" and "\ No newline at end of file"
        if budget <= 0:
            fd.omitted += 1
            continue
        fd.lines.append(DiffLine(kind, line))
        budget -= 1
    return budget
