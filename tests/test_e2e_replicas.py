"""Three ``prbot serve`` replicas on one PostgreSQL database, every part real: the forge
with real git, signed webhooks, the processes, the server.

1,000 signed ``issue_comment`` deliveries (800 ``/prbot help`` comments, and 200 of them
again with their delivery id: redeliveries) go round-robin to the replicas while three
promotions move through their stages. One replica is SIGKILLed while it holds jobs; the
other two take them over once their lease runs out. In the end every comment was handled
exactly once, counted on the forge (one reply, one 👀 and one 🚀 each), every delivery is
stored once, no job is left or dead, and each promotion succeeded with one PR per stage.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from prbot.forge.git import Change
from prbot.forge.webhooks import github_signature
from tests.support.forge import ForgeRepo
from tests.support.postgres import PostgresServer, postgres_server_fixture  # noqa: F401
from tests.support.promotions import BUMP, CHECK, STAGES, PromotionsApi
from tests.support.serve import ServeProcess, children_of, free_port, serve_process
from tests.support.waiting import wait_for

REPO = "acme/gitops"
TOKEN = "replicas-forge-token-5678"
SECRET = "replicas-webhook-secret-1234"
API_TOKEN = "replicas-internal-api-token"
DEVELOPER = "alice"
COMMENTS, REDELIVERED = 800, 200
# the comments are spread over PRs: a reply is found again by listing its PR's comments,
# which on one PR with all of them would be pages of requests per command
PRS = 40
PIPELINES = ("alpha", "beta", "gamma")
LEASE_SECONDS = "2"
SLOW = {"timeout": 60.0, "every": 0.2}


def pipeline(name: str) -> str:
    """Three stages, each bumping a file of this pipeline's own (merges never conflict)."""
    stages = "".join(
        f"    - {{name: {env}, automation: bump, context: {{env: {name}-{env}}}, "
        f"health: {{checks: [{CHECK}], soak: 0s, timeout: 10m}}}}\n"
        for env in STAGES
    )
    return (
        "apiVersion: prbot.dev/v1alpha1\nkind: Pipeline\n"
        f"metadata: {{name: {name}}}\nspec:\n  stages:\n{stages}"
    )


@pytest.fixture
def forge_files() -> dict[str, str]:
    files = {
        f"envs/{p}-{env}.yaml": "image:\n  tag: '1.0.0' # bumped\n"
        for p in PIPELINES
        for env in STAGES
    }
    files[".prbot/bump.yaml"] = BUMP
    files.update({f".prbot/{p}.yaml": pipeline(p) for p in PIPELINES})
    return files


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN, "permissions": {DEVELOPER: "write"}}


def replica_env(forge_repo: ForgeRepo, tmp_path: Path, database_url: str) -> dict[str, str]:
    automations = tmp_path / "no-deployment-automations"
    automations.mkdir(exist_ok=True)
    return {
        "WEBHOOK_SECRET": SECRET,
        "GITHUB_TOKEN": forge_repo.token,
        "GHE_HOST": f"127.0.0.1:{forge_repo.server.port}",
        "GHE_PROTOCOL": "http",
        "PRBOT_DATABASE_URL": database_url,
        "PRBOT_AUTOMATIONS_DIR": str(automations),
        "PRBOT_API_TOKEN": API_TOKEN,
        # a killed replica's jobs are retaken after this; short, so the test is too
        "PRBOT_LEASE_SECONDS": LEASE_SECONDS,
        "PRBOT_RECONCILE_SECONDS": "2",  # one leader among the three, every 2 s
        "PRBOT_SANDBOX_PROCESSES": "1",
        "LOG_FORMAT": "json",
    }


async def open_prs(forge_repo: ForgeRepo) -> list[int]:
    forge = forge_repo.forge
    numbers = []
    for i in range(PRS):
        change = {f"docs/{i}.md": Change(content=f"# page {i}\n".encode())}
        await forge.commit_changes(
            REPO, f"docs-{i}", f"Docs {i}", change, actor=DEVELOPER, start_branch="main"
        )
        pr = await forge.open_pull_request(REPO, head=f"docs-{i}", title="Docs", author=DEVELOPER)
        numbers.append(pr.number)
    return numbers


async def comment_deliveries(forge_repo: ForgeRepo, prs: list[int]) -> list[tuple[str, bytes]]:
    """COMMENTS comments over ``prs``, and their webhooks as the forge renders them
    (captured by a hook nobody listens at): (delivery id, body)."""
    forge = forge_repo.forge
    capture = forge.add_hook(
        "github", f"http://127.0.0.1:{free_port()}/nobody", secret=SECRET, events=["issue_comment"]
    )
    ids = {
        (await forge.add_comment(REPO, prs[i % len(prs)], "/prbot help", author=DEVELOPER)).id
        for i in range(COMMENTS)
    }

    def rendered() -> list[Any]:
        found = [
            d for d in forge.webhooks.deliveries(capture.id) if d.payload()["comment"]["id"] in ids
        ]
        return found if len(found) == COMMENTS else []

    found = await wait_for(rendered, timeout=60, every=0.2, what="the comments' webhooks")
    capture.active = False  # the bot's replies need not be rendered
    return [(d.guid, d.body) for d in found]


def sends(deliveries: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Every delivery once, and REDELIVERED of them again a little later, in one order."""
    rng = random.Random(14)
    order = list(deliveries)
    for again in rng.sample(deliveries, REDELIVERED):
        first = order.index(again)
        order.insert(rng.randrange(first + 1, len(order) + 1), again)
    return order


class Sender:
    """Posts signed deliveries round-robin over the replicas still alive; a delivery cut
    by a dying replica goes again to the next one (as a sender's retry would)."""

    def __init__(self, http: httpx.AsyncClient, replicas: list[ServeProcess]) -> None:
        self.http = http
        self.live = list(replicas)
        self.turn = 0
        self.answers: dict[int, int] = {}
        self.sent = 0

    async def send(self, guid: str, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "issue_comment",
            "X-GitHub-Delivery": guid,
            "X-Hub-Signature-256": github_signature(SECRET, body),
        }
        for _ in range(10):
            replica = self.live[self.turn % len(self.live)]
            self.turn += 1
            try:
                answer = await self.http.post(
                    f"{replica.base_url}/webhooks/github", content=body, headers=headers
                )
            except httpx.TransportError:
                continue
            assert answer.status_code in (200, 202), answer.text
            self.sent += 1
            self.answers[answer.status_code] = self.answers.get(answer.status_code, 0) + 1
            return
        raise AssertionError(f"delivery {guid}: no replica took it")


async def drive_promotion(forge_repo: ForgeRepo, api: PromotionsApi, name: str) -> dict[str, Any]:
    """Start a promotion of ``name`` and take it through its stages: merge each stage's PR,
    report it healthy; its final state."""
    forge = forge_repo.forge
    pid = (await api.start("2.0.0", pipeline=name))["id"]
    for index in range(len(STAGES)):

        async def opened(index: int = index) -> Any:
            return (await api.get(pid))["stages"][index]["pr"]

        pr = await wait_for(opened, **SLOW, what=f"{name}'s stage {index} PR")
        merged = await forge.merge_pull_request(REPO, pr["number"], actor=DEVELOPER)

        async def taken_in(index: int = index) -> bool:
            return (await api.get(pid))["stages"][index]["status"] in ("merged", "verifying")

        await wait_for(taken_in, **SLOW, what=f"{name}'s stage {index} merged")
        await forge.post_status(
            REPO, merged.merge_commit_sha, "success", creator="flux", context=CHECK
        )

    async def finished() -> Any:
        found = await api.get(pid)
        return found if found["status"] == "succeeded" else None

    return await wait_for(finished, **SLOW, what=f"{name} to succeed")


DUE_OR_RUNNING = (
    "SELECT count(*) FROM jobs WHERE state = 'running' "
    "OR (state = 'queued' AND next_run_at < extract(epoch FROM now()))"
)


def every_comment(forge: Any, prs: list[int]) -> list[Any]:
    return [c for number in prs for c in forge.comments(REPO, number)]


async def rows(database_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cur = await conn.execute(sql, params)
        return await cur.fetchall()


async def kill_when_busy(sender: Sender, doomed: ServeProcess, database_url: str) -> list[int]:
    """SIGKILL ``doomed`` (and its sandbox) once a third of the deliveries went out and it
    holds jobs; the ids of the jobs it held. It is stopped first (SIGSTOP), so what it
    holds cannot change between the look and the kill."""
    while True:
        if sender.sent >= 300:
            os.kill(doomed.pid, signal.SIGSTOP)
            await asyncio.sleep(0.2)  # statements it had sent already land meanwhile
            held = await rows(
                database_url,
                "SELECT id FROM jobs WHERE state = 'running' AND lease_owner LIKE %s",
                (f"%:{doomed.pid}:%",),
            )
            if held:
                break
            os.kill(doomed.pid, signal.SIGCONT)
        await asyncio.sleep(0.01)
    sandbox = children_of(doomed.pid)
    os.kill(doomed.pid, signal.SIGKILL)
    for child in sandbox:
        os.kill(child, signal.SIGKILL)
    sender.live.remove(doomed)
    return [job_id for (job_id,) in held]


async def test_three_replicas_handle_each_delivery_once_and_survive_a_kill(
    tmp_path: Path, forge_repo: ForgeRepo, postgres_server: PostgresServer
) -> None:
    forge = forge_repo.forge
    # the forge writes its whole state file at every change (thousands here): not what
    # this test is about, and quadratic in the comments; its state stays in memory
    forge.save = lambda: None  # type: ignore[method-assign]
    # GitHub's 5,000 requests an hour would stop the run half way: budgets are not the point
    forge.rate_limits.set_limit(1_000_000)
    prs = await open_prs(forge_repo)
    deliveries = await comment_deliveries(forge_repo, prs)
    database_url = postgres_server.new_database()
    env = replica_env(forge_repo, tmp_path, database_url)
    ports = [free_port() for _ in range(3)]
    # the forge's own webhooks (the promotions' PRs and statuses) go to the first replica
    forge.add_hook("github", f"http://127.0.0.1:{ports[0]}/webhooks/github", secret=SECRET,
                   events=["pull_request", "status"])  # fmt: skip
    folders = [tmp_path / f"replica-{i}" for i in range(3)]
    for folder in folders:
        folder.mkdir()

    async with (
        serve_process(folders[0], env, port=ports[0]) as first,
        serve_process(folders[1], env, port=ports[1]) as doomed,
        serve_process(folders[2], env, port=ports[2]) as third,
        httpx.AsyncClient(timeout=30) as http,
        # the promotions' API calls go to a replica that stays
        httpx.AsyncClient(base_url=third.base_url, timeout=30) as third_http,
    ):
        replicas = [first, doomed, third]
        api = PromotionsApi(third_http, API_TOKEN, REPO)
        promotions = [asyncio.create_task(drive_promotion(forge_repo, api, p)) for p in PIPELINES]
        sender = Sender(http, replicas)
        order = sends(deliveries)
        killed = asyncio.create_task(kill_when_busy(sender, doomed, database_url))
        for start in range(0, len(order), 16):
            await asyncio.gather(*(sender.send(*d) for d in order[start : start + 16]))
        held = await asyncio.wait_for(killed, 30)

        def all_answered() -> bool:
            comments = [c for c in every_comment(forge, prs) if c.author == DEVELOPER]
            return (
                all({r.content for r in c.reactions} >= {"rocket"} for c in comments)
                and len(comments) == COMMENTS
            )

        await wait_for(all_answered, timeout=90, every=0.5, what="every comment answered")
        finished = await asyncio.wait_for(asyncio.gather(*promotions), 120)

        async def drained() -> bool:  # nothing due is waiting or running (later ticks may be)
            return await rows(database_url, DUE_OR_RUNNING) == [(0,)]

        await wait_for(drained, timeout=30, every=0.2, what="the queue to drain")

    # exactly once, counted on the forge: one reply, one 👀 and one 🚀 per comment
    asked = [c for c in every_comment(forge, prs) if c.author == DEVELOPER]
    assert len(asked) == COMMENTS
    for number in prs:
        comments = forge.comments(REPO, number)
        replies = [c.body for c in comments if c.author != DEVELOPER]
        mine = [c for c in comments if c.author == DEVELOPER]
        assert len(replies) == len(mine) == COMMENTS // PRS
        for c in mine:
            assert sum(f"prbot:command:{c.id}" in body for body in replies) == 1, c.id
            assert sorted(r.content for r in c.reactions) == ["eyes", "rocket"], c.id

    # stored once each, whichever replica took it; nothing dead, nothing left
    assert await rows(database_url, "SELECT count(*), count(DISTINCT delivery_id) FROM deliveries "
                      "WHERE event = 'issue_comment'") == [(COMMENTS, COMMENTS)]  # fmt: skip
    dead = "SELECT id, kind, attempts, last_error FROM jobs WHERE state = 'dead'"
    assert await rows(database_url, dead) == []
    assert sender.answers.get(202, 0) <= COMMENTS
    assert sum(sender.answers.values()) == len(order)
    # the killed replica's jobs were finished by the others, after the lease
    taken_over = await rows(
        database_url,
        f"SELECT id, state, attempts FROM jobs WHERE id IN ({','.join(map(str, held))})",
    )
    assert taken_over and all(state == "done" and tries >= 2 for _, state, tries in taken_over)

    # promotions in flight: succeeded, one PR per stage
    assert [p["status"] for p in finished] == ["succeeded"] * len(PIPELINES)
    promote = [
        p for p in forge.pull_requests(REPO, state="all") if p.head.startswith("prbot/promote/")
    ]
    assert sorted(p.head for p in promote) == sorted(
        f"prbot/promote/{name}/{p['id']}/{env}"
        for name, p in zip(PIPELINES, finished, strict=True)
        for env in STAGES
    )
    assert first.exit_code == 0 and third.exit_code == 0, (
        first.output()[-3000:] + third.output()[-3000:]
    )
    assert doomed.exit_code == -signal.SIGKILL
    for replica in replicas:
        assert SECRET not in replica.output() and TOKEN not in replica.output()
