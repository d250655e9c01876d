"""``prbot setup gitlab`` against the forge's GitLab API: the hook with prbot's events and a
fresh secret saved owner-only, which ``prbot serve`` reads; the token's scopes and role
checked; a group hook; nothing made when something is wrong."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from ruamel.yaml import YAML

from prbot.forge.git import Change
from prbot.setup import gitlab_hooks
from prbot.setup.credentials import SetupError
from tests.support.forge import ForgeRepo
from tests.support.serve import ROOT, free_port, serve_process
from tests.support.waiting import wait_for

FLAGS = {
    "push_events",
    "merge_requests_events",
    "note_events",
    "pipeline_events",
    "deployment_events",
}


def _setup(tmp_path: Path, forge_repo: ForgeRepo, **kw) -> gitlab_hooks.GitLabSetup:
    kw.setdefault("project", forge_repo.repo)
    kw.setdefault("token", forge_repo.token)
    kw.setdefault("webhook_url", "http://127.0.0.1:9/webhooks/gitlab")
    return gitlab_hooks.GitLabSetup(
        url=forge_repo.server.url, output=tmp_path / "data" / "gitlab.yaml", **kw
    )


def _gitlab_hooks(forge_repo: ForgeRepo) -> list:
    return [h for h in forge_repo.forge.hooks(forge_repo.repo) if h.platform == "gitlab"]


async def _token(forge_repo: ForgeRepo, login: str, scopes: list[str]) -> str:
    async with httpx.AsyncClient() as http:
        made = await http.post(
            f"{forge_repo.server.url}/_forge/gitlab/tokens", json={"login": login, "scopes": scopes}
        )
    assert made.status_code == 201, made.text
    return made.json()["token"]


async def test_the_hook_is_registered_and_serve_takes_its_deliveries(
    tmp_path: Path, forge_repo: ForgeRepo
) -> None:
    port = free_port()
    setup = _setup(tmp_path, forge_repo, webhook_url=f"http://127.0.0.1:{port}/webhooks/gitlab")
    forge_repo.server.requests.reset()
    done = await gitlab_hooks.run(setup)
    # the token's scopes, the hooks already there, the new hook
    assert forge_repo.server.requests.counts() == {
        "GET /api/v4/personal_access_tokens/self": 1,
        "GET /api/v4/projects/{id}/hooks": 1,
        "POST /api/v4/projects/{id}/hooks": 1,
    }
    assert done.new_secret and not done.existed and done.scopes == ("api",)
    assert done.target == f"project {forge_repo.repo}"
    [hook] = _gitlab_hooks(forge_repo)
    assert hook.id == done.hook_id and set(hook.events) == FLAGS
    assert setup.output.stat().st_mode & 0o777 == 0o600
    saved = YAML(typ="safe").load(setup.output.read_text())
    assert saved == {"GITLAB_URL": forge_repo.server.url, "GITLAB_WEBHOOK_SECRET": hook.secret}
    assert len(hook.secret) >= 32

    # again: the hook is there already, nothing added
    again = await gitlab_hooks.run(setup)
    assert again.existed and again.hook_id == hook.id and len(_gitlab_hooks(forge_repo)) == 1

    env = {
        "PRBOT_DATA_DIR": str(tmp_path / "data"),  # serve finds gitlab.yaml there
        "GITLAB_TOKEN": forge_repo.token,
        "PRBOT_AUTOMATIONS_DIR": str(ROOT / "automations"),
        "PRBOT_RECONCILE_SECONDS": "3600",
    }
    async with serve_process(tmp_path, env, port=port) as served:
        await forge_repo.forge.commit_changes(
            forge_repo.repo,
            "main",
            "a change",
            {"NOTES.md": Change(content=b"x\n")},
            actor=forge_repo.bot,
        )

        def answered() -> list:
            return [d for d in forge_repo.forge.webhooks.deliveries(hook.id) if d.status_code]

        delivered = await wait_for(answered, timeout=20, every=0.05, what="the push delivery")
        assert delivered[0].event == "Push Hook"
        assert delivered[0].status_code in (200, 202), delivered[0].summary()
    assert hook.secret not in served.output()


async def test_force_replaces_the_hook_and_a_configured_secret_is_reused(
    tmp_path: Path, forge_repo: ForgeRepo
) -> None:
    first = await gitlab_hooks.run(_setup(tmp_path, forge_repo, secret="configured-secret-1"))
    assert not first.new_secret and not (tmp_path / "data" / "gitlab.yaml").exists()
    replaced = await gitlab_hooks.run(
        _setup(tmp_path, forge_repo, secret="configured-secret-1", force=True)
    )
    assert replaced.replaced and replaced.hook_id != first.hook_id
    [hook] = _gitlab_hooks(forge_repo)
    assert hook.id == replaced.hook_id and hook.secret == "configured-secret-1"


async def test_a_token_without_the_api_scope_or_role_registers_nothing(
    tmp_path: Path, forge_repo: ForgeRepo
) -> None:
    read_only = await _token(forge_repo, forge_repo.bot, ["read_api"])
    with pytest.raises(SetupError, match="scopes read_api; prbot needs api"):
        await gitlab_hooks.run(_setup(tmp_path, forge_repo, token=read_only))
    with pytest.raises(SetupError, match="GITLAB_TOKEN is not valid"):
        await gitlab_hooks.run(_setup(tmp_path, forge_repo, token="glpat-not-a-token"))
    forge_repo.forge.create_user("dev")
    forge_repo.forge.set_permission(forge_repo.repo, "dev", "write")  # GitLab's Developer
    developer = forge_repo.forge.create_token("dev")
    with pytest.raises(SetupError, match="Maintainer role"):
        await gitlab_hooks.run(_setup(tmp_path, forge_repo, token=developer))
    with pytest.raises(SetupError, match="--webhook-url 'nope': must be an http"):
        await gitlab_hooks.run(_setup(tmp_path, forge_repo, webhook_url="nope"))
    assert _gitlab_hooks(forge_repo) == []
    assert not (tmp_path / "data" / "gitlab.yaml").exists()


async def test_a_group_hook_covers_the_groups_projects(
    tmp_path: Path, forge_repo: ForgeRepo
) -> None:
    forge = forge_repo.forge
    forge.create_team("acme")
    forge.set_team_member("acme", forge_repo.bot, role="maintainer")
    done = await gitlab_hooks.run(_setup(tmp_path, forge_repo, project=None, group="acme"))
    assert done.target == "group acme"
    [hook] = _gitlab_hooks(forge_repo)
    assert set(hook.events) == FLAGS
    async with httpx.AsyncClient() as http:
        listed = await http.get(
            f"{forge_repo.server.url}/api/v4/groups/acme/hooks",
            headers={"PRIVATE-TOKEN": forge_repo.token},
        )
    assert [h["id"] for h in listed.json()] == [done.hook_id]
    assert listed.json()[0]["merge_requests_events"] is True
    assert "token" not in listed.json()[0]


async def test_the_command_registers_and_prints_no_secret(
    tmp_path: Path, forge_repo: ForgeRepo
) -> None:
    import asyncio
    import sys

    env = {
        "PATH": "/usr/bin:/bin",
        "PRBOT_DATA_DIR": str(tmp_path / "data"),
        "GITLAB_TOKEN": forge_repo.token,
        "GITLAB_URL": forge_repo.server.url,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "prbot.cli",
        "setup",
        "gitlab",
        "--project",
        forge_repo.repo,
        "--webhook-url",
        "http://127.0.0.1:9/webhooks/gitlab",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    [hook] = _gitlab_hooks(forge_repo)
    text = out.decode() + err.decode()
    assert f"project {forge_repo.repo}: webhook registered (hook {hook.id})" in text
    assert str(tmp_path / "data" / "gitlab.yaml") in text
    assert hook.secret not in text and forge_repo.token not in text
