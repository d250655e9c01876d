"""The story ``prbot demo`` plays: a platform team's week, told by what prbot does.

The demo plays the people (catalog requests, comments, merges) and the CD tool (statuses
and deployments on merge commits); prbot, running as ``prbot serve``, does everything
else. Every step checks that what should have happened did (the PR exists with the
change asked for, a refusal says why), or the story stops with ``DemoFailure``.

Soaks are hours long: prbot's clock (PRBOT_CLOCK_FILE) is moved past each one, and
the summary's durations are wall-clock seconds on this machine, clock jumps excluded.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from prbot.demo.stack import Stack, content
from prbot.engine.boxed import load_path
from prbot.engine.promotions import spec_from_definition
from prbot.forge.git import changed_paths
from prbot.pipeline.model import PipelineSpec, StageSpec

T = TypeVar("T")
Narrate = Callable[[str], None]
PIPELINE = "myapp"
RELEASE, BAD_RELEASE = "6.7.1", "6.8.0"
WAIT_SECONDS = 60.0
CLUSTERS = (
    {"name": "dev-eu-1", "cloud": "aws", "region": "eu-west-1", "tier": "dev", "nodeCount": 2},
    {"name": "staging-eu-1", "cloud": "aws", "region": "eu-west-1", "tier": "staging"},
    {"name": "prod-eu-1", "cloud": "aws", "region": "eu-central-1", "tier": "prod", "nodeCount": 5},
)
SERVICE = {
    "name": "myapp",
    "url": "https://github.com/example/myapp.git",
    "folder": "charts/myapp",
    "image": "ghcr.io/example/myapp",
    "tag": "6.5.0",
}


class DemoFailure(Exception):
    """A step did not happen as the story tells it."""


@dataclass
class StepResult:
    step: str
    actor: str
    pr_url: str = ""
    seconds: float = 0.0
    scm_requests: int = 0
    outcome: str = ""


@dataclass
class Story:
    stack: Stack
    http: httpx.AsyncClient  # prbot serve's API
    narrate: Narrate
    results: list[StepResult] = field(default_factory=list)

    # -- measuring and waiting ---------------------------------------------------------

    @asynccontextmanager
    async def step(self, name: str, actor: str) -> AsyncIterator[StepResult]:
        """One row of the summary: the wall time and the SCM requests prbot made in it."""
        self.narrate(f"▶ {name}")
        result = StepResult(name, actor)
        started, requests = time.monotonic(), self.stack.scm_requests()
        yield result
        result.seconds = time.monotonic() - started
        result.scm_requests = self.stack.scm_requests() - requests
        self.results.append(result)
        where = f" {result.pr_url}" if result.pr_url else ""
        self.narrate(f"  ✓ {result.outcome}{where} ({result.seconds:.1f} s)")

    async def until(self, probe: Callable[[], Awaitable[T | None]], what: str) -> T:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            found = await probe()
            if found:
                return found
            if self.stack.serve.poll() is not None:
                raise DemoFailure(f"prbot serve stopped while waiting for {what}")
            await asyncio.sleep(0.05)
        raise DemoFailure(f"{what} did not happen within {WAIT_SECONDS:.0f} s")

    # -- prbot's API -------------------------------------------------------------------

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.stack.api_token}"}

    async def promotion(self, pid: int) -> dict[str, Any]:
        answer = await self.http.get(f"/api/promotions/{pid}", headers=self.auth)
        answer.raise_for_status()
        return answer.json()["promotion"]

    async def catalog_run(self, automation: str, inputs: dict[str, Any], who: str) -> Any:
        """Ask for a run as the catalog's form does (the same checks, the same queue);
        the PR it opened, on the forge."""
        body = {
            "automation": automation,
            "repo": self.stack.repo,
            "platform": self.stack.platform,
            "inputs": inputs,
            "requested_by": who,
        }
        answer = await self.http.post("/api/runs", json=body, headers=self.auth)
        if answer.status_code != 201:
            raise DemoFailure(f"the catalog refused {automation}: {answer.text[:500]}")
        run_id = answer.json()["run"]["id"]

        async def finished() -> dict[str, Any] | None:
            run = (await self.http.get(f"/api/runs/{run_id}", headers=self.auth)).json()["run"]
            return run if run["status"] not in ("queued", "running") else None

        run = await self.until(finished, f"run {run_id} of {automation}")
        if run["status"] != "pr_open":
            raise DemoFailure(f"run {run_id} of {automation} ended {run['status']}: {run['error']}")
        pr = self.stack.forge.pull_request(self.stack.repo, run["pr_number"])
        if f"@{who}" not in pr.body:
            raise DemoFailure(f"{self.stack.pr(pr.number)} does not name who asked ({who})")
        return run["pr_url"], pr

    async def changed_files(self, pr: Any) -> set[str]:
        """The paths a PR changes, read from git on the forge."""
        git_dir = self.stack.forge.git_dir(self.stack.repo)
        found = await asyncio.to_thread(changed_paths, git_dir, pr.base_sha, pr.head_sha)
        return {path for _status, path in found}

    async def text_on_main(self, path: str) -> str:
        found = await self.stack.forge.read_file(self.stack.repo, "main", path)
        return found[1].decode() if found else ""

    # -- the people and the CD tool ----------------------------------------------------

    async def comment(self, number: int, body: str, author: str) -> int:
        return (await self.stack.forge.add_comment(self.stack.repo, number, body, author=author)).id

    async def reply_to(self, number: int, comment_id: int) -> str:
        """prbot's final answer to a command comment (after its 🚀 or 😕)."""
        forge, repo, mark = self.stack.forge, self.stack.repo, f"prbot:command:{comment_id}"

        async def answered() -> str | None:
            reactions = {r.content for r in forge.comment(repo, comment_id).reactions}
            replies = [c.body for c in forge.comments(repo, number) if mark in c.body]
            return replies[-1] if replies and reactions & {"rocket", "confused"} else None

        return await self.until(answered, f"prbot's reply to comment {comment_id}")

    async def merge(self, number: int, who: str) -> str:
        merged = await self.stack.forge.merge_pull_request(self.stack.repo, number, actor=who)
        return merged.merge_commit_sha or ""

    async def report(self, sha: str, stage: StageSpec, state: str = "success") -> None:
        """What Flux and the end-to-end tests post on a merge commit once deployed."""
        forge, repo = self.stack.forge, self.stack.repo
        for check in stage.health.checks:
            await forge.post_status(repo, sha, state, creator="flux", context=check)
        if stage.health.deployment and state == "success":
            deployment = await forge.create_deployment(
                repo, sha, creator="flux", environment=stage.health.deployment,
                production_environment=stage.name == "prod",
            )  # fmt: skip
            await forge.post_deployment_status(repo, deployment.id, "success", creator="flux")


# -- the steps -------------------------------------------------------------------------


def the_pipeline() -> PipelineSpec:
    found = load_path(str(content("automations")))
    return spec_from_definition(found.pipelines[PIPELINE])


async def create_clusters(story: Story) -> None:
    engineer = story.stack.people.engineer
    for inputs in CLUSTERS:
        name = inputs["name"]
        async with story.step(f"Create cluster {name} from the catalog", engineer) as row:
            url, pr = await story.catalog_run("cluster-create", inputs, engineer)
            wanted = {
                f"services/clusters/aws/{kind}/{name}.yaml" for kind in ("clusters", "stacks")
            }
            changed = await story.changed_files(pr)
            if changed != wanted:
                raise DemoFailure(f"{story.stack.pr(pr.number)} changes {sorted(changed)}")
            await story.merge(pr.number, engineer)
            row.pr_url, row.outcome = url, f"{story.stack.pr(pr.number)} opened and merged"


async def create_service(story: Story) -> int:
    developer = story.stack.people.developer
    async with story.step("Create service myapp from the catalog", developer) as row:
        url, pr = await story.catalog_run("service-create", SERVICE, developer)
        overlays = {
            f"bootstrap/services/myapp-{env}.yaml" for env in ("base", "dev", "staging", "prod")
        }
        changed = await story.changed_files(pr)
        if changed != overlays | {"bootstrap/repositories/myapp.yaml"}:
            raise DemoFailure(f"{story.stack.pr(pr.number)} changes {sorted(changed)}")
        await story.merge(pr.number, developer)
        row.pr_url, row.outcome = url, f"{story.stack.pr(pr.number)} opened and merged (5 files)"
    return pr.number


async def ask_for_promotion(story: Story, on_pr: int, tag: str) -> int:
    developer = story.stack.people.developer
    command = f"/prbot promote {PIPELINE} tag={tag}"
    async with story.step(f"Comment `{command}`", developer) as row:
        asked = await story.comment(on_pr, command, developer)
        reply = await story.reply_to(on_pr, asked)
        found = re.search(r"started promotion (\d+)", reply)
        if found is None:
            raise DemoFailure(f"the promote command was not started: {reply[:300]}")
        pid = int(found.group(1))
        row.outcome = f"promotion {pid} started (reply on {story.stack.pr(on_pr)})"
    return pid


async def stage_pr(story: Story, pid: int, index: int) -> dict[str, Any]:
    async def opened() -> dict[str, Any] | None:
        return (await story.promotion(pid))["stages"][index]["pr"]

    return await story.until(opened, f"the PR of stage {index + 1} of promotion {pid}")


async def stage_status(story: Story, pid: int, index: int, *statuses: str) -> None:
    async def reached() -> bool:
        return (await story.promotion(pid))["stages"][index]["status"] in statuses

    await story.until(reached, f"stage {index + 1} of promotion {pid} to be {'/'.join(statuses)}")


async def healthy_stage(story: Story, pid: int, index: int, stage: StageSpec, who: str) -> None:
    """The stage's PR opened by prbot: merged, deployed and reported healthy, soaked."""
    async with story.step(f"{stage.name}: prbot opens the PR; merge, deploy, soak", who) as row:
        pr = await stage_pr(story, pid, index)
        sha = await story.merge(pr["number"], who)
        await stage_status(story, pid, index, "merged", "verifying")
        await story.report(sha, stage)
        await stage_status(story, pid, index, "soaking")
        story.stack.clock.advance(stage.health.soak_seconds + 1)
        await stage_status(story, pid, index, "succeeded")
        row.pr_url = pr["url"]
        soak = stage.health.soak_seconds // 60
        row.outcome = (
            f"{story.stack.pr(pr['number'])} merged, healthy, soaked {soak} min (clock moved)"
        )


async def approvals(story: Story, pid: int, index: int, on_pr: int) -> None:
    """Prod waits at its gates: the outsider's approval is refused, the approver's taken."""
    people = story.stack.people

    async def waiting() -> bool:
        return (await story.promotion(pid))["status"] == "waiting"

    await story.until(waiting, "prod to wait at its approval gate")
    async with story.step("`/approve` by someone the gate does not list", people.outsider) as row:
        asked = await story.comment(on_pr, "/approve", people.outsider)
        reply = await story.reply_to(on_pr, asked)
        if "not permitted" not in reply or (await story.promotion(pid))["stages"][index]["pr"]:
            raise DemoFailure(f"the outsider's approval was not refused: {reply[:300]}")
        reason = next((line for line in reply.splitlines() if "not permitted" in line), reply)
        row.outcome = "refused: " + reason.lstrip("-❌*_ ").replace("`", "")[:110]
    async with story.step("`/approve` by a member of team platform", people.approver) as row:
        asked = await story.comment(on_pr, "/approve", people.approver)
        reply = await story.reply_to(on_pr, asked)
        if "is approved" not in reply:
            raise DemoFailure(f"the approval was not taken: {reply[:300]}")
        row.outcome = f"approved; prod's gate passed (reply on {story.stack.pr(on_pr)})"


async def first_release(story: Story, service_pr: int, pipeline: PipelineSpec) -> None:
    people = story.stack.people
    pid = await ask_for_promotion(story, service_pr, RELEASE)
    staging_pr = 0
    for index, stage in enumerate(pipeline.stages):
        if stage.gates:
            await approvals(story, pid, index, staging_pr)
        who = people.engineer if stage.name == "prod" else people.developer
        await healthy_stage(story, pid, index, stage, who)
        staging_pr = (await story.promotion(pid))["stages"][index]["pr"]["number"]
    done = await story.promotion(pid)
    if done["status"] != "succeeded":
        raise DemoFailure(f"promotion {pid} ended {done['status']}: {done['reason']}")
    for stage in pipeline.stages:
        overlay = await story.text_on_main(f"bootstrap/services/myapp-{stage.name}.yaml")
        if f'tag: "{RELEASE}"' not in overlay:
            raise DemoFailure(f"{stage.name}'s overlay on main does not hold {RELEASE}")


async def failing_release(story: Story, service_pr: int, pipeline: PipelineSpec) -> None:
    people = story.stack.people
    pid = await ask_for_promotion(story, service_pr, BAD_RELEASE)
    await healthy_stage(story, pid, 0, pipeline.stages[0], people.developer)
    staging = pipeline.stages[1]
    async with story.step(
        "staging: e2e/smoke fails; prbot opens the revert PR", people.developer
    ) as row:
        pr = await stage_pr(story, pid, 1)
        sha = await story.merge(pr["number"], people.developer)
        await stage_status(story, pid, 1, "merged", "verifying")
        await story.report(sha, staging, state="failure")
        head = f"prbot/revert/{PIPELINE}/{pid}/{staging.name}"

        async def revert() -> Any:
            found = story.stack.forge.pull_requests(story.stack.repo, state="open", head=head)
            return found[0] if found else None

        opened = await story.until(revert, "the revert PR")
        files = await story.changed_files(opened)
        if files != {f"bootstrap/services/myapp-{staging.name}.yaml"}:
            raise DemoFailure(f"the revert PR changes {sorted(files)}")
        done = await story.promotion(pid)
        row.pr_url = web_url(story, opened.number)
        row.outcome = (
            f"revert {story.stack.pr(opened.number)} opened by prbot; promotion {done['status']}"
        )


def web_url(story: Story, number: int) -> str:
    base = f"{story.stack.forge_server.url}/{story.stack.repo}"
    if story.stack.platform == "gitlab":
        return f"{base}/-/merge_requests/{number}"
    return f"{base}/pull/{number}"


async def play(story: Story) -> None:
    pipeline = the_pipeline()
    story.narrate("1. A platform engineer creates clusters for dev, staging and prod")
    await create_clusters(story)
    story.narrate("2. A developer creates a service from the catalog")
    service_pr = await create_service(story)
    story.narrate(f"3. The developer promotes myapp {RELEASE} with a comment")
    await first_release(story, service_pr, pipeline)
    story.narrate(f"4. Release {BAD_RELEASE} fails its staging check")
    await failing_release(story, service_pr, pipeline)
