"""MR notes carrying a hidden marker, edited in place; award emoji on notes."""

from __future__ import annotations

from prbot.scm.gitlab import convert
from prbot.scm.gitlab.client import WRITE_ATTEMPTS, GitLabClient
from prbot.scm.port import Comment, Reaction, ScmError, ScmUnavailable


async def upsert_note(
    client: GitLabClient, repo: str, number: int, marker: str, body: str
) -> Comment:
    project = await client.project(repo)
    mr = project.mergerequests.get(number, lazy=True)
    tag = f"<!-- prbot:{marker} -->"
    text = f"{body.rstrip()}\n\n{tag}"
    me = await client.whoami()
    last: ScmError | None = None
    for _ in range(WRITE_ATTEMPTS):
        notes = await client.call(
            "list notes", mr.notes.list, get_all=True, sort="asc", order_by="created_at"
        )
        # only our own note: anyone can paste the marker into theirs
        ours = [
            n.attributes
            for n in notes
            if tag in (n.attributes.get("body") or "")
            and (n.attributes.get("author") or {}).get("username") == me
            and not n.attributes.get("system")
        ]
        try:
            if ours:
                note = ours[0]
                if note.get("body") == text:
                    return convert.comment(note)
                updated = await client.call(
                    "edit note", mr.notes.update, note["id"], {"body": text}
                )
                return convert.comment(updated)
            created = await client.call("create note", mr.notes.create, {"body": text})
            return convert.comment(created.attributes)
        except ScmUnavailable as exc:
            last = exc  # the note may have been written; list again before retrying
    assert last is not None
    raise last


async def award_emoji(
    client: GitLabClient, repo: str, number: int, note_id: int, reaction: Reaction
) -> None:
    project = await client.project(repo)
    note = project.mergerequests.get(number, lazy=True).notes.get(note_id, lazy=True)
    for attempt in range(WRITE_ATTEMPTS):
        try:
            await client.call(
                "award emoji", note.awardemojis.create, {"name": convert.EMOJI[reaction]}
            )
            return
        except ScmUnavailable:
            if attempt == WRITE_ATTEMPTS - 1:
                raise
        except ScmError as exc:
            # GitLab answers 404 "Award Emoji Name has already been taken": done already
            if "already" in str(exc).lower():
                return
            raise
