"""A promotion end to end, every part real: `prbot serve` as a process, the forge with
real git, its signed webhooks. A three-stage pipeline (soak 0): each stage's PR opens
when the previous stage merged and its merge commit reported success, and the promotion
succeeds. A failing check on a stage with onFailure: rollback opens one revert PR; an approval
gate waits for its approver; a newer promotion supersedes an older one."""

from __future__ import annotations

import httpx
import pytest

from tests.support.forge import ForgeRepo
from tests.support.promotions import GATED, PromotionsApi, bring_to_gate, repo_files, serve_env
from tests.support.serve import free_port, serve_process
from tests.support.waiting import wait_for

REPO = "acme/gitops"
TOKEN = "promotion-forge-token-5678"
SECRET = "promotion-webhook-secret-1234"
API_TOKEN = "promotion-internal-api-token"
SLOW = {"timeout": 30.0, "every": 0.1}


@pytest.fixture
def forge_files() -> dict[str, str]:
    return repo_files(gated=GATED, secretive=SECRETIVE)


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN}


@pytest.mark.parametrize("platform", ["github", "gitlab"])
async def test_a_three_stage_promotion_succeeds_and_a_failure_rolls_back(
    tmp_path, forge_repo: ForgeRepo, platform: str, database_url: str
) -> None:
    forge = forge_repo.forge
    port = free_port()
    env = serve_env(
        forge_repo,
        tmp_path,
        port,
        webhook_secret=SECRET,
        api_token=API_TOKEN,
        platform=platform,
        database_url=database_url,
    )
    async with (
        serve_process(tmp_path, env, port=port) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=10) as http,
    ):
        api = PromotionsApi(http, API_TOKEN, REPO, platform)
        promotion = api.get

        async def start(tag: str) -> int:
            started = await api.start(tag)
            assert [s["status"] for s in started["stages"]] == ["pending"] * 3
            return started["id"]

        async def stage_pr(pid: int, index: int) -> dict:
            async def opened():
                stage = (await promotion(pid))["stages"][index]
                return stage["pr"] if stage["pr"] else None

            return await wait_for(opened, **SLOW, what=f"stage {index}'s PR")

        async def merge_and_report(pid: int, index: int, state: str) -> None:
            pr = await stage_pr(pid, index)
            merged = await forge.merge_pull_request(REPO, pr["number"], actor="alice")
            sha = merged.merge_commit_sha
            await wait_for(
                lambda: _stage_is(promotion(pid), index, ("merged", "verifying")),
                **SLOW,
                what=f"stage {index} merged",
            )
            await forge.post_status(REPO, sha, state, creator="flux", context="ci/deploy")

        pid = await start("2.0.0")
        for index in range(3):
            await merge_and_report(pid, index, "success")
        done = await wait_for(
            lambda: _status_is(promotion(pid), "succeeded"), **SLOW, what="the promotion"
        )
        assert [s["status"] for s in done["stages"]] == ["succeeded"] * 3
        # one PR per stage, each with the change and the status comment
        prs = [
            p
            for p in forge.pull_requests(REPO, state="all")
            if p.head.startswith("prbot/promote/app/")
        ]
        assert len(prs) == 3
        for env_name, pr in zip(
            ("dev", "staging", "prod"), sorted(prs, key=lambda p: p.number), strict=True
        ):
            assert pr.head == f"prbot/promote/app/{pid}/{env_name}"
            _sha, content = await forge.read_file(REPO, "main", f"envs/{env_name}.yaml")
            assert "tag: '2.0.0' # bumped" in content.decode()

            # written by the status job within its span: the whole promotion, succeeded
            def final_status(number: int = pr.number) -> bool:
                bodies = [c.body for c in forge.comments(REPO, number)]
                mine = [b for b in bodies if f"prbot:promotion {pid}" in b]
                return len(mine) == 1 and mine[0].count("succeeded") >= 3

            await wait_for(final_status, what=f"the status comment on #{pr.number}")

        # a second promotion whose staging check fails: onFailure rollback opens a revert
        second = await start("3.0.0")
        await merge_and_report(second, 0, "success")
        await merge_and_report(second, 1, "failure")
        failed = await wait_for(
            lambda: _status_is(promotion(second), "failed"), **SLOW, what="the failure"
        )
        assert [s["status"] for s in failed["stages"]] == ["succeeded", "failed", "pending"]

        async def reverts():
            found = [
                p
                for p in forge.pull_requests(REPO, state="open")
                if p.head.startswith("prbot/revert/")
            ]
            return found or None

        [revert] = await wait_for(reverts, **SLOW, what="the revert PR")
        assert revert.head == f"prbot/revert/app/{second}/staging"
    assert served.exit_code == 0, served.output()[-3000:]
    assert TOKEN not in served.output() and SECRET not in served.output()


async def _stage_is(coro, index: int, statuses: tuple[str, ...]) -> bool:
    return (await coro)["stages"][index]["status"] in statuses


async def _status_is(coro, status: str) -> dict | None:
    p = await coro
    return p if p["status"] == status else None


async def test_an_approval_gate_waits_for_the_approval(
    tmp_path, forge_repo: ForgeRepo, database_url: str
) -> None:
    forge = forge_repo.forge
    port = free_port()
    env = serve_env(
        forge_repo,
        tmp_path,
        port,
        webhook_secret=SECRET,
        api_token=API_TOKEN,
        platform="github",
        database_url=database_url,
    )
    async with (
        serve_process(tmp_path, env, port=port) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=10) as http,
    ):
        api = PromotionsApi(http, API_TOKEN, REPO)
        promotion = api.get
        pid = (await api.start("4.0.0", pipeline="gated"))["id"]
        waiting = await bring_to_gate(api, forge, pid, **SLOW)
        assert waiting["stages"][1]["status"] == "gates" and waiting["stages"][1]["pr"] is None

        # someone not listed cannot approve; the requester alone cannot either; bob can
        refused = await api.command(pid, "approve", by="mallory")
        assert refused.status_code == 409, refused.text
        accepted = await api.command(pid, "approve", by="bob")
        assert accepted.status_code == 202, accepted.text

        async def prod_pr():
            return (await promotion(pid))["stages"][1]["pr"]

        prod = await wait_for(prod_pr, **SLOW, what="the prod PR after the approval")
        assert prod["number"] != waiting["stages"][0]["pr"]["number"]
    assert served.exit_code == 0, served.output()[-3000:]


async def test_a_newer_promotion_supersedes_an_older_one(
    tmp_path, forge_repo: ForgeRepo, database_url: str
) -> None:
    forge = forge_repo.forge
    port = free_port()
    env = serve_env(
        forge_repo,
        tmp_path,
        port,
        webhook_secret=SECRET,
        api_token=API_TOKEN,
        platform="github",
        database_url=database_url,
    )
    async with (
        serve_process(tmp_path, env, port=port) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=10) as http,
    ):
        api = PromotionsApi(http, API_TOKEN, REPO)
        promotion = api.get

        async def start(tag: str) -> int:
            return (await api.start(tag))["id"]

        async def dev_pr(pid: int):
            return (await promotion(pid))["stages"][0]["pr"]

        older = await start("5.0.0")
        old_pr = await wait_for(lambda: dev_pr(older), **SLOW, what="the older dev PR")
        newer = await start("6.0.0")
        await wait_for(
            lambda: _status_is(promotion(older), "superseded"), **SLOW, what="superseded"
        )
        new_pr = await wait_for(lambda: dev_pr(newer), **SLOW, what="the newer dev PR")
        assert new_pr["number"] != old_pr["number"]

        async def closed():
            pr = next(
                p for p in forge.pull_requests(REPO, state="all") if p.number == old_pr["number"]
            )
            return pr if pr.state == "closed" else None

        await wait_for(closed, **SLOW, what="the older PR closed")
        bodies = [c.body for c in forge.comments(REPO, old_pr["number"])]
        assert any(str(newer) in b for b in bodies), bodies
    assert served.exit_code == 0, served.output()[-3000:]


SECRETIVE = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: rotate}
spec:
  title: "Rotate {{ context.env }}"
  configuration:
    - {name: env, type: string}
    - {name: token, type: password}
  updates:
    yamlEdits:
      - {file: "envs/{{ context.env }}.yaml", path: image.tag, value: "x"}
---
apiVersion: prbot.dev/v1alpha1
kind: Pipeline
metadata: {name: secretive}
spec:
  stages:
    - {name: dev, automation: rotate, context: {env: dev}}
"""


async def test_a_password_input_is_refused_and_never_stored(
    tmp_path, forge_repo: ForgeRepo
) -> None:
    port = free_port()
    env = serve_env(forge_repo, tmp_path, port, webhook_secret=SECRET, api_token=API_TOKEN)
    async with (
        serve_process(tmp_path, env, port=port) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=10) as http,
    ):
        api = PromotionsApi(http, API_TOKEN, REPO)
        body = {"pipeline": "secretive", "repo": REPO, "platform": "github"}
        body |= {"inputs": {"token": "hunter2-promotion-secret"}, "requested_by": "alice"}
        answer = await http.post("/api/promotions", headers=api.auth, json=body)
        assert answer.status_code == 422, answer.text
        assert "password" in answer.json()["errors"]["inputs.token"]
        # the inputs are checked as each stage will use them: a missing one, a typo
        body = {"pipeline": "app", "repo": REPO, "platform": "github", "requested_by": "al"}
        answer = await http.post("/api/promotions", headers=api.auth, json=body | {"inputs": {}})
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"] == {"inputs.tag": "is required"}
        typo = {"inputs": {"tag": "2.0.0", "tga": "2.0.1"}}
        answer = await http.post("/api/promotions", headers=api.auth, json=body | typo)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"] == {
            "inputs.tga": "no stage of app takes 'tga' (did you mean 'tag'?)"
        }
        misspelled = body | {"pipeline": "ap", "inputs": {"tag": "2.0.0"}}
        answer = await http.post("/api/promotions", headers=api.auth, json=misspelled)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"] == {
            "pipeline": "no pipeline named 'ap' for acme/gitops (did you mean 'app'?)"
        }
        listed = await http.get("/api/promotions", headers=api.auth)
        assert listed.json()["promotions"] == []
    assert "hunter2-promotion-secret" not in served.output()
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("prbot.db*") if p.is_file())
    assert b"hunter2-promotion-secret" not in stored
