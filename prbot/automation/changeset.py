"""Repository views and the ChangeSet an automation produces.

``RepoView`` is the read-only window the pure core gets onto a repository at some ref:
a folder on disk (``DirRepoView``), files fetched from an SCM (``MemoryRepoView``), or
either with pending changes on top (``WorkingTree``). A ``ChangeSet`` is the net effect
of a render: one create/update/delete per path, with final content and file mode.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from prbot.automation.paths import normalise

REGULAR = "100644"
EXECUTABLE = "100755"
SYMLINK = "120000"

Operation = Literal["create", "update", "delete"]


class RepoView(Protocol):
    """What the core may know about a repository: files, modes, symlinks. Read only."""

    def list_files(self) -> list[str]: ...

    def read(self, path: str) -> bytes | None: ...

    def mode(self, path: str) -> str | None: ...

    def symlink_target(self, path: str) -> str | None: ...


@dataclass(frozen=True)
class RepoFile:
    content: bytes
    mode: str = REGULAR


class MemoryRepoView:
    """A repository snapshot held in memory: what an SCM read returns, or a test builds."""

    def __init__(self, files: Mapping[str, bytes | str | RepoFile] | None = None):
        self._files: dict[str, RepoFile] = {}
        for path, value in (files or {}).items():
            if isinstance(value, RepoFile):
                self._files[path] = value
            elif isinstance(value, str):
                self._files[path] = RepoFile(value.encode())
            else:
                self._files[path] = RepoFile(bytes(value))

    def list_files(self) -> list[str]:
        return sorted(self._files)

    def read(self, path: str) -> bytes | None:
        f = self._files.get(path)
        return None if f is None else f.content

    def mode(self, path: str) -> str | None:
        f = self._files.get(path)
        return None if f is None else f.mode

    def symlink_target(self, path: str) -> str | None:
        f = self._files.get(path)
        if f is None or f.mode != SYMLINK:
            return None
        return f.content.decode("utf-8", "surrogateescape")


class DirRepoView:
    """A folder on disk (a git work tree or a plain folder); ``.git`` is never listed."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root} is not a directory")

    def _abs(self, path: str) -> Path:
        return self.root / normalise(path)

    def list_files(self) -> list[str]:
        out: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            rel = Path(dirpath).relative_to(self.root)
            for name in filenames:
                out.append((rel / name).as_posix() if rel.parts else name)
            # os.walk does not descend into symlinked folders; list the links themselves.
            for d in list(dirnames):
                if (Path(dirpath) / d).is_symlink():
                    out.append((rel / d).as_posix() if rel.parts else d)
                    dirnames.remove(d)
        return sorted(out)

    def read(self, path: str) -> bytes | None:
        p = self._abs(path)
        if p.is_symlink():
            return os.readlink(p).encode("utf-8", "surrogateescape")
        try:
            return p.read_bytes() if p.is_file() else None
        except OSError:
            return None

    def mode(self, path: str) -> str | None:
        p = self._abs(path)
        try:
            st = p.lstat()
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return SYMLINK
        if not stat.S_ISREG(st.st_mode):
            return None
        return EXECUTABLE if st.st_mode & 0o111 else REGULAR

    def symlink_target(self, path: str) -> str | None:
        p = self._abs(path)
        return os.readlink(p) if p.is_symlink() else None


@dataclass(frozen=True)
class FileChange:
    operation: Operation
    path: str
    content: bytes | None = None  # None for deletes
    mode: str = REGULAR


@dataclass(frozen=True)
class ChangeSet:
    """The net changes of one render, in the order paths were first touched."""

    changes: tuple[FileChange, ...] = ()

    def __iter__(self) -> Iterator[FileChange]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def paths(self) -> list[str]:
        return [c.path for c in self.changes]

    def by_path(self) -> dict[str, FileChange]:
        return {c.path: c for c in self.changes}


@dataclass
class WorkingTree:
    """A RepoView with pending writes and deletes layered on top (what a render builds)."""

    base: RepoView
    _writes: dict[str, RepoFile] = field(default_factory=dict)
    _deleted: set[str] = field(default_factory=set)
    _order: list[str] = field(default_factory=list)

    def _touch(self, path: str) -> None:
        if path not in self._order:
            self._order.append(path)

    def list_files(self) -> list[str]:
        files = set(self.base.list_files()) - self._deleted
        files |= set(self._writes)
        return sorted(files)

    def read(self, path: str) -> bytes | None:
        if path in self._writes:
            return self._writes[path].content
        if path in self._deleted:
            return None
        return self.base.read(path)

    def mode(self, path: str) -> str | None:
        if path in self._writes:
            return self._writes[path].mode
        if path in self._deleted:
            return None
        return self.base.mode(path)

    def symlink_target(self, path: str) -> str | None:
        if path in self._writes or path in self._deleted:
            return None
        return self.base.symlink_target(path)

    def exists(self, path: str) -> bool:
        return self.mode(path) is not None

    def write(self, path: str, content: bytes, mode: str | None = None) -> None:
        mode = mode or self.mode(path) or REGULAR
        if mode == SYMLINK:  # writing over a link replaces the link with a file
            mode = REGULAR
        self._deleted.discard(path)
        self._writes[path] = RepoFile(content, mode)
        self._touch(path)

    def delete(self, path: str) -> None:
        self._writes.pop(path, None)
        self._deleted.add(path)
        self._touch(path)

    def changeset(self) -> ChangeSet:
        """Net changes against ``base``; writes that end where they started are dropped."""
        out: list[FileChange] = []
        for path in self._order:
            before_mode = self.base.mode(path)
            if path in self._writes:
                new = self._writes[path]
                if before_mode is None:
                    out.append(FileChange("create", path, new.content, new.mode))
                elif self.base.read(path) != new.content or before_mode != new.mode:
                    out.append(FileChange("update", path, new.content, new.mode))
            elif path in self._deleted and before_mode is not None:
                out.append(FileChange("delete", path, None, before_mode))
        return ChangeSet(tuple(out))


def apply_to_dir(changes: ChangeSet, root: str | os.PathLike[str]) -> None:
    """Write a ChangeSet into a folder (``prbot render --write``)."""
    base = Path(root)
    for change in changes:
        target = base / normalise(change.path)
        if change.operation == "delete":
            if target.is_symlink() or target.exists():
                target.unlink()
            _prune_empty_parents(target.parent, base)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        target.write_bytes(change.content or b"")
        target.chmod(0o755 if change.mode == EXECUTABLE else 0o644)


def _prune_empty_parents(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_COLOURS = {"+": "\x1b[32m", "-": "\x1b[31m", "@": "\x1b[36m", "d": "\x1b[1m"}


def unified_diff(changes: ChangeSet, before: RepoView, *, colour: bool = False) -> str:
    """A git-style unified diff of ``changes`` against ``before``."""
    lines: list[str] = []
    for change in changes:
        old = before.read(change.path) if change.operation != "create" else b""
        new = change.content if change.operation != "delete" else b""
        old = old or b""
        new = new or b""
        header = [f"diff --git a/{change.path} b/{change.path}"]
        if change.operation == "create":
            header.append(f"new file mode {change.mode}")
        elif change.operation == "delete":
            header.append(f"deleted file mode {change.mode}")
        else:
            old_mode = before.mode(change.path)
            if old_mode and old_mode != change.mode:
                header += [f"old mode {old_mode}", f"new mode {change.mode}"]
        a = "/dev/null" if change.operation == "create" else f"a/{change.path}"
        b = "/dev/null" if change.operation == "delete" else f"b/{change.path}"
        body: Iterable[str]
        if _is_text(old) and _is_text(new):
            body = difflib.unified_diff(
                old.decode().splitlines(keepends=True),
                new.decode().splitlines(keepends=True),
                a,
                b,
            )
            body = [
                ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in body
            ]
        else:
            body = [f"Binary files {a} and {b} differ\n"]
        chunk = [h + "\n" for h in header] + list(body)
        if colour:
            chunk = [_paint(ln) for ln in chunk]
        lines.extend(chunk)
    return "".join(lines)


def _paint(line: str) -> str:
    if line.startswith(
        ("diff --git", "new file", "deleted file", "old mode", "new mode")
    ) or line.startswith(("+++", "---")):
        key = "d"
    else:
        key = line[:1]
    code = _COLOURS.get(key)
    if not code:
        return line
    return f"{code}{line.rstrip(chr(10))}\x1b[0m\n"
