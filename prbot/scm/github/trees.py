"""Reading refs and trees: a repository's file listing at a commit in constant calls."""

from __future__ import annotations

import re

from prbot.scm.github.errors import GitHubNotFound
from prbot.scm.github.repo_api import RepoApi
from prbot.scm.port import NotFound, TreeEntry

SHA_RE = re.compile(r"[0-9a-f]{40}")
FILE_MODES = frozenset({"100644", "100755", "120000"})


async def branch_head(api: RepoApi, branch: str) -> str | None:
    """The commit a branch points at, or None when there is no such branch."""
    try:
        data = await api.get("/git/ref/heads/{branch}", {"branch": branch})
    except NotFound:
        return None
    return str(data["object"]["sha"])


async def resolve(api: RepoApi, ref: str) -> str:
    """A branch, tag or 40-hex sha → commit sha (one call for a branch, none for a sha)."""
    if SHA_RE.fullmatch(ref):
        return ref
    head = await branch_head(api, ref)
    if head is not None:
        return head
    try:
        data = await api.get("/git/ref/tags/{tag}", {"tag": ref})
    except NotFound:
        raise GitHubNotFound(
            f"{api.full_name}: no branch or tag named {ref!r}", status=404
        ) from None
    obj = data["object"]
    if obj.get("type") == "tag":
        # an annotated tag: the combined-status answer names the commit it peels to
        status = await api.get("/commits/{ref}/status", {"ref": f"tags/{ref}"})
        return str(status["sha"])
    return str(obj["sha"])


async def list_tree(api: RepoApi, tree_ish: str) -> tuple[str, dict[str, TreeEntry]]:
    """``(tree sha, files)`` of a commit or tree, recursively, in one call unless GitHub
    truncates the listing (then one call per top-level folder, recursing as needed)."""
    data = await api.get("/git/trees/{tree_sha}", {"tree_sha": tree_ish}, query={"recursive": 1})
    tree_sha = str(data["sha"])
    if not data.get("truncated"):
        return tree_sha, _files(data["tree"], "")
    return tree_sha, await _walk(api, tree_sha, "")


async def _walk(api: RepoApi, tree_sha: str, prefix: str) -> dict[str, TreeEntry]:
    """A truncated listing: read this level flat, then each folder recursively."""
    data = await api.get("/git/trees/{tree_sha}", {"tree_sha": tree_sha})
    out = _files(data["tree"], prefix)
    for item in data["tree"]:
        if item.get("type") != "tree":
            continue
        sub = await api.get(
            "/git/trees/{tree_sha}", {"tree_sha": item["sha"]}, query={"recursive": 1}
        )
        sub_prefix = f"{prefix}{item['path']}/"
        if sub.get("truncated"):
            out.update(await _walk(api, str(item["sha"]), sub_prefix))
        else:
            out.update(_files(sub["tree"], sub_prefix))
    return out


def _files(items: list[dict], prefix: str) -> dict[str, TreeEntry]:
    """Blobs only: folders are implied, submodules (mode 160000) are not files we edit."""
    out: dict[str, TreeEntry] = {}
    for item in items:
        if item.get("type") == "blob" and item.get("mode") in FILE_MODES:
            path = prefix + item["path"]
            out[path] = TreeEntry(path=path, mode=item["mode"], sha=item["sha"])
    return out
