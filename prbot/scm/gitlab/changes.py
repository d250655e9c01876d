"""A ChangeSet as GitLab commit actions, and the Change-Id that makes a re-run a no-op.

GitLab's commits API writes a whole multi-file commit in one request. To recognise
"this branch already holds exactly this change" without an empty commit or a tree
comparison, the commit message carries a trailer with a digest of the change.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from prbot.automation.changeset import EXECUTABLE, SYMLINK, ChangeSet
from prbot.scm.change_id import TRAILER, change_id, trailer_of, with_trailer

__all__ = ["TRAILER", "actions", "change_id", "trailer_of", "with_trailer"]


def actions(
    changes: ChangeSet, base_modes: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """GitLab commit actions for ``changes``, applied against the base commit.

    ``base_modes`` (path -> mode at the base), when known, spares a ``chmod`` on updates
    that keep their mode; unknown, every update pins its mode with one.
    """
    out: list[dict[str, Any]] = []
    for change in changes:
        if change.operation == "delete":
            out.append({"action": "delete", "file_path": change.path})
            continue
        if change.mode == SYMLINK:
            # GitLab's commits API cannot write symlinks; a render never produces one
            raise ValueError(f"{change.path}: cannot commit a symlink through the GitLab API")
        action: dict[str, Any] = {"action": change.operation, "file_path": change.path}
        action.update(_content(change.content or b""))
        out.append(action)
        executable = change.mode == EXECUTABLE
        if change.operation == "create":
            needs_chmod = executable
        else:
            before = (base_modes or {}).get(change.path)
            needs_chmod = before is None or before != change.mode
        # execute_filemode is honoured only by the chmod action
        if needs_chmod:
            out.append(
                {"action": "chmod", "file_path": change.path, "execute_filemode": executable}
            )
    return out


def _content(data: bytes) -> dict[str, str]:
    if b"\0" in data:
        return {"content": base64.b64encode(data).decode("ascii"), "encoding": "base64"}
    try:
        return {"content": data.decode("utf-8"), "encoding": "text"}
    except UnicodeDecodeError:
        return {"content": base64.b64encode(data).decode("ascii"), "encoding": "base64"}
