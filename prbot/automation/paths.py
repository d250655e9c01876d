"""Path safety: every path an automation touches stays inside the repository.

Paths are repository-relative POSIX strings. ``normalise`` refuses absolute paths, ``..``
escapes, anything under ``.git`` and control characters; ``resolve_in_repo`` follows
symlinks (as the repository records them) and refuses any that lead outside.
"""

from __future__ import annotations

import posixpath
import re
from typing import Protocol

from prbot.automation.errors import PathError

MAX_PATH_LENGTH = 4096
MAX_SYMLINK_HOPS = 40
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SymlinkLookup(Protocol):
    def symlink_target(self, path: str) -> str | None: ...


def normalise(path: str, *, what: str = "path") -> str:
    """Return the canonical repository-relative form of ``path`` or raise PathError."""
    if not isinstance(path, str) or not path.strip():
        raise PathError(f"{what} is empty")
    if len(path) > MAX_PATH_LENGTH:
        raise PathError(f"{what} is longer than {MAX_PATH_LENGTH} characters")
    if _CONTROL.search(path):
        raise PathError(f"{what} {path!r} contains a control character")
    if "\\" in path:
        raise PathError(f"{what} {path!r} contains a backslash; use '/' as the separator")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise PathError(f"{what} {path!r} is absolute; paths are relative to the repository")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise PathError(f"{what} {path!r} leaves the repository")
            parts.pop()
            continue
        parts.append(part)
    if not parts:
        raise PathError(f"{what} {path!r} names the repository root, not a file")
    if any(p.lower() == ".git" for p in parts):
        raise PathError(f"{what} {path!r} is inside .git, which automations may not touch")
    return "/".join(parts)


def resolve_in_repo(path: str, repo: SymlinkLookup, *, what: str = "path") -> str:
    """Normalise ``path`` and follow symlinks along it; refuse links that leave the repo.

    A symlink is resolved the way the filesystem would: relative targets against the
    link's folder, absolute targets are always outside.
    """
    pending = normalise(path, what=what).split("/")
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        candidate = "/".join([*resolved, part])
        target = repo.symlink_target(candidate)
        if target is None:
            resolved.append(part)
            continue
        hops += 1
        if hops > MAX_SYMLINK_HOPS:
            raise PathError(f"{what} {path!r} has too many levels of symbolic links")
        if target.startswith("/"):
            raise PathError(f"{what} {path!r} goes through a symlink that leaves the repository")
        joined = posixpath.normpath(posixpath.join(*resolved, target) if resolved else target)
        if joined == ".." or joined.startswith("../") or joined == ".":
            raise PathError(f"{what} {path!r} goes through a symlink that leaves the repository")
        try:
            pending = normalise(joined, what=what).split("/") + pending
        except PathError as exc:
            raise PathError(f"{what} {path!r} goes through a symlink to an unusable path") from exc
        resolved = []
    return "/".join(resolved)


_GLOB_CHARS = re.compile(r"[*?\[]")


def is_glob(pattern: str) -> bool:
    return bool(_GLOB_CHARS.search(pattern))


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a repository glob: ``*`` and ``?`` stay within one folder, ``**`` spans any."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
                i += 1
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z")
