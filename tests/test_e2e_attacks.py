"""Attacks on prbot as an attacker would send them, every part real: definitions pushed
to a forge repository's ``.prbot/``, requested through the API of a ``prbot serve``
process, and the same files through ``prbot render`` / ``prbot validate``.

Each attack ends in a clear error within its deadline plus a margin; meanwhile /healthz
answers and a signed webhook is acknowledged (stored) within 1 s; afterwards the box
processes are as many as before and memory is back where it was."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures import WEBHOOKS
from tests.support.forge import ForgeRepo
from tests.support.serve import ROOT, children_of, rss_bytes, serve_process
from tests.support.waiting import wait_for
from tests.web.conftest import sign

REPO = "acme/gitops"
BOMB_REPO = "acme/bomb"
TOKEN = "attack-forge-token-5678"
SECRET = "attack-webhook-secret-1234"
API_TOKEN = "attack-internal-api-token"
DEADLINE = 3.0  # PRBOT_SANDBOX_SECONDS for these tests
MARGIN = 6.0  # job pickup, a replacement process, the API round trips

HEADER = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {{name: {name}}}
spec:
"""


def automation(name: str, title: str, updates: str = "") -> str:
    body = HEADER.format(name=name) + f"  title: {json.dumps(title)}\n"
    body += "  updates:\n" + (
        updates or '    yamlEdits:\n      - {file: v.yaml, path: a, value: "2"}\n'
    )
    return body


DOUBLING = "{% set a = 'xxxxxxxx' %}" + "{% set a = a ~ a %}" * 40 + "{{ a | length }}"
PADDING = '{{ "{:>400000000}".format(1) }}'
SPINNING = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x"
CATASTROPHIC = """\
    regexReplacements:
      - {file: target.txt, regex: "^(a+)+$", replacement: "b"}
"""


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        refs = ",".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    body = "\n".join("  " + line for line in lines)
    return HEADER.format(name="laughs") + '  title: "x"\n  documentation:\n' + body + "\n"


ATTACKS = {
    "doubling": automation("doubling", DOUBLING),
    "padding": automation("padding", PADDING),
    "spinning": automation("spinning", SPINNING),
    "catastrophic": automation("catastrophic", "regex", CATASTROPHIC),
}


@pytest.fixture
def forge_files() -> dict[str, str]:
    files = {f".prbot/{name}.yaml": text for name, text in ATTACKS.items()}
    files["v.yaml"] = "a: '1'\n"
    files["target.txt"] = "a" * 40 + "b\n"
    return files


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN}


def stored_deliveries(data_dir: Path) -> set[str]:
    with sqlite3.connect(f"file:{data_dir / 'prbot.db'}?mode=ro", uri=True) as conn:
        return {row[0] for row in conn.execute("SELECT delivery_id FROM deliveries")}


async def test_attacks_through_the_api_fail_clearly_while_intake_goes_on(
    tmp_path: Path, forge_repo: ForgeRepo
) -> None:
    forge = forge_repo.forge
    await forge.create_repo(BOMB_REPO, files={".prbot/laughs.yaml": billion_laughs()})
    forge.set_permission(BOMB_REPO, forge_repo.bot, "admin")
    data_dir = tmp_path / "data"
    env = {
        "WEBHOOK_SECRET": SECRET,
        "GITHUB_TOKEN": TOKEN,
        "GHE_HOST": f"127.0.0.1:{forge_repo.server.port}",
        "GHE_PROTOCOL": "http",
        "PRBOT_DATA_DIR": str(data_dir),
        "PRBOT_AUTOMATIONS_DIR": str(ROOT / "automations"),
        "PRBOT_API_TOKEN": API_TOKEN,
        "PRBOT_WORKERS": "4",
        "PRBOT_SANDBOX_PROCESSES": "4",
        "PRBOT_SANDBOX_SECONDS": str(DEADLINE),
        "PRBOT_SANDBOX_CPU_SECONDS": str(DEADLINE),
        "PRBOT_SANDBOX_MEMORY_MIB": "256",
        "PRBOT_RECONCILE_SECONDS": "3600",
        "LOG_FORMAT": "json",
    }
    delivery = (WEBHOOKS / "github" / "pull_request.opened.json").read_bytes()
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    async with (
        serve_process(tmp_path, env) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=30) as http,
    ):
        await wait_for(lambda: len(children_of(served.pid)) >= 4, timeout=20, what="box processes")
        boxes_before = children_of(served.pid)
        memory_before = rss_bytes([served.pid, *boxes_before])

        async def ask(name: str, repo: str = REPO) -> httpx.Response:
            body = {"automation": name, "repo": repo, "platform": "github"}
            body |= {"inputs": {}, "requested_by": "mallory"}
            return await http.post("/api/runs", headers=auth, json=body)

        async def run_of(run_id: int) -> dict:
            return (await http.get(f"/api/runs/{run_id}", headers=auth)).json()["run"]

        runs = {}
        for name in ATTACKS:
            answer = await ask(name)
            assert answer.status_code == 201, answer.text
            runs[name] = answer.json()["run"]["id"]

        # meanwhile: health and intake answer, and quickly
        acked: list[float] = []
        for i in range(6):
            t0 = time.monotonic()
            assert (await http.get("/healthz")).status_code == 200
            delivery_id = f"attack-meanwhile-{i}"
            headers = {
                "Content-Type": "application/json",
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": delivery_id,
                "X-Hub-Signature-256": sign(SECRET, delivery),
            }
            answer = await http.post("/webhooks/github", content=delivery, headers=headers)
            assert answer.status_code in (200, 202), answer.text
            acked.append(time.monotonic() - t0)
            await asyncio.sleep(0.3)
        assert max(acked) < 1.0, acked
        assert {f"attack-meanwhile-{i}" for i in range(6)} <= stored_deliveries(data_dir)

        finished = {}
        for name, run_id in runs.items():
            run = await wait_for(
                lambda run_id=run_id: _done(run_of(run_id)),
                timeout=DEADLINE + MARGIN + 10,
                every=0.1,
                what=f"the {name} run to end",
            )
            # how long the run took, by the server's own clock: created to finished
            finished[name] = (run, run["updated_at"] - run["created_at"])
        for name, (run, elapsed) in finished.items():
            assert elapsed < DEADLINE + MARGIN, (name, elapsed, run)
            if name == "catastrophic":
                # RE2 runs it in linear time: no match, nothing to change, well in time
                assert run["status"] == "no_change", run
                continue
            assert run["status"] == "failed", run
            assert "exceed" in run["error"], run  # names the limit it went over

        # the bomb: refused when its repository's definitions load, and the API says so
        t0 = time.monotonic()
        answer = await ask("laughs", BOMB_REPO)
        assert answer.status_code == 422, answer.text
        assert time.monotonic() - t0 < DEADLINE + MARGIN
        assert "max_alias_nodes" in answer.json()["errors"]["automation"], answer.text

        # attacks as input values: one huge value, too many values, an evil value for a
        # validation regex (RE2: linear, so a quick 422 or 201, never a stall)
        async def ask_inputs(inputs: dict) -> httpx.Response:
            body = {"automation": "image-bump", "repo": REPO, "platform": "github"}
            body |= {"inputs": inputs, "requested_by": "mallory"}
            return await http.post("/api/runs", headers=auth, json=body)

        base = {"service": "myapp", "env": "dev"}
        answer = await ask_inputs({**base, "tag": "1" * (100 * 1024)})
        assert answer.status_code == 422, answer.text
        assert "max_input_bytes" in answer.json()["errors"]["inputs.tag"]
        answer = await ask_inputs({**base, **{f"x{i}": "1" for i in range(300)}})
        assert answer.status_code == 422, answer.text
        assert "max_inputs" in answer.text
        t0 = time.monotonic()
        answer = await ask_inputs({**base, "tag": "1" * 50_000 + "!"})
        assert answer.status_code == 422, answer.text  # not a version: refused, and quickly
        assert time.monotonic() - t0 < 2.0

        # afterwards: as many box processes as before, memory back to normal
        await wait_for(
            lambda: len(children_of(served.pid)) == len(boxes_before),
            timeout=10,
            what="the box processes to be replaced",
        )
        await asyncio.sleep(0.5)
        memory_after = rss_bytes([served.pid, *children_of(served.pid)])
        assert memory_after < memory_before * 1.5 + 64 * 1024 * 1024
    assert served.exit_code == 0, served.output()[-3000:]


async def _done(run_coro) -> dict | None:
    run = await run_coro
    return run if run["status"] in ("failed", "no_change", "pr_open") else None


@pytest.mark.parametrize("name", ["doubling", "padding", "spinning"])
def test_attacks_on_the_command_line(tmp_path: Path, name: str) -> None:
    repo = tmp_path / "repo"
    (repo / ".prbot").mkdir(parents=True)
    (repo / ".prbot" / f"{name}.yaml").write_text(ATTACKS[name])
    (repo / "v.yaml").write_text("a: '1'\n")
    env = {"PATH": "/usr/bin:/bin", "PRBOT_SANDBOX_SECONDS": "2", "PRBOT_SANDBOX_MEMORY_MIB": "256"}
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "prbot.cli", "render", name, "--repo", str(repo)],
        cwd=ROOT,
        env={**env, "PRBOT_AUTOMATIONS_DIR": str(tmp_path / "none")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - t0 < 2 + MARGIN
    assert done.returncode == 2, done.stdout + done.stderr
    assert "exceed" in done.stderr, done.stderr


def test_a_yaml_bomb_on_the_command_line(tmp_path: Path) -> None:
    bomb = tmp_path / "laughs.yaml"
    bomb.write_text(billion_laughs())
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "prbot.cli", "validate", str(bomb)],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PRBOT_SANDBOX_SECONDS": "2"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - t0 < 2 + MARGIN
    assert done.returncode == 2, done.stdout + done.stderr
    assert "laughs.yaml" in done.stderr or "exceed" in done.stderr, done.stderr
