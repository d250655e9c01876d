"""The first end-to-end path, with every part real: `prbot serve` as a process, the forge
on 127.0.0.1 with real git, SQLite on disk.

A run requested through the internal API is stored, run by a worker and opens a PR on the
forge; the forge's signed pull_request webhooks come back to prbot, are verified, stored
and handled by a worker; merging on the forge moves the run to merged through the webhook.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.support.forge import Files, ForgeRepo
from tests.support.serve import free_port, serve_process
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
REPO = "acme/gitops"
TOKEN = "e2e-forge-token-5678"
SECRET = "e2e-webhook-secret-1234"
API_TOKEN = "e2e-internal-api-token"
# a process and a webhook are slower than a coroutine: poll longer and less often
SLOW = {"timeout": 20.0, "every": 0.1}


def repo_files() -> dict[str, str]:
    gitops = ROOT / "examples" / "gitops"
    return {
        p.relative_to(gitops).as_posix(): p.read_text() for p in gitops.rglob("*") if p.is_file()
    }


@pytest.fixture
def forge_files() -> Files:
    return repo_files()


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN}  # the bot, prbot, is admin


async def test_api_run_opens_pr_and_forge_webhooks_flow_back(
    tmp_path: Path, forge_repo: ForgeRepo
) -> None:
    port = free_port()
    forge_server = forge_repo.server
    forge = forge_repo.forge
    forge.add_hook("github", f"http://127.0.0.1:{port}/webhooks/github", secret=SECRET)

    env = {
        "WEBHOOK_SECRET": SECRET,
        "GITHUB_TOKEN": TOKEN,
        "GHE_HOST": f"127.0.0.1:{forge_server.port}",
        "GHE_PROTOCOL": "http",
        "PRBOT_DATA_DIR": str(tmp_path / "data"),
        "PRBOT_AUTOMATIONS_DIR": str(ROOT / "automations"),
        "PRBOT_API_TOKEN": API_TOKEN,
        "PRBOT_WORKERS": "2",
        # long: the merge must reach the run through the webhook, not the reconciler
        "PRBOT_RECONCILE_SECONDS": "3600",
        "LOG_FORMAT": "json",
    }
    async with (
        serve_process(tmp_path, env, port=port) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=10) as http,
    ):
        auth = {"Authorization": f"Bearer {API_TOKEN}"}

        async def ask(automation: str, inputs: dict, requested_by: str):
            body = {"automation": automation, "repo": REPO, "platform": "github"}
            body |= {"inputs": inputs, "requested_by": requested_by}
            return await http.post("/api/runs", headers=auth, json=body)

        answer = await ask(
            "image-bump", {"service": "myapp", "env": "dev", "tag": "6.7.1"}, "alice"
        )
        assert answer.status_code == 201, answer.text
        run_id = answer.json()["run"]["id"]

        async def run_status(*wanted: str):
            data = (
                await http.get(
                    f"/api/runs/{run_id}",
                    headers={"Authorization": f"Bearer {API_TOKEN}"},
                )
            ).json()
            return data["run"] if data["run"]["status"] in wanted else None

        run = await wait_for(lambda: run_status("pr_open"), **SLOW, what="the PR to open")
        prs = list(forge.pull_requests(REPO, state="open"))
        assert len(prs) == 1 and prs[0].head == "prbot/image-bump/myapp-dev"
        assert run["pr_number"] == prs[0].number
        _sha, content = await forge.read_file(
            REPO, prs[0].head, "bootstrap/services/myapp-dev.yaml"
        )
        text = content.decode()
        assert 'tag: "6.7.1" # promoted by prbot' in text

        # the forge's signed pull_request.opened delivery reached prbot and was stored
        db = tmp_path / "data"

        def stored_events() -> list[str]:
            files = list(db.rglob("*.db")) + list(db.rglob("*.sqlite*"))
            path = next(p for p in files if p.suffix in (".db", ".sqlite", ".sqlite3"))
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                return [r[0] for r in conn.execute("SELECT event FROM deliveries")]

        async def opened_delivered():
            return "pull_request" in stored_events()

        await wait_for(opened_delivered, **SLOW, what="the pull_request webhook to be stored")

        # merging on the forge: its signed webhook marks the run merged
        await forge.merge_pull_request(REPO, prs[0].number, actor="alice")
        await wait_for(lambda: run_status("merged"), **SLOW, what="the run to be marked merged")

        # the repository's own automation (.prbot/scale.yaml on its default branch)
        # is requested the same way, and runs into a PR of its own
        scale = await ask("scale", {"service": "myapp", "env": "dev", "replicas": 3}, "bob")
        assert scale.status_code == 201, scale.text
        run_id = scale.json()["run"]["id"]
        await wait_for(lambda: run_status("pr_open"), **SLOW, what="the scale PR to open")
        [scale_pr] = [p for p in forge.pull_requests(REPO, state="open") if p.head != prs[0].head]
        _sha, content = await forge.read_file(
            REPO, scale_pr.head, "bootstrap/services/myapp-dev.yaml"
        )
        assert "replicaCount: 3" in content.decode()
        # a name neither the deployment nor the repository defines: 422, naming both
        missing = await ask("scale-up", {}, "bob")
        assert missing.status_code == 422
        assert ".prbot/" in missing.json()["errors"]["automation"]

        metrics = (await http.get("/metrics")).text
        accepted = [
            line
            for line in metrics.splitlines()
            if line.startswith("prbot_webhook_deliveries_total{")
            and 'event="pull_request"' in line
            and 'outcome="accepted"' in line
        ]
        assert accepted and float(accepted[0].rsplit(" ", 1)[1]) >= 2  # opened, merged
    output = served.output()
    assert served.exit_code == 0, output[-3000:]
    for secret in (TOKEN, SECRET, API_TOKEN):
        assert secret not in output
