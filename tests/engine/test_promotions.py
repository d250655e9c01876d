"""The promotion engine over a real SQLite store and the memory SCM: a crash between
saving a decision and carrying out its actions loses nothing (the retried job carries
out what is pending, once); a superseded promotion's open PR is closed with a comment;
health on a later commit of the base branch counts for the merge commit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prbot.automation.changeset import MemoryRepoView
from prbot.automation.loader import load_view
from prbot.engine.definitions import DefinitionsCache
from prbot.engine.promotions import PENDING, PromotionEngine
from prbot.pipeline import happenings as hap
from prbot.scm.port import HealthSignal, ScmUnavailable
from prbot.store.sqlite import SqliteStore
from tests.support.memory_scm import MemoryScm

REPO = "acme/gitops"
DEFINITIONS = {
    ".prbot/bump.yaml": """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: bump}
spec:
  title: "Bump {{ context.env }} to {{ context.tag }}"
  configuration:
    - {name: env, type: string}
    - {name: tag, type: string}
  updates:
    yamlEdits:
      - {file: "envs/{{ context.env }}.yaml", path: tag, value: "{{ context.tag }}"}
""",
    ".prbot/app.yaml": """\
apiVersion: prbot.dev/v1alpha1
kind: Pipeline
metadata: {name: app}
spec:
  stages:
    - {name: dev, automation: bump, context: {env: dev}, health: {checks: [ci]}}
    - {name: prod, automation: bump, context: {env: prod}, health: {checks: [ci]}}
""",
}


class FlakyScm(MemoryScm):
    """Fails the next ``fail_commits`` commits as an outage would (after the decision
    that asked for them was saved)."""

    fail_commits = 0

    async def commit_changes(self, repo, **kwargs):  # type: ignore[override]
        if self.fail_commits:
            self.fail_commits -= 1
            raise ScmUnavailable("the forge went away")
        return await super().commit_changes(repo, **kwargs)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(str(tmp_path / "prbot.db"))
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def scm() -> FlakyScm:
    files = {f"envs/{e}.yaml": "tag: '1'\n" for e in ("dev", "prod")} | DEFINITIONS
    return FlakyScm({REPO: files})


@pytest.fixture
def engine(store: SqliteStore, scm: FlakyScm) -> PromotionEngine:
    definitions = DefinitionsCache(None, lambda platform: scm)
    return PromotionEngine(store, definitions, lambda platform: scm)


def pipeline():
    loaded = load_view(MemoryRepoView(DEFINITIONS), root=".prbot")
    return loaded.pipelines["app"]


async def start(engine: PromotionEngine, tag: str) -> int:
    pid, _ = await engine.create(
        platform="github", repo=REPO, pipeline=pipeline(), inputs={"tag": tag}, requested_by="al"
    )
    return pid


async def test_a_crash_after_saving_loses_no_action(
    engine: PromotionEngine, store: SqliteStore, scm: FlakyScm
) -> None:
    pid = await start(engine, "2")
    scm.fail_commits = 1
    with pytest.raises(ScmUnavailable):
        await engine.happen(pid, hap.Start())
    row = await store.promotion(pid)
    assert row is not None and "OpenStagePr" in [a["type"] for a in row.data[PENDING]]
    assert scm.pulls(REPO, state=None) == []
    # the job is retried (any happening will do): what is pending is carried out first
    promotion = await engine.happen(pid, hap.Start())
    [pr] = scm.pulls(REPO, state=None)
    assert pr.head == f"prbot/promote/app/{pid}/dev"
    assert promotion.stage("dev").pr is not None
    assert PENDING not in (await store.promotion(pid)).data
    # and again: nothing more happens
    await engine.happen(pid, hap.Start())
    assert len(scm.pulls(REPO, state=None)) == 1


async def test_a_newer_promotion_closes_the_older_ones_open_pr(
    engine: PromotionEngine, store: SqliteStore, scm: FlakyScm
) -> None:
    old = await start(engine, "2")
    await engine.happen(old, hap.Start())
    [old_pr] = scm.pulls(REPO)
    new = await start(engine, "3")
    await engine.happen(old, hap.Superseded(str(new)))
    closed = scm.pulls(REPO, state="closed")
    assert [p.number for p in closed] == [old_pr.number]
    assert any(str(new) in c.body for c in scm.comments(REPO, old_pr.number))
    assert (await store.promotion(old)).status == "superseded"


async def test_health_on_a_later_base_commit_counts(
    engine: PromotionEngine, store: SqliteStore, scm: FlakyScm
) -> None:
    pid = await start(engine, "2")
    await engine.happen(pid, hap.Start())
    [pr] = scm.pulls(REPO)
    merged = await scm.merge(REPO, pr.number)
    await engine.happen(pid, hap.PrMerged("dev", pr.number, merged.sha))
    later = scm.push(REPO, "main", {"other.txt": "someone else's change\n"}, message="later")
    scm.add_signal(REPO, later, HealthSignal("status", "ci", "success"))
    observed = await engine.read_health(pid, "dev", later, descendant=True)
    promotion = await engine.happen(pid, observed)
    assert promotion.stage("dev").status == "succeeded"
    assert promotion.stage("prod").pr is not None  # the next stage's PR opened at once


async def test_the_reconciler_says_what_a_lost_webhook_would_have(
    engine: PromotionEngine, store: SqliteStore, scm: FlakyScm
) -> None:
    from prbot.engine.promotions import PromotionJob
    from prbot.settings import Settings
    from prbot.worker.reconciler import Reconciler

    pid = await start(engine, "2")
    await engine.happen(pid, hap.Start())
    [pr] = scm.pulls(REPO)
    merged = await scm.merge(REPO, pr.number)  # no webhook reaches prbot
    scm.add_signal(REPO, merged.sha, HealthSignal("status", "ci", "success"))
    reconciler = Reconciler(store, Settings(), interval=60, scm_for=lambda platform: scm)
    job_runner = PromotionJob(engine)
    for _ in range(2):  # the first pass finds the merge, the second the merge's health
        await reconciler.reconcile_once()
        now = engine.clock()
        for job in await store.claim("test", limit=100, lease=60, now=now):
            if job.kind == "promotion.happen":  # as the worker pool would run it
                await job_runner(job)
            await store.complete(job.id, "test", now=now)
    promotion = await engine.happen(pid, hap.Tick())
    assert promotion.stage("dev").status == "succeeded", promotion.stage("dev")
    assert promotion.stage("prod").pr is not None


async def test_only_a_signal_the_stage_requires_wakes_it(
    engine: PromotionEngine, store: SqliteStore, scm: FlakyScm
) -> None:
    """Another tool's status on the merge commit (prbot's own definitions status, a
    linter) does not cost a health read; the required ``ci`` does."""
    from prbot.engine.promotions import health_wakes_promotions
    from prbot.engine.router import Context
    from prbot.events import HealthReported

    pid = await start(engine, "2")
    await engine.happen(pid, hap.Start())
    [pr] = scm.pulls(REPO)
    merged = await scm.merge(REPO, pr.number)
    await engine.happen(pid, hap.PrMerged("dev", pr.number, merged.sha))
    context = Context(store, engine.definitions, lambda platform: scm)

    async def wakes(source: str, name: str) -> list[dict]:
        event = HealthReported(
            platform="github",
            repo=REPO,
            sha=merged.sha,
            context=name,
            state="success",
            source=source,  # type: ignore[arg-type]
        )
        await health_wakes_promotions(event, context)
        jobs = await store.claim("test", limit=100, lease=60, now=engine.clock() + 1)
        for job in jobs:
            await store.complete(job.id, "test", now=engine.clock())
        return [j.payload["check"] for j in jobs if "check" in j.payload]

    assert await wakes("status", "prbot/definitions") == []
    # GitLab's pipeline hook stands for the commit statuses in it
    assert len(await wakes("pipeline", "pipeline")) == 1
    assert await wakes("deployment", "ci") == []  # a deployment named like the check
    assert await wakes("check", "ci") == [{"stage": "dev", "sha": merged.sha, "descendant": False}]
    assert await wakes("status", "ci") == [{"stage": "dev", "sha": merged.sha, "descendant": False}]


async def test_status_comments_are_written_once_per_span_with_the_latest_state(
    store: SqliteStore, scm: FlakyScm
) -> None:
    from prbot.engine.promotions import STATUS_JOB, PromotionStatusJob
    from prbot.pipeline.codec import from_data
    from prbot.pipeline.status import render_status, status_marker

    now = [1000.0]
    definitions = DefinitionsCache(None, lambda platform: scm)
    engine = PromotionEngine(
        store, definitions, lambda platform: scm, clock=lambda: now[0], status_seconds=10
    )
    pid = await start(engine, "2")
    await engine.happen(pid, hap.Start())
    [pr] = scm.pulls(REPO)
    merged = await scm.merge(REPO, pr.number)
    now[0] += 1
    await engine.happen(pid, hap.PrMerged("dev", pr.number, merged.sha))
    assert scm.comments(REPO, pr.number) == []  # nothing written inline

    # two changes inside one span: one job, due at the span's end
    early = await store.claim("test", limit=100, lease=60, now=1009.9)
    assert STATUS_JOB not in [j.kind for j in early]
    jobs = await store.claim("test", limit=100, lease=60, now=1010.0)
    status_jobs = [j for j in jobs if j.kind == STATUS_JOB]
    assert len(status_jobs) == 1
    run = PromotionStatusJob(engine)
    await run(status_jobs[0])
    [comment] = scm.comments(REPO, pr.number)
    promotion = from_data((await store.promotion(pid)).data)
    assert comment.body.startswith(status_marker(str(pid)))
    assert render_status(promotion) in comment.body  # the state at the span's end
    # run again (a retried job): the comment already says it, nothing is written
    written = []
    scm.upsert_comment = lambda *args: written.append(args)  # type: ignore[method-assign]
    await run(status_jobs[0])
    assert written == []


async def test_a_keyed_promotion_is_made_once_even_after_a_crash_halfway(
    engine: PromotionEngine, store: SqliteStore
) -> None:
    """A slash-command's promote, retried: stored before the crash but never filled in
    nor started; the retry fills it in and queues one start."""
    key = "command:github:acme/gitops:77:0"
    made = await store.create_promotion(
        pipeline="app",
        repo=REPO,
        platform="github",
        requested_by="al",
        status="running",
        data={},
        now=1.0,
        request_key=key,
        requested_in="https://forge/c/77",
    )
    for _ in range(2):
        pid, promotion = await engine.create(
            platform="github",
            repo=REPO,
            pipeline=pipeline(),
            inputs={"tag": "2"},
            requested_by="al",
            request_key=key,
            requested_in="https://forge/c/77",
        )
        assert pid == made and promotion.id == str(made)
    row = await store.promotion(made)
    assert row is not None and row.data and row.requested_in == "https://forge/c/77"
    jobs = await store.claim("test", limit=100, lease=60, now=engine.clock() + 1)
    starts = [j for j in jobs if j.payload.get("happening", {}).get("type") == "Start"]
    assert len(starts) == 1 and starts[0].payload["promotion_id"] == made
