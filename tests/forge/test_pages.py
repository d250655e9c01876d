"""The forge's read-only pages over real HTTP: a PR with a real commit, comments, statuses,
checks and a deployment, merged; every page address the APIs and webhooks hand out
answers with a page; unknown ones with the 404 page; repository text is only ever text."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from markupsafe import escape

from prbot.forge import git
from prbot.forge.pages import diff
from tests.support.forge import ForgeRepo

from .test_webhooks import Receiver

OLD_TAG = "  tag: '6.0.0' # bumped by prbot"
NEW_TAG = "  tag: '6.1.0' # bumped by prbot"
NEW_VALUES = f"image:\n  repository: podinfo\n{NEW_TAG}\n"
BODY = "Bumps podinfo.\n\nSecond paragraph & more."
# a page address: the repository, or one of its PRs / MRs / commits (a comment's #anchor ok)
PAGE_URL = re.compile(
    r"^/[\w.-]+/[\w.-]+(/pull/\d+|/-/merge_requests/\d+|(/-)?/commit/[0-9a-f]{40})?(#.*)?$"
)


def esc(value: str) -> str:
    """How the pages' templates escape a value."""
    return str(escape(value))


def text_of(page: str) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    body = page.split("<body>", 1)[1]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


async def open_bump(env: ForgeRepo, *, title: str = "Bump podinfo to 6.1.0", body: str = BODY):
    f = env.forge
    head = await f.commit_changes(
        env.repo, "bump", "Bump podinfo\n\nto 6.1.0",
        {"apps/podinfo.yaml": git.Change(content=NEW_VALUES.encode())},
        actor=env.bot, start_branch="main",
    )  # fmt: skip
    pr = await f.open_pull_request(env.repo, head="bump", title=title, body=body, author=env.bot)
    return pr, head


async def get(env: ForgeRepo, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=env.server.url, timeout=10) as client:
        return await client.get(path)


async def page_text(env: ForgeRepo, path: str) -> str:
    resp = await get(env, path)
    assert resp.status_code == 200, (path, resp.status_code, resp.text[:300])
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    return resp.text


async def test_pull_request_page_from_open_to_merged(forge_repo: ForgeRepo):
    env, f = forge_repo, forge_repo.forge
    pr, head = await open_bump(env)
    f.create_user("alice")
    f.create_user("bob")
    await f.add_comment(env.repo, pr.number, "Looks right.", author="alice")
    await f.add_comment(env.repo, pr.number, "/prbot promote", author="bob")
    await f.post_status(env.repo, head, "failure", context="ci/lint", creator="ci")
    await f.post_status(
        env.repo, head, "success", context="ci/test", creator="ci",
        target_url="https://ci.example/run/7",
    )  # fmt: skip
    await f.post_check_run(env.repo, head, "kubeconform", app_id=0, conclusion="success")

    page = await page_text(env, f"/{env.repo}/pull/{pr.number}")
    text = text_of(page)
    assert "<title>Bump podinfo to 6.1.0 · #1 · forge</title>" in page
    assert "open" in text and "Merges cleanly." in text and "prbot opened it" in text
    # the description keeps its line breaks as text
    assert '<div class="text">Bumps podinfo.\n\nSecond paragraph &amp; more.</div>' in page
    # the diff, per file, coloured per line
    assert '<span class="mono">apps/podinfo.yaml</span> · modified' in page
    assert f'<span class="del">-{esc(OLD_TAG)}</span>' in page
    assert f'<span class="add">+{esc(NEW_TAG)}</span>' in page
    assert '<span class="ctx">   repository: podinfo</span>'  # " " + the line in page
    # comments in order, with author, time and the anchor the API's html_url ends in
    assert text.index("alice at") < text.index("Looks right.") < text.index("bob at")
    assert text.index("bob at") < text.index("/prbot promote")
    comment = f.comments(env.repo, pr.number)[0]
    assert f'id="issuecomment-{comment.id}"' in page and comment.created_at in text
    # statuses and checks of the head
    assert "status ci/lint failure ci" in text and "status ci/test success ci" in text
    assert "check kubeconform success" in text and "Combined status: failure" in text
    # an http(s) target is a link; the escaping test shows a javascript: one is not
    assert '<a class="mono" href="https://ci.example/run/7">' in page

    merged = await f.merge_pull_request(env.repo, pr.number, actor=env.bot)
    deployment = await f.create_deployment(
        env.repo, merged.merge_commit_sha, creator="ci", environment="dev"
    )
    await f.post_deployment_status(
        env.repo, deployment.id, "success", creator="ci", description="rolled out"
    )
    page = await page_text(env, f"/{env.repo}/pull/{pr.number}")
    text = text_of(page)
    assert text.startswith(" forge / acme/gitops Bump podinfo to 6.1.0 #1 merged ")
    assert f"Merged by prbot at {merged.merged_at} as {merged.merge_commit_sha}" in text
    assert f"merge commit {merged.merge_commit_sha[:12]}" in text
    assert "deployment dev success ci rolled out" in text
    # the diff stays the PR's change once merged
    assert f'<span class="del">-{esc(OLD_TAG)}</span>' in page
    assert f'<span class="add">+{esc(NEW_TAG)}</span>' in page

    raw = await get(env, f"/{env.repo}/pull/{pr.number}.diff")
    assert raw.headers["content-type"] == "text/plain; charset=utf-8"
    assert f"-{OLD_TAG}\n+{NEW_TAG}\n" in raw.text


async def test_closed_pull_request_and_gitlab_spelling(forge_repo: ForgeRepo):
    env, f = forge_repo, forge_repo.forge
    pr, head = await open_bump(env)
    await f.update_pull_request(env.repo, pr.number, actor=env.bot, state="closed")
    page = await page_text(env, f"/{env.repo}/-/merge_requests/{pr.number}")
    text = text_of(page)
    assert "closed" in text and "without merging" in text and "Merged by" not in text
    assert "Bump podinfo to 6.1.0 !1" in text  # GitLab writes MR numbers !1
    # links on a GitLab-style page stay GitLab-style
    assert f'href="/{env.repo}/-/commit/{head}"' in page
    assert f'href="/{env.repo}/commit/' not in page


async def test_commit_page(forge_repo: ForgeRepo):
    env, f = forge_repo, forge_repo.forge
    pr, head = await open_bump(env)
    parent = env.rev("main")
    await f.post_status(env.repo, head, "pending", context="ci/test", creator="ci")
    for path in (f"/{env.repo}/commit/{head}", f"/{env.repo}/-/commit/{head[:10]}"):
        page = await page_text(env, path)
        text = text_of(page)
        assert f"Commit {head}" in text
        assert '<div class="text">Bump podinfo\n\nto 6.1.0' in page
        assert f"Parent: {parent[:12]}" in text and "Author prbot" in text
        assert f"#{pr.number} Bump podinfo" in text or f"!{pr.number} Bump podinfo" in text
        assert "status ci/test pending ci" in text
        assert f'<span class="add">+{esc(NEW_TAG)}</span>' in page

    root = env.git("rev-list", "--max-parents=0", "main").strip()
    text = text_of(await page_text(env, f"/{env.repo}/commit/{root}"))
    assert "Root commit." in text and "README.md · added" in text and "+# gitops" in text


async def test_repository_and_index_pages(forge_repo: ForgeRepo):
    env, f = forge_repo, forge_repo.forge
    _, head = await open_bump(env)
    await f.create_repo("acme/other", files={"x": "1\n"}, visibility="public")
    await f.commit_changes(
        env.repo, "old", "Old", {"o": git.Change(content=b"o\n")}, actor=env.bot,
        start_branch="main",
    )  # fmt: skip
    closed = await f.open_pull_request(env.repo, head="old", title="Old idea", author=env.bot)
    await f.update_pull_request(env.repo, closed.number, actor=env.bot, state="closed")

    page = await page_text(env, f"/{env.repo}")
    text = text_of(page)
    assert "acme/gitops (private)" in text and "Default branch main" in text
    # the top level of the default branch only: the folder, not the file inside it
    assert "apps/ tree" in text and "README.md blob" in text and "podinfo.yaml" not in text
    open_part = text.split("Open pull requests", 1)[1].split("Closed pull requests", 1)[0]
    closed_part = text.split("Closed pull requests", 1)[1].split("Recent commits", 1)[0]
    assert "#1 Bump podinfo to 6.1.0" in open_part and "Old idea" not in open_part
    assert "#2 Old idea" in closed_part and "closed" in closed_part
    assert f'href="/{env.repo}/commit/{env.rev("main")}"' in page

    text = text_of(await page_text(env, f"/{env.repo}/tree/bump"))
    assert "showing bump" in text and f"at {head[:12]}" in text

    index = text_of(await page_text(env, "/"))
    assert "acme/gitops private main 1" in index and "acme/other public main 0" in index
    assert "private ones included" in index  # the footer says what the pages show


async def test_every_page_address_the_apis_hand_out_answers(forge_repo: ForgeRepo):
    env, f = forge_repo, forge_repo.forge
    async with Receiver() as github_hook, Receiver() as gitlab_hook:
        f.add_hook("github", github_hook.url, secret="s3cret-s3cret")
        f.add_hook("gitlab", gitlab_hook.url, secret="s3cret-s3cret")
        pr, head = await open_bump(env)
        await f.add_comment(env.repo, pr.number, "ok", author=env.bot)
        await f.post_status(env.repo, head, "success", context="ci/test", creator="ci")
        merged = await f.merge_pull_request(env.repo, pr.number, actor=env.bot)
        await f.webhooks.drain()
        payloads = [r.json for r in github_hook.got + gitlab_hook.got]

    auth = {"Authorization": f"token {env.token}"}
    gh = f"{env.server.github_api_url}/repos/{env.repo}"
    gl = f"{env.server.url}/api/v4/projects/{quote(env.repo, safe='')}"
    async with httpx.AsyncClient(timeout=10) as client:
        answers: list[Any] = [
            (await client.get(url, headers=auth)).json()
            for url in (
                gh, f"{gh}/pulls/{pr.number}", f"{gh}/pulls?state=all",
                f"{gh}/issues/{pr.number}/comments", f"{gh}/git/commits/{head}",
                f"{gh}/git/commits/{merged.merge_commit_sha}",
            )
        ]  # fmt: skip
        gl_auth = {"PRIVATE-TOKEN": env.token}
        answers += [
            (await client.get(url, headers=gl_auth)).json()
            for url in (gl, f"{gl}/merge_requests/{pr.number}", f"{gl}/repository/commits")
        ]
    urls = {
        u.removeprefix(env.server.url)
        for u in _links(answers + payloads)
        if u.startswith(env.server.url + "/")
    }
    # clone addresses (.git) are git remotes, not pages (the forge serves no git over HTTP)
    pages = {u for u in urls if PAGE_URL.match(u) and not u.endswith(".git")}
    kinds = {re.sub(r"[0-9a-f]{40}|\d+|#.*", "N", u) for u in pages}
    assert {
        f"/{env.repo}",
        f"/{env.repo}/pull/N",
        f"/{env.repo}/commit/N",
        f"/{env.repo}/-/merge_requests/N",
        f"/{env.repo}/-/commit/N",
    } <= kinds, kinds
    for url in sorted(pages):
        resp = await get(env, url.split("#", 1)[0])
        assert resp.status_code == 200, url
        assert resp.headers["content-type"] == "text/html; charset=utf-8", url


def _links(value: Any) -> list[str]:
    """Every html_url / web_url / url string anywhere in decoded JSON."""
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k in ("html_url", "web_url", "url")]
        return [v for v in found if isinstance(v, str)] + _links(list(value.values()))
    if isinstance(value, list):
        return [u for item in value for u in _links(item)]
    return []


@pytest.mark.parametrize(
    "path",
    [
        "/acme/nothing",
        "/acme/gitops/pull/99",
        "/acme/gitops/-/merge_requests/99",
        "/acme/gitops/commit/" + "0" * 40,
        "/acme/gitops/commit/main",  # a commit page takes a sha, not a branch
        "/acme/nothing/commit/" + "a" * 40,
        "/acme/gitops/tree/no-such-branch",
        "/acme/gitops/pull/99.diff",
    ],
)
async def test_unknown_things_answer_the_404_page(forge_repo: ForgeRepo, path: str):
    resp = await get(forge_repo, path)
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    assert "Not found" in text_of(resp.text) and "All repositories" in text_of(resp.text)


async def test_api_paths_keep_their_answers(forge_repo: ForgeRepo):
    # a wrong method on an API path is still the API's 405, not a page
    assert (await get(forge_repo, "/oauth/token")).status_code == 405
    assert (await get(forge_repo, "/login/oauth/access_token")).status_code == 405
    unknown = await get(forge_repo, "/api/v4")
    assert unknown.status_code == 404 and "text/html" not in unknown.headers["content-type"]
    # the pages are read-only
    async with httpx.AsyncClient(base_url=forge_repo.server.url, timeout=10) as client:
        assert (await client.post(f"/{forge_repo.repo}")).status_code == 405


async def test_repository_text_is_only_ever_text(forge_repo: ForgeRepo):
    env, f = forge_repo, forge_repo.forge
    evil = '<script>alert("x")</script>'
    head = await f.commit_changes(
        env.repo, "evil", f"Add {evil}",
        {f"{evil}.txt": git.Change(content=f"{evil}\n".encode())},
        actor=env.bot, start_branch="main",
    )  # fmt: skip
    pr = await f.open_pull_request(
        env.repo, head="evil", title=f"Title {evil}", body=f"Body {evil}\n<img src=x>",
        author=env.bot,
    )  # fmt: skip
    await f.add_comment(env.repo, pr.number, f"Comment {evil}", author=env.bot)
    await f.post_status(
        env.repo, head, "success", context=f"ctx {evil}", creator="ci",
        target_url=f"javascript:{evil}", description=evil,
    )  # fmt: skip
    escaped = esc(evil)
    for path in (f"/{env.repo}/pull/{pr.number}", f"/{env.repo}/commit/{head}", f"/{env.repo}"):
        resp = await get(env, path)
        page = resp.text
        assert "<script" not in page.lower() and "<img" not in page.lower(), path
        assert escaped in page, path
        assert 'href="javascript' not in page
    page = (await get(env, f"/{env.repo}/pull/{pr.number}")).text
    for shown in (f"Title {escaped}", f"Body {escaped}", f"Comment {escaped}", f"{escaped}.txt"):
        assert shown in page, shown


async def test_pages_send_a_strict_content_security_policy(forge_repo: ForgeRepo):
    pr, _ = await open_bump(forge_repo)
    for path in ("/", f"/{forge_repo.repo}/pull/{pr.number}", "/acme/nothing"):
        resp = await get(forge_repo, path)
        policy = dict(
            part.strip().split(" ", 1)
            for part in resp.headers["Content-Security-Policy"].split(";")
        )
        assert policy["default-src"] == "'none'" and policy["form-action"] == "'none'"
        assert policy["frame-ancestors"] == "'none'" and "script-src" not in policy
        # the one inline style sheet is allowed by its hash, and nothing else is
        style = re.search(r"<style>(.*?)</style>", resp.text, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert policy["style-src"] == f"'sha256-{digest}'"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "<form" not in resp.text and "<script" not in resp.text


async def test_a_large_diff_is_cut_and_says_so(forge_repo: ForgeRepo, monkeypatch):
    env, f = forge_repo, forge_repo.forge
    monkeypatch.setattr(diff, "MAX_LINES", 10)
    lines = "".join(f"line {i}\n" for i in range(40)).encode()
    head = await f.commit_changes(
        env.repo, "big", "Big", {"big.txt": git.Change(content=lines)}, actor=env.bot,
        start_branch="main",
    )  # fmt: skip
    page = await page_text(env, f"/{env.repo}/commit/{head}")
    # "new file mode" and the hunk header take two of the ten lines
    assert page.count('<span class="add">') == 8
    assert "+40" in text_of(page)  # the counts are of the whole file
    assert "32 more lines not shown" in text_of(page)
