"""A ChangeSet as GitLab commit actions, and the Change-Id that makes a re-run a no-op.

GitLab's commits API writes a whole multi-file commit in one request. To recognise
"this branch already holds exactly this change" without an empty commit or a tree
comparison, the commit message carries a trailer with a digest of the change.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from prbot.automation.changeset import EXECUTABLE, SYMLINK, ChangeSet

TRAILER = "Prbot-Change-Id"
_TRAILER_RE = re.compile(rf"^{TRAILER}: ([0-9a-f]{{64}})\s*$", re.MULTILINE)


def change_id(changes: ChangeSet) -> str:
    """sha256 over every change's path, operation, mode and content, in path order
    (each field length-prefixed, so no two different change sets collide by framing)."""
    h = hashlib.sha256()
    for change in sorted(changes, key=lambda c: c.path):
        content = change.content if change.operation != "delete" else b""
        for field in (
            change.operation.encode(),
            change.path.encode("utf-8", "surrogateescape"),
            change.mode.encode(),
            content or b"",
        ):
            h.update(b"%d:" % len(field))
            h.update(field)
    return h.hexdigest()


def with_trailer(message: str, cid: str) -> str:
    return f"{message.rstrip()}\n\n{TRAILER}: {cid}\n"


def trailer_of(message: str) -> str | None:
    found = _TRAILER_RE.findall(message or "")
    return found[-1] if found else None


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
