"""GraphQL: many files in one request (one git process), GitHub's field names."""

from __future__ import annotations

import httpx

from .conftest import FILES, auth


async def query(world, q: str, token: str | None = None) -> dict:
    async with httpx.AsyncClient() as c:
        resp = await c.post(
            world.graphql_url, json={"query": q}, headers=auth(token or world.tokens["dev"])
        )
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-ratelimit-resource"] == "graphql"
    return resp.json()


async def test_reads_n_files_in_one_request_and_binary_text_is_null(world):
    paths = ["README.md", "deploy/dev/values.yaml", "deploy/prod/values.yaml", "docs/logo.png"]
    fields = "\n".join(
        f'f{i}: object(expression: "main:{p}") {{ oid ... on Blob {{ text isBinary byteSize }} }}'
        for i, p in enumerate(paths)
    )
    world.requests.reset()
    out = await query(
        world,
        f"""{{ repository(owner: "octo", name: "app") {{
              nameWithOwner
              defaultBranchRef {{ name target {{ oid ... on Commit {{ tree {{ oid }} }} }} }}
              missing: object(expression: "main:nope.txt") {{ oid }}
              {fields} }} }}""",
    )
    assert "errors" not in out
    repo = out["data"]["repository"]
    assert repo["nameWithOwner"] == "octo/app"
    assert repo["defaultBranchRef"]["name"] == "main"
    head = await world.forge.resolve("octo/app", "main")
    assert repo["defaultBranchRef"]["target"]["oid"] == head
    assert repo["missing"] is None
    assert repo["f0"]["text"] == FILES["README.md"]
    assert repo["f1"]["text"] == "image:\n  tag: 1.0.0\n"
    assert repo["f3"] == {
        "oid": repo["f3"]["oid"],
        "text": None,
        "isBinary": True,
        "byteSize": len(FILES["docs/logo.png"][0]),
    }
    assert world.requests.count("POST /api/graphql") == 1


async def test_ref_by_qualified_name_and_tree_entries(world):
    out = await query(
        world,
        """{ repository(owner: "octo", name: "app") {
              ref(qualifiedName: "refs/heads/main") { name prefix target { oid } }
              nope: ref(qualifiedName: "no-such-branch") { name }
              object(expression: "main:deploy") { ... on Tree { entries { name type mode } } }
           } }""",
    )
    repo = out["data"]["repository"]
    assert repo["ref"]["name"] == "main" and repo["ref"]["prefix"] == "refs/heads/"
    assert repo["nope"] is None
    assert [e["name"] for e in repo["object"]["entries"]] == ["dev", "prod"]


async def test_unknown_or_hidden_repository_is_not_found(world):
    await world.forge.create_repo("secret/vault")
    out = await query(world, '{ repository(owner: "secret", name: "vault") { id } }')
    assert out["data"]["repository"] is None
    assert out["errors"][0]["type"] == "NOT_FOUND"
    assert "secret/vault" in out["errors"][0]["message"]


async def test_syntax_errors_come_back_as_graphql_errors(world):
    out = await query(world, "{ repository(owner: ")
    assert "errors" in out and "data" not in out
