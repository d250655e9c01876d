"""The catalog's pages over real HTTP (no JavaScript, as a browser without it posts the
form), `prbot serve` as a process with the shipped automations and the forge seeded with
examples/gitops, signed in behind a proxy. The cluster-create form is made from the
automation's inputs; a wrong value comes back beside its field with the values kept; the
Azure-only field's value is ignored unless cloud is azure; the checklist must be ticked;
the preview shows the diff and writes nothing; a run opens the PR that names who asked;
a user without write access is refused and nothing is opened; a post without the CSRF
token is refused. (The same in a real browser with JavaScript: issue 12's browser tests.)"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.examples import AUTOMATIONS, example_files
from tests.support.forge import Files, ForgeRepo
from tests.support.promotions import serve_env
from tests.support.serve import free_port, serve_process
from tests.support.waiting import wait_for

REPO = "acme/gitops"
TOKEN = "catalog-forge-token-5678"
SECRET = "catalog-webhook-secret-1234"
SLOW = {"timeout": 30.0, "every": 0.1}
CLUSTER = "services/clusters/aws/clusters/dev-eu-2.yaml"


@pytest.fixture
def forge_files() -> Files:
    return example_files()


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN, "permissions": {"alice": "write", "rita": "read"}}


def proxied_env(forge_repo: ForgeRepo, tmp_path: Path, port: int) -> dict[str, str]:
    """`prbot serve` with the shipped automations, signed in to behind a proxy."""
    return serve_env(
        forge_repo, tmp_path, port, webhook_secret=SECRET, api_token="catalog-api-token",
        PRBOT_UI_AUTH="proxy", PRBOT_AUTOMATIONS_DIR=str(AUTOMATIONS),
    )  # fmt: skip


def as_user(user: str) -> dict[str, str]:
    return {"X-Forwarded-User": user}


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return unescape(found.group(1))


async def post_form(
    web: httpx.AsyncClient, user: str, pairs: list[tuple[str, str]], **kwargs: object
) -> httpx.Response:
    """A form post as a browser sends it (a name may repeat: the checklist's boxes)."""
    headers = {**as_user(user), "Content-Type": "application/x-www-form-urlencoded"}
    return await web.post(
        "/catalog/cluster-create", headers=headers, content=urlencode(pairs), **kwargs
    )


def error_of(html: str, field: str) -> str:
    found = re.search(rf'<p class="error" id="e-{re.escape(field)}"[^>]*>([^<]*)</p>', html)
    return unescape(found.group(1)) if found else ""


async def test_a_cluster_from_the_catalog(tmp_path, forge_repo: ForgeRepo) -> None:
    forge = forge_repo.forge
    port = free_port()
    env = proxied_env(forge_repo, tmp_path, port)
    async with (
        serve_process(tmp_path, env, port=port) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=20) as web,
    ):
        cards = await web.get("/catalog", headers=as_user("alice"))
        assert cards.status_code == 200
        for name in ("cluster-create", "service-create", "image-bump"):
            assert f'href="/catalog/{name}"' in cards.text
        found = await web.get("/catalog?q=cluster", headers=as_user("alice"))
        assert 'href="/catalog/cluster-create"' in found.text
        assert 'href="/catalog/image-bump"' not in found.text

        page = await web.get(f"/catalog/cluster-create?repo={REPO}", headers=as_user("alice"))
        assert page.status_code == 200
        html = page.text
        for control in ('name="name"', '<select id="f-cloud" name="cloud"', 'name="nodeCount"'):
            assert control in html
        assert 'data-when-field="cloud" data-when-op="eq" data-when-value="azure"' in html
        assert 'type="number"' in html and 'name="confirm"' in html
        assert 'button type="submit" name="action" value="run"' in html
        token = csrf(html)
        form = {
            "csrf_token": token, "platform": "github", "repo": REPO, "name": "Dev_EU",
            "cloud": "aws", "region": "eu-west-1", "tier": "dev", "nodeCount": "3",
            "resourceGroup": "ignored-because-not-azure", "action": "run",
        }  # fmt: skip

        # a wrong name comes back beside its field, the other values kept, nothing opened
        wrong = await web.post("/catalog/cluster-create", headers=as_user("alice"), data=form)
        assert wrong.status_code == 422
        assert "must match the pattern" in error_of(wrong.text, "name")
        assert 'value="eu-west-1"' in wrong.text
        assert error_of(wrong.text, "confirm") == "tick every item of the checklist first"

        # the preview: the diff, and nothing written on the forge
        good = {**form, "name": "dev-eu-2"}
        ticked = [*good.items(), ("confirm", "1"), ("confirm", "2")]
        log = forge_repo.server.requests
        before = len(log.entries)
        preview = await post_form(
            web, "alice", [*[(k, v) for k, v in ticked if k != "action"], ("action", "preview")]
        )
        assert preview.status_code == 200, preview.text
        assert f"create {CLUSTER}" in preview.text
        assert '<span class="add">' in preview.text
        assert "ignored-because-not-azure" not in preview.text.split('id="preview"')[1]
        writes = [
            r for r in log.entries[before:]
            # reads, and prbot's own definitions status on first reading .prbot/
            if r.method not in ("GET", "HEAD") and "graphql" not in r.route
            and not r.route.endswith("/statuses/{sha}")
        ]  # fmt: skip
        assert writes == [] and forge.pull_requests(REPO, state="all") == []

        # someone who can only read is refused, and nothing is opened
        async with httpx.AsyncClient(base_url=served.base_url, timeout=20) as other:
            rita = await other.get("/catalog/cluster-create", headers=as_user("rita"))
            theirs = [(k, v) for k, v in ticked if k != "csrf_token"]
            refused = await post_form(other, "rita", [*theirs, ("csrf_token", csrf(rita.text))])
            assert refused.status_code == 422
            assert error_of(refused.text, "repo") == (
                "you need write permission on it to run this; you have read"
            )

        # without the CSRF token: refused
        forged = await post_form(web, "alice", [(k, v) for k, v in ticked if k != "csrf_token"])
        assert forged.status_code == 403

        # the run: to its page, then its PR, which names who asked
        done = await post_form(web, "alice", ticked, follow_redirects=False)
        assert done.status_code == 302, done.text
        run_page = done.headers["Location"]
        assert re.fullmatch(r"/runs/\d+", run_page)

        def opened():
            return forge.pull_requests(REPO, state="open")

        [pr] = await wait_for(opened, **SLOW, what="the cluster's PR")
        assert "Requested by @alice in [the catalog]" in pr.body
        tree = forge_repo.ls_tree(pr.head)
        assert CLUSTER in tree and not any("resourceGroup" in p for p in tree)
        assert "resourceGroup" not in forge_repo.show(pr.head, CLUSTER)

        async def run_says_open() -> bool:
            page = await web.get(run_page, headers=as_user("alice"))
            return "The pull request is open" in page.text

        await wait_for(run_says_open, **SLOW, what="the run's page to show its PR")
    assert TOKEN not in served.output()


EVIL = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: evil-note}
spec:
  description: "<script>alert('catalog')</script> leaves a note"
  title: "Note"
  configuration:
    - {name: what, type: string, documentation: "<img src=x onerror=alert(1)>"}
  creates:
    templates:
      - {source: note.md, destination: "notes/{{ context.what }}.md"}
"""


async def test_a_repositorys_own_automations_and_what_they_say_as_text(
    tmp_path, forge_repo: ForgeRepo
) -> None:
    """With ?repo=, the repository's own `.prbot/` automations join the catalog; what a
    definition says (description, help) is shown as text, never as markup."""
    from prbot.forge.git import Change

    await forge_repo.forge.commit_changes(
        REPO,
        "main",
        "an automation of the repository's own",
        {
            ".prbot/evil.yaml": Change(content=EVIL.encode()),
            ".prbot/note.md": Change(content=b"x\n"),
        },
        actor="alice",
    )
    port = free_port()
    env = proxied_env(forge_repo, tmp_path, port)
    async with (
        serve_process(tmp_path, env, port=port) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=20) as web,
    ):
        plain = await web.get("/catalog", headers=as_user("alice"))
        assert "evil-note" not in plain.text  # the deployment's catalog alone
        cards = await web.get(f"/catalog?repo={REPO}&platform=github", headers=as_user("alice"))
        assert 'href="/catalog/evil-note?repo=acme%2Fgitops&amp;platform=github"' in cards.text
        assert "<script>alert(" not in cards.text
        assert "&lt;script&gt;alert(&#39;catalog&#39;)&lt;/script&gt;" in cards.text
        form = await web.get(
            f"/catalog/evil-note?repo={REPO}&platform=github", headers=as_user("alice")
        )
        assert form.status_code == 200
        assert "<img src=x" not in form.text and "&lt;img src=x onerror=alert(1)&gt;" in form.text
        assert 'name="what"' in form.text


async def test_the_repository_is_chosen_from_those_one_can_write_to(
    tmp_path, forge_repo: ForgeRepo
) -> None:
    """Where prbot can list them, the form offers the repositories the person can write
    to (a select named repo, the posted one kept); someone who can write nowhere prbot
    writes types the name instead (and is refused on submit)."""
    await forge_repo.forge.create_repo("acme/infra", files={"README.md": "# infra\n"})
    forge_repo.forge.set_permission("acme/infra", "alice", "maintain")
    forge_repo.forge.set_permission("acme/infra", forge_repo.bot, "write")
    await forge_repo.forge.create_repo("acme/private", files={"README.md": "# private\n"})
    forge_repo.forge.set_permission("acme/private", forge_repo.bot, "write")  # not alice's
    port = free_port()
    env = proxied_env(forge_repo, tmp_path, port)
    async with (
        serve_process(tmp_path, env, port=port) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=20) as web,
    ):
        page = await web.get("/catalog/cluster-create", headers=as_user("alice"))
        chooser = re.search(r'<select id="f-repo" name="repo"[^>]*>(.*?)</select>', page.text, re.S)
        assert chooser is not None, page.text
        options = re.findall(r'<option value="([^"]*)"', chooser.group(1))
        assert options == ["", "acme/gitops", "acme/infra"]
        # a refused post keeps the repository chosen
        form = {"csrf_token": csrf(page.text), "platform": "github", "repo": "acme/infra",
                "name": "Bad_Name", "action": "run"}  # fmt: skip
        wrong = await web.post("/catalog/cluster-create", headers=as_user("alice"), data=form)
        assert wrong.status_code == 422
        assert '<option value="acme/infra" selected>' in wrong.text
        # rita reads acme/gitops only: no list, the text field
        theirs = await web.get("/catalog/cluster-create", headers=as_user("rita"))
        assert '<select id="f-repo"' not in theirs.text
        assert '<input id="f-repo" name="repo"' in theirs.text
