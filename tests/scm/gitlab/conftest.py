"""A forge on loopback playing GitLab, a repository on it, and GitLabScm pointed at it:
tests/support's ``forge_repo`` seeded with this folder's files and people."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from prbot.automation.changeset import MemoryRepoView, RepoFile
from prbot.automation.definitions import PrAutomation
from prbot.automation.loader import load_view
from prbot.scm.gitlab import GitLabScm
from tests.support.forge import Files, ForgeRepo

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


@dataclass
class GitLabEnv:
    """What a test gets: the forge and its server, a GitLabScm, constants, git helpers
    (tests reach everything through this fixture, never by importing each other)."""

    on: ForgeRepo
    scm: GitLabScm
    repo: str = REPO
    token: str = TOKEN
    values: str = VALUES
    branch: str = BRANCH
    inputs: Any = None

    def __post_init__(self) -> None:
        self.inputs = dict(INPUTS)

    @property
    def server(self) -> Any:
        return self.on.server

    @property
    def forge(self) -> Any:
        return self.on.forge

    @property
    def git_dir(self) -> Path:
        return self.on.git_dir

    @staticmethod
    def automation(n_files: int) -> PrAutomation:
        return automation(n_files)

    def new_scm(self, token: str = TOKEN, **kwargs: Any) -> GitLabScm:
        return self.on.gitlab_scm(token, **kwargs)

    def git(self, *args: str) -> str:
        return self.on.git(*args)

    def ls_tree(self, ref: str) -> dict[str, str]:
        """path -> mode at ``ref``, from git itself rather than the API under test."""
        return {path: mode for path, (mode, _sha) in self.on.ls_tree(ref).items()}

    def show(self, ref: str, path: str) -> str:
        return self.on.show(ref, path)

    def open_mrs(self, head: str) -> list:
        return self.on.open_prs(head)


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
def forge_files() -> Files:
    return START_FILES


@pytest.fixture
def forge_options() -> dict[str, Any]:
    return {
        "token": TOKEN,
        "bot_type": "Bot",
        "bot_permission": "write",
        "permissions": {"alice": "maintain", "bob": "read"},
    }


@pytest.fixture
async def gl(forge_repo: ForgeRepo) -> AsyncIterator[GitLabEnv]:
    scm = forge_repo.gitlab_scm(TOKEN)
    try:
        yield GitLabEnv(forge_repo, scm)
    finally:
        await scm.aclose()
