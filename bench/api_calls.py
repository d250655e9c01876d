"""Benchmark: API requests to open one PR, per platform: a bare ChangeSet of 1, 10 and 100
files, and the shipped automations as they are (labels; reviewers).

Runs the local forge on 127.0.0.1 (real git, real HTTP) and counts, with the forge's own
request recorder, every HTTP request each provider sends (GitHub: REST and GraphQL;
GitLab: v4), for a first run and a re-run of the same change, each from a fresh provider
(a cold worker: no object caches). Each platform gets its own repositories, so a first
run is a first run.

1. Bare PRs: a ChangeSet of N files (half creates, half updates, one delete; N=1 is one
   update), opened with no labels and no reviewers. ``reads`` = the snapshot and the
   contents of the files to update; ``writes`` = committing the files and opening (or on
   a re-run finding and updating) the PR, lookups included. The naive way, one
   contents-API request per file read and per file written, is computed beside it.
2. Shipped automations: each PrAutomation in ``automations/`` and
   ``examples/gitops/.prbot/`` run as the worker runs it (``prbot.engine.run``) against a
   copy of ``examples/gitops`` with sample inputs: ``reads`` = default branch, snapshot and
   the files the render reads (templates come from the deployment's folder, not the
   forge); ``writes`` as above. Three variants of each: ``bare`` (labels and reviewers
   taken out), ``shipped`` (as defined: every shipped automation has labels, none has
   reviewers), ``+reviewer`` (as defined plus one user reviewer, as in
   docs/definitions.md); ``labels/reviewers`` counts the requests that only add labels or
   request reviewers (GitHub: POST .../labels, POST .../requested_reviewers; GitLab: the
   reviewer's user-id lookup; GitLab sends labels inside the MR request, at no extra cost).

What no count includes: token minting (the bench uses a personal token; with a GitHub
App, one POST /app/installations/{id}/access_tokens per installation per hour, shared by
every PR), the definitions lookup of a repository's ``.prbot/`` (two reads per
repository and default-branch commit, cached), webhooks and job bookkeeping, retries
(the forge answers every request). Binary blobs: every file here is text; GitHub sends
each created or updated file's content inside the one tree request (so the count does not
grow with the files) while a binary file takes one more POST git/blobs each; GitLab sends
every file in the one commit request, binary ones base64-encoded.

    .venv/bin/python bench/api_calls.py [--sizes 1,10,100] [--platforms github,gitlab]
        [--no-shipped] [--json]
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
