"""Slash-commands carried out by the engine, over a real SQLite store and the memory SCM:
the router queues one job per comment (none for bots, edits of prbot's own comments or
comments without a command); the job reacts, checks the commenter's permission as the
SCM says it, carries each command out and writes one reply; a retried job makes nothing
twice; replies quote nothing typed but names, and never a password."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from prbot.commands.registry import BY_NAME
from prbot.engine.commands import HANDLERS, JOB, comment_key, router
from prbot.engine.commands.job import FOLLOW_UP, CommandJob
from prbot.engine.commands.reply import literal, unechoed
from prbot.engine.definitions import DefinitionsCache
from prbot.engine.repo_config import parse_repo_config
from prbot.engine.router import Context
from prbot.events import CommentCreated
from prbot.pipeline.codec import from_data
from prbot.scm.port import HealthSignal, Permission, PullRequestDraft
from prbot.settings import Settings
from prbot.store.base import Job
from prbot.store.sqlite import SqliteStore
from prbot.worker.handlers import build_handlers
from tests.support.memory_scm import MemoryScm

REPO = "acme/gitops"
OTHER = "acme/other"
BUMP = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: bump}
spec:
  title: "Bump {{ context.env }} to {{ context.tag }}"
  message: "Sets {{ context.env }} to {{ context.tag }}."
  configuration:
    - {name: env, type: enum, values: [dev, prod]}
    - name: tag
      type: string
      validation: {regex: "^[0-9.]+$"}
    - {name: token, type: password, optional: true}
  updates:
    yamlEdits:
      - {file: "envs/{{ context.env }}.yaml", path: tag, value: "{{ context.tag }}"}
"""
APP = """\
apiVersion: prbot.dev/v1alpha1
kind: Pipeline
metadata: {name: app}
spec:
  stages:
    - {name: dev, automation: bump, context: {env: dev}, health: {checks: [ci]}}
    - name: prod
      automation: bump
      context: {env: prod}
      gates: [{approval: {teams: [platform]}}]
      health: {checks: [ci]}
"""
FILES = {
    "envs/dev.yaml": "tag: '1'\n",
    "envs/prod.yaml": "tag: '1'\n",
    ".prbot/bump.yaml": BUMP,
    ".prbot/app.yaml": APP,
}
PEOPLE: dict[str, Permission] = {
    "alice": "write",
    "rita": "read",
    "tess": "triage",
    "mike": "maintain",
    "erin": "read",  # in team platform
}


class CountingScm(MemoryScm):
    permission_reads = 0

    async def permission(self, repo: str, user: str) -> Permission:
        self.permission_reads += 1
        return await super().permission(repo, user)


class Clock:
    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    store: SqliteStore
    scm: CountingScm
    clock: Clock
    handlers: dict[str, Any]
    pr: int  # an ordinary PR to comment on
    ran: list[str] = field(default_factory=list)  # the kinds of the jobs run, in order
    started: CommentCreated | None = None  # the comment that started the last promotion

    async def comment(
        self, body: str, *, author: str = "alice", number: int | None = None, **fields: Any
    ) -> CommentCreated:
        """Comment as ``author`` and deliver the event, as the intake would."""
        number = self.pr if number is None else number
        comment_id = self.scm.add_comment(REPO, number, body, author=author)
        event = CommentCreated(
            platform="github",
            repo=REPO,
            number=number,
            comment_id=comment_id,
            author=author,
            body=body,
            url=f"https://scm.memory.test/{REPO}/pull/{number}#issuecomment-{comment_id}",
            **fields,
        )
        await router.dispatch(event, self.context)
        return event

    @property
    def context(self) -> Context:
        """The router's context, as the ``event`` job's (on this world's clock)."""
        return self.handlers["event"].context

    def scm_for(self, platform: str) -> CountingScm:
        return self.scm

    async def work(self, *, kinds: tuple[str, ...] | None = None) -> None:
        """Run every job due now (and what they queue), like a worker pool."""
        while True:
            claimed = await self.store.claim("w", limit=100, lease=60, now=self.clock.now)
            jobs = [j for j in claimed if kinds is None or j.kind in kinds]
            for job in claimed:
                if job not in jobs:  # another kind's: back to the queue, for later
                    await self.store.fail(
                        job.id, "w", error="", retry_at=self.clock.now, now=self.clock.now
                    )
            if not jobs:
                return
            for job in jobs:
                self.ran.append(job.kind)
                await self.handlers[job.kind](job)
                await self.store.complete(job.id, "w", now=self.clock.now)

    def reply(self, event: CommentCreated) -> str:
        [reply] = [
            c.body
            for c in self.scm.comments(REPO, event.number)
            if f"prbot:command:{event.comment_id}" in c.body
        ]
        return reply

    def reactions(self, event: CommentCreated) -> list[str]:
        return self.scm.reactions(REPO, event.comment_id)

    async def command_jobs(self) -> list[Job]:
        return [j for j in await self.store.jobs(limit=1000) if j.kind == JOB]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(str(tmp_path / "prbot.db"))
    await s.open()
    yield s
    await s.close()


async def world_of(
    store: SqliteStore, files: dict[str, str] | None = None, **settings: Any
) -> World:
    scm = CountingScm({REPO: {**FILES, **(files or {})}, OTHER: {"x": "1"}})
    for user, level in PEOPLE.items():
        scm.set_permission(REPO, user, level)
    scm.set_permission(OTHER, "alice", "admin")
    scm.set_team_member("acme/platform", "erin")
    scm.push(REPO, "feature", {"README.md": "hi\n"})
    pr = await scm.open_pull_request(
        REPO, PullRequestDraft(head="feature", base="main", title="A change", body="")
    )
    clock = Clock()
    definitions = DefinitionsCache(None, lambda platform: scm, clock=clock)
    handlers = build_handlers(
        Settings(**settings), store, definitions, scm_for=lambda platform: scm, clock=clock
    )
    return World(store, scm, clock, handlers, pr.number)


@pytest.fixture
async def world(store: SqliteStore) -> World:
    return await world_of(store)


# -- the router ---------------------------------------------------------------------------


def test_every_verb_of_the_registry_has_a_handler() -> None:
    assert set(HANDLERS) == set(BY_NAME)


async def test_only_new_comments_with_commands_by_people_on_prs_queue_a_job(
    world: World,
) -> None:
    await world.comment("just words\n> /prbot help (quoted)")
    await world.comment("/prbot help", author_is_bot=True)
    await world.comment("/prbot help", on_pull_request=False)
    await world.comment("**prbot** · /prbot help\n<!-- prbot:command:1 -->")
    assert await world.command_jobs() == []
    event = await world.comment("/prbot help")
    await router.dispatch(event, world.context)  # the same comment again: a redelivery
    [job] = await world.command_jobs()
    assert job.dedupe_key == comment_key(event) == f"command:github:{REPO}:{event.comment_id}"


# -- help, and what a reply may say ---------------------------------------------------------


async def test_help_replies_with_the_commands_and_reacts(world: World) -> None:
    event = await world.comment("/prbot help")
    await world.work()
    reply = world.reply(event)
    assert "**prbot** · commands of @alice" in reply
    assert "| `/prbot run <automation> [key=value]... [--repo OWNER/NAME]` |" in reply
    assert world.reactions(event) == ["eyes", "rocket"]
    assert world.scm.permission_reads == 0  # open to anyone: nobody's permission is read


async def test_problems_are_listed_and_nothing_typed_is_quoted_but_names(world: World) -> None:
    event = await world.comment(
        "/prbot frobnicate\n/prbot run bump env=dev tag=1.2 @acme/everyone\n"
        "/prbot run bump env=dev tag=bad<x> token=hunter2\n/prbot help nope@all"
    )
    await world.work()
    reply = world.reply(event)
    lines = [line for line in reply.splitlines() if line.startswith("- ")]
    assert len(lines) == 4 and all(line.startswith("- ❌") for line in lines)
    assert "unknown command" in lines[0] and "/prbot help lists them" in lines[0]
    assert "usage: " in lines[1]
    # the password input is refused, and neither it nor the bad tag is repeated
    assert "`inputs.token` is a password input: refused, since comments are public" in lines[2]
    assert "`inputs.tag` must match the pattern" in lines[2]
    assert "hunter2" not in reply and "bad" not in reply
    assert "@acme/everyone" not in reply and "@all" not in reply  # no mention by prbot
    assert "(that name)" in lines[3]
    assert world.reactions(event) == ["eyes", "confused"]
    assert await world.store.runs() == []


def test_a_checks_message_loses_the_value_it_quotes() -> None:
    assert unechoed("must be one of dev, prod, got 'prdo' (did you mean 'prod'?)") == (
        "must be one of dev, prod (did you mean 'prod'?)"
    )
    assert unechoed('must be an integer, got "x, got y"') == "must be an integer"
    assert literal("<!-- prbot:x --> **b** @team\nnext") == (
        "&lt;\\!-- prbot:x --&gt; \\*\\*b\\*\\* @\u200bteam next"
    )


# -- run ------------------------------------------------------------------------------------


def test_a_runs_line_follows_the_run() -> None:
    from prbot.engine.commands.reply import run_line
    from prbot.store.base import Run

    run = Run(1, "bump", REPO, "github", "alice", {}, "queued")
    assert run_line(run) == "run 1 of `bump` is queued; its PR is linked here once it opens"
    opened = run_line(replace(run, status="merged", pr_number=4, pr_url="https://x.test/4"))
    assert opened == "run 1 of `bump` opened [#4](https://x.test/4) (merged)"
    assert run_line(replace(run, status="no_change")) == (
        "run 1 of `bump`: nothing to change, `acme/gitops` has it already"
    )
    failed = run_line(replace(run, status="failed", error="RenderError: @team *boom*"))
    assert failed == "run 1 of `bump` failed: RenderError: @\u200bteam \\*boom\\*"


async def test_run_opens_the_pr_and_the_reply_follows_it(world: World) -> None:
    event = await world.comment("/prbot run bump env=dev tag=1.2.3")
    await world.work(kinds=(JOB,))
    [run] = await world.store.runs()
    assert (run.requested_by, run.inputs, run.requested_in) == (
        "alice",
        {"env": "dev", "tag": "1.2.3"},
        event.url,
    )
    assert run.request_key == f"{comment_key(event)}:0"
    assert "run 1 of `bump` is queued; its PR is linked here once it opens" in world.reply(event)
    assert world.reactions(event) == ["eyes", "rocket"]

    await world.work()  # the run opens its PR; the reply's edit is due in a second
    world.clock.now += FOLLOW_UP[0]
    await world.work()
    [pr] = world.scm.pulls(REPO, head="prbot/bump") or world.scm.pulls(REPO)[:1]
    assert f"run 1 of `bump` opened [#{pr.number}]" in world.reply(event)
    assert pr.body.endswith(f"Requested by @alice in [a comment]({event.url}) (run 1).")
    [audit] = [e for e in await world.store.audit_log() if e.action == "run_requested"]
    assert (audit.actor, audit.detail["via"], audit.detail["comment"]) == (
        "alice",
        "comment",
        event.url,
    )


async def test_a_retried_job_makes_nothing_twice(world: World) -> None:
    pid = await start_promotion(world)
    event = await world.comment(
        f"/prbot run bump env=dev tag=1.2.3\n/prbot promote app tag=2.0.0\n"
        f"/prbot hold --promotion {pid}"
    )
    job = (await world.command_jobs())[0]  # newest first
    assert job.payload["event"]["comment_id"] == event.comment_id
    await world.handlers[JOB](job)
    first = world.reply(event)
    await world.work(kinds=("promotion.happen",))  # the hold is carried out: now held
    # the worker crashed before it could mark the job done: it runs again
    await world.handlers[JOB](job)
    again = world.reply(event)
    # the same outcomes; the new promotion's line shows its PR, opened meanwhile
    assert again.splitlines()[2] == first.splitlines()[2]  # the run
    assert again.splitlines()[4] == first.splitlines()[4]  # the hold
    assert "started promotion 2 of `app`" in again.splitlines()[3]
    assert f"promotion {pid} of `app` will be held" in again
    assert len(await world.store.runs()) == 1
    assert len(await world.store.promotions()) == 2
    jobs = await world.store.jobs(limit=1000)
    assert [j.kind for j in jobs].count("automation.run") == 1
    mine = f"prbot:command:{event.comment_id}"
    assert len([c for c in world.scm.comments(REPO, world.pr) if mine in c.body]) == 1
    assert world.reactions(event) == ["eyes", "rocket"]
    audit = [e for e in await world.store.audit_log() if e.action == "run_requested"]
    assert len(audit) == 1


async def test_run_needs_write_and_says_what_it_needs(world: World) -> None:
    event = await world.comment("/prbot run bump env=dev tag=1.2.3", author="rita")
    await world.work()
    assert "not permitted: it needs write or more on `acme/gitops`; @rita has read" in (
        world.reply(event)
    )
    assert await world.store.runs() == []


async def test_run_in_another_repository_needs_write_there_too(world: World) -> None:
    event = await world.comment(
        "/prbot run bump env=dev tag=1 --repo acme/other\n/prbot run nope --repo acme/other"
    )
    await world.work(kinds=(JOB,))
    reply = world.reply(event)
    assert "no automation `bump` for `acme/other`" in reply  # bump is acme/gitops's own
    assert "no automation `nope`" in reply
    world.scm.set_permission(OTHER, "tess", "admin")
    event = await world.comment("/prbot run bump env=dev tag=1 --repo acme/other", author="tess")
    await world.work(kinds=(JOB,))
    assert "not permitted: it needs write or more on `acme/gitops`" in world.reply(event)


async def test_one_permission_read_per_comment_and_minute(world: World) -> None:
    await world.comment("/prbot run bump env=dev tag=1\n/prbot run bump env=prod tag=1")
    await world.comment("/prbot run bump env=dev tag=2")
    await world.work(kinds=(JOB,))
    assert world.scm.permission_reads == 1


# -- promote and the promotion verbs -------------------------------------------------------


async def start_promotion(world: World, tag: str = "2.0.0") -> int:
    """A promotion of ``app`` started by a comment, its dev PR opened."""
    event = await world.comment(f"/prbot promote app tag={tag}")
    await world.work()
    row = await world.store.promotion_by_key(f"{comment_key(event)}:0")
    assert row is not None
    assert f"started promotion {row.id} of `app`" in world.reply(event)
    world.started = event
    return row.id


async def stage_pr(world: World, pid: int, index: int) -> int:
    row = await world.store.promotion(pid)
    assert row is not None
    pr = from_data(row.data).stages[index].pr
    assert pr is not None
    return pr.number


async def test_promote_records_the_commenter_and_links_the_first_pr(world: World) -> None:
    pid = await start_promotion(world)
    assert world.started is not None
    row = await world.store.promotion(pid)
    assert row is not None
    assert (row.requested_by, row.requested_in) == ("alice", world.started.url)
    assert "running" in world.reply(world.started)
    world.clock.now += FOLLOW_UP[0]
    await world.work()
    number = await stage_pr(world, pid, 0)
    assert f"now running, PRs: dev [#{number}]" in world.reply(world.started)
    # the stage PR's body says who asked, and links the comment
    [pr] = [p for p in world.scm.pulls(REPO, state=None) if p.number == number]
    assert f"Requested by @alice in [a comment]({world.started.url}) (promotion {pid})." in (
        pr.body
    )


async def test_promotion_verbs_on_a_stage_pr_act_on_its_promotion(world: World) -> None:
    pid = await start_promotion(world)
    dev = await stage_pr(world, pid, 0)
    event = await world.comment("/hold\n/prbot status", number=dev)
    await world.work()
    reply = world.reply(event)
    assert f"promotion {pid} of `app` will be held" in reply
    assert f"promotion {pid} of `app` is running (dev pr_open [#{dev}]" in reply  # as asked
    row = await world.store.promotion(pid)
    assert row is not None and from_data(row.data).status == "held"
    event = await world.comment("/hold\n/resume\n/retry\n/cancel", number=dev)
    await world.work()
    reply = world.reply(event)
    assert f"refused: promotion {pid} is already held" in reply
    assert f"promotion {pid} of `app` will resume" in reply
    assert "refused: stage dev is pr\\_open; only a failed stage can be retried" in reply
    assert f"promotion {pid} of `app` will be cancelled" in reply
    row = await world.store.promotion(pid)
    assert row is not None and from_data(row.data).status == "cancelled"


async def test_promotion_verbs_elsewhere_need_the_promotion_of_this_repository(
    world: World,
) -> None:
    pid = await start_promotion(world)
    other = await world.store.create_promotion(
        pipeline="app", repo=OTHER, platform="github", requested_by="x", status="running",
        data={}, now=1.0,
    )  # fmt: skip
    event = await world.comment(
        f"/cancel\n/cancel --promotion {other}\n/cancel --promotion x1\n/prbot status"
    )
    await world.work(kinds=(JOB,))
    reply = world.reply(event)
    assert "this is not a stage PR of a promotion: name one with --promotion ID" in reply
    assert f"no promotion {other} in this repository" in reply
    assert "--promotion needs a promotion's id (a number)" in reply
    assert f"under way here: promotion {pid} of `app` is running" in reply


async def test_rollback_of_a_merged_stage_opens_a_revert_pr(world: World) -> None:
    pid = await start_promotion(world)
    dev = await stage_pr(world, pid, 0)
    merged = await world.scm.merge(REPO, dev)
    assert merged.sha
    await world.store.enqueue(
        [happen(pid, "PrMerged", stage="dev", number=dev, merge_sha=merged.sha)],
        now=world.clock.now,
    )
    await world.work()
    event = await world.comment("/rollback", number=dev, author="alice")
    await world.work()
    assert "not permitted: it needs maintain or more" in world.reply(event)
    event = await world.comment("/rollback", number=dev, author="mike")
    await world.work()
    assert f"promotion {pid} of `app` will be rolled back" in world.reply(event)
    [revert] = [p for p in world.scm.pulls(REPO) if p.head.startswith("prbot/revert/")]
    assert revert.title.startswith("Revert app dev")


def happen(pid: int, kind: str, **fields: Any) -> Any:
    from prbot.engine.promotions import happen_job
    from prbot.pipeline import happenings as hap

    return happen_job(pid, getattr(hap, kind)(**fields))


async def waiting_at_prod(world: World) -> tuple[int, int]:
    """A promotion whose dev stage succeeded: prod waits for team platform's approval."""
    pid = await start_promotion(world)
    dev = await stage_pr(world, pid, 0)
    merged = await world.scm.merge(REPO, dev)
    assert merged.sha
    world.scm.add_signal(REPO, merged.sha, HealthSignal("status", "ci", "success"))
    await world.store.enqueue(
        [happen(pid, "PrMerged", stage="dev", number=dev, merge_sha=merged.sha)],
        now=world.clock.now,
    )
    await world.work()
    row = await world.store.promotion(pid)
    assert row is not None and from_data(row.data).status == "waiting"
    return pid, dev


async def test_approve_is_for_the_gates_approvers(world: World) -> None:
    pid, dev = await waiting_at_prod(world)
    event = await world.comment(f"/approve --promotion {pid}", author="alice")
    await world.work()
    assert "not permitted: it needs to be listed by the gate (or maintain); @alice has write" in (
        world.reply(event)
    )
    event = await world.comment("/approve prod", author="mike", number=dev)
    await world.work()
    assert "refused: mike is not an approver of stage prod" in world.reply(event)
    event = await world.comment("/approve", author="erin", number=dev)  # read, in the team
    await world.work()
    assert f"promotion {pid} of `app` is approved at stage prod" in world.reply(event)
    row = await world.store.promotion(pid)
    assert row is not None
    assert [a.by for a in from_data(row.data).stages[1].approvals] == ["erin"]
    [prod] = [p for p in world.scm.pulls(REPO) if p.head.endswith(f"/{pid}/prod")]
    assert prod.state == "open"


# -- who may: the settings --------------------------------------------------------------------


async def test_the_repositorys_settings_and_the_deployments_decide(store: SqliteStore) -> None:
    config = "commands:\n  permissions:\n    run: maintain\n    rollback: write\n"
    world = await world_of(
        store,
        {".prbot/config.yaml": config},
        command_permissions={"rollback": "admin", "hold": "maintain"},
    )
    event = await world.comment(
        "/prbot run bump env=dev tag=1\n/rollback --promotion 7\n/hold --promotion 7",
        author="mike",
    )
    await world.work(kinds=(JOB,))
    reply = world.reply(event)
    # the repository raised run to maintain: mike may; rollback: the deployment's admin is
    # stricter than the repository's write; hold: the deployment's maintain
    assert "run 1 of `bump`" in reply
    assert "`rollback`: not permitted: it needs admin or more" in reply
    assert "`hold`: no promotion 7 in this repository" in reply
    event = await world.comment("/prbot run bump env=dev tag=1", author="alice")
    await world.work(kinds=(JOB,))
    assert "not permitted: it needs maintain or more" in world.reply(event)
    # the settings file is no definition, and no broken one
    entry = await world.context.definitions.repo_definitions("github", REPO)
    assert entry.problems == [] and set(entry.definitions.pipelines) == {"app"}


async def test_broken_settings_refuse_what_needs_a_permission(store: SqliteStore) -> None:
    world = await world_of(
        store, {".prbot/config.yaml": "commands:\n  permissions:\n    run: god\n"}
    )
    event = await world.comment("/prbot run bump env=dev tag=1\n/prbot help")
    await world.work(kinds=(JOB,))
    reply = world.reply(event)
    assert "`run`: not carried out: the repository's settings cannot be read" in reply
    assert "is not one of none, read, triage, write, maintain, admin" in reply
    assert "- ✅ `help`" in reply
    entry = await world.context.definitions.repo_definitions("github", REPO)
    assert any("config.yaml" in str(p) for p in entry.problems)


@pytest.mark.parametrize(
    ("text", "permissions", "problem"),
    [
        ("", {}, None),
        ("commands:\n  permissions: {run: admin}\n", {"run": "admin"}, None),
        ("comands: {}\n", {}, "unknown setting (did you mean 'commands'?)"),
        ("commands:\n  permissions: {hold: read}\n", {}, "hold: needs at least triage"),
        ("commands:\n  permissions: {approve: admin}\n", {}, "approve is decided by the gate"),
        ("- a\n", {}, "must be one mapping"),
        ("a: [\n", {}, "invalid YAML"),
    ],
)
def test_the_repository_settings_file(
    text: str, permissions: dict[str, str], problem: str | None
) -> None:
    config, problems = parse_repo_config(text.encode(), ".prbot/config.yaml")
    assert dict(config.command_permissions) == permissions
    if problem is None:
        assert problems == [] and config.broken == ""
    else:
        assert problem in " ".join(map(str, problems))


# -- a job that cannot get through --------------------------------------------------------------


async def test_a_dead_job_says_so_in_the_reply(world: World) -> None:
    event = await world.comment("/prbot help")
    [job] = await world.command_jobs()
    await world.handlers[JOB].on_dead(job, "ScmUnavailable: the forge went away")
    assert "prbot could not carry these out: ScmUnavailable: the forge went away" in (
        world.reply(event)
    )
    assert world.reactions(event) == ["confused"]
    assert isinstance(world.handlers[JOB], CommandJob)


async def test_promote_checks_the_inputs_as_each_stage_will_use_them(world: World) -> None:
    """The same checks as POST /api/promotions: a missing input, and one no stage takes."""
    event = await world.comment("/prbot promote app\n/prbot promote app tag=2.0.0 tga=2")
    await world.work()
    reply = world.reply(event)
    assert "- ❌ `promote`: `inputs.tag` is required" in reply, reply
    assert "`inputs.tga` no stage of app takes 'tga' (did you mean 'tag'?)" in reply, reply
    assert await world.store.promotions(repo=REPO) == []
