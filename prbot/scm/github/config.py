"""GitHub settings from the environment, with Probot's names, and the provider they build.

``APP_ID`` + ``PRIVATE_KEY``/``PRIVATE_KEY_PATH`` (+ optional ``INSTALLATION_ID``) select
app mode; otherwise ``GITHUB_TOKEN`` selects token mode. ``GITHUB_API_URL`` (or Probot's
``GHE_HOST``/``GHE_PROTOCOL``) points at GitHub Enterprise Server; ``GITHUB_GRAPHQL_URL``
overrides the derived GraphQL endpoint.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prbot.scm.github.client import PUBLIC_API, default_graphql_url
from prbot.scm.github.provider import GitHubScm
from prbot.scm.port import ScmError


@dataclass(frozen=True)
class GitHubSettings:
    api_url: str = PUBLIC_API
    graphql_url: str | None = None
    app_id: str | None = None
    private_key: str | None = field(default=None, repr=False)
    private_key_path: str | None = None
    installation_id: int | None = None
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GitHubSettings:
        env = os.environ if env is None else env
        api_url = env.get("GITHUB_API_URL")
        if not api_url and env.get("GHE_HOST"):
            api_url = f"{env.get('GHE_PROTOCOL', 'https')}://{env['GHE_HOST']}/api/v3"
        installation = env.get("INSTALLATION_ID") or env.get("GITHUB_INSTALLATION_ID")
        return cls(
            api_url=(api_url or PUBLIC_API).rstrip("/"),
            graphql_url=env.get("GITHUB_GRAPHQL_URL") or None,
            app_id=env.get("APP_ID") or None,
            private_key=env.get("PRIVATE_KEY") or None,
            private_key_path=env.get("PRIVATE_KEY_PATH") or None,
            installation_id=int(installation) if installation else None,
            token=env.get("GITHUB_TOKEN") or None,
        )

    @property
    def resolved_graphql_url(self) -> str:
        return self.graphql_url or default_graphql_url(self.api_url)

    def build(self, **options: Any) -> GitHubScm:
        """A provider for these settings; ``options`` go to ``GitHubClient`` (sleep, policy…)."""
        urls = {"api_url": self.api_url, "graphql_url": self.resolved_graphql_url}
        if self.app_id:
            return GitHubScm.as_app(
                self.app_id,
                self.private_key,
                private_key_path=self.private_key_path,
                installation_id=self.installation_id,
                **urls,
                **options,
            )
        if self.token:
            return GitHubScm.with_token(self.token, **urls, **options)
        raise ScmError("GitHub needs APP_ID with PRIVATE_KEY/PRIVATE_KEY_PATH, or GITHUB_TOKEN")
