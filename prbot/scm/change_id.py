"""The Change-Id trailer: how a provider recognises "this branch already holds exactly
this change" without an empty commit or a tree comparison.

Every commit prbot makes carries ``Prbot-Change-Id: <sha256 of the ChangeSet>``; a re-run
whose branch head sits on the same base with the same id writes nothing. Shared by every
provider so that the id means the same thing whichever forge holds the branch.
"""

from __future__ import annotations

import hashlib
import re

from prbot.automation.changeset import ChangeSet

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
    """The last Change-Id in a commit message, if any."""
    found = _TRAILER_RE.findall(message or "")
    return found[-1] if found else None


def carries(message: str, cid: str) -> bool:
    return trailer_of(message) == cid
