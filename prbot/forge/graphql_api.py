"""GitHub GraphQL at ``/api/graphql``: just what reading many files at once needs.

``repository(owner:, name:) { defaultBranchRef / ref(qualifiedName:) / object(expression:
"REV:path") }`` with GitHub's field names; aliases let a client read N files in one
request. Every ``object`` lookup of one request is answered by a single ``git cat-file
--batch`` (resolvers queue their expression; the first flush reads them all).
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from graphql import GraphQLError, build_schema, graphql

from prbot.forge import git
from prbot.forge.ghhttp import ApiError, budget_key, forge_of, json_response, principal
from prbot.forge.ghshapes import iso_of
from prbot.forge.models import Repo
from prbot.forge.state import Forge

SDL = """
type Query {
  repository(owner: String!, name: String!): Repository
  viewer: User!
  rateLimit: RateLimit
}
type RateLimit { limit: Int! cost: Int! remaining: Int! resetAt: String! used: Int! }
type User { login: String! }
type Repository {
  id: ID!
  name: String!
  nameWithOwner: String!
  url: String!
  isPrivate: Boolean!
  visibility: String!
  owner: User!
  defaultBranchRef: Ref
  ref(qualifiedName: String!): Ref
  object(expression: String, oid: String): GitObject
}
type Ref { name: String! prefix: String! target: GitObject }
interface GitObject { id: ID! oid: String! abbreviatedOid: String! }
type Blob implements GitObject {
  id: ID! oid: String! abbreviatedOid: String!
  text: String
  isBinary: Boolean
  isTruncated: Boolean!
  byteSize: Int!
}
type Commit implements GitObject {
  id: ID! oid: String! abbreviatedOid: String!
  tree: Tree!
  message: String!
  messageHeadline: String!
  committedDate: String!
}
type Tree implements GitObject {
  id: ID! oid: String! abbreviatedOid: String!
  entries: [TreeEntry!]
}
type TreeEntry { name: String! path: String oid: String! type: String! mode: Int! }
"""
TRUNCATE_AT = 512 * 1024  # GitHub cuts Blob.text of large files (and says isTruncated)


@dataclass
class Obj:
    """A git object as GraphQL sees it; ``kind`` picks Blob / Commit / Tree."""

    repo: str
    oid: str
    kind: str
    raw: bytes

    @property
    def id(self) -> str:
        return base64.b64encode(f"{self.kind}:{self.repo}:{self.oid}".encode()).decode()

    @property
    def abbreviatedOid(self) -> str:
        return self.oid[:7]

    # Blob
    @property
    def isBinary(self) -> bool:
        if b"\0" in self.raw[:8000]:
            return True
        try:
            self.raw.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False

    @property
    def text(self) -> str | None:
        if self.isBinary:
            return None
        return self.raw[:TRUNCATE_AT].decode("utf-8", "ignore")

    @property
    def isTruncated(self) -> bool:
        return len(self.raw) > TRUNCATE_AT

    @property
    def byteSize(self) -> int:
        return len(self.raw)

    # Commit
    def _commit(self) -> git.CommitInfo:
        return git.parse_commit(self.oid, self.raw)

    def tree(self, info: Any) -> Obj:
        return Obj(self.repo, self._commit().tree, "tree", b"")

    @property
    def message(self) -> str:
        return self._commit().message

    @property
    def messageHeadline(self) -> str:
        return self.message.split("\n", 1)[0]

    @property
    def committedDate(self) -> str:
        return iso_of(self._commit().committer.when)

    # Tree
    async def entries(self, info: Any) -> list[dict[str, Any]]:
        forge: Forge = info.context["forge"]
        items = await forge.list_tree(self.repo, self.oid, recursive=False)
        return [
            {
                "name": i.path.rsplit("/", 1)[-1],
                "path": i.path,
                "oid": i.sha,
                "type": i.type,
                "mode": int(i.mode, 8),
            }
            for i in items
        ]


class Batch:
    """Collects object names during one execution and reads them with one git call."""

    def __init__(self, forge: Forge):
        self.forge = forge
        self.pending: dict[str, list[tuple[str, asyncio.Future[Any]]]] = {}
        self.scheduled = False

    def load(self, repo: str, name: str) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self.pending.setdefault(repo, []).append((name, fut))
        if not self.scheduled:
            self.scheduled = True
            loop.call_soon(lambda: asyncio.ensure_future(self.flush()))
        return fut

    async def flush(self) -> None:
        pending, self.pending, self.scheduled = self.pending, {}, False
        for repo, items in pending.items():
            try:
                found = await asyncio.to_thread(
                    git.read_named, self.forge.git_dir(repo), [n for n, _ in items]
                )
            except Exception as exc:  # answer every waiter, never leave one hanging
                for _, fut in items:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), obj in zip(items, found, strict=True):
                if not fut.done():
                    fut.set_result(obj and Obj(repo, obj[0], obj[1], obj[2]))


@dataclass
class RefNode:
    repo: str
    full: str  # refs/heads/main
    sha: str

    @property
    def name(self) -> str:
        return self.full.split("/", 2)[-1] if self.full.startswith("refs/") else self.full

    @property
    def prefix(self) -> str:
        return self.full[: len(self.full) - len(self.name)]

    async def target(self, info: Any) -> Obj | None:
        return await info.context["batch"].load(self.repo, self.sha)


class RepositoryNode:
    def __init__(self, forge: Forge, repo: Repo):
        self.forge = forge
        self.repo = repo
        self.name = repo.name
        self.nameWithOwner = repo.full_name
        self.url = f"{forge.base_url}/{repo.full_name}"
        self.isPrivate = repo.private
        self.visibility = repo.visibility.upper()
        self.owner = {"login": repo.owner}
        self.id = base64.b64encode(f"010:Repository{repo.id}".encode()).decode()

    async def _ref(self, full: str) -> RefNode | None:
        refs = await self.forge.refs(self.repo.full_name, full)
        hit = next((r for r in refs if r[0] == full), None)
        return RefNode(self.repo.full_name, full, hit[1]) if hit else None

    async def defaultBranchRef(self, info: Any) -> RefNode | None:
        return await self._ref(f"refs/heads/{self.repo.default_branch}")

    async def ref(self, info: Any, qualifiedName: str) -> RefNode | None:
        if qualifiedName.startswith("refs/"):
            return await self._ref(qualifiedName)
        return await self._ref(f"refs/heads/{qualifiedName}")

    async def object(
        self, info: Any, expression: str | None = None, oid: str | None = None
    ) -> Obj | None:
        name = oid or expression
        if not name:
            raise GraphQLError("object needs an expression or an oid")
        return await info.context["batch"].load(self.repo.full_name, name)


class Root:
    def __init__(self, request: web.Request):
        self.request = request
        self.forge = forge_of(request)

    def repository(self, info: Any, owner: str, name: str) -> RepositoryNode | None:
        full = f"{owner}/{name}"
        p = principal(self.request)
        try:
            self.forge.repo(full)
            visible = self.forge.principal_permission(full, p) != "none"
        except Exception:
            visible = False
        if not visible:
            raise GraphQLError(
                f"Could not resolve to a Repository with the name '{full}'.",
                extensions={"type": "NOT_FOUND"},
            )
        return RepositoryNode(self.forge, self.forge.repo(full))

    def viewer(self, info: Any) -> dict[str, str]:
        return {"login": self.forge.actor_login(principal(self.request))}

    def rateLimit(self, info: Any) -> dict[str, Any]:
        b = self.forge.rate_limits.peek(budget_key(principal(self.request)) + ":graphql")
        return {
            "limit": b.limit,
            "cost": 1,
            "remaining": b.remaining,
            "resetAt": iso_of(b.reset),
            "used": b.used,
        }


SCHEMA = build_schema(SDL)


def _resolve_type(value: Any, info: Any, abstract: Any) -> str:
    return {"blob": "Blob", "commit": "Commit", "tree": "Tree"}.get(value.kind, "Blob")


SCHEMA.type_map["GitObject"].resolve_type = _resolve_type  # type: ignore[attr-defined]


async def handle(request: web.Request) -> web.Response:
    raw = await request.read()
    try:
        body = json.loads(raw)
        query = body["query"]
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "Problems parsing JSON") from None
    variables = body.get("variables") or None
    forge = forge_of(request)
    context = {"forge": forge, "batch": Batch(forge), "request": request}
    result = await graphql(
        SCHEMA,
        query,
        root_value=Root(request),
        context_value=context,
        variable_values=variables,
        operation_name=body.get("operationName"),
    )
    out: dict[str, Any] = {}
    if result.errors:
        errors = []
        for e in result.errors:
            item = e.formatted
            ext = item.pop("extensions", None) or {}
            if "type" in ext:
                item["type"] = ext["type"]
            errors.append(item)
        out["errors"] = errors
    out["data"] = result.data
    if result.data is None and result.errors:
        out.pop("data")
    return json_response(out)


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/graphql", handle)
