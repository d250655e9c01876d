"""``prbot forge`` subcommands that change repositories, pull requests and webhooks:
``commit``, ``merge``, ``pulls ...`` and ``hook ...`` (``cli.py`` registers them)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from prbot.forge.admin_client import EXIT_OK, AdminError, call


def merge_arguments(m: argparse.ArgumentParser) -> None:
    m.add_argument("full_name", metavar="OWNER/NAME")
    m.add_argument("number", type=int)
    m.add_argument("--as", dest="actor", help="merging user (default: the owner)")
    m.add_argument("--method", default="merge", choices=("merge", "squash", "rebase"))


def add_commit(admin: Any) -> None:
    c = admin("commit", "push a commit of local files onto a branch, as a user")
    c.add_argument("full_name", metavar="OWNER/NAME")
    c.add_argument("branch")
    c.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="PATH=LOCAL",
        help="set PATH in the repository to the content of the local file LOCAL (repeat)",
    )
    c.add_argument("--delete", action="append", default=[], metavar="PATH", help="remove PATH")
    c.add_argument("--start-branch", metavar="BRANCH", help="create BRANCH's tip from this one")
    c.add_argument("-m", "--message", default="Update files")
    c.add_argument("--as", dest="actor", required=True, metavar="USER")


def add_pulls(cmds: Any, with_url: Any) -> None:
    pulls = cmds.add_parser(
        "pulls",
        help="list, open, merge or close pull requests (GitLab: merge requests)",
        description="Pull requests; on GitLab the same records are merge requests (N: iid).",
    )
    sub = pulls.add_subparsers(dest="pulls_cmd", metavar="ACTION", required=True)
    ls = with_url(sub.add_parser("list", help="list pull requests with their pages"))
    ls.add_argument("full_name", metavar="OWNER/NAME")
    ls.add_argument("--state", default="open", choices=("open", "closed", "merged", "all"))
    ls.add_argument("--json", action="store_true", help="print JSON")
    op = with_url(sub.add_parser("open", help="open a pull request from a branch, as a user"))
    op.add_argument("full_name", metavar="OWNER/NAME")
    op.add_argument("--head", required=True, metavar="BRANCH")
    op.add_argument("--base", metavar="BRANCH", help="default: the default branch")
    op.add_argument("--title", required=True)
    op.add_argument("--body", default="")
    op.add_argument("--as", dest="actor", required=True, metavar="USER")
    merge_arguments(with_url(sub.add_parser("merge", help="merge a pull request")))
    cl = with_url(sub.add_parser("close", help="close a pull request without merging"))
    cl.add_argument("full_name", metavar="OWNER/NAME")
    cl.add_argument("number", type=int)
    cl.add_argument("--as", dest="actor", help="closing user (default: the owner)")


def add_hooks(cmds: Any, with_url: Any) -> None:
    hook = cmds.add_parser(
        "hook",
        help="webhooks: register, list, remove; their deliveries",
        description="Webhook subscriptions. A secret is read from the environment variable "
        "--secret-env names (never from the command line) and never printed.",
    )
    sub = hook.add_subparsers(dest="hook_cmd", metavar="ACTION", required=True)
    add = with_url(sub.add_parser("add", help="send a platform's events to a URL"))
    add.add_argument("platform", choices=("github", "gitlab"))
    add.add_argument("target", metavar="URL", help="e.g. http://127.0.0.1:3000/webhooks/github")
    add.add_argument(
        "--secret-env",
        metavar="VAR",
        help="environment variable holding the secret (GitHub: the HMAC key of "
        "X-Hub-Signature-256; GitLab: sent as X-Gitlab-Token); unset: no secret",
    )
    add.add_argument(
        "--event",
        action="append",
        default=[],
        metavar="NAME",
        help="only this event (repeat; GitHub names like pull_request, GitLab hook names "
        'like "Merge Request Hook"); default: every event',
    )
    add.add_argument("--repo", metavar="OWNER/NAME", help="only this repository (default: all)")
    hl = with_url(sub.add_parser("list", help="list webhooks"))
    hl.add_argument("--json", action="store_true", help="print JSON")
    rm = with_url(sub.add_parser("remove", help="remove a webhook"))
    rm.add_argument("hook_id", type=int, metavar="ID")
    dl = with_url(sub.add_parser("deliveries", help="list deliveries, newest last"))
    dl.add_argument("--hook", dest="hook_id", type=int, metavar="ID", help="of this hook only")
    dl.add_argument("--json", action="store_true", help="print JSON")
    rd = with_url(sub.add_parser("redeliver", help="send a delivery again"))
    rd.add_argument("delivery_id", type=int, metavar="DELIVERY_ID")


def merge(args: argparse.Namespace) -> int:
    out = call(
        args.url,
        "POST",
        f"/repos/{args.full_name}/pulls/{args.number}/merge",
        {"actor": args.actor, "merge_method": args.method},
    )
    print(f"merged #{out['number']} as {out['sha']}")
    return EXIT_OK


def commit(args: argparse.Namespace) -> int:
    import base64

    files: dict[str, str | None] = {}
    for spec in args.file:
        path, eq, local = spec.partition("=")
        if not eq or not path or not local:
            raise AdminError(f"--file {spec}: expected PATH=LOCAL_FILE")
        try:
            files[path] = base64.b64encode(Path(local).read_bytes()).decode()
        except OSError as exc:
            raise AdminError(f"--file {spec}: cannot read {local}: {exc.strerror}") from None
    files.update(dict.fromkeys(args.delete))
    if not files:
        raise AdminError("nothing to commit: give --file PATH=LOCAL_FILE or --delete PATH")
    out = call(
        args.url,
        "POST",
        f"/repos/{args.full_name}/commits",
        {
            "branch": args.branch,
            "start_branch": args.start_branch,
            "message": args.message,
            "files": files,
            "encoding": "base64",
            "author": args.actor,
        },
    )
    print(f"{args.branch} at {out['sha']}")
    return EXIT_OK


def pulls(args: argparse.Namespace) -> int:
    if args.pulls_cmd == "merge":
        return merge(args)
    repo = f"/repos/{args.full_name}/pulls"
    if args.pulls_cmd == "open":
        body = {"head": args.head, "base": args.base, "title": args.title,
                "body": args.body, "author": args.actor}  # fmt: skip
        out = call(args.url, "POST", repo, body)
        print(f"opened #{out['number']} ({args.head} at {out['head_sha'][:12]})")
    elif args.pulls_cmd == "close":
        out = call(args.url, "POST", f"{repo}/{args.number}/close", {"actor": args.actor})
        print(f"closed #{out['number']}")
    else:
        pulls = call(args.url, "GET", f"{repo}?state={args.state}")
        if args.json:
            print(json.dumps(pulls, indent=2))
            return EXIT_OK
        for p in pulls:
            print(f"#{p['number']}  {p['state']:<6}  {p['head']} -> {p['base']}  {p['author']}  "
                  f"{p['title']}  {p['html_url']}")  # fmt: skip
        if not pulls:
            print(f"no {'' if args.state == 'all' else args.state + ' '}pull requests")
    return EXIT_OK


def hook(args: argparse.Namespace) -> int:
    if args.hook_cmd == "add":
        secret = ""
        if args.secret_env:
            secret = os.environ.get(args.secret_env, "")
            if not secret:
                raise AdminError(
                    f"--secret-env {args.secret_env}: that environment variable is not set "
                    "or empty; no webhook was added"
                )
        body = {"platform": args.platform, "url": args.target, "secret": secret,
                "events": args.event, "repo": args.repo}  # fmt: skip
        h = call(args.url, "POST", "/hooks", body)
        print(f"hook {h['id']}: {describe_hook(h)}" + ("" if secret else " (no secret)"))
    elif args.hook_cmd == "list":
        hooks = call(args.url, "GET", "/hooks")
        if args.json:
            print(json.dumps(hooks, indent=2))
        for h in [] if args.json else hooks:
            print(f"{h['id']}  {describe_hook(h)}" + ("" if h["active"] else " (inactive)"))
    elif args.hook_cmd == "remove":
        call(args.url, "DELETE", f"/hooks/{args.hook_id}")
        print(f"hook {args.hook_id} removed")
    elif args.hook_cmd == "deliveries":
        query = f"?hook_id={args.hook_id}" if args.hook_id is not None else ""
        items = call(args.url, "GET", f"/deliveries{query}")
        if args.json:
            print(json.dumps(items, indent=2))
        for d in [] if args.json else items:
            event = d["event"] + (f".{d['action']}" if d["action"] else "")
            outcome = d["status_code"] or d["error"] or "pending"
            print(f"{d['id']}  hook {d['hook_id']}  {event}  {d['repository'] or '-'}  {outcome}")
    else:
        d = call(args.url, "POST", f"/deliveries/{args.delivery_id}/redeliver")
        print(f"delivery {d['id']} (again of {args.delivery_id}): {d['status_code'] or d['error']}")
    return EXIT_OK


def describe_hook(h: dict[str, Any]) -> str:
    events = ", ".join(h["events"]) or "every event"
    return f"{h['platform']} {h['url']} ({events}; {h['repo'] or 'every repository'})"
