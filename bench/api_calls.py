"""Benchmark: API requests to open one PR with 1, 10 and 100 changed files, per platform.

Runs the local forge on 127.0.0.1 (real git, real HTTP) and counts, with the forge's own
request recorder, what each provider sends to open a PR for a ChangeSet of N files (half
creates, half updates, one delete; N=1 is one update), for a first run and a re-run of
the same change, each from a fresh provider (a cold worker: no object caches). Token
minting is excluded (personal-token mode). Reads (the snapshot and the file contents a
render needs) and writes (commit + PR) are counted apart; ``requests`` is writes, what
the bar is about, ``total`` adds the reads. The naive way, one contents-API request per
file read and per file written, is computed beside it.

    .venv/bin/python bench/api_calls.py [--sizes 1,10,100] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prbot.automation.changeset import ChangeSet, FileChange  # noqa: E402
from prbot.forge.server import ForgeServer  # noqa: E402
from prbot.scm.port import PullRequestDraft, Scm  # noqa: E402

REPO = "acme/gitops"
EXISTING = 100
TOKEN = "bench-token-not-a-secret"


def base_files() -> dict[str, str]:
    files = {
        f"config/file-{i:03}.yaml": f"index: {i}\ntag: '1.0.0' # bump\n" for i in range(EXISTING)
    }
    files["legacy/old.yaml"] = "old: true\n"
    return files


def change_of(n: int) -> tuple[ChangeSet, list[str]]:
    """N changed files: half creates, half updates, one delete. Also the paths to read."""
    if n == 1:
        updates, creates, deletes = 1, 0, 0
    else:
        creates = n // 2
        deletes = 1
        updates = n - creates - deletes
    changes = [
        FileChange(
            "update", f"config/file-{i:03}.yaml", f"index: {i}\ntag: '2.0.0' # bump\n".encode()
        )
        for i in range(updates)
    ]
    changes += [
        FileChange("create", f"services/new-{i:03}.yaml", f"name: new-{i}\n".encode())
        for i in range(creates)
    ]
    changes += [FileChange("delete", "legacy/old.yaml", None)] * deletes
    return ChangeSet(tuple(changes)), [c.path for c in changes if c.operation == "update"]


def github_scm(server: ForgeServer) -> Scm:
    from prbot.scm.github import GitHubScm

    return GitHubScm.with_token(
        TOKEN, api_url=server.github_api_url, graphql_url=server.graphql_url
    )


def gitlab_scm(server: ForgeServer) -> Scm:
    from prbot.scm.gitlab import GitLabScm

    return GitLabScm(url=server.gitlab_url, token=TOKEN)


FACTORIES: dict[str, Callable[[ForgeServer], Scm]] = {"github": github_scm, "gitlab": gitlab_scm}


async def counted(server: ForgeServer, step: Callable[[], Awaitable[Any]]) -> int:
    server.requests.reset()
    await step()
    return server.requests.total


async def measure(server: ForgeServer, platform: str, n: int, run: str) -> dict[str, Any]:
    changes, to_read = change_of(n)
    head = f"prbot/bench-{n}"
    scm = FACTORIES[platform](server)
    snapshot_holder: dict[str, Any] = {}
    try:

        async def reads() -> None:
            snap = await scm.snapshot(REPO, "main")
            await scm.read_files(REPO, snap.sha, to_read)
            snapshot_holder["sha"] = snap.sha

        async def writes() -> None:
            await scm.commit_changes(
                REPO, base_sha=snapshot_holder["sha"], branch=head, changes=changes,
                message=f"Bench {n} files",
            )  # fmt: skip
            await scm.open_pull_request(
                REPO, PullRequestDraft(head=head, base="main", title=f"Bench {n}", body="bench")
            )

        read_count = await counted(server, reads)
        write_count = await counted(server, writes)
    finally:
        await scm.aclose()
    naive = len(to_read) + n + 3  # GET contents per read, PUT/DELETE per file, ref + PR lookup + PR
    return {
        "platform": platform,
        "files": n,
        "run": run,
        "requests": write_count,
        "reads": read_count,
        "total": read_count + write_count,
        "naive": naive,
    }


async def bench(sizes: list[int], platforms: list[str]) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="prbot-bench-") as data:
        async with ForgeServer(Path(data)) as server:
            forge = server.forge
            forge.create_user("bench")
            forge.create_token("bench", TOKEN)
            await forge.create_repo(REPO, files=base_files())
            forge.set_permission(REPO, "bench", "admin")
            for platform in platforms:
                for n in sizes:
                    for run in ("first", "rerun"):
                        rows.append(await measure(server, platform, n, run))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100")
    parser.add_argument("--platforms", default="github,gitlab")
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = asyncio.run(bench(sizes, args.platforms.split(",")))
    if args.json:
        print(json.dumps({"rows": rows}))
        return
    print("API requests to open one PR (forge-counted; token minting excluded)")
    header = (
        f"{'platform':<8} {'files':>5} {'run':<6} {'writes':>6} {'reads':>5} {'total':>5} "
        f"{'naive':>6} {'naive/total':>11}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = r["naive"] / r["total"] if r["total"] else float("inf")
        print(
            f"{r['platform']:<8} {r['files']:>5} {r['run']:<6} {r['requests']:>6} {r['reads']:>5} "
            f"{r['total']:>5} {r['naive']:>6} {ratio:>11.1f}"
        )
    print("writes = commit + open-or-update PR; reads = snapshot + file contents for the updates;")
    print(
        "naive = one contents-API request per file read and written, "
        "+ ref, PR lookup, PR (computed)"
    )


if __name__ == "__main__":
    main()
