"""normalize: every real delivery in tests/fixtures/webhooks maps to the right internal
events (key fields asserted), plus the mapping rules on edited copies of them."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from prbot.events import (
    CommentCreated,
    HealthReported,
    InstallationChanged,
    PullRequestEvent,
    PushToDefault,
    event_from_dict,
)
from prbot.web.normalize import github_events, gitlab_events
from prbot.web.payload import MALFORMED, parse

from .conftest import fixture_named, github_fixtures, gitlab_fixtures

HELLO = "Codertocat/Hello-World"
EC26 = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"

# fixture -> the events it must produce (all fields that matter, exactly)
EXPECTED: dict[str, list[Any]] = {
    "github/check_run.completed": [
        HealthReported(
            platform="github",
            repo=HELLO,
            sha=EC26,
            context="Octocoders-linter",
            state="success",
            source="check",
            url="https://github.com/Codertocat/Hello-World/runs/128620228",
        )
    ],
    "github/check_suite.completed": [
        HealthReported(
            platform="github",
            repo=HELLO,
            sha=EC26,
            context="check_suite",  # this app has no slug in the old payload
            state="success",
            source="check",
        )
    ],
    "github/deployment_status.created": [
        HealthReported(
            platform="github",
            repo=HELLO,
            sha="f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
            context="production",
            state="success",
            source="deployment",
        )
    ],
    "github/installation.created": [
        InstallationChanged(
            platform="github",
            repo="",
            action="added",
            installation_id=957387,
            repos=(HELLO,),
        )
    ],
    "github/issue_comment.created.on_issue": [
        CommentCreated(
            platform="github",
            repo=HELLO,
            number=1,
            comment_id=492700400,
            author="Codertocat",
            body="You are totally right! I'll get this fixed right away.",
            on_pull_request=False,
            url="https://github.com/Codertocat/Hello-World/issues/1#issuecomment-492700400",
        )
    ],
    "github/issue_comment.created.on_pr": [
        CommentCreated(
            platform="github",
            repo="abc/def-ci-webhook-test",
            number=2,
            comment_id=751955664,
            author="lts-def",
            body="trigger abc",
            on_pull_request=True,
            url="https://github.com/abc/def-ci-webhook-test/pull/2#issuecomment-751955664",
        )
    ],
    "github/ping": [],
    "github/ping.app": [],
    "github/pull_request.closed.merged": [
        PullRequestEvent(
            platform="github",
            repo="ailisp/gcbapp-buildconfig-example",
            action="merged",
            number=3,
            head="byao1276-patch-1",
            base="master",
            head_sha="7b5a809ab03679215c55926f7d111156ec98b865",
            merge_commit_sha="a21683865c088b5fe1906cf6552d15a285a4986d",
            labels=(),
            author="byao1276",
            title="Byao1276 patch 1",
        )
    ],
    "github/pull_request.closed.unmerged": [
        PullRequestEvent(
            platform="github",
            repo=HELLO,
            action="closed",
            number=2,
            head="changes",
            base="master",
            head_sha=EC26,
            merge_commit_sha=None,
            labels=("bug",),
            author="Codertocat",
            title="Update the README with new information.",
        )
    ],
    "github/pull_request.opened": [
        PullRequestEvent(
            platform="github",
            repo=HELLO,
            action="opened",
            number=2,
            head="changes",
            base="master",
            head_sha=EC26,
            labels=("bug",),
            author="Codertocat",
            title="Update the README with new information.",
        )
    ],
    "github/pull_request.synchronize": [
        PullRequestEvent(
            platform="github",
            repo=HELLO,
            action="synchronize",
            number=2,
            head="changes",
            base="master",
            head_sha=EC26,
            labels=("bug",),
            author="Codertocat",
            title="Update the README with new information.",
        )
    ],
    "github/push.branch": [
        PushToDefault(
            platform="github",
            repo=HELLO,
            branch="master",
            before="a10867b14bb761a232cd80139fbd4c0d33264240",
            after="199eddf46df50de8d02e99bf1c5fdb4101338224",
            paths=("README.md",),
        )
    ],
    "github/push.merge_to_master": [
        PushToDefault(
            platform="github",
            repo="ailisp/gcbapp-buildconfig-example",
            branch="master",
            before="8357af6fef17bd180014e419f049944cb491238f",
            after="a21683865c088b5fe1906cf6552d15a285a4986d",
            paths=("README.md",),
        )
    ],
    "github/push.new_branch": [
        PushToDefault(
            platform="github",
            repo=HELLO,
            branch="master",
            before="0" * 40,
            after="6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            paths=("README.md",),
        )
    ],
    "github/push.tag_deleted": [],
    "github/status": [
        HealthReported(
            platform="github",
            repo=HELLO,
            sha="6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            context="default",
            state="success",
            source="status",
        )
    ],
    "gitlab/deployment": [
        HealthReported(
            platform="gitlab",
            repo="root/test-deployment-webhooks",
            sha="279484c09fbe69ededfced8c1bb6e6d24616b468",  # from commit_url, not short_sha
            context="staging",
            state="success",
            source="deployment",
            url="http://10.126.0.2:3000/root/test-deployment-webhooks/-/jobs/796",
        )
    ],
    "gitlab/merge_request.merge": [
        PullRequestEvent(
            platform="gitlab",
            repo="gitlab-org/hello-world",
            action="merged",
            number=1,
            head="feature",
            base="master",
            head_sha="c4c79227ed610f1151f05bbc5be33b4f340d39c8",
            merge_commit_sha="78a76ee6b4992a6baf64c59fc4c44c7323d60438",
            title="update readme",
        )
    ],
    "gitlab/merge_request.open.gitlab_com": [
        PullRequestEvent(
            platform="gitlab",
            repo="gitlab-org/hello-world",
            action="opened",
            number=1,
            head="feature",
            base="master",
            head_sha="c4c79227ed610f1151f05bbc5be33b4f340d39c8",
            author="sytses",
            title="update readme",
        )
    ],
    "gitlab/merge_request.open": [
        PullRequestEvent(
            platform="gitlab",
            repo="gitlabhq/gitlab-test",
            action="opened",
            number=1,
            head="ms-viewport",
            base="master",
            head_sha="da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            labels=("API",),
            author="user1",
            title="MS-Viewport",
        )
    ],
    "gitlab/note.merge_request.gitlab_com": [
        CommentCreated(
            platform="gitlab",
            repo="gitlab-org/hello-world",
            number=1,
            comment_id=50772616,
            author="sytses",
            body="lgtm",
            on_pull_request=True,
            url="https://gitlab.com/gitlab-org/hello-world/merge_requests/1#note_50772616",
        )
    ],
    "gitlab/note.merge_request": [
        CommentCreated(
            platform="gitlab",
            repo="gitlab-org/gitlab-test",
            number=1,
            comment_id=1244,
            author="root",
            body="This MR needs work.",
            on_pull_request=True,
            url="http://example.com/gitlab-org/gitlab-test/merge_requests/1#note_1244",
        )
    ],
    "gitlab/pipeline": [
        HealthReported(
            platform="gitlab",
            repo="gitlab-org/gitlab-test",
            sha="bcbb5ec396a2c0f828686f14fac9b80b780504f2",
            context="pipeline",
            state="success",
            source="pipeline",
            url="http://192.168.64.1:3005/gitlab-org/gitlab-test/-/pipelines/31",
        )
    ],
    "gitlab/push.gitlab_com": [
        PushToDefault(
            platform="gitlab",
            repo="gitlab-org/hello-world",
            branch="master",
            before="9217710ce8c7e1eae7a5d1c45f6e43e1c769f866",
            after="2adc9465c4edfc33834e173fe89436a7cb899a1d",
            paths=("README.md",),
        )
    ],
    "gitlab/push": [
        PushToDefault(
            platform="gitlab",
            repo="mike/diaspora",
            branch="master",
            before="95790bf891e76fee5e1747ab589903a6a1f80f22",
            after="da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            paths=(),  # 4 commits pushed, 2 listed: the paths are unknown
        )
    ],
}

ALL = [*github_fixtures(), *gitlab_fixtures()]


def events_of(platform: str, event: str, payload: dict[str, Any]) -> list[Any]:
    return (github_events if platform == "github" else gitlab_events)(event, payload)


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(f"{f.platform}/{f.name}" for f in ALL) == sorted(EXPECTED)


@pytest.mark.parametrize("fx", ALL, ids=lambda f: f"{f.platform}/{f.name}")
def test_real_delivery(fx: Any) -> None:
    got = events_of(fx.platform, fx.event, fx.payload)
    assert got == EXPECTED[f"{fx.platform}/{fx.name}"]
    # what the job queue carries round-trips
    for event in got:
        assert event_from_dict(event.to_dict()) == event


@pytest.mark.parametrize("fx", ALL, ids=lambda f: f"{f.platform}/{f.name}")
def test_a_lazy_document_reads_as_the_dict_does(fx: Any) -> None:
    # the intake hands normalizing a pysimdjson document (payload.py), tests a dict
    document = parse(fx.body)
    assert not isinstance(document, dict)
    assert events_of(fx.platform, fx.event, document) == EXPECTED[f"{fx.platform}/{fx.name}"]


def test_the_parser_survives_a_document_kept_too_long(caplog: pytest.LogCaptureFixture) -> None:
    kept = parse(b'{"a": {"b": 1}}')["a"]  # a caller holding on to part of a document
    again = parse(b'{"c": 2}')  # simdjson would refuse to reuse its parser: a new one
    assert (kept["b"], again["c"]) == (1, 2)
    assert "outlived its request" in caplog.text
    assert parse(b"not json") is MALFORMED
    # beyond 64 bits simdjson gives up; the stdlib reads it, as gidgethub would
    assert parse(b'{"big": 123456789012345678901234567890}') == {
        "big": 123456789012345678901234567890
    }


def test_to_dict_matches_asdict() -> None:
    """The hand-written to_dict (worked out once per event: the intake and the store both
    ask) gives what dataclasses.asdict did: same keys, same order, kind last; and each
    caller gets its own dict."""
    for events in EXPECTED.values():
        for event in events:
            before = {**dataclasses.asdict(event), "kind": event.kind}
            first = event.to_dict()
            assert first == before and list(first) == list(before)
            first["repo"] = "changed"  # a caller's dict is its own
            assert event.to_dict() == before and event.to_dict() is not event.to_dict()


def edited(name: str, change: Any) -> dict[str, Any]:
    payload = copy.deepcopy(fixture_named(name).payload)
    change(payload)
    return payload


@pytest.mark.parametrize(
    ("conclusion", "state"),
    [
        ("success", "success"),
        ("neutral", "success"),
        ("skipped", "success"),
        ("failure", "failure"),
        ("timed_out", "failure"),
        ("cancelled", "failure"),
        ("action_required", "failure"),
        ("startup_failure", "failure"),
        ("stale", "pending"),
        (None, "pending"),
        ("something_new", "pending"),
    ],
)
def test_check_conclusions(conclusion: str | None, state: str) -> None:
    run = edited(
        "github/check_run.completed", lambda p: p["check_run"].update(conclusion=conclusion)
    )
    suite = edited(
        "github/check_suite.completed", lambda p: p["check_suite"].update(conclusion=conclusion)
    )
    assert [e.state for e in github_events("check_run", run)] == [state]
    assert [e.state for e in github_events("check_suite", suite)] == [state]


def test_check_suite_context_is_the_app_slug() -> None:
    suite = edited(
        "github/check_suite.completed", lambda p: p["check_suite"]["app"].update(slug="flux")
    )
    assert github_events("check_suite", suite)[0].context == "flux"


@pytest.mark.parametrize("action", ["created", "requested_action", "rerequested"])
def test_check_run_not_completed_is_ignored(action: str) -> None:
    payload = edited("github/check_run.completed", lambda p: p.update(action=action))
    assert github_events("check_run", payload) == []


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("success", ["success"]),
        ("failure", ["failure"]),
        ("error", ["failure"]),
        ("pending", ["pending"]),
        ("in_progress", ["pending"]),
        ("queued", ["pending"]),
        ("inactive", []),
    ],
)
def test_deployment_states(state: str, expected: list[str]) -> None:
    payload = edited(
        "github/deployment_status.created", lambda p: p["deployment_status"].update(state=state)
    )
    assert [e.state for e in github_events("deployment_status", payload)] == expected


@pytest.mark.parametrize(("state", "expected"), [("error", "failure"), ("pending", "pending")])
def test_status_states(state: str, expected: str) -> None:
    payload = edited("github/status", lambda p: p.update(state=state))
    assert github_events("status", payload)[0].state == expected


def test_push_to_other_branch_is_ignored() -> None:
    payload = edited("github/push.branch", lambda p: p.update(ref="refs/heads/feature"))
    assert github_events("push", payload) == []
    tag = edited("github/push.branch", lambda p: p.update(ref="refs/tags/master"))
    assert github_events("push", tag) == []


def test_push_deleting_the_default_branch_is_ignored() -> None:
    payload = edited("github/push.branch", lambda p: p.update(deleted=True, after="0" * 40))
    assert github_events("push", payload) == []


def test_push_paths_dedupe_in_order() -> None:
    def change(p: dict[str, Any]) -> None:
        p["commits"] = [
            {"added": ["a.yaml"], "modified": ["README.md"], "removed": []},
            {"added": [], "modified": ["a.yaml"], "removed": ["old.txt"]},
        ]

    payload = edited("github/push.branch", change)
    assert github_events("push", payload)[0].paths == ("a.yaml", "README.md", "old.txt")


@pytest.mark.parametrize("action", ["labeled", "edited", "assigned", "ready_for_review"])
def test_other_pull_request_actions_are_ignored(action: str) -> None:
    payload = edited("github/pull_request.opened", lambda p: p.update(action=action))
    assert github_events("pull_request", payload) == []


def test_reopened_pull_request() -> None:
    payload = edited("github/pull_request.opened", lambda p: p.update(action="reopened"))
    assert github_events("pull_request", payload)[0].action == "reopened"


def test_comment_edits_are_ignored() -> None:
    payload = edited("github/issue_comment.created.on_pr", lambda p: p.update(action="edited"))
    assert github_events("issue_comment", payload) == []


def test_installation_deleted_and_suspended() -> None:
    deleted = edited("github/installation.created", lambda p: p.update(action="deleted"))
    assert github_events("installation", deleted)[0].action == "removed"
    suspended = edited("github/installation.created", lambda p: p.update(action="suspend"))
    assert github_events("installation", suspended) == []


@pytest.mark.parametrize("action", ["added", "removed"])
def test_installation_repositories(action: str) -> None:
    def change(p: dict[str, Any]) -> None:
        p["action"] = action
        p[f"repositories_{action}"] = p.pop("repositories")

    [event] = github_events(
        "installation_repositories", edited("github/installation.created", change)
    )
    assert (event.action, event.installation_id, event.repos) == (action, 957387, (HELLO,))


def test_unknown_github_events_are_ignored() -> None:
    payload = fixture_named("github/status").payload
    assert github_events("workflow_job", payload) == []
    assert github_events("status", [1, 2]) == []  # type: ignore[arg-type]


def test_a_payload_missing_fields_yields_empty_values_not_errors() -> None:
    [event] = github_events("pull_request", {"action": "opened"})
    assert (event.repo, event.number, event.head_sha) == ("", 0, "")
    assert gitlab_events("Merge Request Hook", {"object_attributes": None}) == []


# -- GitLab rules


def test_gitlab_update_with_oldrev_is_synchronize() -> None:
    def change(p: dict[str, Any]) -> None:
        p["object_attributes"].update(action="update", oldrev="1" * 40)

    [event] = gitlab_events("Merge Request Hook", edited("gitlab/merge_request.open", change))
    assert (event.action, event.author) == ("synchronize", "")
    no_commits = edited(
        "gitlab/merge_request.open", lambda p: p["object_attributes"].update(action="update")
    )
    assert gitlab_events("Merge Request Hook", no_commits) == []


@pytest.mark.parametrize(
    ("action", "expected"),
    [("close", "closed"), ("reopen", "reopened"), ("approved", None), ("unapproved", None)],
)
def test_gitlab_mr_actions(action: str, expected: str | None) -> None:
    payload = edited(
        "gitlab/merge_request.open", lambda p: p["object_attributes"].update(action=action)
    )
    assert [e.action for e in gitlab_events("Merge Request Hook", payload)] == (
        [expected] if expected else []
    )


def test_gitlab_fast_forward_merge_uses_the_head() -> None:
    payload = edited(
        "gitlab/merge_request.merge",
        lambda p: p["object_attributes"].update(merge_commit_sha=None),
    )
    [event] = gitlab_events("Merge Request Hook", payload)
    assert event.merge_commit_sha == "c4c79227ed610f1151f05bbc5be33b4f340d39c8"


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("success", "success"),
        ("failed", "failure"),
        ("canceled", "failure"),
        ("running", "pending"),
        ("pending", "pending"),
        ("created", "pending"),
        ("skipped", "pending"),
        ("manual", "pending"),
    ],
)
def test_gitlab_pipeline_states(status: str, state: str) -> None:
    payload = edited("gitlab/pipeline", lambda p: p["object_attributes"].update(status=status))
    assert gitlab_events("Pipeline Hook", payload)[0].state == state
    deployment = edited("gitlab/deployment", lambda p: p.update(status=status))
    assert gitlab_events("Deployment Hook", deployment)[0].state == state


def test_gitlab_issue_note_is_not_on_a_merge_request() -> None:
    def change(p: dict[str, Any]) -> None:
        p["object_attributes"]["noteable_type"] = "Issue"
        p["issue"] = {"iid": 7}
        del p["merge_request"]

    [event] = gitlab_events("Note Hook", edited("gitlab/note.merge_request", change))
    assert (event.number, event.on_pull_request) == (7, False)
    commit_note = edited(
        "gitlab/note.merge_request", lambda p: p["object_attributes"].update(noteable_type="Commit")
    )
    assert gitlab_events("Note Hook", commit_note) == []
    edit = edited(
        "gitlab/note.merge_request", lambda p: p["object_attributes"].update(action="update")
    )
    assert gitlab_events("Note Hook", edit) == []


def test_gitlab_push_elsewhere_is_ignored() -> None:
    other = edited("gitlab/push.gitlab_com", lambda p: p.update(ref="refs/heads/feature"))
    assert gitlab_events("Push Hook", other) == []
    deleted = edited("gitlab/push.gitlab_com", lambda p: p.update(after="0" * 40))
    assert gitlab_events("Push Hook", deleted) == []
    assert gitlab_events("Tag Push Hook", fixture_named("gitlab/push.gitlab_com").payload) == []


def test_gitlab_system_hook_dispatches_on_object_kind() -> None:
    payload = fixture_named("gitlab/merge_request.open").payload
    assert gitlab_events("System Hook", payload) == gitlab_events("Merge Request Hook", payload)
