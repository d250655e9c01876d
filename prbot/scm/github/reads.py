"""Reading many files at one commit: one GraphQL request per 100 paths.

Each path is an aliased ``object(expression: "SHA:path")``; the expressions travel as
variables, so no path needs escaping into the query text. Blobs GraphQL will not give as
text (binary, or text that does not add up to ``byteSize``) are fetched over REST.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from prbot.scm.github.repo_api import RepoApi
from prbot.scm.port import NotFound

CHUNK = 100


def blob_query(count: int) -> str:
    """The query for ``count`` paths: ``$e0..$eN`` expressions, aliases ``f0..fN``."""
    decls = "".join(f", $e{i}: String!" for i in range(count))
    fields = "\n".join(
        f"    f{i}: object(expression: $e{i}) {{ ... on Blob {{ text isBinary byteSize }} }}"
        for i in range(count)
    )
    return (
        f"query($owner: String!, $name: String!{decls}) {{\n"
        f"  repository(owner: $owner, name: $name) {{\n{fields}\n  }}\n}}"
    )


async def read_files(api: RepoApi, sha: str, paths: Sequence[str]) -> dict[str, bytes]:
    unique = list(dict.fromkeys(paths))
    out: dict[str, bytes] = {}
    need_rest: list[str] = []
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        variables = {f"e{i}": f"{sha}:{p}" for i, p in enumerate(chunk)}
        data, _errors = await api.graphql(blob_query(len(chunk)), variables)
        repository = data.get("repository")
        if repository is None:
            raise NotFound(f"POST /graphql: repository {api.full_name} not found")
        for i, path in enumerate(chunk):
            blob = repository.get(f"f{i}")
            if not blob:
                continue  # missing, or a folder: absent from the result, as the port says
            content = _text_of(blob)
            if content is None:
                need_rest.append(path)
            else:
                out[path] = content
    for path in need_rest:
        content = await _rest_read(api, sha, path)
        if content is not None:
            out[path] = content
    return out


def _text_of(blob: dict[str, Any]) -> bytes | None:
    text = blob.get("text")
    if text is None or blob.get("isBinary"):
        return None
    data = text.encode("utf-8")
    size = blob.get("byteSize")
    # GraphQL gives text lossily decoded (and truncated when large): trust only exact sizes
    if isinstance(size, int) and size != len(data):
        return None
    return data


async def _rest_read(api: RepoApi, sha: str, path: str) -> bytes | None:
    try:
        data = await api.get("/contents/{path}", {"path": path}, query={"ref": sha})
    except NotFound:
        return None
    if not isinstance(data, dict):
        return None  # a folder listing
    if data.get("type") == "symlink" and "target" in data:
        return str(data["target"]).encode("utf-8", "surrogateescape")
    if data.get("encoding") == "base64" and isinstance(data.get("content"), str):
        return base64.b64decode(data["content"])
    return None
