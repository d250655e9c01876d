"""A bounded cache of git objects, which never change once they exist.

A file listing at a commit, a commit's parents and message, and a blob's bytes are
immutable, so a long-running bot can reuse them across runs with no staleness risk: a
re-run on an unchanged base skips the tree listing, the file reads and the head-commit
read. Branch heads and PRs are never cached here. Keys carry the repository, so one
tenant's cache never answers for another's repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cachetools import LRUCache

from prbot.scm.port import TreeEntry


@dataclass(frozen=True)
class Listing:
    tree_sha: str
    entries: Mapping[str, TreeEntry]


@dataclass(frozen=True)
class CommitInfo:
    tree: str
    parents: tuple[str, ...]
    message: str


class ObjectCache:
    def __init__(
        self, *, listings: int = 32, commits: int = 1024, blob_bytes: int = 32 * 1024 * 1024
    ):
        self._listings: LRUCache[tuple[str, str], Listing] = LRUCache(maxsize=listings)
        self._commits: LRUCache[tuple[str, str], CommitInfo] = LRUCache(maxsize=commits)
        self._blobs: LRUCache[tuple[str, str], bytes] = LRUCache(
            maxsize=blob_bytes, getsizeof=lambda b: len(b) + 100
        )

    def listing(self, repo: str, commit: str) -> Listing | None:
        return self._listings.get((repo.lower(), commit))

    def put_listing(self, repo: str, commit: str, listing: Listing) -> None:
        self._listings[(repo.lower(), commit)] = listing

    def commit(self, repo: str, sha: str) -> CommitInfo | None:
        return self._commits.get((repo.lower(), sha))

    def put_commit(self, repo: str, sha: str, info: CommitInfo) -> None:
        self._commits[(repo.lower(), sha)] = info

    def blob(self, repo: str, blob_sha: str) -> bytes | None:
        return self._blobs.get((repo.lower(), blob_sha))

    def put_blob(self, repo: str, blob_sha: str, content: bytes) -> None:
        if len(content) + 100 <= self._blobs.maxsize:
            self._blobs[(repo.lower(), blob_sha)] = content
