"""Calls scoped to one repository: fills ``{owner}``/``{repo}`` and picks the credential."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from prbot.scm.github.auth import Auth
from prbot.scm.github.client import NO_BODY, GitHubClient, Response

REPO = "/repos/{owner}/{repo}"


@dataclass(frozen=True)
class RepoApi:
    client: GitHubClient
    auth: Auth
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def _params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"owner": self.owner, "repo": self.name, **params}

    async def call(
        self,
        method: str,
        route: str,
        params: Mapping[str, Any] | None = None,
        *,
        query: Mapping[str, Any] | None = None,
        json: Any = NO_BODY,
        idempotent: bool | None = None,
        accept: str | None = None,
    ) -> Response:
        extra = {"accept": accept} if accept else {}
        return await self.client.request(
            method,
            REPO + route,
            self._params(params or {}),
            auth=self.auth,
            query=query,
            json=json,
            idempotent=idempotent,
            **extra,
        )

    async def get(self, route: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        return (await self.call("GET", route, params, **kw)).data

    def paginate(
        self,
        route: str,
        params: Mapping[str, Any] | None = None,
        *,
        query: Mapping[str, Any] | None = None,
        key: str | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[Any]:
        return self.client.paginate(
            REPO + route,
            self._params(params or {}),
            auth=self.auth,
            query=query,
            key=key,
            limit=limit,
        )

    async def graphql(
        self, query: str, variables: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return await self.client.graphql(
            query, {"owner": self.owner, "name": self.name, **variables}, auth=self.auth
        )
