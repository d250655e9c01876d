"""Comments found again by a hidden marker, so a bot edits its comment instead of piling up."""

from __future__ import annotations

import re
from typing import Any

from prbot.scm.github import convert
from prbot.scm.github.errors import GitHubUnavailable
from prbot.scm.github.repo_api import RepoApi
from prbot.scm.port import Comment, Reaction, ScmError

_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/@#=+-]")


def marker_tag(marker: str) -> str:
    """``<!-- prbot:MARKER -->``; characters that could end the HTML comment are replaced."""
    return f"<!-- prbot:{_UNSAFE.sub('-', marker)} -->"


def with_marker(body: str, marker: str) -> str:
    tag = marker_tag(marker)
    return body if tag in body else f"{body.rstrip()}\n\n{tag}"


async def whoami(api: RepoApi) -> str:
    """The login these credentials act as (an App's installation: ``slug[bot]``)."""
    data, _ = await api.client.graphql("query { viewer { login } }", {}, auth=api.auth)
    login = (data.get("viewer") or {}).get("login")
    if not login:  # without it no comment could be told ours: a new one every time
        raise ScmError("POST /graphql: GitHub did not say who the credentials act as")
    return str(login)


async def find(api: RepoApi, number: int, marker: str, me: str) -> dict[str, Any] | None:
    """Our own comment carrying the marker: anyone can paste the marker into theirs."""
    tag = marker_tag(marker)
    async for item in api.paginate("/issues/{issue_number}/comments", {"issue_number": number}):
        author = str((item.get("user") or {}).get("login") or "")
        if tag in (item.get("body") or "") and author.lower() == me.lower():
            return item
    return None


async def edit(api: RepoApi, comment_id: int, text: str) -> Comment:
    """Replace the body of comment ``comment_id`` (``NotFound`` if it was deleted)."""
    answer = await api.call(
        "PATCH", "/issues/comments/{comment_id}", {"comment_id": comment_id}, json={"body": text}
    )
    return convert.comment(answer.data)


async def upsert(api: RepoApi, number: int, marker: str, body: str, *, me: str) -> Comment:
    """Create, or edit in place, ``me``'s comment carrying ``marker``."""
    text = with_marker(body, marker)
    found = await find(api, number, marker, me)
    if found is not None:
        if found.get("body") == text:
            return convert.comment(found)
        return await edit(api, int(found["id"]), text)
    attempt = 0
    while True:
        attempt += 1
        try:
            answer = await api.call(
                "POST",
                "/issues/{issue_number}/comments",
                {"issue_number": number},
                json={"body": text},
                idempotent=False,
            )
            return convert.comment(answer.data)
        except GitHubUnavailable:
            if attempt >= api.client.policy.max_attempts:
                raise
            await api.client.pause(attempt)
            found = await find(api, number, marker, me)  # the lost POST may have landed
            if found is not None:
                return convert.comment(found)


async def react(api: RepoApi, comment_id: int, reaction: Reaction) -> None:
    # GitHub answers 200 for a reaction that already exists: safe to repeat
    await api.call(
        "POST",
        "/issues/comments/{comment_id}/reactions",
        {"comment_id": comment_id},
        json={"content": reaction},
        idempotent=True,
    )
