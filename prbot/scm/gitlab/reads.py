"""Reading a repository: snapshots and file contents from one archive request.

A snapshot resolves the ref (one request) and downloads the commit's archive (one
request), which lists every file with its mode and content; reads of that commit are
then served from memory. A repository too large for the limits is listed through the
tree API instead (O(files / 100) requests) and read one folder archive at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from prbot.scm.gitlab.archive import (
    ArchiveCache,
    ArchiveFile,
    ArchiveLimits,
    ArchiveTooLarge,
    BoundedBuffer,
    extract,
)
from prbot.scm.gitlab.client import GitLabClient
from prbot.scm.port import ScmError, Snapshot, TreeEntry

log = logging.getLogger("prbot.scm.gitlab")


class Reader:
    def __init__(self, client: GitLabClient, limits: ArchiveLimits) -> None:
        self.client = client
        self.limits = limits
        self.archives = ArchiveCache()
        # repositories whose whole archive exceeded the limits: list their trees directly
        self._too_large: set[str] = set()

    async def snapshot(self, repo: str, ref: str) -> Snapshot:
        project = await self.client.project(repo)
        # commits/:ref resolves a branch, a tag or a sha in one request
        commit = await self.client.call("resolve ref", project.commits.get, ref)
        sha = str(commit.id)
        files = await self._whole_archive(repo, project, sha)
        if files is not None:
            entries = {p: TreeEntry(p, f.mode, f.blob_sha) for p, f in files.items()}
            contents = {p: f.content for p, f in files.items()}
            return Snapshot(repo, ref, sha, entries, contents)
        items = await self.client.call(
            "list tree",
            project.repository_tree,
            ref=sha,
            recursive=True,
            get_all=True,
            per_page=100,  # a raw list call: the client's default page size doesn't apply
        )
        entries = {
            i["path"]: TreeEntry(i["path"], i["mode"], i["id"])
            for i in items
            if i.get("type") == "blob"
        }
        return Snapshot(repo, ref, sha, entries)

    async def read_files(self, repo: str, sha: str, paths: Sequence[str]) -> dict[str, bytes]:
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return {}
        files = self.archives.get(repo, sha)
        if files is None:
            project = await self.client.project(repo)
            folder = common_folder(wanted)
            if folder:
                files = await self._download(project, sha, folder=folder, only=wanted)
            else:
                files = await self._whole_archive(repo, project, sha)
            if files is None:
                raise ScmError(
                    f"GitLab read files: the archive of {sha[:12]} exceeds the size limits"
                )
        return {p: files[p].content for p in wanted if p in files}

    def modes(self, repo: str, sha: str) -> dict[str, str] | None:
        """path -> mode at ``sha`` if that commit was read (no request)."""
        files = self.archives.get(repo, sha)
        return {p: f.mode for p, f in files.items()} if files is not None else None

    async def _whole_archive(
        self, repo: str, project: Any, sha: str
    ) -> dict[str, ArchiveFile] | None:
        files = self.archives.get(repo, sha)
        if files is None and repo not in self._too_large:
            files = await self._download(project, sha)
            if files is None:
                self._too_large.add(repo)
            else:
                self.archives.put(repo, sha, files)
        return files

    async def _download(
        self, project: Any, sha: str, *, folder: str = "", only: Sequence[str] | None = None
    ) -> dict[str, ArchiveFile] | None:
        """One archive request; None when it exceeds the limits."""
        buffer = BoundedBuffer(self.limits.max_download)
        kwargs: dict[str, Any] = {"sha": sha, "format": "tar.gz", "streamed": True}
        if folder:
            kwargs["path"] = folder
        try:
            await self.client.call(
                "download archive",
                project.repository_archive,
                action=buffer,
                chunk_size=256 * 1024,
                **kwargs,
            )
            return await asyncio.to_thread(
                extract, buffer.getvalue(), self.limits, folder=folder, only=only
            )
        except ArchiveTooLarge as exc:
            log.info("archive of %s skipped: %s", sha[:12], exc)
            return None
        except ValueError as exc:
            raise ScmError(f"GitLab download archive: {exc}") from None


def common_folder(paths: Sequence[str]) -> str:
    """The deepest folder holding every path ("" for the repository root)."""
    folders = [p.split("/")[:-1] for p in paths]
    common: list[str] = []
    for parts in zip(*folders, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return "/".join(common)
