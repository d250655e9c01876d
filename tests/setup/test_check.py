"""``prbot check`` against the forge: a good deployment on each platform passes (exit 0);
each failure it detects shows in its row with its fix (exit 1)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from prbot.forge.git import Change
from prbot.settings import load_settings
from prbot.setup.check import Row, passed, table
from prbot.setup.manifest import handled_events, needed_permissions
from prbot.setup.run_check import run_checks
from tests.support.forge import ForgeRepo, app_keypair
from tests.support.serve import ROOT, free_port
from tests.support.waiting import wait_for

SECRET = "check-webhook-secret-1"
APP_ID = 4242


@asynccontextmanager
async def receiver() -> AsyncIterator[str]:
    """A webhook receiver on 127.0.0.1 that accepts everything: a reachable prbot."""

    async def take(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True}, status=202)

    app = web.Application()
    app.router.add_post("/webhooks/{platform}", take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _env(tmp_path: Path, forge_repo: ForgeRepo, **extra: str) -> dict[str, str]:
    return {
        "PRBOT_DATA_DIR": str(tmp_path / "data"),
        "GHE_HOST": f"127.0.0.1:{forge_repo.server.port}",
        "GHE_PROTOCOL": "http",
        **extra,
    }


def _app_env(tmp_path: Path, forge_repo: ForgeRepo, **extra: str) -> dict[str, str]:
    return _env(
        tmp_path,
        forge_repo,
        APP_ID=str(APP_ID),
        PRIVATE_KEY=app_keypair()[0],
        WEBHOOK_SECRET=SECRET,
        **extra,
    )


async def _rows(env: dict[str, str], **kw) -> list[Row]:
    return await run_checks(load_settings(env), **kw)


def _row(rows: list[Row], check: str) -> Row:
    found = [r for r in rows if r.check == check]
    assert found, table(rows)
    return found[0]


async def _app(forge_repo: ForgeRepo, *, key: str | None = None, **kw) -> None:
    kw.setdefault("permissions", needed_permissions())
    kw.setdefault("events", handled_events())
    await forge_repo.forge.register_app(APP_ID, key or app_keypair()[1], slug="prbot", **kw)


async def _deliver(forge_repo: ForgeRepo, hook_id: int) -> None:
    forge = forge_repo.forge
    sha = forge_repo.rev("main")
    await forge.post_status(forge_repo.repo, sha, "success", context="ci", creator=forge_repo.bot)
    await wait_for(
        lambda: any(
            d.status_code is not None or d.error for d in forge.webhooks.deliveries(hook_id)
        ),
        timeout=10,
    )


async def test_a_good_github_app_passes_every_check(tmp_path: Path, forge_repo: ForgeRepo) -> None:
    async with receiver() as prbot:
        url = f"{prbot}/webhooks/github"
        await _app(forge_repo)
        hook = forge_repo.forge.add_hook("github", url, secret=SECRET, app_id=APP_ID)
        await forge_repo.forge.install_app(APP_ID, "acme", repos=[forge_repo.repo])
        await _deliver(forge_repo, hook.id)
        forge_repo.server.requests.reset()
        rows = await _rows(_app_env(tmp_path, forge_repo), github_webhook_url=url)
    # one request each: the App, its installations, its hook's config, its deliveries
    assert forge_repo.server.requests.counts() == {
        "GET /api/v3/app": 1,
        "GET /api/v3/app/installations": 1,
        "GET /api/v3/app/hook/config": 1,
        "GET /api/v3/app/hook/deliveries": 1,
    }
    assert passed(rows), table(rows)
    assert [r.result for r in rows] == ["ok"] * len(rows)
    assert _row(rows, "webhook").detail.endswith("last delivery OK")
    assert _row(rows, "installation on acme").result == "ok"


async def test_each_github_app_failure_shows_its_fix(tmp_path: Path, forge_repo: ForgeRepo) -> None:
    forge = forge_repo.forge
    env = _app_env(tmp_path, forge_repo)
    # the App exists with another key: ours is refused
    other_public = _other_public_key()
    await _app(forge_repo, key=other_public)
    rows = await _rows(env)
    key = _row(rows, "App key")
    assert key.result == "FAIL" and "PRIVATE_KEY_PATH" in key.fix and not passed(rows)

    # the right key, fewer permissions than needed, not installed, no webhook
    await _app(forge_repo, key=app_keypair()[1])  # re-registering replaces the key
    app = forge.app(APP_ID)
    app.permissions = {k: v for k, v in needed_permissions().items() if k != "members"}
    app.permissions["statuses"] = "read"
    rows = await _rows(env)
    perms = _row(rows, "App permissions")
    assert perms.result == "FAIL" and perms.detail == "members: read, statuses: write"
    assert perms.fix.startswith("grant members: read, statuses: write at ")
    installed = _row(rows, "installed")
    assert installed.result == "FAIL" and installed.fix.endswith("/apps/prbot/installations/new")
    hook = _row(rows, "webhook")
    assert hook.result == "FAIL" and "has no webhook URL" in hook.detail

    # installed before the App gained members: the installation must accept it
    app.permissions = needed_permissions()
    lacking = {k: v for k, v in needed_permissions().items() if k != "members"}
    inst = await forge.install_app(APP_ID, "acme", permissions=lacking)
    rows = await _rows(env)
    row = _row(rows, "installation on acme")
    assert row.result == "FAIL" and row.detail == "lacks members: read"
    assert row.fix.endswith(f"/settings/installations/{inst.id}")

    # a webhook GitHub cannot deliver to
    closed = f"http://127.0.0.1:{free_port()}/webhooks/github"
    hook_id = forge.add_hook("github", closed, secret=SECRET, app_id=APP_ID).id
    await _deliver(forge_repo, hook_id)
    row = _row(await _rows(env), "webhook")
    assert row.result == "FAIL" and "last delivery failed" in row.detail
    assert row.fix.startswith(f"make {closed} reachable from GitHub")


def _other_public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


async def test_github_token_mode(tmp_path: Path, forge_repo: ForgeRepo) -> None:
    good = await _rows(
        _env(tmp_path, forge_repo, GITHUB_TOKEN=forge_repo.token, WEBHOOK_SECRET=SECRET)
    )
    assert passed(good), table(good)
    assert _row(good, "GITHUB_TOKEN").detail == f"works, as {forge_repo.bot}"
    bad = await _rows(_env(tmp_path, forge_repo, GITHUB_TOKEN="ghp_wrong", WEBHOOK_SECRET=SECRET))
    row = _row(bad, "GITHUB_TOKEN")
    assert row.result == "FAIL" and "create a new one" in row.fix and not passed(bad)


async def test_gitlab_good_and_each_failure(tmp_path: Path, forge_repo: ForgeRepo) -> None:
    base = {"GITLAB_URL": forge_repo.server.url, "GITLAB_WEBHOOK_SECRET": SECRET}
    project = {"gitlab_projects": [forge_repo.repo]}
    env = _env(tmp_path, forge_repo, GITLAB_TOKEN=forge_repo.token, **base)

    missing = await _rows(env, **project)
    row = _row(missing, f"webhook of project {forge_repo.repo}")
    assert row.result == "FAIL" and row.detail == "no prbot webhook registered"
    assert row.fix.startswith(f"run: prbot setup gitlab --project {forge_repo.repo} ")

    async with receiver() as prbot:
        hook = forge_repo.forge.add_hook(
            "gitlab",
            f"{prbot}/webhooks/gitlab",
            secret=SECRET,
            repo=forge_repo.repo,
            events=[
                "push_events",
                "merge_requests_events",
                "note_events",
                "pipeline_events",
                "deployment_events",
            ],
        )
        forge_repo.server.requests.reset()
        good = await _rows(env, **project)
        assert passed(good), table(good)
        # the user, the token's scopes, the project's hooks: nothing written
        assert forge_repo.server.requests.counts() == {
            "GET /api/v4/user": 1,
            "GET /api/v4/personal_access_tokens/self": 1,
            "GET /api/v4/projects/{id}/hooks": 1,
        }
        assert _row(good, "token scopes").detail == "api"
        # four failed deliveries in a row: GitLab would have disabled the hook
        hook.url = f"http://127.0.0.1:{free_port()}/webhooks/gitlab"
        for n in range(4):
            await forge_repo.forge.commit_changes(
                forge_repo.repo,
                "main",
                f"change {n}",
                {"N.md": Change(content=b"%d" % n)},
                actor=forge_repo.bot,
            )
        await wait_for(
            lambda: len([d for d in forge_repo.forge.webhooks.deliveries(hook.id) if d.error]) >= 4,
            timeout=15,
        )
        row = _row(await _rows(env, **project), f"webhook of project {forge_repo.repo}")
        assert row.result == "FAIL" and "temporarily_disabled" in row.detail

    bad = await _rows(_env(tmp_path, forge_repo, GITLAB_TOKEN="glpat-wrong", **base))
    row = _row(bad, "GITLAB_TOKEN")
    assert row.result == "FAIL" and "api scope" in row.fix


async def test_the_command_prints_the_table_and_exits_1_on_a_failure(
    tmp_path: Path, forge_repo: ForgeRepo
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        **_env(tmp_path, forge_repo, GITHUB_TOKEN="ghp_wrong", WEBHOOK_SECRET=SECRET),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "prbot.cli",
        "check",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1, err.decode()
    text = out.decode()
    assert "GITHUB_TOKEN" in text and "FAIL" in text and "fix: the token is revoked" in text
    assert "ghp_wrong" not in text + err.decode()

    env["GITHUB_TOKEN"] = forge_repo.token
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "prbot.cli",
        "check",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode() + err.decode()
    assert "FAIL" not in out.decode()


def test_the_table_puts_each_fix_under_its_failure_and_skips_do_not_fail() -> None:
    rows = [
        Row("github", "App key", "ok", "App prbot (id 1)"),
        Row("github", "installed", "FAIL", "nowhere", "install it: https://x/installations/new"),
        Row("gitlab", "webhook", "skip", "no project named"),
    ]
    lines = table(rows).splitlines()
    assert lines[0].split() == ["PLATFORM", "CHECK", "RESULT", "DETAIL"]
    assert lines[2].split()[:3] == ["github", "installed", "FAIL"]
    assert lines[3].strip() == "fix: install it: https://x/installations/new"
    assert lines[4].split()[:3] == ["gitlab", "webhook", "skip"]
    assert not passed(rows) and passed([rows[0], rows[2]])


async def test_a_platform_with_a_secret_but_no_credentials_says_what_to_set(
    tmp_path: Path, forge_repo: ForgeRepo
) -> None:
    rows = await _rows(
        _env(tmp_path, forge_repo, WEBHOOK_SECRET=SECRET, GITLAB_WEBHOOK_SECRET=SECRET)
    )
    github, gitlab = _row(rows, "GITHUB_TOKEN"), _row(rows, "GITLAB_TOKEN")
    assert github.detail == gitlab.detail == "not set" and not passed(rows)
    assert github.fix == "set GITHUB_TOKEN, or run `prbot setup github` for an App"
    assert gitlab.fix.startswith("set GITLAB_TOKEN to a token made with the api scope at ")
