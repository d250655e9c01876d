"""DefinitionsCache against the forge: a repository's ``.prbot/`` at its default branch,
cached by sha (no SCM call on a second lookup), reloaded by a PushToDefault event job,
broken definitions reported as a commit status without blocking the rest."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from prbot.engine.definitions import (
    STATUS_CONTEXT,
    DefinitionsCache,
    UnknownAutomation,
    UnknownPipeline,
    push_reloads_definitions,
)
from prbot.engine.router import Context
from prbot.events import PushToDefault
from prbot.forge.git import Change
from prbot.scm.github import GitHubScm
from prbot.store.base import NewJob
from prbot.worker.handlers import build_handlers
from prbot.worker.pool import WorkerPool
from tests.support.waiting import wait_for

from .conftest import REPO, TOKEN, settings_for

NOTE = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: %s}
spec:
  title: "Note {{ context.what }}"
  message: "Adds a note."
  configuration:
    - {name: what, type: string}
  creates:
    templates:
      - {source: %s, destination: "notes/{{ context.what }}.md"}
"""

BROKEN = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: broken}
spec:
  message: "no title"
"""

DEFS = {
    ".prbot/note.yaml": NOTE % ("repo-note", "tpl/note.md"),
    ".prbot/tpl/note.md": "{{ context.what }}\n",
    ".prbot/a-broken.yaml": BROKEN,
    ".prbot/bump.yaml": NOTE % ("bump", "tpl/note.md"),  # clashes with the deployment
    ".prbot/linked.yaml": NOTE % ("linked", "tpl/evil.md"),
    ".prbot/tpl/evil.md": ("../../etc/passwd", "120000"),
}


@pytest.fixture
async def scm(forge) -> AsyncIterator[GitHubScm]:
    provider = GitHubScm.with_token(
        TOKEN, api_url=forge.github_api_url, graphql_url=forge.graphql_url
    )
    yield provider
    await provider.aclose()


@pytest.fixture
async def cache(forge, scm, automations_dir) -> DefinitionsCache:
    await forge.forge.commit_changes(
        REPO,
        "main",
        "prbot definitions",
        {
            p: Change(mode=v[1], content=v[0].encode())
            if isinstance(v, tuple)
            else Change(content=v.encode())
            for p, v in DEFS.items()
        },
        actor="bot",
    )
    await forge.forge.create_repo("acme/other", files={"README.md": "x\n"})
    forge.forge.set_permission("acme/other", "bot", "admin")
    return DefinitionsCache(automations_dir, lambda platform: scm)


async def test_repo_definitions_load_cache_and_report(forge, cache, automations_dir) -> None:
    sha = await forge.forge.resolve(REPO, "main")
    found = await cache.lookup("github", REPO, "repo-note")
    assert found.source_file == ".prbot/note.yaml"
    assert found.templates[0].files[0].content == b"{{ context.what }}\n"
    entry = cache.cached("github", REPO)
    assert entry is not None and entry.sha == sha

    # the deployment's "bump" wins; the repository's copy is a reported problem
    bump = await cache.lookup("github", REPO, "bump")
    assert bump.source_file.startswith(str(automations_dir))
    problems = [str(p) for p in entry.problems]
    assert any("a-broken.yaml" in p and "spec.title" in p for p in problems), problems
    assert any("already defined by the deployment" in p for p in problems), problems
    assert any("symlink" in p for p in problems), problems

    [status] = forge.forge.statuses(REPO, sha)
    assert status.context == STATUS_CONTEXT and status.state == "failure"
    assert status.description.startswith(f"{len(problems)} problem(s): .prbot/a-broken.yaml")

    # cached: no request at all for a second lookup, nor for an unknown name's error
    forge.requests.reset()
    assert (await cache.lookup("github", REPO, "repo-note")) is found
    with pytest.raises(UnknownAutomation, match=r"no automation named 'broken'.*spec\.title"):
        await cache.lookup("github", REPO, "broken")
    # a near miss is named, from the deployment's and the repository's own
    with pytest.raises(UnknownAutomation, match=r"'repo-nte'.* \(did you mean 'repo-note'\?\)"):
        await cache.lookup("github", REPO, "repo-nte")
    with pytest.raises(UnknownPipeline, match=r"^no pipeline named 'bmp' for acme/gitops$"):
        await cache.pipeline("github", REPO, "bmp")
    assert forge.requests.total == 0


async def test_other_repositories_are_not_affected(forge, cache) -> None:
    await cache.lookup("github", REPO, "repo-note")
    with pytest.raises(UnknownAutomation):
        await cache.lookup("github", "acme/other", "repo-note")
    # no .prbot/ folder: nothing to report
    sha = await forge.forge.resolve("acme/other", "main")
    assert forge.forge.statuses("acme/other", sha) == []
    assert (await cache.lookup("github", "acme/other", "bump")).name == "bump"


async def test_push_to_default_event_job_reloads(forge, cache, scm, store, automations_dir) -> None:
    await cache.lookup("github", REPO, "repo-note")
    before = await forge.forge.resolve(REPO, "main")
    after = await forge.forge.commit_changes(
        REPO,
        "main",
        "fix definitions",
        {
            ".prbot/a-broken.yaml": None,
            ".prbot/bump.yaml": None,
            ".prbot/linked.yaml": None,
            ".prbot/more.yaml": Change(content=(NOTE % ("more", "tpl/note.md")).encode()),
        },
        actor="bot",
    )
    # until told, the cache serves what it loaded
    with pytest.raises(UnknownAutomation):
        await cache.lookup("github", REPO, "more")

    event = PushToDefault(
        platform="github",
        repo=REPO,
        branch="main",
        before=before,
        after=after,
        paths=(".prbot/more.yaml",),
    )
    [job_id] = await store.enqueue([NewJob("event", event.to_dict())], now=0)
    settings = settings_for(forge, automations_dir)
    handlers = build_handlers(settings, store, cache, scm_for=lambda platform: scm)
    pool = WorkerPool(store, handlers, poll_interval=0.01)
    await pool.start()
    try:
        await wait_for(lambda: _done(store, job_id), what="event job done")
    finally:
        await pool.drain(1)

    entry = cache.cached("github", REPO)
    assert entry is not None and entry.sha == after and entry.problems == []
    [status] = forge.forge.statuses(REPO, after)
    assert status.state == "success" and status.context == STATUS_CONTEXT
    forge.requests.reset()
    assert (await cache.lookup("github", REPO, "more")).name == "more"
    assert forge.requests.total == 0


async def _done(store, job_id: int) -> bool:
    job = await store.job(job_id)
    return job is not None and job.state == "done"


async def test_gitlab_repository_definitions(forge, cache, automations_dir) -> None:
    from prbot.scm.gitlab import GitLabScm

    gitlab = GitLabScm(forge.gitlab_url, TOKEN)
    try:
        on_gitlab = DefinitionsCache(automations_dir, lambda platform: gitlab)
        found = await on_gitlab.lookup("gitlab", REPO, "repo-note")
        assert found.source_file == ".prbot/note.yaml"
        entry = on_gitlab.cached("gitlab", REPO)
        assert entry is not None and len(entry.problems) == 3
    finally:
        await gitlab.aclose()
    sha = await forge.forge.resolve(REPO, "main")
    [status] = forge.forge.statuses(REPO, sha)
    assert (status.context, status.state) == (STATUS_CONTEXT, "failure")


async def test_a_push_beside_the_definitions_costs_nothing(forge, cache, scm) -> None:
    """A merged PR that changed no ``.prbot/`` file (a promotion's stage PR, say): the
    cached definitions now stand for the new head, with no request and no new status."""
    found = await cache.lookup("github", REPO, "repo-note")
    before = await forge.forge.resolve(REPO, "main")
    after = await forge.forge.commit_changes(
        REPO, "main", "bump", {"apps/a.yaml": Change(content=b"tag: 2\n")}, actor="bot"
    )
    event = PushToDefault(
        platform="github",
        repo=REPO,
        branch="main",
        before=before,
        after=after,
        paths=("apps/a.yaml",),
    )
    forge.requests.reset()
    await push_reloads_definitions(event, _context(cache, scm))
    assert (await cache.lookup("github", REPO, "repo-note")) is found
    assert forge.requests.total == 0
    entry = cache.cached("github", REPO)
    assert entry is not None and entry.sha == after
    assert forge.forge.statuses(REPO, after) == []

    # a push the cache cannot place (not from the sha it holds) invalidates it
    stray = PushToDefault(
        platform="github", repo=REPO, branch="main", before="0" * 40, after=after, paths=("x",)
    )
    await push_reloads_definitions(stray, _context(cache, scm))
    assert cache.cached("github", REPO) is None


async def test_a_moved_head_with_the_same_definitions_is_not_read_again(
    forge, scm, automations_dir
) -> None:
    """No push seen (a lost webhook): the recheck finds a new sha, but the ``.prbot/``
    listing (paths and blob ids) is unchanged, so nothing is read, loaded or reported."""
    await forge.forge.commit_changes(
        REPO,
        "main",
        "defs",
        {
            ".prbot/note.yaml": Change(content=DEFS[".prbot/note.yaml"].encode()),
            ".prbot/tpl/note.md": Change(content=b"x\n"),
        },
        actor="bot",
    )
    now = [0.0]
    cache = DefinitionsCache(automations_dir, lambda platform: scm, clock=lambda: now[0])
    found = await cache.lookup("github", REPO, "repo-note")
    first = await forge.forge.resolve(REPO, "main")
    assert [s.state for s in forge.forge.statuses(REPO, first)] == ["success"]
    after = await forge.forge.commit_changes(
        REPO, "main", "bump", {"apps/a.yaml": Change(content=b"tag: 2\n")}, actor="bot"
    )
    now[0] += cache.recheck_seconds + 1
    forge.requests.reset()
    assert (await cache.lookup("github", REPO, "repo-note")) is found
    routes = {r.route for r in forge.requests.entries}
    assert not any("graphql" in r or "contents" in r or "blobs" in r for r in routes), routes
    assert forge.forge.statuses(REPO, after) == []
    entry = cache.cached("github", REPO)
    assert entry is not None and entry.sha == after


def _context(cache: DefinitionsCache, scm: GitHubScm) -> Context:
    return Context(None, cache, lambda platform: scm)  # type: ignore[arg-type]
