"""``prbot forge``: serve the local forge, or drive a running one through its admin API.

``prbot.cli`` registers the subcommand with ``add_parser`` and calls ``run``; nothing
heavy is imported until a command actually runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from prbot.forge import cli_changes
from prbot.forge.admin_client import EXIT_FAIL, EXIT_OK, AdminError, call

DEFAULT_PORT = 8765
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"

EPILOG = """\
Serve (127.0.0.1 only; Ctrl-C stops; state and bare repositories persist in --data):
  prbot forge --port 8765 --data .prbot-forge

Drive a running forge (--url, default $PRBOT_FORGE_URL or http://127.0.0.1:8765):
  prbot forge repo create acme/gitops --from examples/gitops
  prbot forge user create alice --token alice-token
  prbot forge permission acme/gitops alice write
  prbot forge team create acme/platform     # a GitHub team acme/platform, a GitLab group
  prbot forge team add acme/platform alice  # --role maintainer, --pending
  prbot forge commit acme/gitops bump --start-branch main --file values.yaml=./v.yaml --as alice
  prbot forge pulls open acme/gitops --head bump --title "Bump" --as alice
  prbot forge pulls list acme/gitops --state all     # --json
  prbot forge comment acme/gitops 1 --as alice "/prbot promote"
  prbot forge status acme/gitops 3f2a9c1 ci/test success
  prbot forge pulls merge acme/gitops 1              # also: prbot forge merge acme/gitops 1
  prbot forge hook add github http://127.0.0.1:3000/webhooks/github --secret-env WEBHOOK_SECRET
  prbot forge hook list                              # and: hook deliveries, hook redeliver ID
  prbot forge requests          # API calls per route since start (or --reset)
  prbot forge oauth gitlab prbot --redirect-uri http://127.0.0.1:8000/cb   # sign-in clients

Point clients at http://127.0.0.1:PORT/api/v3 (GitHub REST), /api/graphql (GitHub
GraphQL), http://127.0.0.1:PORT (python-gitlab; OAuth at /oauth/authorize) and /_forge
(admin); GitHub's sign-in is at /login/oauth/authorize. People read the forge at
http://127.0.0.1:PORT/ (repositories, pull requests, commits; read-only). docs/forge.md
shows how to point `prbot serve` at it.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "forge",
        help="run or drive the local GitHub/GitLab-compatible forge",
        description="A local GitHub- and GitLab-compatible server over real git repositories.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to serve on (0: any)")
    p.add_argument(
        "--data",
        default=os.environ.get("PRBOT_FORGE_DATA", ".prbot-forge"),
        metavar="DIR",
        help="state and repositories folder (default: $PRBOT_FORGE_DATA or .prbot-forge)",
    )
    p.set_defaults(func=run)
    cmds = p.add_subparsers(dest="forge_cmd", metavar="COMMAND")

    def with_url(c: argparse.ArgumentParser) -> argparse.ArgumentParser:
        c.add_argument(
            "--url",
            default=os.environ.get("PRBOT_FORGE_URL", DEFAULT_URL),
            help="the running forge (default: %(default)s)",
        )
        return c

    def admin(name: str, help_text: str) -> argparse.ArgumentParser:
        return with_url(cmds.add_parser(name, help=help_text, description=help_text))

    repo = cmds.add_parser("repo", help="manage repositories", description="Repositories.")
    repo_cmds = repo.add_subparsers(dest="repo_cmd", metavar="ACTION", required=True)
    create = with_url(repo_cmds.add_parser("create", help="create OWNER/NAME from a folder"))
    create.add_argument("full_name", metavar="OWNER/NAME")
    create.add_argument("--from", dest="folder", required=True, metavar="DIR")
    create.add_argument("--branch", default="main", help="default branch (default: main)")
    create.add_argument("--public", action="store_true", help="public visibility")

    user = cmds.add_parser("user", help="manage users", description="Users and tokens.")
    user_cmds = user.add_subparsers(dest="user_cmd", metavar="ACTION", required=True)
    ucreate = with_url(user_cmds.add_parser("create", help="create a user and print a token"))
    ucreate.add_argument("login")
    token = ucreate.add_mutually_exclusive_group()
    token.add_argument("--token", help="use this token instead of a random one")
    token.add_argument(
        "--token-env",
        metavar="VAR",
        help="use the token in this environment variable (kept off the command line and "
        "not printed)",
    )

    team = cmds.add_parser(
        "team",
        help="manage teams (GitLab: groups)",
        description="Teams: ORG/SLUG is GitHub team SLUG of ORG and GitLab group ORG/SLUG "
        "(GitLab paths may nest deeper; members of a group count in its subgroups).",
    )
    team_cmds = team.add_subparsers(dest="team_cmd", metavar="ACTION", required=True)
    tcreate = with_url(team_cmds.add_parser("create", help="create a team"))
    tcreate.add_argument("path", metavar="ORG/SLUG")
    tcreate.add_argument("--name", help="display name (default: the slug)")
    tadd = with_url(team_cmds.add_parser("add", help="add a user to a team, or change it"))
    tadd.add_argument("path", metavar="ORG/SLUG")
    tadd.add_argument("login")
    tadd.add_argument("--role", default="member", choices=("member", "maintainer"))
    tadd.add_argument("--pending", action="store_true", help="invited, not accepted yet")
    tremove = with_url(team_cmds.add_parser("remove", help="remove a user from a team"))
    tremove.add_argument("path", metavar="ORG/SLUG")
    tremove.add_argument("login")
    with_url(team_cmds.add_parser("list", help="list teams and their members"))

    repo_list = with_url(repo_cmds.add_parser("list", help="list repositories"))
    repo_list.add_argument("--json", action="store_true", help="print JSON")
    cli_changes.add_commit(admin)
    cli_changes.add_pulls(cmds, with_url)
    cli_changes.add_hooks(cmds, with_url)

    cli_changes.merge_arguments(admin("merge", "merge a pull request (as `pulls merge`)"))

    s = admin("status", "post a commit status")
    s.add_argument("full_name", metavar="OWNER/NAME")
    s.add_argument("sha")
    s.add_argument("context")
    s.add_argument("state", choices=("pending", "success", "failure", "error"))
    s.add_argument("--target-url")
    s.add_argument("--description")
    s.add_argument("--as", dest="actor", default="ci")

    c = admin("comment", "comment on a pull request as a user")
    c.add_argument("full_name", metavar="OWNER/NAME")
    c.add_argument("number", type=int)
    c.add_argument("body")
    c.add_argument("--as", dest="actor", required=True, metavar="USER")

    perm = admin("permission", "set a user's permission on a repository")
    perm.add_argument("full_name", metavar="OWNER/NAME")
    perm.add_argument("user")
    perm.add_argument(
        "permission", choices=("none", "read", "triage", "write", "maintain", "admin")
    )

    from prbot.forge.oauth import cli as oauth_cli  # argparse only: cheap

    oauth_cli.add_commands(cmds, with_url)

    r = admin("requests", "show API request counts by route")
    r.add_argument("--reset", action="store_true", help="reset the counts afterwards")
    r.add_argument("--json", action="store_true", help="print JSON")
    return p


def run(args: argparse.Namespace) -> int:
    if args.forge_cmd is None:
        # absolute: git runs some commands in other folders (repo create --from)
        return serve(args.port, Path(args.data).resolve())
    handlers = {
        "repo": _repo,
        "user": _user,
        "merge": cli_changes.merge,
        "status": _status,
        "comment": _comment,
        "permission": _permission,
        "team": _team,
        "requests": _requests,
        "oauth": _oauth,
        "commit": cli_changes.commit,
        "pulls": cli_changes.pulls,
        "hook": cli_changes.hook,
    }
    try:
        return handlers[args.forge_cmd](args)
    except AdminError as exc:
        print(f"prbot forge: {exc}", file=sys.stderr)
        return EXIT_FAIL


# --- serving ----------------------------------------------------------------------------------


def serve(port: int, data: Path) -> int:
    import asyncio
    import signal

    from prbot.forge.server import ForgeServer

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with ForgeServer(data, port=port) as srv:
            print(f"forge: serving {srv.url} (data in {data})")
            print(f"  GitHub REST     {srv.github_api_url}")
            print(f"  GitHub GraphQL  {srv.graphql_url}")
            print(f"  GitLab          {srv.gitlab_url}  (API at /api/v4)")
            print(f"  admin           {srv.admin_url}")
            print("Ctrl-C stops.", flush=True)
            await stop.wait()
        print("forge: stopped")

    try:
        asyncio.run(main())
    except OSError as exc:
        print(f"prbot forge: cannot listen on 127.0.0.1:{port}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


# --- admin client ------------------------------------------------------------------------------


def _repo(args: argparse.Namespace) -> int:
    if args.repo_cmd == "list":
        repos = call(args.url, "GET", "/repos")
        if args.json:
            print(json.dumps(repos, indent=2))
        for r in [] if args.json else repos:
            print(f"{r['full_name']}  {r['visibility']}  {r['default_branch']}")
        return EXIT_OK
    folder = Path(args.folder).resolve()
    if not folder.is_dir():
        raise AdminError(f"--from {args.folder}: not a directory")
    out = call(
        args.url,
        "POST",
        "/repos",
        {
            "full_name": args.full_name,
            "folder": str(folder),
            "default_branch": args.branch,
            "visibility": "public" if args.public else "private",
        },
    )
    print(f"created {out['full_name']} ({out['default_branch']} at {out['head'][:12]})")
    return EXIT_OK


def _user(args: argparse.Namespace) -> int:
    token = args.token
    if args.token_env:
        token = os.environ.get(args.token_env, "")
        if not token:
            raise AdminError(
                f"--token-env {args.token_env}: that environment variable is not set or "
                "empty; no user was created"
            )
    out = call(args.url, "POST", "/users", {"login": args.login, "token": token})
    shown = f"from ${args.token_env}" if args.token_env else out["token"]
    print(f"user {out['login']} (id {out['id']}); token: {shown}")
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    out = call(
        args.url,
        "POST",
        f"/repos/{args.full_name}/statuses/{args.sha}",
        {
            "state": args.state,
            "context": args.context,
            "target_url": args.target_url,
            "description": args.description,
            "creator": args.actor,
        },
    )
    print(f"{out['context']}: {out['state']} on {out['sha'][:12]}")
    return EXIT_OK


def _comment(args: argparse.Namespace) -> int:
    out = call(
        args.url,
        "POST",
        f"/repos/{args.full_name}/pulls/{args.number}/comments",
        {"author": args.actor, "body": args.body},
    )
    print(f"comment {out['id']} on #{args.number}")
    return EXIT_OK


def _permission(args: argparse.Namespace) -> int:
    out = call(
        args.url,
        "PUT",
        f"/repos/{args.full_name}/permissions/{args.user}",
        {"permission": args.permission},
    )
    print(f"{out['login']}: {out['permission']} on {args.full_name}")
    return EXIT_OK


def _team(args: argparse.Namespace) -> int:
    if args.team_cmd == "create":
        out = call(args.url, "POST", "/teams", {"path": args.path, "name": args.name})
        print(f"team {out['path']} (id {out['id']})")
    elif args.team_cmd == "add":
        state = "pending" if args.pending else "active"
        out = call(
            args.url,
            "PUT",
            f"/teams/{args.path}/members/{args.login}",
            {"role": args.role, "state": state},
        )
        print(f"{out['login']}: {out['role']} of {out['path']} ({out['state']})")
    elif args.team_cmd == "remove":
        call(args.url, "DELETE", f"/teams/{args.path}/members/{args.login}")
        print(f"{args.login}: removed from {args.path}")
    else:
        for t in call(args.url, "GET", "/teams"):
            members = ", ".join(
                m["login"] + ("" if m["state"] == "active" else f" ({m['state']})")
                for m in t["members"]
            )
            print(f"{t['path']}: {members or '-'}")
    return EXIT_OK


def _requests(args: argparse.Namespace) -> int:
    out = call(args.url, "GET", "/requests")
    if args.reset:
        call(args.url, "DELETE", "/requests")
    if args.json:
        print(json.dumps(out, indent=2))
        return EXIT_OK
    width = max((len(r) for r in out["counts"]), default=10)
    for route, count in out["counts"].items():
        print(f"{route:<{width}}  {count:>6}")
    print(f"{'total':<{width}}  {out['total']:>6}")
    return EXIT_OK


def _oauth(args: argparse.Namespace) -> int:
    from prbot.forge.oauth import cli as oauth_cli

    return oauth_cli.run(args, call)
