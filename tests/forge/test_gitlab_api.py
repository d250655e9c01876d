"""The forge's GitLab v4 façade over real HTTP on 127.0.0.1.

python-gitlab itself is the client wherever it has a call for the route (so the shapes
are checked against what it reads); raw aiohttp requests check status codes, headers
and error bodies. What the commits API writes is checked with the git CLI on the bare
repository. python-gitlab is synchronous, so its calls run in a thread (``sync``) while
the server runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import io
import subprocess
import tarfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import gitlab
import pytest
from aiohttp import web
from gitlab.exceptions import GitlabAuthenticationError, GitlabError

from prbot.forge.server import ForgeServer
from prbot.forge.state import Forge
from tests.support.forge import running_forge, seed_repo

REPO = "acme/gitops"
ENC = "acme%2Fgitops"
TOKENS = {"prbot": "glpat-prbot-0001", "alice": "glpat-alice-0002", "bob": "glpat-bob-0003"}
T = TypeVar("T")


async def sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(fn, *args, **kwargs)


@dataclass
class Api:
    server: ForgeServer
    forge: Forge
    http: aiohttp.ClientSession

    def client(self, user: str = "prbot") -> gitlab.Gitlab:
        return gitlab.Gitlab(self.server.gitlab_url, private_token=TOKENS[user], timeout=10)

    def url(self, path: str) -> str:
        return f"{self.server.url}/api/v4{path}"

    async def call(
        self, method: str, path: str, user: str | None = "prbot", **kwargs: Any
    ) -> tuple[int, Any, Any]:
        headers = {"PRIVATE-TOKEN": TOKENS[user]} if user else {}
        async with self.http.request(method, self.url(path), headers=headers, **kwargs) as r:
            body = await r.json() if r.content_type == "application/json" else await r.read()
            return r.status, body, r.headers

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(self.forge.git_dir(REPO)), *args],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def rev(self, ref: str) -> str:
        return self.git("rev-parse", ref).strip()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_forge(tmp_path / "forge") as server, aiohttp.ClientSession() as http:
        files: dict[str, Any] = {f"apps/app-{i:03}.yaml": f"n: {i}\n" for i in range(120)}
        files.update({"README.md": "# gitops\n", "bin/run.sh": ("#!/bin/sh\n", "100755")})
        people = {"alice": "maintain", "bob": "read"}
        await seed_repo(
            server, REPO, files, bot="prbot", token=TOKENS["prbot"], bot_permission="write",
            permissions=people,
        )  # fmt: skip
        for user in people:
            server.forge.create_token(user, TOKENS[user])
        yield Api(server, server.forge, http)


async def branch_with_change(api: Api, branch: str, path: str = "new.yaml") -> str:
    base = api.rev("main")
    await api.forge.create_ref(REPO, f"refs/heads/{branch}", base, actor="prbot")
    return await api.forge.commit_changes(
        REPO, branch, "change", {path: _change(b"new\n")}, actor="prbot"
    )


def _change(content: bytes):
    from prbot.forge.git import Change

    return Change(content=content)


# -- auth, errors, rate limit headers ----------------------------------------------------------


async def test_auth_private_token_bearer_and_401(api: Api):
    status, body, headers = await api.call("GET", f"/projects/{ENC}", user=None)
    assert (status, body) == (401, {"message": "401 Unauthorized"})
    headers = {"Authorization": f"Bearer {TOKENS['bob']}"}
    async with api.http.get(api.url(f"/projects/{ENC}"), headers=headers) as r:
        assert r.status == 200
        assert int(r.headers["RateLimit-Remaining"]) < int(r.headers["RateLimit-Limit"])
    async with api.http.get(api.url("/user"), headers={"PRIVATE-TOKEN": "glpat-nope"}) as r:
        assert r.status == 401
    bad = gitlab.Gitlab(api.server.gitlab_url, private_token="glpat-nope")
    with pytest.raises(GitlabAuthenticationError):
        await sync(bad.projects.get, REPO)


async def test_project_by_path_and_id_and_access(api: Api):
    gl = api.client()
    project = await sync(gl.projects.get, REPO)
    repo = api.forge.repo(REPO)
    assert project.id == repo.id
    assert project.path_with_namespace == REPO
    assert project.default_branch == "main"
    assert project.web_url == f"{api.server.url}/{REPO}"
    assert (await sync(gl.projects.get, repo.id)).path_with_namespace == REPO
    status, body, _ = await api.call("GET", "/projects/acme%2Fnope")
    assert (status, body) == (404, {"message": "404 Project Not Found"})
    api.forge.create_user("eve")
    api.forge.create_token("eve", "glpat-eve")
    TOKENS["eve"] = "glpat-eve"
    try:
        status, body, _ = await api.call("GET", f"/projects/{ENC}", user="eve")
        assert (status, body) == (404, {"message": "404 Project Not Found"})  # private
    finally:
        del TOKENS["eve"]
    # read access cannot write
    status, body, _ = await api.call(
        "POST",
        f"/projects/{ENC}/repository/branches",
        user="bob",
        json={"branch": "x", "ref": "main"},
    )
    assert (status, body) == (403, {"message": "403 Forbidden"})


# -- branches, commits, tree, archive --------------------------------------------------------


async def test_branches_and_commits(api: Api):
    gl = api.client()
    project = await sync(gl.projects.get, REPO, lazy=True)
    main = await sync(project.branches.get, "main")
    head = api.rev("main")
    assert main.name == "main" and main.default and main.commit["id"] == head
    assert main.commit["parent_ids"] == [] and main.commit["short_id"] == head[:8]
    assert main.commit["message"] == "Initial commit"
    assert main.commit["web_url"].endswith(f"/{REPO}/-/commit/{head}")

    created = await sync(project.branches.create, {"branch": "feat/x", "ref": "main"})
    assert created.name == "feat/x" and api.rev("feat/x") == head
    fetched = await sync(project.branches.get, "feat/x")  # sent as feat%2Fx
    assert fetched.commit["id"] == head
    status, body, _ = await api.call(
        "POST", f"/projects/{ENC}/repository/branches", json={"branch": "feat/x", "ref": "main"}
    )
    assert (status, body) == (400, {"message": "Branch already exists"})
    status, body, _ = await api.call("GET", f"/projects/{ENC}/repository/branches/nope")
    assert (status, body) == (404, {"message": "404 Branch Not Found"})
    names = [b.name for b in await sync(project.branches.list, get_all=True)]
    assert names == ["feat/x", "main"]

    by_sha = await sync(project.commits.get, head)
    by_ref = await sync(project.commits.get, "feat/x")
    assert by_sha.id == by_ref.id == head
    assert by_sha.committed_date.endswith("Z") and by_sha.author_name
    status, body, _ = await api.call("GET", f"/projects/{ENC}/repository/commits/{'0' * 40}")
    assert (status, body) == (404, {"message": "404 Commit Not Found"})


async def test_tree_paginates_like_gitlab(api: Api):
    gl = api.client()
    project = await sync(gl.projects.get, REPO, lazy=True)
    head = api.rev("main")
    items = await sync(
        project.repository_tree, recursive=True, ref=head, get_all=True, per_page=100
    )
    blobs = {i["path"]: i for i in items if i["type"] == "blob"}
    assert len(blobs) == 122
    assert blobs["bin/run.sh"]["mode"] == "100755"
    assert blobs["apps/app-007.yaml"]["name"] == "app-007.yaml"
    assert {i["path"] for i in items if i["type"] == "tree"} == {"apps", "bin"}
    assert len(items) == 124

    status, page1, headers = await api.call(
        "GET", f"/projects/{ENC}/repository/tree?recursive=true&ref={head}&per_page=100"
    )
    assert status == 200 and len(page1) == 100
    assert (headers["X-Page"], headers["X-Per-Page"], headers["X-Next-Page"]) == ("1", "100", "2")
    assert (headers["X-Total"], headers["X-Total-Pages"]) == ("124", "2")
    assert 'rel="next"' in headers["Link"] and "page=2" in headers["Link"]
    status, page2, headers = await api.call(
        "GET", f"/projects/{ENC}/repository/tree?recursive=true&ref={head}&per_page=100&page=2"
    )
    assert len(page2) == 24 and headers["X-Next-Page"] == "" and headers["X-Prev-Page"] == "1"
    top = await sync(project.repository_tree, ref="main", get_all=True)
    assert {i["path"] for i in top} == {"README.md", "apps", "bin"}
    sub = await sync(project.repository_tree, path="bin", ref="main", get_all=True)
    assert [i["path"] for i in sub] == ["bin/run.sh"]
    status, body, _ = await api.call("GET", f"/projects/{ENC}/repository/tree?ref=nope")
    assert (status, body) == (404, {"message": "404 Tree Not Found"})


def untar(data: bytes) -> dict[str, tuple[int, bytes]]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for m in tar:
            if m.isfile():
                out[m.name] = (m.mode, tar.extractfile(m).read())  # type: ignore[union-attr]
    return out


async def test_archive_is_a_real_git_archive(api: Api):
    gl = api.client()
    project = await sync(gl.projects.get, REPO, lazy=True)
    head = api.rev("main")
    data = await sync(project.repository_archive, sha=head, format="tar.gz")
    files = untar(data)
    top = f"gitops-{head}-{head}/"
    assert len(files) == 122 and all(name.startswith(top) for name in files)
    assert files[f"{top}apps/app-003.yaml"][1] == b"n: 3\n"
    assert files[f"{top}bin/run.sh"][0] & 0o111
    part = untar(await sync(project.repository_archive, sha=head, format="tar.gz", path="bin"))
    assert [name.split("/", 1)[1] for name in part] == ["bin/run.sh"]
    status, _, _ = await api.call("GET", f"/projects/{ENC}/repository/archive.tar.gz?sha=nope")
    assert status == 404


# -- the commits API -------------------------------------------------------------------------


async def test_commits_api_writes_one_commit(api: Api):
    gl = api.client()
    project = await sync(gl.projects.get, REPO, lazy=True)
    base = api.rev("main")
    payload = {
        "branch": "prbot/change",
        "start_sha": base,
        "commit_message": "Many files\n\nPrbot-Change-Id: x",
        "actions": [
            {"action": "create", "file_path": "new/a.yaml", "content": "a: 1\n"},
            {
                "action": "create",
                "file_path": "new/logo.bin",
                "content": base64.b64encode(b"\x00\x01\xff").decode(),
                "encoding": "base64",
            },
            {"action": "create", "file_path": "new/tool.sh", "content": "#!/bin/sh\n"},
            {"action": "chmod", "file_path": "new/tool.sh", "execute_filemode": True},
            {"action": "update", "file_path": "README.md", "content": "# changed\n"},
            {"action": "delete", "file_path": "apps/app-000.yaml"},
            {
                "action": "move",
                "file_path": "apps/moved.yaml",
                "previous_path": "apps/app-001.yaml",
            },
            {"action": "chmod", "file_path": "bin/run.sh", "execute_filemode": False},
        ],
    }
    commit = await sync(project.commits.create, payload)
    assert commit.id == api.rev("prbot/change")
    assert commit.parent_ids == [base] and commit.message.startswith("Many files")
    assert api.git("rev-list", "--parents", "-n", "1", "prbot/change").split()[1:] == [base]
    tree = {
        line.split("\t")[1]: line.split()[0]
        for line in api.git("ls-tree", "-r", "prbot/change").splitlines()
    }
    assert tree["new/tool.sh"] == "100755" and tree["bin/run.sh"] == "100644"
    assert "apps/app-000.yaml" not in tree and "apps/app-001.yaml" not in tree
    assert api.git("show", "prbot/change:apps/moved.yaml") == "n: 1\n"
    assert api.git("show", "prbot/change:README.md") == "# changed\n"
    raw = subprocess.run(
        ["git", "--git-dir", str(api.forge.git_dir(REPO)), "show", "prbot/change:new/logo.bin"],
        capture_output=True,
        check=True,
    ).stdout
    assert raw == b"\x00\x01\xff"
    assert len(tree) == 122 + 3 - 1

    # the branch exists: starting it again needs force, which resets it onto the start
    again = {**payload, "actions": [{"action": "create", "file_path": "z", "content": "z"}]}
    status, body, _ = await api.call("POST", f"/projects/{ENC}/repository/commits", json=again)
    assert status == 400 and "already exists" in body["message"]
    forced = await sync(project.commits.create, {**again, "force": True})
    assert forced.parent_ids == [base] and api.rev("prbot/change") == forced.id
    # no start: a commit on top of the branch
    onto = await sync(
        project.commits.create,
        {
            "branch": "prbot/change",
            "commit_message": "more",
            "actions": [{"action": "update", "file_path": "z", "content": "zz"}],
        },
    )
    assert onto.parent_ids == [forced.id]


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (
            {"action": "create", "file_path": "README.md", "content": "x"},
            "A file with this name already exists",
        ),
        (
            {"action": "update", "file_path": "nope.md", "content": "x"},
            "A file with this name doesn't exist",
        ),
        ({"action": "delete", "file_path": "nope.md"}, "A file with this name doesn't exist"),
        ({"action": "explode", "file_path": "a"}, "actions[1][action] does not have a valid value"),
        (
            {"action": "create", "file_path": "../x", "content": "x"},
            "actions[1][file_path] is invalid",
        ),
        (
            {"action": "create", "file_path": "b", "content": "%%", "encoding": "base64"},
            "actions[1][content] is not valid base64",
        ),
    ],
)
async def test_commits_api_rejects_bad_actions_atomically(api: Api, action: dict, message: str):
    payload = {
        "branch": "prbot/bad",
        "start_branch": "main",
        "commit_message": "m",
        "actions": [{"action": "create", "file_path": "ok.yaml", "content": "ok"}, action],
    }
    status, body, _ = await api.call("POST", f"/projects/{ENC}/repository/commits", json=payload)
    assert (status, body) == (400, {"message": message})
    assert "prbot/bad" not in api.git("branch", "--list")


async def test_revert_commit(api: Api):
    gl = api.client()
    project = await sync(gl.projects.get, REPO, lazy=True)
    changed = await branch_with_change(api, "feat")
    revert = await sync(project.commits.get(changed, lazy=True).revert, branch="feat")
    assert revert["parent_ids"] == [changed]
    assert f"This reverts commit {changed}" in revert["message"]
    assert "new.yaml" not in api.git("ls-tree", "-r", "--name-only", "feat")
    status, body, _ = await api.call(
        "POST", f"/projects/{ENC}/repository/commits/{changed}/revert", json={"branch": "feat"}
    )
    assert status == 400 and body["message"].startswith("Sorry, we cannot revert")


async def test_merge_base(api: Api):
    gl = api.client()
    project = await sync(gl.projects.get, REPO, lazy=True)
    base = api.rev("main")
    feat = await branch_with_change(api, "feat")
    found = await sync(project.repository_merge_base, ["feat", base])
    assert (found["id"], found["parent_ids"]) == (
        base,
        api.git("log", "-1", "--format=%P", base).split(),
    )
    assert (await sync(project.repository_merge_base, [feat, feat]))["id"] == feat
    moved = await api.forge.commit_changes(REPO, "main", "m", {"y": _change(b"y\n")}, actor="prbot")
    assert (await sync(project.repository_merge_base, [moved, feat]))["id"] == base
    path = f"/projects/{ENC}/repository/merge_base"
    status, body, _ = await api.call("GET", f"{path}?refs[]={base}")
    assert (status, body) == (400, {"message": "Provide at least 2 refs"})
    status, body, _ = await api.call("GET", f"{path}?refs[]={base}&refs[]=nope&refs[]=gone")
    assert (status, body) == (400, {"message": "Could not find refs: nope, gone"})
    tree = (await api.forge.commit_info(REPO, base)).tree
    orphan = await api.forge.create_commit(REPO, tree, [], "orphan", author="prbot")
    status, body, _ = await api.call("GET", f"{path}?refs[]={orphan}&refs[]={base}")
    assert (status, body) == (404, {"message": "404 Merge Base Not Found"})


# -- merge requests ----------------------------------------------------------------------------


async def test_merge_request_create_list_update_conflict(api: Api):
    gl = api.client()
    project = await sync(gl.projects.get, REPO, lazy=True)
    head = await branch_with_change(api, "feat")
    alice = api.forge.user("alice")
    mr = await sync(
        project.mergerequests.create,
        {
            "source_branch": "feat",
            "target_branch": "main",
            "title": "Add new",
            "description": "Body",
            "labels": ["a", "b"],
            "reviewer_ids": [alice.id],
        },
    )
    assert (mr.iid, mr.state, mr.source_branch, mr.target_branch) == (1, "opened", "feat", "main")
    assert mr.sha == head and mr.merge_commit_sha is None
    assert mr.labels == ["a", "b"] and mr.author["username"] == "prbot"
    assert [r["username"] for r in mr.reviewers] == ["alice"]
    assert mr.web_url == f"{api.server.url}/{REPO}/-/merge_requests/1"
    assert mr.merge_status == "can_be_merged" and mr.references["full"] == f"{REPO}!1"

    status, body, _ = await api.call(
        "POST",
        f"/projects/{ENC}/merge_requests",
        json={"source_branch": "feat", "target_branch": "main", "title": "again"},
    )
    assert status == 409
    assert body == {
        "message": ["Another open merge request already exists for this source branch: !1"]
    }
    status, body, _ = await api.call(
        "POST",
        f"/projects/{ENC}/merge_requests",
        json={"source_branch": "feat", "target_branch": "main"},
    )
    assert (status, body) == (400, {"message": "title is missing"})

    found = await sync(
        project.mergerequests.list, source_branch="feat", state="opened", get_all=True
    )
    assert [m.iid for m in found] == [1]
    assert await sync(project.mergerequests.list, source_branch="other", get_all=True) == []

    updated = await sync(
        project.mergerequests.update,
        1,
        {"title": "Renamed", "description": "New body", "add_labels": "c", "remove_labels": "a"},
    )
    assert updated["title"] == "Renamed" and updated["labels"] == ["b", "c"]
    replaced = await sync(project.mergerequests.update, 1, {"labels": ["z"], "reviewer_ids": []})
    assert replaced["labels"] == ["z"] and replaced["reviewers"] == []
    closed = await sync(project.mergerequests.update, 1, {"state_event": "close"})
    assert closed["state"] == "closed"
    assert await sync(project.mergerequests.list, state="opened", get_all=True) == []
    reopened = await sync(project.mergerequests.update, 1, {"state_event": "reopen"})
    assert reopened["state"] == "opened"
    status, body, _ = await api.call("GET", f"/projects/{ENC}/merge_requests/99")
    assert (status, body) == (404, {"message": "404 Not found"})


async def test_merge_makes_a_merge_commit(api: Api):
    gl = api.client()
    project = await sync(gl.projects.get, REPO, lazy=True)
    head = await branch_with_change(api, "feat")
    base = api.rev("main")
    await api.forge.open_pull_request(REPO, head="feat", title="T", author="prbot")
    mr = await sync(project.mergerequests.get, 1)
    result = await sync(mr.merge)
    assert result["state"] == "merged" and result["merge_commit_sha"] == api.rev("main")
    assert api.git("rev-list", "--parents", "-n", "1", "main").split()[1:] == [base, head]
    assert api.git("log", "-1", "--format=%s", "main").strip() == "Merge branch 'feat' into 'main'"
    with pytest.raises(GitlabError) as again:
        await sync(mr.merge)
    assert again.value.response_code == 405

    # a conflicting MR: 406
    await branch_with_change(api, "left", "same.yaml")
    await api.forge.commit_changes(
        REPO, "main", "main side", {"same.yaml": _change(b"main\n")}, actor="alice"
    )
    await api.forge.open_pull_request(REPO, head="left", title="conflict", author="prbot")
    status, body, _ = await api.call("PUT", f"/projects/{ENC}/merge_requests/2/merge")
    assert (status, body) == (406, {"message": "Branch cannot be merged"})
    status, body, _ = await api.call("GET", f"/projects/{ENC}/merge_requests/2")
    assert body["merge_status"] == "cannot_be_merged" and body["has_conflicts"]


async def test_notes_and_award_emoji(api: Api):
    gl = api.client()
    project = await sync(gl.projects.get, REPO, lazy=True)
    await branch_with_change(api, "feat")
    await api.forge.open_pull_request(REPO, head="feat", title="T", author="prbot")
    mr = await sync(project.mergerequests.get, 1, lazy=True)
    note = await sync(mr.notes.create, {"body": "first <!-- prbot:x -->"})
    assert note.body.startswith("first") and note.author["username"] == "prbot"
    assert note.noteable_type == "MergeRequest" and note.noteable_iid == 1 and not note.system
    for i in range(3):
        await sync(mr.notes.create, {"body": f"n{i}"})
    asc = await sync(mr.notes.list, sort="asc", order_by="created_at", get_all=True, per_page=2)
    assert [n.body for n in asc][:2] == ["first <!-- prbot:x -->", "n0"] and len(asc) == 4
    desc = await sync(mr.notes.list, get_all=True)
    assert desc[0].body == "n2"
    edited = await sync(mr.notes.update, note.id, {"body": "second"})
    assert edited["body"] == "second" and edited["id"] == note.id
    # only the author edits a note
    status, body, _ = await api.call(
        "PUT", f"/projects/{ENC}/merge_requests/1/notes/{note.id}", user="alice", json={"body": "x"}
    )
    assert (status, body) == (403, {"message": "403 Forbidden"})

    handle = await sync(mr.notes.get, note.id, lazy=True)
    award = await sync(handle.awardemojis.create, {"name": "thumbsup"})
    assert award.name == "thumbsup" and award.user["username"] == "prbot"
    status, body, _ = await api.call(
        "POST",
        f"/projects/{ENC}/merge_requests/1/notes/{note.id}/award_emoji",
        json={"name": "thumbsup"},
    )
    assert (status, body) == (
        404,
        {"message": "404 Award Emoji Name has already been taken Not Found"},
    )
    await sync(handle.awardemojis.create, {"name": "rocket"})
    names = [a.name for a in await sync(handle.awardemojis.list, get_all=True)]
    assert names == ["thumbsup", "rocket"]
    assert [r.content for r in api.forge.comment(REPO, note.id).reactions] == ["+1", "rocket"]


# -- users, members, health ----------------------------------------------------------------------


async def test_users_and_members(api: Api):
    gl = api.client()
    [alice] = await sync(gl.users.list, username="alice", get_all=True)
    assert alice.username == "alice" and alice.id == api.forge.user("alice").id
    assert await sync(gl.users.list, username="nobody", get_all=True) == []
    await sync(gl.auth)
    assert gl.user.username == "prbot"
    project = await sync(gl.projects.get, REPO, lazy=True)
    member = await sync(project.members_all.get, alice.id)
    assert member.access_level == 40 and member.username == "alice"
    bob = api.forge.user("bob")
    assert (await sync(project.members_all.get, bob.id)).access_level == 10
    owner = api.forge.user("acme")
    assert (await sync(project.members_all.get, owner.id)).access_level == 50
    stranger = api.forge.create_user("stranger")
    status, _, _ = await api.call("GET", f"/projects/{ENC}/members/all/{stranger.id}")
    assert status == 404
    everyone = {m.username for m in await sync(project.members_all.list, get_all=True)}
    assert everyone == {"acme", "prbot", "alice", "bob"}


async def test_statuses_pipelines_deployments(api: Api):
    gl = api.client()
    project = await sync(gl.projects.get, REPO, lazy=True)
    head = api.rev("main")
    commit = await sync(project.commits.get, head, lazy=True)
    await sync(commit.statuses.create, {"state": "running", "name": "ci/build"})
    posted = await sync(
        commit.statuses.create,
        {"state": "success", "name": "ci/build", "target_url": "http://ci/1"},
    )
    assert posted.status == "success" and posted.name == "ci/build" and posted.sha == head
    await sync(commit.statuses.create, {"state": "failed", "name": "ci/lint"})
    latest = await sync(commit.statuses.list, get_all=True)
    assert sorted((s.name, s.status) for s in latest) == [
        ("ci/build", "success"),
        ("ci/lint", "failed"),
    ]
    assert len(await sync(commit.statuses.list, all=True, get_all=True)) == 3
    status, body, _ = await api.call(
        "POST", f"/projects/{ENC}/statuses/{head}", json={"state": "bogus"}
    )
    assert (status, body) == (400, {"message": "state does not have a valid value"})

    pipes = await sync(project.pipelines.list, sha=head, get_all=True)
    assert len(pipes) == 1 and pipes[0].status == "failed" and pipes[0].sha == head
    assert (await sync(project.pipelines.get, pipes[0].id)).ref == "main"

    created = await sync(
        project.deployments.create,
        {"environment": "staging", "sha": head, "ref": "main", "tag": False, "status": "running"},
    )
    assert created.status == "running" and created.environment["name"] == "staging"
    created.status = "success"
    await sync(created.save)
    deployments = await sync(project.deployments.list, order_by="id", sort="desc", get_all=True)
    assert [(d.sha, d.status, d.environment["name"]) for d in deployments] == [
        (head, "success", "staging")
    ]
    assert deployments[0].ref == "main"


# -- webhooks ------------------------------------------------------------------------------------


async def test_api_changes_send_gitlab_hooks(api: Api):
    received: list[tuple[str, str, dict]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(
            (
                request.headers["X-Gitlab-Event"],
                request.headers.get("X-Gitlab-Token", ""),
                await request.json(),
            )
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        api.forge.add_hook("gitlab", f"http://127.0.0.1:{port}/hook", secret="s3", repo=REPO)
        gl = api.client()
        project = await sync(gl.projects.get, REPO, lazy=True)
        await sync(
            project.commits.create,
            {
                "branch": "feat",
                "start_branch": "main",
                "commit_message": "c",
                "actions": [{"action": "create", "file_path": "f", "content": "f"}],
            },
        )
        mr = await sync(
            project.mergerequests.create,
            {"source_branch": "feat", "target_branch": "main", "title": "T"},
        )
        await sync(mr.notes.create, {"body": "hi"})
        head = api.rev("feat")
        await sync(
            project.commits.get(head, lazy=True).statuses.create, {"state": "success", "name": "ci"}
        )
        await sync(mr.merge)
        await sync(
            project.deployments.create,
            {"environment": "dev", "sha": head, "ref": "feat", "tag": False, "status": "success"},
        )
        await api.forge.webhooks.drain()
    finally:
        await runner.cleanup()
    events = [e for e, _, _ in received]
    assert {
        "Push Hook",
        "Merge Request Hook",
        "Note Hook",
        "Pipeline Hook",
        "Deployment Hook",
    } <= set(events)
    assert all(token == "s3" for _, token, _ in received)
    actions = [
        b["object_attributes"].get("action") for e, _, b in received if e == "Merge Request Hook"
    ]
    assert actions[0] == "open" and "merge" in actions
