"""The promotion that the end-to-end tests run: a ``bump`` automation and a three-stage
``app`` pipeline (dev, staging, prod; one required check ``ci/deploy``), as the files of a
forge repository; a client of the promotions API of the ``prbot serve`` running it; and
that server started with its clock at a given moment, its own store open beside it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from prbot.store import open_store
from prbot.store.base import Store
from tests.support.clock import ClockFile
from tests.support.serve import ServeProcess, free_port, serve_process
from tests.support.waiting import wait_for

STAGES = ("dev", "staging", "prod")
CHECK = "ci/deploy"

BUMP = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: bump}
spec:
  title: "Bump app in {{ context.env }} to {{ context.tag }}"
  configuration:
    - {name: env, type: string}
    - {name: tag, type: string}
  updates:
    yamlEdits:
      - {file: "envs/{{ context.env }}.yaml", path: image.tag, value: "{{ context.tag }}"}
"""


def pipeline(name: str = "app", *, on_failure: str = "rollback", soak: str = "0s") -> str:
    """A ``kind: Pipeline`` of the three stages, each bumping its own environment."""
    stages = "".join(
        f"""\
    - name: {env}
      automation: bump
      context: {{env: {env}}}
      health:
        checks: [{CHECK}]
        soak: {soak}
        timeout: 10m
      onFailure: {on_failure}
"""
        for env in STAGES
    )
    return f"apiVersion: prbot.dev/v1alpha1\nkind: Pipeline\nmetadata: {{name: {name}}}\nspec:\n  stages:\n{stages}"


def repo_files(**pipelines: str) -> dict[str, str]:
    """The environments' files, the automation, the ``app`` pipeline and ``pipelines``
    (file stem -> definition)."""
    files = {f"envs/{env}.yaml": "image:\n  tag: '1.0.0' # bumped\n" for env in STAGES}
    files[".prbot/bump.yaml"] = BUMP
    files[".prbot/app.yaml"] = pipeline()
    files.update({f".prbot/{stem}.yaml": text for stem, text in pipelines.items()})
    return files


def serve_env(
    forge_repo: Any,
    tmp_path: Path,
    port: int,
    *,
    webhook_secret: str,
    api_token: str,
    platform: str = "github",
    database_url: str | None = None,
    **overrides: str,
) -> dict[str, str]:
    """``prbot serve``'s environment against the forge, whose ``platform`` webhooks are
    pointed at ``port``: both platforms' credentials, no deployment automations (the
    repository's ``.prbot/`` is what runs), and a reconciler an hour apart, so webhooks do
    the work, unless ``overrides`` says otherwise."""
    hook = f"http://127.0.0.1:{port}/webhooks/{platform}"
    forge_repo.forge.add_hook(platform, hook, secret=webhook_secret)
    automations = tmp_path / "no-deployment-automations"
    automations.mkdir(exist_ok=True)
    return {
        "WEBHOOK_SECRET": webhook_secret,
        "GITLAB_WEBHOOK_SECRET": webhook_secret,
        "GITHUB_TOKEN": forge_repo.token,
        "GITLAB_TOKEN": forge_repo.token,
        "GITLAB_URL": forge_repo.server.gitlab_url,
        "GHE_HOST": f"127.0.0.1:{forge_repo.server.port}",
        "GHE_PROTOCOL": "http",
        "PRBOT_DATA_DIR": str(tmp_path / "data"),
        "PRBOT_AUTOMATIONS_DIR": str(automations),
        "PRBOT_API_TOKEN": api_token,
        "PRBOT_RECONCILE_SECONDS": "3600",
        **({"PRBOT_DATABASE_URL": database_url} if database_url else {}),
        **overrides,
    }


class PromotionsApi:
    """The promotions API of a running ``prbot serve``, as the end-to-end tests call it."""

    def __init__(
        self, http: httpx.AsyncClient, token: str, repo: str, platform: str = "github"
    ) -> None:
        self.http = http
        self.repo = repo
        self.platform = platform
        self.auth = {"Authorization": f"Bearer {token}"}

    async def get(self, pid: int) -> dict[str, Any]:
        answer = await self.http.get(f"/api/promotions/{pid}", headers=self.auth)
        return answer.json()["promotion"]

    async def start(self, tag: str, pipeline: str = "app") -> dict[str, Any]:
        """Start a promotion (asserting the 202); its first answer."""
        body = {"pipeline": pipeline, "repo": self.repo, "platform": self.platform}
        body |= {"inputs": {"tag": tag}, "requested_by": "alice"}
        answer = await self.http.post("/api/promotions", headers=self.auth, json=body)
        assert answer.status_code == 202, answer.text
        return answer.json()["promotion"]

    async def command(self, pid: int, verb: str, **body: str) -> httpx.Response:
        return await self.http.post(f"/api/promotions/{pid}/{verb}", headers=self.auth, json=body)


# a pipeline whose prod stage waits for bob's approval
GATED = """\
apiVersion: prbot.dev/v1alpha1
kind: Pipeline
metadata: {name: gated}
spec:
  stages:
    - name: dev
      automation: bump
      context: {env: dev}
      health: {checks: [ci/deploy]}
    - name: prod
      automation: bump
      context: {env: prod}
      gates:
        - approval: {users: [bob], count: 1}
      health: {checks: [ci/deploy]}
"""


async def bring_to_gate(api: PromotionsApi, forge: Any, pid: int, **slow: float) -> dict[str, Any]:
    """Merge promotion ``pid``'s dev PR on the forge, report it healthy (``ci/deploy``),
    and wait until the promotion waits at prod's gate; the promotion then."""

    async def dev_pr() -> Any:
        return (await api.get(pid))["stages"][0]["pr"]

    pr = await wait_for(dev_pr, **slow, what="the dev PR")
    merged = await forge.merge_pull_request(api.repo, pr["number"], actor="alice")

    async def merged_in() -> bool:
        return (await api.get(pid))["stages"][0]["status"] in ("merged", "verifying")

    await wait_for(merged_in, **slow, what="the merge taken in")
    await forge.post_status(
        api.repo, merged.merge_commit_sha, "success", creator="ci", context="ci/deploy"
    )

    async def waiting() -> dict[str, Any] | None:
        found = await api.get(pid)
        return found if found["status"] == "waiting" else None

    return await wait_for(waiting, **slow, what="prod at its gate")


@dataclass
class ClockedServe:
    """A ``prbot serve`` whose time the test moves, and what a test reads it through."""

    process: ServeProcess
    http: httpx.AsyncClient
    api: PromotionsApi
    clock: ClockFile
    store: Store  # the server's own database, read beside it as `prbot jobs` does


@asynccontextmanager
async def served_at(
    forge_repo: Any,
    tmp_path: Path,
    at: float,
    *,
    platform: str,
    database_url: str,
    webhook_secret: str,
    api_token: str,
    **overrides: str,
) -> AsyncIterator[ClockedServe]:
    """``prbot serve`` (``serve_env`` plus ``overrides``) whose clock reads ``at`` as it
    starts, until the block ends."""
    clock = ClockFile(tmp_path / "clock", at)
    port = free_port()
    env = serve_env(
        forge_repo, tmp_path, port, webhook_secret=webhook_secret, api_token=api_token,
        platform=platform, database_url=database_url, PRBOT_CLOCK_FILE=str(clock.path),
        **overrides,
    )  # fmt: skip
    async with (
        serve_process(tmp_path, env, port=port) as process,
        httpx.AsyncClient(base_url=process.base_url, timeout=10) as http,
    ):
        store = open_store(database_url)
        await store.open()
        try:
            api = PromotionsApi(http, api_token, forge_repo.repo, platform)
            yield ClockedServe(process, http, api, clock, store)
        finally:
            await store.close()
