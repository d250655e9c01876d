"""normalize, for slash-commands: only new comments become ``CommentCreated``; a comment
says whether a bot wrote it (as the platform says) and links itself; GitLab note edits
and system notes are never new comments, whatever the payload's age."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from prbot.events import CommentCreated
from prbot.web.normalize import github_events, gitlab_events

from .conftest import fixture_named

GITHUB = "github/issue_comment.created.on_pr"
GITLAB = "gitlab/note.merge_request"
GITLAB_OLD = "gitlab/note.merge_request.gitlab_com"  # no action in the payload


def edited(name: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    payload = copy.deepcopy(fixture_named(name).payload)
    change(payload)
    return payload


def github(payload: dict[str, Any]) -> list[Any]:
    return github_events("issue_comment", payload)


def gitlab(payload: dict[str, Any]) -> list[Any]:
    return gitlab_events("Note Hook", payload)


def test_a_persons_comment_links_itself() -> None:
    [event] = github(fixture_named(GITHUB).payload)
    assert isinstance(event, CommentCreated)
    assert (event.author_is_bot, event.url) == (
        False,
        "https://github.com/abc/def-ci-webhook-test/pull/2#issuecomment-751955664",
    )
    [note] = gitlab(fixture_named(GITLAB).payload)
    assert isinstance(note, CommentCreated) and not note.author_is_bot
    assert note.url.endswith("/merge_requests/1#note_1244")


@pytest.mark.parametrize("action", ["edited", "deleted"])
def test_github_edits_and_deletions_are_not_new_comments(action: str) -> None:
    assert github(edited(GITHUB, lambda p: p.update(action=action))) == []


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["comment"]["user"].update(type="Bot", login="prbot[bot]"),
        lambda p: p["comment"].update(performed_via_github_app={"id": 1, "slug": "ci"}),
    ],
    ids=["bot-account", "via-an-app"],
)
def test_github_bots_and_apps_are_marked(change: Callable[[dict[str, Any]], None]) -> None:
    [event] = github(edited(GITHUB, change))
    assert event.author_is_bot


def test_gitlab_edits_and_system_notes_are_not_new_comments() -> None:
    assert gitlab(edited(GITLAB, lambda p: p["object_attributes"].update(action="update"))) == []
    assert gitlab(edited(GITLAB, lambda p: p["object_attributes"].update(system=True))) == []
    # an older payload without an action: an edit shows as a later updated_at
    later = edited(GITLAB_OLD, lambda p: p["object_attributes"].update(updated_at="2017-12-11"))
    assert gitlab(later) == []
    assert len(gitlab(fixture_named(GITLAB_OLD).payload)) == 1


@pytest.mark.parametrize(
    ("username", "flag", "bot"),
    [
        ("project_42_bot_3f9a1c", None, True),
        ("group_7_bot_0c1d", None, True),
        ("project_42_bot1", None, True),
        ("service_account_9a8b", None, True),
        ("renovate", True, True),
        ("root", None, False),
        ("project_manager", None, False),
    ],
)
def test_gitlab_bots_by_flag_or_by_the_names_gitlab_gives_them(
    username: str, flag: bool | None, bot: bool
) -> None:
    def change(p: dict[str, Any]) -> None:
        p["user"]["username"] = username
        if flag is not None:
            p["user"]["bot"] = flag

    [event] = gitlab(edited(GITLAB, change))
    assert event.author_is_bot is bot
