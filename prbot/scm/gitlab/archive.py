"""Reading a repository archive (``git archive`` tar.gz as GitLab serves it) in memory.

One archive request gives the whole listing with modes and every file's content, so a
snapshot and the reads after it cost a constant number of calls. The download and the
extraction are bounded: an archive over the limits is refused rather than exhausting
memory, and the caller falls back to listing the tree page by page.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass

from prbot.automation.changeset import EXECUTABLE, REGULAR, SYMLINK


class ArchiveTooLarge(Exception):
    """The archive exceeds the configured limits; the caller lists the tree instead."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_download: int = 64 * 1024 * 1024  # compressed bytes
    max_total: int = 256 * 1024 * 1024  # uncompressed bytes of all files
    max_files: int = 100_000


@dataclass(frozen=True)
class ArchiveFile:
    mode: str
    content: bytes  # a symlink's target for mode 120000
    blob_sha: str  # git's blob id, so a Snapshot's TreeEntry matches the tree API


def blob_sha(content: bytes) -> str:
    """git's object id for a blob: sha1 of ``blob <size>\\0<content>``."""
    h = hashlib.sha1(usedforsecurity=False)
    h.update(b"blob %d\0" % len(content))
    h.update(content)
    return h.hexdigest()


class BoundedBuffer:
    """Collects streamed chunks, refusing more than ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._buf = io.BytesIO()

    def __call__(self, chunk: bytes) -> None:
        if self._buf.tell() + len(chunk) > self.limit:
            raise ArchiveTooLarge(f"archive larger than {self.limit} bytes")
        self._buf.write(chunk)

    def getvalue(self) -> bytes:
        return self._buf.getvalue()


def extract(
    data: bytes,
    limits: ArchiveLimits,
    *,
    folder: str = "",
    only: Iterable[str] | None = None,
) -> dict[str, ArchiveFile]:
    """Files of a GitLab archive by repository path.

    GitLab puts everything under one top folder (``<project>-<ref>-<sha>/``); it is
    dropped. ``folder`` is the ``path=`` the archive was asked for, for archives that
    list entries relative to it. ``only`` keeps just those paths (all files otherwise).
    """
    wanted = set(only) if only is not None else None
    files: dict[str, ArchiveFile] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > limits.max_files:
                    raise ArchiveTooLarge(f"archive has more than {limits.max_files} entries")
                path = _repo_path(member.name, folder)
                if path is None or not (member.isfile() or member.issym()):
                    continue
                if wanted is not None and path not in wanted:
                    continue
                if member.issym():
                    content = member.linkname.encode("utf-8", "surrogateescape")
                    mode = SYMLINK
                else:
                    total += member.size
                    if total > limits.max_total:
                        raise ArchiveTooLarge(f"archive expands beyond {limits.max_total} bytes")
                    fh = tar.extractfile(member)
                    content = fh.read() if fh is not None else b""
                    mode = EXECUTABLE if member.mode & 0o111 else REGULAR
                files[path] = ArchiveFile(mode, content, blob_sha(content))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ValueError(f"unreadable repository archive: {type(exc).__name__}") from None
    return files


def _repo_path(name: str, folder: str) -> str | None:
    _top, sep, rest = name.partition("/")
    if not sep or not rest or rest.endswith("/"):
        return None  # the top folder itself, or a folder entry
    parts = rest.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None  # never trust an archive to stay inside the repository
    if folder and not (rest == folder or rest.startswith(folder.rstrip("/") + "/")):
        rest = f"{folder.rstrip('/')}/{rest}"
    return rest


class ArchiveCache:
    """The last few extracted archives by (repo, commit sha), bounded by total bytes.

    Commits never change, so entries need no invalidation; a snapshot fills the cache
    and the reads of the same commit right after it are served without a request.
    """

    def __init__(self, max_entries: int = 8, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: dict[tuple[str, str], tuple[dict[str, ArchiveFile], int]] = {}

    def get(self, repo: str, sha: str) -> dict[str, ArchiveFile] | None:
        item = self._items.pop((repo, sha), None)
        if item is None:
            return None
        self._items[(repo, sha)] = item  # most recently used last
        return item[0]

    def put(self, repo: str, sha: str, files: dict[str, ArchiveFile]) -> None:
        size = sum(len(f.content) for f in files.values())
        if size > self.max_bytes:
            return
        self._items.pop((repo, sha), None)
        self._items[(repo, sha)] = (files, size)
        while len(self._items) > self.max_entries or self._size() > self.max_bytes:
            self._items.pop(next(iter(self._items)))

    def _size(self) -> int:
        return sum(size for _, size in self._items.values())
