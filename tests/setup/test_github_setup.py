"""``prbot setup github`` end to end against the forge: the local page, the forge's manifest
pages and conversion, the credentials file, and ``prbot serve`` reading that file and
taking the App's signed deliveries."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from ruamel.yaml import YAML

from prbot.forge.webhooks import github_signature
from prbot.setup import github_flow
from prbot.setup.credentials import SetupError
from prbot.setup.manifest import handled_events, needed_permissions
from tests.setup.flows import announced_url, form_of, register_app
from tests.support.forge import ForgeRepo
from tests.support.serve import ROOT, free_port, serve_process
from tests.support.waiting import wait_for

SLOW = {"timeout": 20.0, "every": 0.05}


def _setup(tmp_path: Path, forge_repo: ForgeRepo, port: int, **kw) -> github_flow.GitHubSetup:
    return github_flow.GitHubSetup(
        webhook_url=f"http://127.0.0.1:{port}/webhooks/github",
        output=tmp_path / "data" / "github-app.yaml",
        github_url=forge_repo.server.url,
        timeout=60,
        **kw,
    )


async def test_manifest_flow_end_to_end_then_serve_takes_the_apps_deliveries(
    tmp_path: Path, forge_repo: ForgeRepo
) -> None:
    forge = forge_repo.forge
    forge.create_user("alice")
    port = free_port()
    setup = _setup(tmp_path, forge_repo, port, org="acme")
    lines: list[str] = []
    task = asyncio.create_task(github_flow.run(setup, announce=lines.append))
    page_url = await announced_url(lines, task)

    done = await register_app(page_url, "alice")
    assert done.status_code == 200 and "created" in done.text, done.text
    created = await asyncio.wait_for(task, 10)

    # the credentials file: owner-only, the variables prbot serve reads
    assert setup.output.stat().st_mode & 0o777 == 0o600
    data = YAML(typ="safe").load(setup.output.read_text())
    assert set(data) == {
        "APP_ID",
        "PRIVATE_KEY",
        "WEBHOOK_SECRET",
        "GITHUB_CLIENT_ID",
        "GITHUB_CLIENT_SECRET",
        "GHE_HOST",
        "GHE_PROTOCOL",
    }
    assert data["GHE_HOST"] == f"127.0.0.1:{forge_repo.server.port}"
    assert data["PRIVATE_KEY"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    # the App on the forge is the manifest's: least privilege, the events prbot handles
    app = forge.app(int(data["APP_ID"]))
    assert created.app_id == app.id and created.owner == "acme" and app.owner == "acme"
    assert app.permissions == needed_permissions()
    assert app.events == handled_events()
    assert app.callback_url == f"http://127.0.0.1:{port}/auth/github/callback"
    # no secret on the terminal or the page
    shown = "\n".join(lines) + done.text
    for secret in (data["WEBHOOK_SECRET"], data["GITHUB_CLIENT_SECRET"]):
        assert secret not in shown
    assert "PRIVATE KEY" not in shown
    # prbot's own requests: one, the conversion (the rest was the browser's)
    conversions = forge_repo.server.requests.count("POST /api/v3/app-manifests/{code}/conversions")
    assert conversions == 1
    # the code converts once
    code = done.url.params["code"]
    again = await httpx.AsyncClient().post(
        f"{forge_repo.server.github_api_url}/app-manifests/{code}/conversions"
    )
    assert again.status_code == 404

    # prbot serve reads the file (nothing else names the App) and takes its deliveries
    await forge.install_app(app.id, "acme", repos=[forge_repo.repo])
    env = {
        "PRBOT_DATA_DIR": str(tmp_path / "data"),
        "PRBOT_AUTOMATIONS_DIR": str(ROOT / "automations"),
        "PRBOT_RECONCILE_SECONDS": "3600",
    }
    hook = next(h for h in forge.hooks() if h.app_id == app.id)
    async with serve_process(tmp_path, env, port=port) as served:
        sha = forge_repo.rev("main")
        await forge.post_status(forge_repo.repo, sha, "success", context="ci", creator="alice")

        def answered() -> list:
            return [
                d
                for d in forge.webhooks.deliveries(hook.id)
                if d.event == "status" and d.status_code
            ]

        delivered = await wait_for(answered, **SLOW, what="the App's status delivery")
        assert delivered[0].status_code in (200, 202), delivered[0].summary()
        # it was verified with the file's secret: the same body signed otherwise is refused
        body = b'{"zen": "x"}'
        async with httpx.AsyncClient(base_url=served.base_url) as http:
            wrong = await http.post(
                "/webhooks/github",
                content=body,
                headers={
                    "X-GitHub-Event": "ping",
                    "X-GitHub-Delivery": "d-1",
                    "X-Hub-Signature-256": github_signature("not-the-secret", body),
                    "Content-Type": "application/json",
                },
            )
            right = await http.post(
                "/webhooks/github",
                content=body,
                headers={
                    "X-GitHub-Event": "ping",
                    "X-GitHub-Delivery": "d-2",
                    "X-Hub-Signature-256": github_signature(data["WEBHOOK_SECRET"], body),
                    "Content-Type": "application/json",
                },
            )
        assert wrong.status_code == 401 and right.status_code in (200, 202)
    log = served.output()
    for secret in (data["WEBHOOK_SECRET"], data["GITHUB_CLIENT_SECRET"]):
        assert secret not in log


async def test_a_callback_with_another_state_is_refused_and_the_flow_keeps_waiting(
    tmp_path: Path, forge_repo: ForgeRepo
) -> None:
    setup = _setup(tmp_path, forge_repo, free_port())
    lines: list[str] = []
    task = asyncio.create_task(github_flow.run(setup, announce=lines.append))
    page_url = await announced_url(lines, task)
    try:
        async with httpx.AsyncClient() as http:
            forged = await http.get(f"{page_url}callback", params={"code": "c", "state": "x"})
            assert forged.status_code == 400 and "state" in forged.text
            assert not task.done() and not setup.output.exists()
            # a right state with a code the forge never issued: the flow stops, saying why
            page = await http.get(page_url)
            action, _ = form_of(page.text)
            state = httpx.URL(action).params["state"]
            bad = await http.get(f"{page_url}callback", params={"code": "nope", "state": state})
            assert bad.status_code == 502
        with pytest.raises(SetupError, match="refused the code"):
            await asyncio.wait_for(task, 5)
        assert not setup.output.exists()
    finally:
        task.cancel()


async def test_the_forge_refuses_a_confirm_form_it_did_not_make(forge_repo: ForgeRepo) -> None:
    url = forge_repo.server.url
    manifest = (
        '{"name": "x", "url": "http://a", "redirect_url": "http://127.0.0.1:9/cb", '
        '"hook_attributes": {"url": "http://127.0.0.1:9/h"}}'
    )
    async with httpx.AsyncClient() as http:
        forged = await http.post(
            f"{url}/settings/apps/new/confirm",
            data={
                "manifest": manifest,
                "state": "",
                "org": "",
                "login": "prbot",
                "issued_at": "1",
                "authenticity_token": "0" * 64,
            },
        )
        assert forged.status_code == 403
        # an event with no permission carrying it: refused as GitHub does
        bad = await http.post(
            f"{url}/settings/apps/new",
            data={"manifest": manifest[:-1] + ', "default_events": ["push"]}'},
        )
        assert bad.status_code == 422 and "Default events unsupported: push" in bad.text
    assert forge_repo.forge.apps() == []


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prbot.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def test_setup_refuses_to_overwrite_credentials_and_names_bad_arguments(tmp_path: Path) -> None:
    existing = tmp_path / "github-app.yaml"
    existing.write_text("APP_ID: 1\n")
    existing.chmod(0o600)
    env = {"PRBOT_DATA_DIR": str(tmp_path)}
    kept = _cli(
        "setup",
        "github",
        "--webhook-url",
        "https://p.example/webhooks/github",
        "--timeout",
        "1",
        env=env,
    )
    assert kept.returncode == 2
    assert f"{existing} exists: pass --force" in kept.stderr
    assert existing.read_text() == "APP_ID: 1\n"
    bad = _cli(
        "setup",
        "github",
        "--webhook-url",
        "prbot.example",
        "--output",
        str(tmp_path / "other.yaml"),
        env=env,
    )
    assert bad.returncode == 2 and "--webhook-url 'prbot.example': must be an http(s) URL" in (
        bad.stderr
    )
    assert not (tmp_path / "other.yaml").exists()
