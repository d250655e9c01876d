"""A forge on loopback playing GitLab, a repository on it, and GitLabScm pointed at it."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from prbot.automation.changeset import MemoryRepoView, RepoFile
from prbot.automation.definitions import PrAutomation
from prbot.automation.loader import load_view
from prbot.forge.server import ForgeServer
from prbot.forge.state import Forge
from prbot.scm.gitlab import GitLabScm, RetryPolicy

REPO = "acme/gitops"
TOKEN = "glpat-Zx81-very-secret-token"

VALUES = """\
# dev cluster values: comments survive prbot's edits
image:
  repository: registry.acme.dev/app  # where images live
  tag: "1.0.0"
replicas: 2
"""

START_FILES: dict[str, Any] = {
    "README.md": "# gitops\n",
    "clusters/dev/values.yaml": VALUES,
    "legacy/old.yaml": "old: true\n",
    "scripts/deploy.sh": ("#!/bin/sh\necho deploy\n", "100755"),
}

BRANCH = "prbot/e2e/billing"
INPUTS = {"name": "billing", "tag": "2.0.0"}

# quick retries: tests exercise the retry paths, not the production delays
FAST_RETRY = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05, max_wait=2.0)


@dataclass
class GitLabEnv:
    """What a test gets: the forge and its server, a GitLabScm, constants, git helpers
    (tests reach everything through this fixture, never by importing each other)."""

    server: Any
    forge: Any
    scm: GitLabScm
    git_dir: Path
    repo: str = REPO
    token: str = TOKEN
    values: str = VALUES
    branch: str = BRANCH
    inputs: Any = None

    def __post_init__(self) -> None:
        self.inputs = dict(INPUTS)

    @staticmethod
    def automation(n_files: int) -> PrAutomation:
        return automation(n_files)

    def new_scm(self, token: str = TOKEN, **kwargs: Any) -> GitLabScm:
        kwargs.setdefault("retry", FAST_RETRY)
        return GitLabScm(self.server.gitlab_url, token, timeout=10, **kwargs)

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(self.git_dir), *args],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def ls_tree(self, ref: str) -> dict[str, str]:
        """path -> mode at ``ref``, from git itself rather than the API under test."""
        out = {}
        for line in self.git("ls-tree", "-r", ref).splitlines():
            meta, path = line.split("\t", 1)
            out[path] = meta.split()[0]
        return out

    def show(self, ref: str, path: str) -> str:
        return self.git("show", f"{ref}:{path}")

    def open_mrs(self, head: str) -> list:
        return self.forge.pull_requests(REPO, state="open", head=head)


def automation(n_files: int) -> PrAutomation:
    """Creates ``n_files`` files, sets one YAML value, deletes one file."""
    definition = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata:
  name: gl-e2e
spec:
  head: "prbot/e2e/{{ context.name }}"
  title: "Add {{ context.name }} at {{ context.tag }}"
  message: "Adds {{ context.name }}; dev runs {{ context.tag }}."
  labels: [e2e, "svc/{{ context.name }}"]
  reviewers: [alice]
  configuration:
    - name: name
      type: string
    - name: tag
      type: string
  creates:
    templates:
      - source: templates/svc
        destination: "services/{{ context.name }}"
  updates:
    yamlEdits:
      - file: clusters/dev/values.yaml
        path: image.tag
        value: "{{ context.tag }}"
  deletes:
    files: [legacy/old.yaml]
"""
    files: dict[str, bytes | str | RepoFile] = {"automations/gl-e2e.yaml": definition}
    for i in range(n_files):
        files[f"automations/templates/svc/f{i:03}.yaml"] = (
            f"service: {{{{ context.name }}}}\nn: {i}\ntag: {{{{ context.tag }}}}\n"
        )
    loaded = load_view(MemoryRepoView(files))
    assert not loaded.problems, loaded.problems
    return loaded.automations["gl-e2e"]


@pytest.fixture
async def gl(tmp_path: Path) -> AsyncIterator[GitLabEnv]:
    forge = Forge(tmp_path / "forge")
    async with ForgeServer(forge=forge) as server:
        await forge.create_repo(REPO, files=START_FILES)
        forge.create_user("prbot", type="Bot")
        forge.create_token("prbot", TOKEN)
        forge.set_permission(REPO, "prbot", "write")
        forge.set_permission(REPO, "alice", "maintain")
        forge.set_permission(REPO, "bob", "read")
        env = GitLabEnv(server, forge, None, forge.git_dir(REPO))  # type: ignore[arg-type]
        env.scm = env.new_scm()
        try:
            yield env
        finally:
            await env.scm.aclose()
