"""The demo's parts, started on 127.0.0.1 and stopped again: the local forge in this
process, seeded with the example GitOps repository, its people and prbot's credentials,
and ``prbot serve`` as a real process with SQLite in a temporary folder.

On GitHub prbot runs as an installed GitHub App (a key made here, registered with the
forge); on GitLab with a bot user's token. Every secret is made fresh per run and never
printed: the server's environment is the only place it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from prbot.clock import write_offset
from prbot.forge.server import ForgeServer
from prbot.forge.state import Forge

REPO = "acme/gitops"
TEAM = "acme/platform"  # what the shipped prod gate lists (a GitHub team, a GitLab group)
APP_ID = 4242
GITLAB_BOT = "prbot-bot"


@dataclass(frozen=True)
class People:
    """Who plays which part (forge users; the permission each has on the repository)."""

    engineer: str = "pat"  # platform team: creates clusters, merges, approves prod
    developer: str = "alice"  # owns myapp: creates it, asks for its releases
    approver: str = "erin"  # platform team: approves prod
    outsider: str = "mallory"  # may write, is not in the platform team


PEOPLE = People()
PERMISSIONS = {
    PEOPLE.engineer: "maintain",
    PEOPLE.developer: "write",
    PEOPLE.approver: "write",
    PEOPLE.outsider: "write",
}
# the files the developer's "create a service" writes: the repository starts without them
SERVICE_FILES = ("bootstrap/repositories/myapp.yaml", "bootstrap/services/myapp-")


def content(name: str) -> Path:
    """A folder shipped with prbot for the demo: ``gitops`` (the example repository) or
    ``automations`` (the deployment's catalog and pipelines)."""
    found = Path(str(resources.files("prbot.demo") / "content" / name))
    if not found.is_dir():
        raise FileNotFoundError(f"prbot's demo content {name!r} is missing at {found}")
    return found


def seed_files() -> dict[str, bytes]:
    """The example repository without the service the story creates."""
    root = content("gitops")
    files = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_file() and not name.startswith(SERVICE_FILES):
            files[name] = path.read_bytes()
    return files


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DemoClock:
    """prbot's clock (PRBOT_CLOCK_FILE): set to a moment, then run on in real time."""

    def __init__(self, path: Path, at: float) -> None:
        self.path = path
        self.offset = 0.0
        self.set(at)

    def now(self) -> float:
        return time.time() + self.offset

    def set(self, at: float) -> None:
        self.offset = at - time.time()
        write_offset(self.path, self.offset)

    def advance(self, seconds: float) -> None:
        self.set(self.now() + seconds)


@dataclass
class Stack:
    platform: str
    forge_server: ForgeServer
    serve: subprocess.Popen[bytes]
    serve_url: str
    api_token: str
    clock: DemoClock
    work_dir: Path
    log_path: Path
    repo: str = REPO
    people: People = PEOPLE

    @property
    def forge(self) -> Forge:
        return self.forge_server.forge

    @property
    def bot(self) -> str:
        """The forge user prbot acts as (its comments' author)."""
        return "prbot[bot]" if self.platform == "github" else GITLAB_BOT

    def pr(self, number: int) -> str:
        """How the platform names a PR: "PR #5" on GitHub, "MR !5" on GitLab."""
        return f"PR #{number}" if self.platform == "github" else f"MR !{number}"

    def serve_output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def scm_requests(self) -> int:
        """Requests the forge has answered so far: prbot's (the demo calls the forge in
        this process, never over HTTP)."""
        return self.forge_server.requests.total


def app_keypair() -> tuple[str, str]:
    """A new GitHub App key: (private PEM, public PEM). One costs ~50 ms."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


async def _seed(forge: Forge) -> None:
    await forge.create_repo(
        REPO, files=seed_files(), message="The platform team's GitOps repository"
    )
    for login, permission in PERMISSIONS.items():
        forge.create_user(login, name=login.capitalize())
        forge.set_permission(REPO, login, permission)
    forge.create_team(TEAM, name="Platform")
    for login in (PEOPLE.engineer, PEOPLE.approver):
        forge.set_team_member(TEAM, login)


async def _credentials(forge: Forge, platform: str, ui_callback: str) -> dict[str, str]:
    """prbot's credentials on the forge, as its environment takes them."""
    if platform == "github":
        private, public = app_keypair()
        await forge.register_app(APP_ID, public, slug="prbot", name="prbot")
        await forge.install_app(APP_ID, REPO.split("/")[0])
        app = forge.set_app_callback(APP_ID, ui_callback)
        return {
            "APP_ID": str(APP_ID),
            "PRIVATE_KEY": private,
            "GITHUB_CLIENT_ID": app.client_id,
            "GITHUB_CLIENT_SECRET": forge.new_app_client_secret(APP_ID),
        }
    token = secrets.token_hex(20)
    forge.create_user(GITLAB_BOT, type="Bot")
    forge.create_token(GITLAB_BOT, token)
    forge.set_permission(REPO, GITLAB_BOT, "maintain")
    application, secret = forge.create_oauth_application(
        "prbot", [ui_callback], scopes=["read_user"]
    )
    return {
        "GITLAB_TOKEN": token,
        "GITLAB_CLIENT_ID": application.uid,
        "GITLAB_CLIENT_SECRET": secret,
    }


async def _wait_ready(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"prbot serve exited with {proc.returncode}:\n{tail}")
            try:
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"prbot serve was not ready at {url} within 30 s (log: {log_path})")


async def stop_serve(proc: subprocess.Popen[bytes], *, timeout: float = 20.0) -> int:
    """SIGTERM, waited for without blocking the event loop (a forge on it may be what the
    server's last jobs are talking to); killed if it has not stopped within ``timeout``,
    with its process group (its sandbox processes) when it leads one. Its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if os.getpgid(proc.pid) == proc.pid:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
    return proc.wait()


@asynccontextmanager
async def running_stack(
    platform: str, work_dir: Path, *, start_at: float, port: int = 0, forge_port: int = 0
) -> AsyncIterator[Stack]:
    """The forge and ``prbot serve`` for ``platform``, prbot's clock reading ``start_at``."""
    port = port or free_port()
    serve_url = f"http://127.0.0.1:{port}"
    async with ForgeServer(work_dir / "forge", port=forge_port) as forge_server:
        forge = forge_server.forge
        await _seed(forge)
        webhook_secret = secrets.token_urlsafe(24)
        api_token = secrets.token_urlsafe(24)
        ui_callback = f"{serve_url}/auth/{platform}/callback"
        forge.add_hook(platform, f"{serve_url}/webhooks/{platform}", secret=webhook_secret)
        clock = DemoClock(work_dir / "clock", start_at)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PRBOT_DATA_DIR": str(work_dir / "data"),
            "PRBOT_AUTOMATIONS_DIR": str(content("automations")),
            "PRBOT_API_TOKEN": api_token,
            "PRBOT_CLOCK_FILE": str(clock.path),
            "PRBOT_UI_PUBLIC_URL": serve_url,
            **await _credentials(forge, platform, ui_callback),
        }
        if platform == "github":
            env |= {
                "WEBHOOK_SECRET": webhook_secret,
                "GHE_HOST": f"127.0.0.1:{forge_server.port}",
                "GHE_PROTOCOL": "http",
            }
        else:
            env |= {"GITLAB_WEBHOOK_SECRET": webhook_secret, "GITLAB_URL": forge_server.gitlab_url}
        log_path = work_dir / "serve.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "prbot.cli", "serve"],
                env=env,
                cwd=work_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its sandbox processes go with it on a group kill
            )
        try:
            await _wait_ready(proc, serve_url, log_path)
            yield Stack(
                platform, forge_server, proc, serve_url, api_token, clock, work_dir, log_path
            )
        finally:
            await stop_serve(proc)
