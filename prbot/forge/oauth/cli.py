"""``prbot forge oauth``: OAuth clients for signing in with the forge (admin API client).

``add_commands`` builds the subcommands under ``prbot forge``'s parser; ``run`` executes
one with the admin ``call`` of prbot/forge/cli.py (which reports the forge's refusals).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Call = Callable[..., Any]
EPILOG = """\
  prbot forge oauth github 31337 --callback-url http://127.0.0.1:8000/signin/github
  prbot forge oauth gitlab prbot --redirect-uri http://127.0.0.1:8000/signin/gitlab
  prbot forge oauth list
  prbot forge oauth set CLIENT_ID --callback-url URL     # GitLab: --redirect-uri URL
  prbot forge oauth secret CLIENT_ID                     # a new client secret
"""


def add_commands(cmds: Any, with_url: Callable[[Any], Any]) -> None:
    oauth = cmds.add_parser(
        "oauth",
        help="OAuth clients: sign in with GitHub (an App) or GitLab (an application)",
        description="OAuth clients of the forge's sign-in flows. Secrets are printed once.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = oauth.add_subparsers(dest="oauth_cmd", metavar="ACTION", required=True)
    gh = with_url(sub.add_parser("github", help="turn on a GitHub App's user authorization"))
    gh.add_argument("app_id", type=int)
    gh.add_argument("--callback-url", required=True, metavar="URL")
    gh.add_argument("--secret", help="use this client secret instead of a random one")
    gl = with_url(sub.add_parser("gitlab", help="create a GitLab OAuth application"))
    gl.add_argument("name")
    gl.add_argument("--redirect-uri", action="append", required=True, metavar="URL")
    gl.add_argument("--scopes", default="read_user", help='e.g. "read_user read_api"')
    gl.add_argument("--client-id", help="use this client id (uid) instead of a random one")
    gl.add_argument("--secret", help="use this client secret instead of a random one")
    with_url(sub.add_parser("list", help="list OAuth clients of both platforms"))
    st = with_url(sub.add_parser("set", help="change a client's callback / redirect URIs"))
    st.add_argument("client_id")
    st.add_argument("--callback-url", metavar="URL", help="GitHub")
    st.add_argument("--redirect-uri", action="append", metavar="URL", help="GitLab")
    st.add_argument("--scopes", help="GitLab")
    sec = with_url(sub.add_parser("secret", help="make a client a new secret"))
    sec.add_argument("client_id")
    sec.add_argument("--secret", help="use this client secret instead of a random one")


def _show(c: dict[str, Any]) -> str:
    where = c.get("callback_url") if c["platform"] == "github" else " ".join(c["redirect_uris"])
    extra = f" scopes {' '.join(c['scopes'])}" if c["platform"] == "gitlab" else ""
    return f"{c['platform']} {c['client_id']} ({c['name']}): {where or '-'}{extra}"


def run(args: argparse.Namespace, call: Call) -> int:
    if args.oauth_cmd == "github":
        body = {"platform": "github", "app_id": args.app_id, "callback_url": args.callback_url,
                "client_secret": args.secret}  # fmt: skip
        out = call(args.url, "POST", "/oauth/apps", body)
    elif args.oauth_cmd == "gitlab":
        body = {"platform": "gitlab", "name": args.name, "redirect_uri": args.redirect_uri,
                "scopes": args.scopes.split(), "client_id": args.client_id,
                "client_secret": args.secret}  # fmt: skip
        out = call(args.url, "POST", "/oauth/apps", body)
    elif args.oauth_cmd == "set":
        body = {"callback_url": args.callback_url, "redirect_uri": args.redirect_uri,
                "scopes": args.scopes.split() if args.scopes else None}  # fmt: skip
        out = call(args.url, "PATCH", f"/oauth/apps/{args.client_id}",
                   {k: v for k, v in body.items() if v})  # fmt: skip
    elif args.oauth_cmd == "secret":
        out = call(args.url, "POST", f"/oauth/apps/{args.client_id}/secrets",
                   {"client_secret": args.secret})  # fmt: skip
        print(f"client id: {out['client_id']}\nclient secret: {out['client_secret']}")
        return 0
    else:
        for c in call(args.url, "GET", "/oauth/apps"):
            print(_show(c))
        return 0
    print(_show(out))
    if "client_secret" in out:
        print(f"client id: {out['client_id']}\nclient secret: {out['client_secret']}")
    return 0
