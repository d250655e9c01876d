"""Shared pieces of the worker tests: a real SQLite store, a running forge with a GitOps
repository (tests/support's ``forge_repo``), a deployment automations folder and Settings
pointing at the forge."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prbot.forge.server import ForgeServer
from prbot.settings import Secret, Settings
from prbot.store import open_store
from prbot.store.base import Store
from tests.support.forge import Files, ForgeRepo

REPO = "acme/gitops"
TOKEN = "worker-test-token-0123456789"
BRANCH = "prbot/bump/podinfo"

BUMP = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: bump}
spec:
  head: "prbot/bump/{{ context.service }}"
  title: "Bump {{ context.service }} to {{ context.tag }}"
  message: "Sets the image tag of {{ context.service }}."
  configuration:
    - {name: service, type: string}
    - {name: tag, type: string}
  creates:
    templates:
      - {source: templates/note.md, destination: "notes/{{ context.service }}.md"}
  updates:
    yamlEdits:
      - {file: "apps/{{ context.service }}.yaml", path: image.tag, value: "{{ context.tag }}"}
"""

REPO_FILES = {
    "README.md": "# gitops\n",
    "apps/podinfo.yaml": "image:\n  repository: podinfo\n  tag: '6.0.0' # bumped by prbot\n",
}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = open_store(f"sqlite:{tmp_path / 'prbot.db'}")
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def automations_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "automations"
    (folder / "templates").mkdir(parents=True)
    (folder / "bump.yaml").write_text(BUMP)
    (folder / "templates" / "note.md").write_text("{{ context.service }} is at {{ context.tag }}\n")
    return folder


@pytest.fixture
def forge_files() -> Files:
    return REPO_FILES


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "bot": "bot", "token": TOKEN}


@pytest.fixture
def forge(forge_repo: ForgeRepo) -> ForgeServer:
    """The forge with acme/gitops, where the bot (TOKEN) is admin."""
    return forge_repo.server


def settings_for(server: ForgeServer, automations_dir: Path, **changes: object) -> Settings:
    """Token mode against the forge, GHES-style: GHE_HOST=127.0.0.1:PORT over http."""
    values: dict[str, object] = {
        "github_token": Secret(TOKEN),
        "ghe_host": f"127.0.0.1:{server.port}",
        "ghe_protocol": "http",
        "gitlab_url": server.gitlab_url,
        "gitlab_token": Secret(TOKEN),
        "automations_dir": automations_dir,
        "lease_seconds": 5.0,
        "reconcile_seconds": 0.0,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


def git(server: ForgeServer, *args: str, repo: str = REPO) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(server.forge.git_dir(repo)), *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
