"""Request shapes of the GitHub provider, against respx stubs (no server, no waiting).

These check what goes over the wire (URLs, query strings, bodies, headers), how answers
are mapped, and how retries and waits are decided; behaviour against a real server is
in test_forge_e2e.py.
"""

from __future__ import annotations

import base64
import json
import logging
import random
from typing import Any

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from prbot.automation.changeset import ChangeSet, FileChange
from prbot.scm.github import AppAuth, GitHubScm, RetryPolicy, TokenAuth
from prbot.scm.github.commits import TRAILER, change_id
from prbot.scm.github.errors import GitHubStatusError
from prbot.scm.port import (
    Conflict,
    NotFound,
    PullRequestDraft,
    RateLimited,
    ScmError,
    ScmUnavailable,
)
from tests.support.clock import ManualClock, RecordedSleep

API = "https://ghe.example.com/api/v3"
GRAPHQL = "https://ghe.example.com/api/graphql"
REPO = f"{API}/repos/acme/gitops"
TOKEN = "ghp_personal_SECRET_token_value_0123456789"
INST_TOKEN = "ghs_installation_SECRET_token_abcdef"
NOW = 1_700_000_000.0
BASE = "b" * 40
HEAD = "c" * 40
BASE_TREE = "d" * 40


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pem(rsa_key: rsa.RSAPrivateKey) -> str:
    return rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def gh() -> respx.MockRouter:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
async def scm(sleep: RecordedSleep, clock: ManualClock) -> GitHubScm:
    s = GitHubScm(
        TokenAuth(TOKEN),
        api_url=API,
        sleep=sleep,
        clock=clock,
        rng=random.Random(1),
    )
    yield s
    await s.aclose()


def ok(data: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=data, headers=headers)


def body(call: respx.models.Call) -> Any:
    return json.loads(call.request.content)


def pr_json(number: int = 7, head: str = "prbot/x", **extra: Any) -> dict[str, Any]:
    data = {
        "number": number,
        "html_url": f"https://ghe.example.com/acme/gitops/pull/{number}",
        "state": "open",
        "title": "Bump",
        "body": "Body",
        "head": {"ref": head, "sha": HEAD},
        "base": {"ref": "main", "sha": BASE},
        "labels": [],
        "user": {"login": "prbot[bot]"},
        "requested_reviewers": [],
        "requested_teams": [],
        "merged_at": None,
        "merge_commit_sha": "e" * 40,
    }
    data.update(extra)
    return data


# -- GitHub App auth ------------------------------------------------------------------


def test_jwt_is_rs256_with_app_issuer_and_short_expiry(rsa_key, pem, clock):
    app = AppAuth(4242, pem, clock=clock)
    token = app.jwt()
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(
        token,
        rsa_key.public_key(),
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iss"] == "4242"
    assert claims["iat"] == int(NOW) - 60
    assert 0 < claims["exp"] - NOW <= 600
    # re-signed only when it gets old
    assert app.jwt() == token
    clock.now += 301
    assert app.jwt() != token


def test_private_key_forms(pem, tmp_path):
    escaped = pem.replace("\n", "\\n")  # how PRIVATE_KEY often arrives in an env var
    b64 = base64.b64encode(pem.encode()).decode()
    path = tmp_path / "key.pem"
    path.write_text(pem)
    for auth in (
        AppAuth(1, escaped),
        AppAuth(1, b64),
        AppAuth(1, private_key_path=path),
    ):
        assert auth.jwt()
    with pytest.raises(ScmError) as e:
        AppAuth(1, "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----")
    assert "not a key" not in str(e.value)
    assert e.value.__cause__ is None and e.value.__suppress_context__


async def test_installation_token_request_and_use(gh, rsa_key, pem, clock):
    mint = gh.post(f"{API}/app/installations/99/access_tokens").mock(
        return_value=ok({"token": INST_TOKEN, "expires_at": "2023-11-14T23:13:20Z"}, 201)
    )
    repo = gh.get(REPO).mock(return_value=ok({"default_branch": "trunk"}))
    scm = GitHubScm(AppAuth(7, pem, clock=clock), api_url=API, installation_id=99, clock=clock)
    assert await scm.default_branch("acme/gitops") == "trunk"
    await scm.aclose()

    auth = mint.calls.last.request.headers["authorization"]
    scheme, _, token = auth.partition(" ")
    assert scheme.lower() == "bearer"
    claims = jwt.decode(
        token, rsa_key.public_key(), algorithms=["RS256"], options={"verify_exp": False}
    )
    assert claims["iss"] == "7"
    assert repo.calls.last.request.headers["authorization"] == f"token {INST_TOKEN}"


async def test_installation_token_cached_then_refreshed_near_expiry(gh, pem, clock):
    expires = NOW + 3600
    answers = iter(["ghs_first", "ghs_second"])
    mint = gh.post(f"{API}/app/installations/99/access_tokens").mock(
        side_effect=lambda request: ok({"token": next(answers), "expires_at": _iso(expires)}, 201)
    )
    pulls = gh.get(f"{REPO}/pulls").mock(return_value=ok([]))
    app = AppAuth(7, pem, clock=clock)
    scm = GitHubScm(app, api_url=API, installation_id=99, clock=clock)

    for _ in range(3):
        await scm.find_pull_request("acme/gitops", "x")
    assert mint.call_count == 1
    assert all(c.request.headers["authorization"] == "token ghs_first" for c in pulls.calls)

    clock.now = expires - 6 * 60  # still more than the 5-minute margin left
    await scm.find_pull_request("acme/gitops", "x")
    assert mint.call_count == 1

    clock.now = expires - 4 * 60  # inside the margin: renewed before GitHub expires it
    await scm.find_pull_request("acme/gitops", "x")
    assert mint.call_count == 2
    assert pulls.calls.last.request.headers["authorization"] == "token ghs_second"
    await scm.aclose()


async def test_installation_looked_up_per_repository_once(gh, pem, clock):
    lookup = gh.get(f"{REPO}/installation").mock(return_value=ok({"id": 555}))
    gh.post(f"{API}/app/installations/555/access_tokens").mock(
        return_value=ok({"token": INST_TOKEN, "expires_at": _iso(NOW + 3600)}, 201)
    )
    gh.get(f"{REPO}/pulls").mock(return_value=ok([]))
    scm = GitHubScm(AppAuth(7, pem, clock=clock), api_url=API, clock=clock)
    await scm.find_pull_request("acme/gitops", "x")
    await scm.find_pull_request("acme/gitops", "y")
    assert lookup.call_count == 1
    assert lookup.calls.last.request.headers["authorization"].lower().startswith("bearer ")
    await scm.aclose()


async def test_revoked_installation_token_is_minted_again_once(gh, pem, clock):
    tokens = iter(["ghs_old", "ghs_new"])
    gh.post(f"{API}/app/installations/99/access_tokens").mock(
        side_effect=lambda r: ok({"token": next(tokens), "expires_at": _iso(NOW + 3600)}, 201)
    )
    gh.get(REPO).mock(
        side_effect=lambda r: (
            ok({"default_branch": "main"})
            if r.headers["authorization"] == "token ghs_new"
            else ok({"message": "Bad credentials"}, 401)
        )
    )
    scm = GitHubScm(AppAuth(7, pem, clock=clock), api_url=API, installation_id=99, clock=clock)
    assert await scm.default_branch("acme/gitops") == "main"
    await scm.aclose()


# -- snapshot and reads -------------------------------------------------------------------


async def test_snapshot_is_two_calls_and_keeps_only_files(gh, scm):
    ref = gh.get(f"{REPO}/git/ref/heads/release/1.x").mock(
        return_value=ok(
            {"ref": "refs/heads/release/1.x", "object": {"sha": BASE, "type": "commit"}}
        )
    )
    tree = gh.get(f"{REPO}/git/trees/{BASE}", params={"recursive": "1"}).mock(
        return_value=ok(
            {
                "sha": BASE_TREE,
                "truncated": False,
                "tree": [
                    {"path": "a", "mode": "040000", "type": "tree", "sha": "1" * 40},
                    {"path": "a/x.yaml", "mode": "100644", "type": "blob", "sha": "2" * 40},
                    {"path": "run.sh", "mode": "100755", "type": "blob", "sha": "3" * 40},
                    {"path": "link", "mode": "120000", "type": "blob", "sha": "4" * 40},
                    {"path": "vendor", "mode": "160000", "type": "commit", "sha": "5" * 40},
                ],
            }
        )
    )
    snap = await scm.snapshot("acme/gitops", "release/1.x")
    assert snap.sha == BASE
    assert sorted(snap.entries) == ["a/x.yaml", "link", "run.sh"]
    assert snap.entries["run.sh"].mode == "100755"
    assert ref.call_count == tree.call_count == 1
    # a sha needs no ref lookup
    await scm.snapshot("acme/gitops", BASE)
    assert ref.call_count == 1


async def test_truncated_tree_is_walked_folder_by_folder(gh, scm):
    gh.get(f"{REPO}/git/trees/{BASE}", params={"recursive": "1"}).mock(
        return_value=ok({"sha": BASE_TREE, "truncated": True, "tree": []})
    )
    gh.get(f"{REPO}/git/trees/{BASE_TREE}").mock(
        return_value=ok(
            {
                "sha": BASE_TREE,
                "tree": [
                    {"path": "top.txt", "mode": "100644", "type": "blob", "sha": "1" * 40},
                    {"path": "sub", "mode": "040000", "type": "tree", "sha": "6" * 40},
                ],
            }
        )
    )
    gh.get(f"{REPO}/git/trees/{'6' * 40}", params={"recursive": "1"}).mock(
        return_value=ok(
            {
                "sha": "6" * 40,
                "truncated": False,
                "tree": [{"path": "deep/f.txt", "mode": "100644", "type": "blob", "sha": "7" * 40}],
            }
        )
    )
    snap = await scm.snapshot("acme/gitops", BASE)
    assert sorted(snap.entries) == ["sub/deep/f.txt", "top.txt"]


async def test_read_files_is_one_graphql_post_with_aliases(gh, scm):
    paths = ["a.yaml", 'we"ird path.txt', "img.png", "missing.txt"]
    png = b"\x89PNG\r\n\x1a\n\x00\x01"
    graphql = gh.post(GRAPHQL).mock(
        return_value=ok(
            {
                "data": {
                    "repository": {
                        "f0": {"text": "a: 1\n", "isBinary": False, "byteSize": 5},
                        "f1": {"text": "héllo", "isBinary": False, "byteSize": 6},
                        "f2": {"text": None, "isBinary": True, "byteSize": len(png)},
                        "f3": None,
                    }
                }
            }
        )
    )
    contents = gh.get(f"{REPO}/contents/img.png", params={"ref": BASE}).mock(
        return_value=ok(
            {"type": "file", "encoding": "base64", "content": base64.b64encode(png).decode()}
        )
    )
    files = await scm.read_files("acme/gitops", BASE, paths)
    assert files == {"a.yaml": b"a: 1\n", 'we"ird path.txt': "héllo".encode(), "img.png": png}
    assert graphql.call_count == 1 and contents.call_count == 1
    sent = body(graphql.calls.last)
    for i, path in enumerate(paths):
        assert f"f{i}: object(expression: $e{i})" in sent["query"]
        assert sent["variables"][f"e{i}"] == f"{BASE}:{path}"
    assert sent["variables"]["owner"] == "acme" and sent["variables"]["name"] == "gitops"
    assert "... on Blob { text isBinary byteSize }" in sent["query"]


async def test_graphql_rate_limited_answer_is_waited_out(gh, scm, sleep):
    limited = ok(
        {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded."}]},
        **{
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(NOW) + 12),
            "x-ratelimit-resource": "graphql",
        },
    )
    answer = ok({"data": {"repository": {"f0": {"text": "x", "byteSize": 1}}}})
    gh.post(GRAPHQL).mock(side_effect=[limited, answer])
    assert await scm.read_files("acme/gitops", BASE, ["a"]) == {"a": b"x"}
    assert sleep.waits == [13.0]


async def test_snapshot_of_a_tag(gh, scm):
    gh.get(f"{REPO}/git/ref/heads/v1.0").mock(return_value=ok({"message": "Not Found"}, 404))
    gh.get(f"{REPO}/git/ref/tags/v1.0").mock(
        return_value=ok({"object": {"sha": "a" * 40, "type": "tag"}})
    )
    peel = gh.get(f"{REPO}/commits/tags/v1.0/status").mock(
        return_value=ok({"sha": BASE, "statuses": []})
    )
    gh.get(f"{REPO}/git/trees/{BASE}").mock(
        return_value=ok({"sha": BASE_TREE, "truncated": False, "tree": []})
    )
    assert (await scm.snapshot("acme/gitops", "v1.0")).sha == BASE
    assert peel.call_count == 1
    gh.get(f"{REPO}/git/ref/heads/nope").mock(return_value=ok({"message": "Not Found"}, 404))
    gh.get(f"{REPO}/git/ref/tags/nope").mock(return_value=ok({"message": "Not Found"}, 404))
    with pytest.raises(NotFound, match="no branch or tag named 'nope'"):
        await scm.snapshot("acme/gitops", "nope")


async def test_read_files_chunks_at_100_paths(gh, scm):
    def answer(request: httpx.Request) -> httpx.Response:
        n = len(json.loads(request.content)["variables"]) - 2
        return ok(
            {"data": {"repository": {f"f{i}": {"text": "x", "byteSize": 1} for i in range(n)}}}
        )

    graphql = gh.post(GRAPHQL).mock(side_effect=answer)
    files = await scm.read_files("acme/gitops", BASE, [f"f{i}.txt" for i in range(250)])
    assert len(files) == 250
    assert graphql.call_count == 3


# -- commit_changes ---------------------------------------------------------------------

CHANGES = ChangeSet(
    (
        FileChange("create", "clusters/new/values.yaml", b"name: new\n"),
        FileChange("update", "bin/deploy.sh", b"#!/bin/sh\necho hi\n", "100755"),
        FileChange("create", "assets/logo.png", b"\x89PNG\x00\xff", "100644"),
        FileChange("create", "current", b"clusters/new", "120000"),
        FileChange("delete", "clusters/old/values.yaml", None, "100644"),
    )
)


def _git_data_routes(gh: respx.MockRouter, *, head: str | None, head_commit: dict | None = None):
    ref_url = f"{REPO}/git/ref/heads/prbot/new-cluster"
    if head is None:
        gh.get(ref_url).mock(return_value=ok({"message": "Not Found"}, 404))
    else:
        gh.get(ref_url).mock(return_value=ok({"object": {"sha": head, "type": "commit"}}))
    routes = {
        "head": gh.get(f"{REPO}/git/commits/{head}").mock(return_value=ok(head_commit or {})),
        "base": gh.get(f"{REPO}/git/commits/{BASE}").mock(
            return_value=ok({"sha": BASE, "tree": {"sha": BASE_TREE}, "parents": []})
        ),
        "blob": gh.post(f"{REPO}/git/blobs").mock(return_value=ok({"sha": "f" * 40}, 201)),
        "tree": gh.post(f"{REPO}/git/trees").mock(return_value=ok({"sha": "9" * 40}, 201)),
        "commit": gh.post(f"{REPO}/git/commits").mock(return_value=ok({"sha": "8" * 40}, 201)),
        "create_ref": gh.post(f"{REPO}/git/refs").mock(return_value=ok({"ref": "x"}, 201)),
        "move_ref": gh.patch(f"{REPO}/git/refs/heads/prbot/new-cluster").mock(
            return_value=ok({"ref": "x"})
        ),
    }
    return routes


async def test_commit_on_new_branch_request_shapes(gh, scm):
    r = _git_data_routes(gh, head=None)
    result = await scm.commit_changes(
        "acme/gitops", base_sha=BASE, branch="prbot/new-cluster", changes=CHANGES, message="Add"
    )
    assert result.created_branch and result.changed and result.sha == "8" * 40

    blob = body(r["blob"].calls.last)
    assert base64.b64decode(blob["content"]) == b"\x89PNG\x00\xff" and blob["encoding"] == "base64"
    assert r["blob"].call_count == 1  # only the binary file

    tree = body(r["tree"].calls.last)
    assert tree["base_tree"] == BASE_TREE
    items = {i["path"]: i for i in tree["tree"]}
    assert items["clusters/new/values.yaml"] == {
        "path": "clusters/new/values.yaml",
        "mode": "100644",
        "type": "blob",
        "content": "name: new\n",
    }
    assert items["bin/deploy.sh"]["mode"] == "100755"
    assert items["bin/deploy.sh"]["content"] == "#!/bin/sh\necho hi\n"
    assert items["assets/logo.png"]["sha"] == "f" * 40 and "content" not in items["assets/logo.png"]
    assert items["current"] == {
        "path": "current",
        "mode": "120000",
        "type": "blob",
        "content": "clusters/new",
    }
    assert "sha" in items["clusters/old/values.yaml"]
    assert items["clusters/old/values.yaml"]["sha"] is None

    commit = body(r["commit"].calls.last)
    assert commit["parents"] == [BASE] and commit["tree"] == "9" * 40
    assert commit["message"].startswith("Add\n\n")
    assert f"{TRAILER}: {change_id(CHANGES)}" in commit["message"]

    assert body(r["create_ref"].calls.last) == {
        "ref": "refs/heads/prbot/new-cluster",
        "sha": "8" * 40,
    }
    assert r["move_ref"].call_count == 0


async def test_commit_on_existing_branch_force_moves_it(gh, scm):
    r = _git_data_routes(
        gh,
        head=HEAD,
        head_commit={
            "parents": [{"sha": "a" * 40}],
            "message": "older run",
            "tree": {"sha": "1" * 40},
        },
    )
    result = await scm.commit_changes(
        "acme/gitops", base_sha=BASE, branch="prbot/new-cluster", changes=CHANGES, message="Add"
    )
    assert result.changed and not result.created_branch
    assert body(r["move_ref"].calls.last) == {"sha": "8" * 40, "force": True}
    assert r["create_ref"].call_count == 0
    assert body(r["commit"].calls.last)["parents"] == [BASE]


async def test_commit_rerun_of_the_same_change_writes_nothing(gh, scm):
    message = f"Add\n\n{TRAILER}: {change_id(CHANGES)}\n"
    r = _git_data_routes(
        gh,
        head=HEAD,
        head_commit={"parents": [{"sha": BASE}], "message": message, "tree": {"sha": "1" * 40}},
    )
    before = scm.counter.snapshot()
    result = await scm.commit_changes(
        "acme/gitops", base_sha=BASE, branch="prbot/new-cluster", changes=CHANGES, message="Add"
    )
    assert result == type(result)("prbot/new-cluster", HEAD, False, False)
    assert sum(scm.counter.since(before).values()) == 2
    assert r["tree"].call_count == r["commit"].call_count == r["move_ref"].call_count == 0


async def test_commit_reuses_the_base_tree_seen_by_snapshot(gh, scm):
    gh.get(f"{REPO}/git/trees/{BASE}", params={"recursive": "1"}).mock(
        return_value=ok({"sha": BASE_TREE, "truncated": False, "tree": []})
    )
    r = _git_data_routes(gh, head=None)
    await scm.snapshot("acme/gitops", BASE)
    await scm.commit_changes(
        "acme/gitops", base_sha=BASE, branch="prbot/new-cluster", changes=CHANGES, message="Add"
    )
    assert r["base"].call_count == 0
    assert body(r["tree"].calls.last)["base_tree"] == BASE_TREE


def test_change_id_covers_paths_operations_modes_and_contents():
    a = ChangeSet((FileChange("create", "x", b"1"), FileChange("delete", "y", None)))
    assert change_id(a) == change_id(ChangeSet(tuple(reversed(a.changes))))
    assert change_id(a) != change_id(ChangeSet((FileChange("create", "x", b"2"),)))
    assert change_id(ChangeSet((FileChange("create", "x", b"1", "100755"),))) != change_id(
        ChangeSet((FileChange("create", "x", b"1"),))
    )
    assert change_id(ChangeSet((FileChange("update", "x", b"1"),))) != change_id(
        ChangeSet((FileChange("create", "x", b"1"),))
    )


# -- pull requests --------------------------------------------------------------------------

DRAFT = PullRequestDraft(
    head="prbot/x",
    base="main",
    title="Bump",
    body="Body",
    labels=("image-bump", "env/dev"),
    reviewers=("alice", "acme/platform"),
)


async def test_open_pr_looks_up_by_owner_colon_branch_then_creates(gh, scm):
    lookup = gh.get(f"{REPO}/pulls").mock(return_value=ok([]))
    create = gh.post(f"{REPO}/pulls").mock(return_value=ok(pr_json(), 201))
    labels = gh.post(f"{REPO}/issues/7/labels").mock(
        return_value=ok([{"name": "image-bump"}, {"name": "env/dev"}])
    )
    reviewers = gh.post(f"{REPO}/pulls/7/requested_reviewers").mock(return_value=ok(pr_json(), 201))
    pr = await scm.open_pull_request("acme/gitops", DRAFT)

    q = lookup.calls.last.request.url.params
    assert q["head"] == "acme:prbot/x" and q["state"] == "open"
    assert body(create.calls.last) == {
        "title": "Bump",
        "head": "prbot/x",
        "base": "main",
        "body": "Body",
    }
    assert body(labels.calls.last) == {"labels": ["image-bump", "env/dev"]}
    assert body(reviewers.calls.last) == {"reviewers": ["alice"], "team_reviewers": ["platform"]}
    assert pr.number == 7 and pr.labels == ("image-bump", "env/dev")


async def test_open_pr_updates_existing_and_skips_what_is_there(gh, scm):
    existing = pr_json(
        title="Old title",
        labels=[{"name": "image-bump"}, {"name": "env/dev"}],
        requested_reviewers=[{"login": "alice"}],
        requested_teams=[{"slug": "platform"}],
    )
    gh.get(f"{REPO}/pulls").mock(return_value=ok([existing]))
    patch = gh.patch(f"{REPO}/pulls/7").mock(return_value=ok({**existing, "title": "Bump"}))
    create = gh.post(f"{REPO}/pulls")
    labels = gh.post(f"{REPO}/issues/7/labels")
    reviewers = gh.post(f"{REPO}/pulls/7/requested_reviewers")
    pr = await scm.open_pull_request("acme/gitops", DRAFT)
    assert pr.title == "Bump"
    assert body(patch.calls.last) == {"title": "Bump"}
    assert create.call_count == labels.call_count == reviewers.call_count == 0


async def test_open_pr_unchanged_is_one_request(gh, scm):
    existing = pr_json(
        labels=[{"name": "image-bump"}, {"name": "env/dev"}],
        requested_reviewers=[{"login": "alice"}],
        requested_teams=[{"slug": "platform"}],
    )
    gh.get(f"{REPO}/pulls").mock(return_value=ok([existing]))
    before = scm.counter.snapshot()
    await scm.open_pull_request("acme/gitops", DRAFT)
    assert scm.counter.since(before) == {"GET /repos/{owner}/{repo}/pulls": 1}


async def test_pr_create_timeout_is_looked_up_not_posted_twice(gh, scm, sleep):
    lookups = gh.get(f"{REPO}/pulls").mock(side_effect=[ok([]), ok([pr_json()])])
    create = gh.post(f"{REPO}/pulls").mock(side_effect=httpx.ReadTimeout("slow"))
    gh.post(f"{REPO}/issues/7/labels").mock(
        return_value=ok([{"name": "image-bump"}, {"name": "env/dev"}])
    )
    gh.post(f"{REPO}/pulls/7/requested_reviewers").mock(return_value=ok(pr_json(), 201))
    pr = await scm.open_pull_request("acme/gitops", DRAFT)
    assert pr.number == 7
    assert create.call_count == 1
    assert lookups.call_count == 2
    assert len(sleep.waits) == 1  # backed off once before looking


async def test_pr_create_timeout_then_retry_when_lookup_finds_nothing(gh, scm):
    gh.get(f"{REPO}/pulls").mock(return_value=ok([]))
    create = gh.post(f"{REPO}/pulls").mock(
        side_effect=[httpx.ReadTimeout("slow"), ok(pr_json(), 201)]
    )
    draft = PullRequestDraft(head="prbot/x", base="main", title="Bump", body="Body")
    assert (await scm.open_pull_request("acme/gitops", draft)).number == 7
    assert create.call_count == 2


async def test_pr_already_exists_422_is_answered_by_lookup(gh, scm):
    gh.get(f"{REPO}/pulls").mock(side_effect=[ok([]), ok([pr_json(number=9)])])
    gh.post(f"{REPO}/pulls").mock(
        return_value=ok(
            {
                "message": "Validation Failed",
                "errors": [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": "A pull request already exists for acme:prbot/x.",
                    }
                ],
            },
            422,
        )
    )
    draft = PullRequestDraft(head="prbot/x", base="main", title="Bump", body="Body")
    assert (await scm.open_pull_request("acme/gitops", draft)).number == 9


async def test_merge_not_mergeable_is_a_result(gh, scm):
    gh.put(f"{REPO}/pulls/7/merge").mock(
        return_value=ok({"message": "Pull Request is not mergeable"}, 405)
    )
    gh.get(f"{REPO}/pulls/7").mock(return_value=ok(pr_json()))
    result = await scm.merge("acme/gitops", 7, message="Merge it\n\nbecause")
    assert not result.merged and "not mergeable" in result.message


async def test_merge_request_shape(gh, scm):
    route = gh.put(f"{REPO}/pulls/7/merge").mock(
        return_value=ok(
            {"sha": "a" * 40, "merged": True, "message": "Pull Request successfully merged"}
        )
    )
    result = await scm.merge("acme/gitops", 7, message="Merge it\n\nbecause")
    assert result.merged and result.sha == "a" * 40
    assert body(route.calls.last) == {
        "merge_method": "merge",
        "commit_title": "Merge it",
        "commit_message": "because",
    }


async def test_close_open_pr_is_get_comment_patch(gh, scm):
    gh.get(f"{REPO}/pulls/7").mock(return_value=ok(pr_json()))
    comment = gh.post(f"{REPO}/issues/7/comments").mock(
        return_value=ok({"id": 1, "body": "Superseded", "user": {"login": "bot"}}, 201)
    )
    patch = gh.patch(f"{REPO}/pulls/7").mock(
        return_value=ok(pr_json(state="closed", closed_at="2024-01-01T00:00:00Z"))
    )
    before = scm.counter.snapshot()
    pr = await scm.close_pull_request("acme/gitops", 7, comment="Superseded")
    assert pr.state == "closed" and pr.merge_commit_sha is None
    assert body(comment.calls.last) == {"body": "Superseded"}  # plain: no marker
    assert body(patch.calls.last) == {"state": "closed"}
    assert scm.counter.since(before) == {
        "GET /repos/{owner}/{repo}/pulls/{pull_number}": 1,
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments": 1,
        "PATCH /repos/{owner}/{repo}/pulls/{pull_number}": 1,
    }


async def test_close_closed_or_merged_pr_is_one_get(gh, scm):
    gh.get(f"{REPO}/pulls/7").mock(return_value=ok(pr_json(state="closed")))
    gh.get(f"{REPO}/pulls/8").mock(
        return_value=ok(pr_json(number=8, state="closed", merged_at="2024-01-01T00:00:00Z"))
    )
    before = scm.counter.snapshot()
    assert (await scm.close_pull_request("acme/gitops", 7, comment="x")).state == "closed"
    merged = await scm.close_pull_request("acme/gitops", 8, comment="x")
    assert (merged.state, merged.merge_commit_sha) == ("merged", "e" * 40)
    assert scm.counter.since(before) == {"GET /repos/{owner}/{repo}/pulls/{pull_number}": 2}


async def test_close_pr_merged_meanwhile_is_returned_merged(gh, scm):
    gh.get(f"{REPO}/pulls/7").mock(
        side_effect=[ok(pr_json()), ok(pr_json(state="closed", merged_at="2024-01-01T00:00:00Z"))]
    )
    gh.patch(f"{REPO}/pulls/7").mock(
        return_value=ok({"message": "Validation Failed", "errors": ["merged"]}, 422)
    )
    assert (await scm.close_pull_request("acme/gitops", 7)).state == "merged"


@pytest.mark.parametrize(
    ("status", "descends"),
    [("ahead", True), ("identical", True), ("behind", False), ("diverged", False)],
)
async def test_is_ancestor_is_one_compare(gh, scm, status, descends):
    route = gh.get(f"{REPO}/compare/{BASE}...{HEAD}").mock(
        return_value=ok({"status": status, "ahead_by": 1, "behind_by": 0, "commits": []})
    )
    assert await scm.is_ancestor("acme/gitops", BASE, HEAD) is descends
    assert dict(route.calls.last.request.url.params) == {"per_page": "1"}
    assert scm.counter.snapshot() == {"GET /repos/{owner}/{repo}/compare/{basehead}": 1}


async def test_is_ancestor_404s(gh, scm):
    gh.get(f"{REPO}/compare/{BASE}...{HEAD}").mock(
        return_value=ok({"message": f"No common ancestor between {BASE} and {HEAD}."}, 404)
    )
    gh.get(f"{REPO}/compare/{BASE}...{'0' * 40}").mock(
        return_value=ok({"message": "Not Found"}, 404)
    )
    assert not await scm.is_ancestor("acme/gitops", BASE, HEAD)  # unrelated histories
    with pytest.raises(NotFound):
        await scm.is_ancestor("acme/gitops", BASE, "0" * 40)


# -- comments, reactions, permission, health -------------------------------------------------


def viewer(gh: respx.MockRouter, login: str = "bot") -> respx.Route:
    """Who the token acts as (asked once, to tell our comments from others')."""
    return gh.post(GRAPHQL).mock(return_value=ok({"data": {"viewer": {"login": login}}}))


async def test_upsert_comment_paginates_and_edits_in_place(gh, scm):
    who = viewer(gh)
    page2 = f"{REPO}/issues/7/comments?per_page=100&page=2"
    gh.get(f"{REPO}/issues/7/comments", params={"page": "2"}).mock(
        return_value=ok(
            [{"id": 12, "body": "status\n\n<!-- prbot:status -->", "user": {"login": "bot"}}]
        )
    )
    first = gh.get(f"{REPO}/issues/7/comments", params={"per_page": "100"}).mock(
        return_value=ok(
            [
                {"id": 10, "body": "hello", "user": {"login": "alice"}},
                # someone quoting the marker: never ours to edit
                {"id": 11, "body": "<!-- prbot:status -->", "user": {"login": "alice"}},
            ],
            link=f'<{page2}>; rel="next", <{page2}>; rel="last"',
        )
    )
    edit = gh.patch(f"{REPO}/issues/comments/12").mock(
        return_value=ok(
            {"id": 12, "body": "new\n\n<!-- prbot:status -->", "user": {"login": "bot"}}
        )
    )
    post = gh.post(f"{REPO}/issues/7/comments")
    comment = await scm.upsert_comment("acme/gitops", 7, "status", "new")
    assert comment.id == 12
    assert first.call_count == 1
    assert body(edit.calls.last) == {"body": "new\n\n<!-- prbot:status -->"}
    assert post.call_count == 0
    assert body(who.calls.last)["query"] == "query { viewer { login } }"
    await scm.upsert_comment("acme/gitops", 7, "status", "new")
    assert who.call_count == 1  # asked once per provider


async def test_upsert_comment_creates_when_missing(gh, scm):
    viewer(gh)
    gh.get(f"{REPO}/issues/7/comments").mock(return_value=ok([]))
    post = gh.post(f"{REPO}/issues/7/comments").mock(
        return_value=ok({"id": 13, "body": "x", "user": {"login": "bot"}}, 201)
    )
    await scm.upsert_comment("acme/gitops", 7, "plan --> <b>", "hi")
    # a marker that could close the HTML comment is neutralised
    assert body(post.calls.last) == {"body": "hi\n\n<!-- prbot:plan------b- -->"}


async def test_reaction_and_permission(gh, scm):
    react = gh.post(f"{REPO}/issues/comments/13/reactions").mock(return_value=ok({"id": 1}, 201))
    await scm.add_reaction("acme/gitops", 7, 13, "rocket")
    assert body(react.calls.last) == {"content": "rocket"}

    gh.get(f"{REPO}/collaborators/alice/permission").mock(
        return_value=ok({"permission": "write", "role_name": "maintain"})
    )
    gh.get(f"{REPO}/collaborators/bob/permission").mock(
        return_value=ok({"message": "Not Found"}, 404)
    )
    assert await scm.permission("acme/gitops", "alice") == "maintain"
    assert await scm.permission("acme/gitops", "bob") == "none"


async def test_commit_health_maps_statuses_checks_and_deployments(gh, scm):
    gh.get(f"{REPO}/commits/{HEAD}/status").mock(
        return_value=ok(
            {
                "state": "failure",
                "statuses": [
                    {"context": "flux", "state": "success", "target_url": "https://f"},
                    {"context": "argo", "state": "error"},
                ],
            }
        )
    )
    gh.get(f"{REPO}/commits/{HEAD}/check-runs").mock(
        return_value=ok(
            {
                "total_count": 3,
                "check_runs": [
                    {"id": 1, "name": "ci", "status": "completed", "conclusion": "failure"},
                    {"id": 2, "name": "ci", "status": "completed", "conclusion": "success"},
                    {"id": 3, "name": "lint", "status": "in_progress", "conclusion": None},
                ],
            }
        )
    )
    deployments = gh.get(f"{REPO}/deployments", params={"sha": HEAD}).mock(
        return_value=ok(
            [
                {"id": 21, "environment": "dev"},
                {"id": 20, "environment": "dev"},
                {"id": 5, "environment": "prod"},
            ]
        )
    )
    d21 = gh.get(f"{REPO}/deployments/21/statuses").mock(return_value=ok([{"state": "success"}]))
    d20 = gh.get(f"{REPO}/deployments/20/statuses")
    gh.get(f"{REPO}/deployments/5/statuses").mock(return_value=ok([]))
    health = await scm.commit_health("acme/gitops", HEAD)
    assert health.state_of("flux") == "success"
    assert health.state_of("argo") == "failure"
    assert health.state_of("ci") == "success"  # the newer run wins
    assert health.state_of("lint") == "pending"
    assert health.state_of("dev") == "success"
    assert health.state_of("prod") == "pending"
    assert deployments.call_count == d21.call_count == 1 and d20.call_count == 0


# -- the request layer: rate limits, retries, errors -------------------------------------------


async def test_retry_after_is_honoured(gh, scm, sleep):
    route = gh.get(REPO).mock(
        side_effect=[
            ok(
                {"message": "You have exceeded a secondary rate limit"}, 403, **{"retry-after": "7"}
            ),
            ok({"message": "slow down"}, 429, **{"retry-after": "3"}),
            ok({"default_branch": "main"}),
        ]
    )
    assert await scm.default_branch("acme/gitops") == "main"
    assert sleep.waits == [7.0, 3.0]
    assert route.call_count == 3


async def test_primary_limit_waits_until_reset(gh, scm, sleep):
    gh.get(REPO).mock(
        side_effect=[
            ok(
                {"message": "API rate limit exceeded"},
                403,
                **{
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": str(int(NOW) + 30),
                    "x-ratelimit-limit": "5000",
                },
            ),
            ok(
                {"default_branch": "main"},
                **{"x-ratelimit-remaining": "4999", "x-ratelimit-reset": str(int(NOW) + 3600)},
            ),
        ]
    )
    assert await scm.default_branch("acme/gitops") == "main"
    assert sleep.waits == [31.0]  # until the reset, plus a second for clock skew
    snap = scm.client.limits.get("token")
    assert snap.remaining == 4999 and snap.reset == NOW + 3600


async def test_known_empty_budget_waits_before_sending(gh, scm, sleep, clock):
    gh.get(f"{REPO}/pulls").mock(
        return_value=ok(
            [], **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 10)}
        )
    )
    await scm.find_pull_request("acme/gitops", "a")
    assert sleep.waits == []
    await scm.find_pull_request("acme/gitops", "b")
    assert sleep.waits == [11.0]


async def test_secondary_limit_without_headers_waits_a_minute(gh, scm, sleep):
    gh.get(REPO).mock(
        side_effect=[
            ok({"message": "You have exceeded a secondary rate limit."}, 403),
            ok({"default_branch": "main"}),
        ]
    )
    await scm.default_branch("acme/gitops")
    assert sleep.waits == [60.0]


async def test_rate_limit_beyond_max_wait_raises_rate_limited(gh, scm, sleep):
    route = gh.get(REPO).mock(
        return_value=ok(
            {"message": "API rate limit exceeded"},
            403,
            **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 1800)},
        )
    )
    with pytest.raises(RateLimited) as e:
        await scm.default_branch("acme/gitops")
    assert e.value.reset_in == pytest.approx(1801)
    assert "GET /repos/{owner}/{repo}" in str(e.value)
    assert sleep.waits == [] and route.call_count == 1


async def test_plain_403_is_not_retried(gh, scm, sleep):
    gh.get(REPO).mock(return_value=ok({"message": "Resource not accessible by integration"}, 403))
    with pytest.raises(GitHubStatusError) as e:
        await scm.default_branch("acme/gitops")
    assert e.value.status == 403 and sleep.waits == []


async def test_5xx_backs_off_with_jitter_then_gives_up(gh, scm, sleep):
    route = gh.get(REPO).mock(return_value=ok({"message": "boom"}, 502))
    with pytest.raises(ScmUnavailable) as e:
        await scm.default_branch("acme/gitops")
    assert route.call_count == 5
    assert len(sleep.waits) == 4
    for attempt, waited in enumerate(sleep.waits, start=1):
        assert 0 <= waited <= 0.5 * 2 ** (attempt - 1)  # full jitter under a doubling cap
    assert str(e.value).startswith("GET /repos/{owner}/{repo}: GitHub answered 502")


async def test_5xx_then_success(gh, scm, sleep):
    gh.get(REPO).mock(side_effect=[ok({}, 503), ok({}, 500), ok({"default_branch": "main"})])
    assert await scm.default_branch("acme/gitops") == "main"
    assert len(sleep.waits) == 2


async def test_connection_errors_are_retried(gh, scm, sleep):
    gh.get(REPO).mock(side_effect=[httpx.ConnectError("refused"), ok({"default_branch": "main"})])
    assert await scm.default_branch("acme/gitops") == "main"
    assert len(sleep.waits) == 1


async def test_custom_policy_bounds_attempts(gh, sleep):
    scm = GitHubScm(TokenAuth(TOKEN), api_url=API, sleep=sleep, policy=RetryPolicy(max_attempts=2))
    route = gh.get(REPO).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(ScmUnavailable):
        await scm.default_branch("acme/gitops")
    assert route.call_count == 2
    await scm.aclose()


async def test_errors_map_onto_the_port(gh, scm):
    gh.get(f"{REPO}/pulls/404").mock(return_value=ok({"message": "Not Found"}, 404))
    gh.patch(f"{REPO}/git/refs/heads/x").mock(
        return_value=ok({"message": "Reference update failed"}, 409)
    )
    with pytest.raises(NotFound) as e:
        await scm.get_pull_request("acme/gitops", 404)
    assert str(e.value) == "GET /repos/{owner}/{repo}/pulls/{pull_number}: 404 Not Found"
    with pytest.raises(Conflict):
        await scm.client.request(
            "PATCH",
            "/repos/{owner}/{repo}/git/refs/heads/{branch}",
            {"owner": "acme", "repo": "gitops", "branch": "x"},
            auth=TokenAuth(TOKEN),
            json={"sha": BASE},
        )


async def test_requests_are_counted_by_route_template(gh, scm):
    gh.get(f"{REPO}/pulls/1").mock(return_value=ok(pr_json(number=1)))
    gh.get(f"{REPO}/pulls/2").mock(return_value=ok(pr_json(number=2)))
    await scm.get_pull_request("acme/gitops", 1)
    await scm.get_pull_request("acme/gitops", 2)
    assert scm.counter.snapshot() == {"GET /repos/{owner}/{repo}/pulls/{pull_number}": 2}


def test_providers_from_settings_enterprise_and_app(pem):
    from prbot.engine.providers import build_scm
    from prbot.settings import load_settings

    s = load_settings(
        {"APP_ID": "12", "PRIVATE_KEY": pem, "GHE_HOST": "git.corp", "WEBHOOK_SECRET": "s" * 12}
    )
    assert pem not in repr(s)
    scm = build_scm(s, "github")
    assert scm.client.api_url == "https://git.corp/api/v3"
    assert scm.client.graphql_url == "https://git.corp/api/graphql"
    token = load_settings({"GITHUB_TOKEN": "t", "WEBHOOK_SECRET": "s" * 12})
    assert build_scm(token, "github").client.api_url == "https://api.github.com"
    assert build_scm(token, "github").client.graphql_url == "https://api.github.com/graphql"


# -- secrets -------------------------------------------------------------------------------


async def test_secrets_never_reach_logs_reprs_or_errors(gh, pem, clock, caplog):
    caplog.set_level(logging.DEBUG)
    gh.post(f"{API}/app/installations/99/access_tokens").mock(
        return_value=ok({"token": INST_TOKEN, "expires_at": _iso(NOW + 3600)}, 201)
    )
    gh.get(REPO).mock(return_value=ok({"message": "Bad credentials"}, 401))
    gh.get(f"{REPO}/pulls/1").mock(return_value=ok({"message": "Not Found"}, 404))
    gh.get(f"{REPO}/pulls/2").mock(side_effect=httpx.ConnectError("refused"))
    app = AppAuth(7, pem, clock=clock)
    scm = GitHubScm(app, api_url=API, installation_id=99, clock=clock, sleep=RecordedSleep())
    jwt_value = app.jwt()

    texts: list[str] = [repr(app), repr(scm), repr(app.installation(99)), repr(TokenAuth(TOKEN))]
    for call in (
        scm.default_branch("acme/gitops"),
        scm.get_pull_request("acme/gitops", 1),
        scm.get_pull_request("acme/gitops", 2),
    ):
        with pytest.raises(ScmError) as e:
            await call
        texts += [str(e.value), repr(e.value)]
        assert e.value.__cause__ is None
    cred = await app.installation(99).credential(scm.client)
    texts.append(repr(cred))
    await scm.aclose()

    texts += [r.getMessage() for r in caplog.records]
    texts += [str(r.args) for r in caplog.records]
    secrets = [INST_TOKEN, jwt_value, TOKEN, *pem.strip().splitlines()[1:-1]]
    for text in texts:
        for secret in secrets:
            assert secret not in text, (secret[:8], text[:200])
    assert caplog.records, "the request layer logs at DEBUG"


def _iso(ts: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_a_known_comment_is_edited_without_listing_again(gh, scm):
    viewer(gh)
    listing = gh.get(f"{REPO}/issues/7/comments").mock(
        return_value=ok(
            [{"id": 21, "body": "a\n\n<!-- prbot:status -->", "user": {"login": "bot"}}]
        )
    )
    edit = gh.patch(f"{REPO}/issues/comments/21").mock(
        side_effect=lambda request: ok(
            {"id": 21, "body": json.loads(request.content)["body"], "user": {"login": "bot"}}
        )
    )
    await scm.upsert_comment("acme/gitops", 7, "status", "b")  # found by listing, edited
    await scm.upsert_comment("acme/gitops", 7, "status", "c")  # edited by its id
    await scm.upsert_comment("acme/gitops", 7, "status", "c")  # the same text: nothing sent
    assert (listing.call_count, edit.call_count) == (1, 2)
    assert body(edit.calls.last) == {"body": "c\n\n<!-- prbot:status -->"}


async def test_a_known_comment_deleted_since_is_found_or_made_again(gh, scm):
    viewer(gh)
    gh.get(f"{REPO}/issues/7/comments").mock(
        side_effect=[
            ok([{"id": 21, "body": "a\n\n<!-- prbot:status -->", "user": {"login": "bot"}}]),
            ok([]),
        ]
    )
    gh.patch(f"{REPO}/issues/comments/21").mock(
        side_effect=[
            ok({"id": 21, "body": "b\n\n<!-- prbot:status -->", "user": {"login": "bot"}}),
            ok({"message": "Not Found"}, 404),
        ]
    )
    post = gh.post(f"{REPO}/issues/7/comments").mock(
        return_value=ok(
            {"id": 22, "body": "c\n\n<!-- prbot:status -->", "user": {"login": "bot"}}, 201
        )
    )
    await scm.upsert_comment("acme/gitops", 7, "status", "b")
    comment = await scm.upsert_comment("acme/gitops", 7, "status", "c")
    assert comment.id == 22 and post.call_count == 1
