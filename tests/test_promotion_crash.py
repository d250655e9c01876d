"""Crash safety of promotions (issue 10): 10 promotions of a three-stage pipeline (soak 0,
one required check) in flight, each on its own repository of the forge, while ``prbot
serve`` is SIGKILLed at seeded random moments and restarted on the same data dir and port.

The test plays the humans and the CD tool, from the forge alone (prbot may be down): it
merges each stage PR as it appears and posts a success status on its merge commit at
once. Webhooks sent while prbot is down are lost, and a status may reach prbot before it
knows of the merge: the reconciler (every second here) reads what they would have said,
and a job held by a killed process is taken again when its lease (2 s) runs out.

In the end every promotion succeeded, and each stage has exactly one PR on the forge,
merged: no duplicate from a retried job. A run that goes nowhere for STALL seconds fails
with the serve log lines about the promotions concerned. The kills and the merges follow
a seeded random (PRBOT_CRASH_SEED picks another)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from pathlib import Path

import httpx
import pytest

from prbot.forge.state import Forge
from tests.support.forge import ForgeRepo, seed_repo
from tests.support.promotions import BUMP, STAGES, pipeline, serve_env
from tests.support.serve import ServeProcess, children_of, free_port, serve_process

PROMOTIONS = 10
REPOS = [f"acme/gitops-{i}" for i in range(PROMOTIONS)]
TOKEN = "crash-forge-token-5678"
SECRET = "crash-webhook-secret-1234"
API_TOKEN = "crash-internal-api-token"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
SEED = int(os.environ.get("PRBOT_CRASH_SEED", "20240610"))
KILLS = 5
KILL_AFTER = (0.3, 1.5)  # seconds after an incarnation is ready
REVIEW = (0.0, 0.4)  # seconds a stage PR stays open before the test merges it
OVERALL = 90.0
STALL = 15.0  # seconds without any change: a promotion is stuck


FILES = {f"envs/{env}.yaml": "image:\n  tag: '1.0.0' # bumped\n" for env in STAGES} | {
    ".prbot/bump.yaml": BUMP,
    ".prbot/app.yaml": pipeline(),
}


@pytest.fixture
def forge_files() -> dict[str, str]:
    return FILES


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPOS[0], "token": TOKEN}


class Crashing:
    """``prbot serve`` on one port and data dir, SIGKILLed and restarted on demand; each
    incarnation logs to its own file."""

    def __init__(self, tmp_path: Path, env: dict[str, str], port: int) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.port = port
        self.incarnations: list[Path] = []
        self.current: ServeProcess | None = None
        self._stack: contextlib.AsyncExitStack | None = None

    async def start(self) -> None:
        folder = self.tmp_path / f"serve-{len(self.incarnations)}"
        folder.mkdir()
        self.incarnations.append(folder / "serve.log")
        self._stack = contextlib.AsyncExitStack()
        self.current = await self._stack.enter_async_context(
            serve_process(folder, self.env, port=self.port)
        )

    async def kill(self) -> None:
        """A crash: SIGKILL to the server and its sandbox processes, nothing drained."""
        assert self.current is not None and self._stack is not None
        children = children_of(self.current.pid)
        self.current.process.send_signal(signal.SIGKILL)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        await self._stack.aclose()  # reaps it (SIGTERM to a dead process is nothing)
        assert self.current.exit_code == -signal.SIGKILL, self.current.exit_code
        self.current = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> int | None:
        """SIGTERM (killed if it hangs); the exit code."""
        if self.current is None or self._stack is None:
            return None
        served = self.current
        await self._stack.aclose()
        self.current = None
        return served.exit_code

    def logs(self, tail: int = 4000) -> str:
        return "\n".join(
            f"--- {path.parent.name} ---\n{path.read_text(errors='replace')[-tail:]}"
            for path in self.incarnations
            if path.exists()
        )

    def grep(self, needle: str) -> list[str]:
        return [
            f"{path.parent.name}: {line}"
            for path in self.incarnations
            if path.exists()
            for line in path.read_text(errors="replace").splitlines()
            if needle in line
        ]


def stage_prs(forge: Forge, repo: str, state: str = "all") -> list:
    return [p for p in forge.pull_requests(repo, state=state) if p.head.startswith("prbot/")]


async def drive(forge: Forge, rng: random.Random) -> None:
    """What people and the CD tool do, seen from the forge only: merge each stage PR a
    moment (REVIEW) after it opens and post a success status on its merge commit at once
    (until cancelled)."""
    due: dict[tuple[str, int], float] = {}
    while True:
        for repo in REPOS:
            for pr in stage_prs(forge, repo, "open"):
                at = due.setdefault((repo, pr.number), time.monotonic() + rng.uniform(*REVIEW))
                if time.monotonic() < at:
                    continue
                landed = await forge.merge_pull_request(repo, pr.number, actor="alice")
                await forge.post_status(
                    repo, landed.merge_commit_sha, "success", creator="flux", context="ci/deploy"
                )
        await asyncio.sleep(0.05)


def every_stage_merged(forge: Forge, pids: dict[str, int]) -> bool:
    return all(
        {p.head for p in stage_prs(forge, repo, "merged")}
        >= {f"prbot/promote/app/{pid}/{env}" for env in STAGES}
        for repo, pid in pids.items()
    )


async def crash_repeatedly(
    server: Crashing, rng: random.Random, forge: Forge, pids: dict[str, int]
) -> int:
    """SIGKILL and restart the server ``KILLS`` times at random moments while stage PRs
    are still to come; the kills made."""
    kills = 0
    while kills < KILLS:
        deadline = time.monotonic() + rng.uniform(*KILL_AFTER)
        while time.monotonic() < deadline and not every_stage_merged(forge, pids):
            await asyncio.sleep(0.02)
        if every_stage_merged(forge, pids):
            break
        await server.kill()
        kills += 1
        await server.start()
    return kills


async def test_promotions_complete_once_each_through_repeated_sigkills(
    tmp_path, forge_repo: ForgeRepo
) -> None:
    forge = forge_repo.forge
    for repo in REPOS[1:]:
        await seed_repo(forge_repo.server, repo, FILES, token=TOKEN)
    port = free_port()
    env = serve_env(
        forge_repo,
        tmp_path,
        port,
        webhook_secret=SECRET,
        api_token=API_TOKEN,
        PRBOT_RECONCILE_SECONDS="1",
        PRBOT_LEASE_SECONDS="2",
    )
    server = Crashing(tmp_path, env, port)
    rng = random.Random(SEED)
    pids: dict[str, int] = {}
    seen: dict[str, dict] = {}
    kills = 0
    waited = ""
    driver: asyncio.Task[None] | None = None
    try:
        async with asyncio.timeout(OVERALL):
            await server.start()
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
                for repo in REPOS:
                    body = {"pipeline": "app", "repo": repo, "platform": "github"}
                    body |= {"inputs": {"tag": "2.0.0"}, "requested_by": "alice"}
                    answer = await http.post("/api/promotions", headers=AUTH, json=body)
                    assert answer.status_code == 202, answer.text
                    pids[repo] = answer.json()["promotion"]["id"]

            driver = asyncio.create_task(drive(forge, random.Random(SEED + 1)))
            kills = await crash_repeatedly(server, rng, forge, pids)
            # the last incarnation finishes what is left, or nothing moves for STALL seconds
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
                waited = await settle(http, forge, pids, seen, driver)
    except TimeoutError:
        waited = f"the overall timeout ({OVERALL:g} s)"
    finally:
        if driver is not None:
            driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await driver
        exit_code = await server.stop()

    problems = []
    for repo, pid in pids.items():
        heads = [f"prbot/promote/app/{pid}/{env}" for env in STAGES]
        prs = sorted(stage_prs(forge, repo), key=lambda p: p.number)
        promotion = seen.get(repo, {})
        stages = promotion.get("stages", [])
        found = [f"#{p.number} {p.head} {p.state}" for p in prs]
        if [p.head for p in prs] != heads or any(p.state != "merged" for p in prs):
            problems.append((pid, f"{repo}: not one merged PR per stage on the forge: {found}"))
        if promotion.get("status") != "succeeded":
            states = [(s["name"], s["status"], s["pr"]) for s in stages]
            problems.append((pid, f"promotion {pid}: {promotion.get('status')} {states}"))
        numbers = [(s["pr"] or {}).get("number") for s in stages]
        if promotion.get("status") == "succeeded" and numbers != [p.number for p in prs]:
            problems.append(
                (pid, f"promotion {pid}: its stages' PRs {numbers}, the forge's {found}")
            )
    assert not problems, _report(problems, waited, kills, server, pids)
    assert kills >= 3, f"only {kills} kill(s) landed while promotions were in flight"
    assert exit_code == 0, server.logs()
    for repo in REPOS:
        for env_name in STAGES:
            _sha, content = await forge.read_file(repo, "main", f"envs/{env_name}.yaml")
            assert "tag: '2.0.0' # bumped" in content.decode()
    for secret in (TOKEN, SECRET):
        assert not server.grep(secret)


async def settle(
    http: httpx.AsyncClient,
    forge: Forge,
    pids: dict[str, int],
    seen: dict[str, dict],
    driver: asyncio.Task[None],
) -> str:
    """Poll the promotions (into ``seen``) until all succeeded or nothing (promotions,
    PRs on the forge) changed for STALL seconds; what ended the wait."""
    last, since = None, time.monotonic()
    while True:
        if driver.done():
            driver.result()  # the driver's failure, if any
        for repo, pid in pids.items():
            answer = await http.get(f"/api/promotions/{pid}", headers=AUTH)
            seen[repo] = answer.json()["promotion"]
        if all(p["status"] == "succeeded" for p in seen.values()):
            return "every promotion succeeded"
        now = (seen.copy(), _forge_state(forge, pids))
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > STALL:
            return f"nothing moved for {STALL:g} s"
        await asyncio.sleep(0.1)


def _report(
    problems: list[tuple[int, str]], waited: str, kills: int, server: Crashing, pids: dict[str, int]
) -> str:
    """The problems, and the serve log lines about the promotions they concern."""
    concerned = {pid for pid, _ in problems}
    needles = {f"promotion {pid}:" for pid in concerned}
    needles |= {f"app%2F{pid}%2F" for pid in concerned} | {f"app/{pid}/" for pid in concerned}
    needles |= {f"{repo}/pulls " for repo, pid in pids.items() if pid in concerned}
    lines = sorted(
        {line[:300] for needle in needles for line in server.grep(needle)},
        key=lambda line: line.split(": ", 1)[1],
    )
    return "\n".join(
        [
            f"after {kills} kill(s) (seed {SEED}), waited until {waited}:",
            *(text for _, text in problems),
            f"serve logs in {server.tmp_path}; the lines about those promotions:",
            *lines[-150:],
        ]
    )


def _forge_state(forge: Forge, pids: dict[str, int]) -> str:
    return "\n".join(
        f"{repo} (promotion {pids.get(repo)}): "
        + ", ".join(f"#{p.number} {p.head} {p.state}" for p in stage_prs(forge, repo))
        for repo in REPOS
    )
