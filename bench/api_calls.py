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

Reads and writes are told apart by step, not by HTTP method: the GraphQL file read is a
POST and counts as a read; the GET that looks for an open PR (and, on a re-run, the GETs
that find the commit already made) count with the writes. ``total`` is every request.

What no count includes: token minting (the bench uses a personal token; with a GitHub
App, one POST /app/installations/{id}/access_tokens per installation per hour, shared by
every PR), the definitions lookup of a repository's ``.prbot/`` (a snapshot and one
batched read, cached per default-branch commit), webhooks and job bookkeeping, retries
(the forge answers every request). Binary blobs: every file here is text. On GitHub a
binary file costs one more request to read (GET contents: GraphQL gives text only) and
one more to write (POST git/blobs: the one tree request carries text inline only); on
GitLab none (reads come from one archive, the one commit request carries binary files
base64-encoded). Repositories too large for one archive (GitLab) are read in more
requests; not measured here.

    .venv/bin/python bench/api_calls.py [--sizes 1,10,100] [--platforms github,gitlab]
        [--no-shipped] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prbot.automation.changeset import ChangeSet, DirRepoView, FileChange  # noqa: E402
from prbot.automation.definitions import PrAutomation  # noqa: E402
from prbot.automation.loader import load_view  # noqa: E402
from prbot.engine.run import run_automation  # noqa: E402
from prbot.forge.server import ForgeServer  # noqa: E402
from prbot.scm.port import PullRequestDraft, Scm  # noqa: E402

REPO = "acme/gitops"
EXISTING = 100
TOKEN = "bench-token-not-a-secret"
EXAMPLE = ROOT / "examples" / "gitops"
DEFINITION_FOLDERS = (ROOT / "automations", EXAMPLE / ".prbot")
REVIEWER = "bench-reviewer"  # a forge user with write access: a valid reviewer anywhere
# sample inputs for each shipped PrAutomation (those of ./dev demo where it has them)
SAMPLE_INPUTS: dict[str, dict[str, Any]] = {
    "image-bump": {"service": "myapp", "env": "staging", "tag": "6.7.1"},
    "cluster-create": {"name": "dev-eu-1", "cloud": "aws", "region": "eu-west-1", "tier": "dev"},
    "service-create": {
        "name": "checkout",
        "url": "https://github.com/example/checkout.git",
        "image": "ghcr.io/example/checkout",
    },
    "scale": {"service": "myapp", "env": "prod", "replicas": 5},
}
VARIANTS = ("bare", "shipped", "+reviewer")


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
    head = f"prbot/bench-{platform}-{n}"  # the platforms share the repository
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


def shipped_automations() -> dict[str, PrAutomation]:
    """Every PrAutomation the repository ships, loaded as ``prbot render`` loads them."""
    found: dict[str, PrAutomation] = {}
    for folder in DEFINITION_FOLDERS:
        loaded = load_view(DirRepoView(folder), display_root=str(folder))
        loaded.raise_for_problems()
        found.update(loaded.automations)
    missing = set(found) - set(SAMPLE_INPUTS)
    if missing:
        raise SystemExit(f"bench/api_calls.py: no sample inputs for {sorted(missing)}")
    return dict(sorted(found.items()))


def variant_of(automation: PrAutomation, variant: str) -> PrAutomation:
    if variant == "bare":
        return dataclasses.replace(automation, labels=(), reviewers=())
    if variant == "+reviewer":
        return dataclasses.replace(automation, reviewers=(*automation.reviewers, REVIEWER))
    return automation


READ_STEPS = ("default_branch", "snapshot", "read_files", "find_pull_request")


class CountedScm:
    """The provider, with the forge's request count noted around each port call."""

    def __init__(self, scm: Scm, server: ForgeServer) -> None:
        self._scm = scm
        self._server = server
        self.reads = 0
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._scm, name)
        if not callable(attr) or name.startswith("_") or name == "aclose":
            return attr

        async def counted_call(*args: Any, **kwargs: Any) -> Any:
            before = self._server.requests.total
            try:
                return await attr(*args, **kwargs)
            finally:
                n = self._server.requests.total - before
                if name in READ_STEPS:
                    self.reads += n
                else:
                    self.writes += n

        return counted_call


def is_label_or_reviewer(route: str) -> bool:
    return route.endswith(("/labels", "/requested_reviewers")) or route == "GET /api/v4/users"


async def measure_automation(
    server: ForgeServer, platform: str, automation: PrAutomation, variant: str, run: str
) -> dict[str, Any]:
    repo = f"acme/gitops-{platform}-{variant.strip('+')}"
    scm = CountedScm(FACTORIES[platform](server), server)
    server.requests.reset()
    try:
        outcome = await run_automation(
            scm,  # type: ignore[arg-type]
            repo,
            variant_of(automation, variant),
            SAMPLE_INPUTS[automation.name],
        )
    finally:
        await scm.aclose()
    entries = list(server.requests.entries)
    pr = outcome.pull_request
    return {
        "platform": platform,
        "automation": automation.name,
        "variant": variant,
        "run": run,
        "files": len(outcome.render.changes),
        "labels": len(pr.labels) if pr else 0,
        "reviewers": len(variant_of(automation, variant).reviewers),
        "reads": scm.reads,
        "writes": scm.writes,
        "total": len(entries),
        "labels_reviewers": sum(1 for e in entries if is_label_or_reviewer(e.route)),
        "routes": [e.route for e in entries],
    }


async def bench_shipped(server: ForgeServer, platforms: list[str]) -> list[dict[str, Any]]:
    automations = shipped_automations()
    forge = server.forge
    forge.create_user(REVIEWER)
    rows = []
    for platform in platforms:
        for variant in VARIANTS:
            repo = f"acme/gitops-{platform}-{variant.strip('+')}"
            await forge.create_repo(repo, folder=EXAMPLE)
            forge.set_permission(repo, "bench", "admin")
            forge.set_permission(repo, REVIEWER, "write")
        for automation in automations.values():
            for variant in VARIANTS:
                for run in ("first", "rerun"):
                    rows.append(
                        await measure_automation(server, platform, automation, variant, run)
                    )
    return rows


async def bench(
    sizes: list[int], platforms: list[str], shipped: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
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
            shipped_rows = await bench_shipped(server, platforms) if shipped else []
    return rows, shipped_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100")
    parser.add_argument("--platforms", default="github,gitlab")
    parser.add_argument(
        "--no-shipped", action="store_true", help="bare ChangeSets only, not the automations"
    )
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows, shipped = asyncio.run(bench(sizes, args.platforms.split(","), not args.no_shipped))
    if args.json:
        print(json.dumps({"rows": rows, "shipped": shipped}))
        return
    print(
        "API requests to open one PR: a bare ChangeSet, no labels, no reviewers "
        "(forge-counted; token minting excluded)"
    )
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
    if shipped:
        print()
        print_shipped(shipped)
    print()
    print(
        "Not counted anywhere: token minting (personal token here; a GitHub App adds one "
        "POST access_tokens per installation per hour), the .prbot/ definitions lookup "
        "(a snapshot and one batched read, cached per default-branch commit), webhooks, retries."
    )
    print(
        "Binary files: none here. GitHub: +1 read (GET contents) and +1 write (POST "
        "git/blobs) per binary file; GitLab: +0 (archive reads, base64 in the commit)."
    )


def print_shipped(rows: list[dict[str, Any]]) -> None:
    print(
        "API requests per PR for the shipped automations, run as the worker runs them "
        "(examples/gitops on the forge, sample inputs)"
    )
    header = (
        f"{'platform':<8} {'automation':<15}{'run':<6}{'files':>5}{'labels':>7}"
        f"{'reads':>6}  {'writes: bare':>12}{'shipped':>8}{'+reviewer':>10}"
        f"  {'total: bare':>11}{'shipped':>8}{'+reviewer':>10}  {'lbl/rev reqs':>12}"
    )
    print(header)
    print("-" * len(header))
    by_key = {(r["platform"], r["automation"], r["run"], r["variant"]): r for r in rows}
    seen = []
    for r in rows:
        key = (r["platform"], r["automation"], r["run"])
        if key not in seen:
            seen.append(key)
    for key in seen:
        v = {variant: by_key[(*key, variant)] for variant in VARIANTS}
        shipped = v["shipped"]
        reads = {x["reads"] for x in v.values()}
        lbl = "/".join(str(v[x]["labels_reviewers"]) for x in VARIANTS)
        print(
            f"{key[0]:<8} {key[1]:<15}{key[2]:<6}{shipped['files']:>5}{shipped['labels']:>7}"
            f"{'/'.join(map(str, sorted(reads))):>6}  {v['bare']['writes']:>12}"
            f"{shipped['writes']:>8}{v['+reviewer']['writes']:>10}  {v['bare']['total']:>11}"
            f"{shipped['total']:>8}{v['+reviewer']['total']:>10}  {lbl:>12}"
        )
    print(
        "bare = labels and reviewers taken out; shipped = as defined (labels; no shipped "
        f"automation names reviewers); +reviewer = as defined plus one user ({REVIEWER})."
    )
    print(
        "reads = default branch + snapshot + the files the render reads; writes = commit + "
        "open-or-update PR with its lookups, labels and reviewers; lbl/rev reqs = requests "
        "only for labels or reviewers (bare/shipped/+reviewer). Reads and writes are split by "
        "step, not HTTP method (GraphQL reads are POSTs; PR and commit lookups are GETs)."
    )


if __name__ == "__main__":
    main()
