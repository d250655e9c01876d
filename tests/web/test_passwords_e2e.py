"""Password inputs end to end: `prbot serve` as a process, the forge on loopback, an
automation whose file template writes its password input (the definition's own choice).

Through the catalog's form (no JavaScript, behind a proxy) and through POST /api/runs,
the password reaches the rendered file and nothing else: not the PR's title or body, the
run's page or "run again", the API's answers, the preview (masked), a refused form, the
log, nor any byte of the store (the SQLite database, its WAL and its bodies folder).
And when prbot restarts before such a run is done, the run fails saying so, and no PR
is opened without the password."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest

from prbot.engine.vault import PASSWORD_GONE, SEALED_SECONDS
from tests.support.clock import ClockFile
from tests.support.forge import Files, ForgeRepo
from tests.support.promotions import serve_env
from tests.support.serve import free_port, serve_process
from tests.support.waiting import wait_for

REPO = "acme/gitops"
TOKEN = "passwords-forge-token-5678"
SECRET = "passwords-webhook-secret-1234"
API = {"Authorization": "Bearer passwords-api-token"}
FORM_PASSWORD = "pw-form-Zq8unique4471"
API_PASSWORD = "pw-api-Kx3unique9902"
LOST_PASSWORD = "pw-lost-Rm5unique1183"
SLOW = {"timeout": 30.0, "every": 0.1}

DEFINITION = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: db-credentials}
spec:
  description: Database credentials for a service
  title: "Credentials for {{ context.name }}"
  message: "Adds the credentials of {{ context.name }}"
  configuration:
    - {name: name, type: string, validation: {regex: "^[a-z]+$"}}
    - {name: password, type: password, documentation: "the database password"}
  creates:
    templates:
      - {source: db.yaml, destination: "db/{{ context.name }}.yaml"}
"""


@pytest.fixture
def forge_files() -> Files:
    return {"README.md": "# gitops\n"}


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN, "permissions": {"alice": "write"}}


def environment(forge_repo: ForgeRepo, tmp_path: Path, port: int, **more: str) -> dict[str, str]:
    automations = tmp_path / "automations"
    automations.mkdir(exist_ok=True)
    (automations / "db-credentials.yaml").write_text(DEFINITION)
    (automations / "db.yaml").write_text(
        "user: {{ context.name }}\npassword: {{ context.password }}\n"
    )
    return serve_env(
        forge_repo, tmp_path, port, webhook_secret=SECRET, api_token=API["Authorization"][7:],
        PRBOT_UI_AUTH="proxy", PRBOT_AUTOMATIONS_DIR=str(automations), **more,
    )  # fmt: skip


def stored_files(data: Path) -> Iterator[Path]:
    return (p for p in data.rglob("*") if p.is_file())


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return unescape(found.group(1))


async def test_a_password_reaches_the_file_and_nothing_else(tmp_path, forge_repo: ForgeRepo):
    forge = forge_repo.forge
    port = free_port()
    env = environment(forge_repo, tmp_path, port)
    alice = {"X-Forwarded-User": "alice"}
    said: list[str] = []  # every answer prbot gave, searched at the end
    async with (
        serve_process(tmp_path, env, port=port) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=20, headers=alice) as web,
    ):
        page = await web.get(f"/catalog/db-credentials?repo={REPO}")
        assert '<input type="password" autocomplete="off" id="f-password" name="password"' in (
            page.text
        )
        form = {"csrf_token": csrf(page.text), "platform": "github", "repo": REPO,
                "name": "orders", "password": FORM_PASSWORD}  # fmt: skip

        # a refused form never sends the password back
        wrong = await web.post(
            "/catalog/db-credentials", data={**form, "name": "Bad", "action": "run"}
        )
        assert wrong.status_code == 422 and "must match the pattern" in wrong.text
        said.append(wrong.text)
        # the preview renders with it, and shows it masked
        preview = await web.post("/catalog/db-credentials", data={**form, "action": "preview"})
        assert preview.status_code == 200 and "+password: ***" in unescape(preview.text)
        said.append(preview.text)

        done = await web.post(
            "/catalog/db-credentials", data={**form, "action": "run"}, follow_redirects=False
        )
        assert done.status_code == 302, done.text
        run_page = done.headers["Location"]

        def pr_of(branch_part: str):
            return next(
                (p for p in forge.pull_requests(REPO, state="open") if branch_part in p.title), None
            )

        pr = await wait_for(lambda: pr_of("orders"), **SLOW, what="the form's PR")
        assert forge_repo.show(pr.head, "db/orders.yaml") == (
            f"user: orders\npassword: {FORM_PASSWORD}\n"
        )
        assert "Requested by @alice in [the catalog]" in pr.body

        async def page_says_open() -> str | None:
            text = (await web.get(run_page)).text
            return text if "The pull request is open" in text else None

        said.append(await wait_for(page_says_open, **SLOW, what="the run's page"))
        assert 'href="/catalog/db-credentials?repo=acme%2Fgitops&amp;name=orders"' in said[-1]

        # the API takes one too
        asked = await web.post(
            "/api/runs",
            headers=API,
            json={"automation": "db-credentials", "platform": "github", "repo": REPO,
                  "requested_by": "alice", "inputs": {"name": "billing", "password": API_PASSWORD}},
        )  # fmt: skip
        assert asked.status_code == 201, asked.text
        said.append(asked.text)
        api_pr = await wait_for(lambda: pr_of("billing"), **SLOW, what="the API's PR")
        assert forge_repo.show(api_pr.head, "db/billing.yaml").endswith(f"{API_PASSWORD}\n")
        run_id = asked.json()["run"]["id"]
        said.append((await web.get(f"/api/runs/{run_id}", headers=API)).text)
        jobs = (await web.get("/api/jobs", headers=API)).json()["jobs"]
        said.append(str(jobs))
        # the job names the password input, never its value
        assert {"password"} == {n for j in jobs for n in j["payload"].get("sealed", [])}
        for each in (pr, api_pr):
            said += [each.title, each.body]
            said += [c.body for c in forge.comments(REPO, each.number)]
    said.append(served.output())
    for text in said:
        assert FORM_PASSWORD not in text and API_PASSWORD not in text
    data = tmp_path / "data"
    files = list(stored_files(data))
    assert any(p.name.endswith(".db") for p in files), files
    for path in files:
        content = path.read_bytes()
        leaked = FORM_PASSWORD.encode() in content or API_PASSWORD.encode() in content
        assert not leaked, f"a password is in {path}"


async def test_a_restart_before_the_run_is_done_fails_it(tmp_path, forge_repo: ForgeRepo):
    """The platform fails every default-branch read, so the run keeps retrying; prbot is
    killed; the one started after it cannot have the password: the run fails with words,
    once its guard is due (the clock moved past it), and no PR is ever opened."""
    forge = forge_repo.forge
    port = free_port()
    clock = ClockFile(tmp_path / "clock")
    env = environment(forge_repo, tmp_path, port, PRBOT_CLOCK_FILE=str(clock.path))
    forge_repo.server.faults.configure(
        error_rate=1.0, error_statuses=[503], match=r"^GET /api/v3/repos/\{owner\}/\{repo\}$"
    )
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    body = {"automation": "db-credentials", "platform": "github", "repo": REPO,
            "requested_by": "alice", "inputs": {"name": "orders", "password": LOST_PASSWORD}}  # fmt: skip
    async with serve_process(first, env, port=port) as served:
        async with httpx.AsyncClient(base_url=served.base_url, timeout=20, headers=API) as web:
            asked = await web.post("/api/runs", json=body)
            assert asked.status_code == 201, asked.text
            run_id = asked.json()["run"]["id"]

            async def tried() -> bool:
                run = (await web.get(f"/api/runs/{run_id}")).json()["run"]
                return run["status"] == "queued" and "503" in run["error"]

            await wait_for(tried, **SLOW, what="a first attempt to fail")
        served.process.kill()  # a crash: nothing of the process is left
        await asyncio.to_thread(served.process.wait)
    forge_repo.server.faults.clear()
    clock.write(SEALED_SECONDS + 60)  # the run's guard is due
    async with (
        serve_process(second, env, port=port) as again,
        httpx.AsyncClient(base_url=again.base_url, timeout=20, headers=API) as web,
    ):

        async def failed() -> dict | None:
            run = (await web.get(f"/api/runs/{run_id}")).json()["run"]
            return run if run["status"] == "failed" else None

        run = await wait_for(failed, **SLOW, what="the run to fail")
        assert run["error"] == PASSWORD_GONE
        page = await web.get(f"/runs/{run_id}", headers={"X-Forwarded-User": "alice"})
        assert "the password input is gone" in page.text
    assert forge.pull_requests(REPO, state="all") == []
    for log in (served.output(), again.output()):
        assert LOST_PASSWORD not in log
