"""``prbot setup github``, ``prbot setup gitlab`` and ``prbot check``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from prbot.settings import ConfigError, setting, setup_file

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

SETUP_GITHUB_EPILOG = """\
Serves a page on 127.0.0.1 and prints its address: open it, press "Register GitHub App",
confirm on GitHub. GitHub sends the browser back to the page, and prbot saves the App's
id, private key, webhook secret and client credentials to the output file (mode 0600),
which `prbot serve` reads (PRBOT_GITHUB_APP_FILE). Nothing secret is printed. Then
install the App where prbot should work (the link is printed).

examples:
  prbot setup github --webhook-url https://prbot.example.com/webhooks/github
  prbot setup github --org acme --webhook-url https://prbot.acme.io/webhooks/github
  prbot setup github --github-url https://github.acme.io --webhook-url ...   # GHES
"""

SETUP_GITLAB_EPILOG = """\
GITLAB_TOKEN (a token with the api scope; never on the command line) registers prbot's
webhook on the project or group, with the events prbot handles and a secret token: the
configured GITLAB_WEBHOOK_SECRET, else a fresh one saved with GITLAB_URL to the output
file (mode 0600), which `prbot serve` reads (PRBOT_GITLAB_FILE).

examples:
  GITLAB_TOKEN=... prbot setup gitlab --project acme/gitops \\
      --webhook-url https://prbot.example.com/webhooks/gitlab
  GITLAB_TOKEN=... prbot setup gitlab --url https://gitlab.acme.io --group acme \\
      --webhook-url https://prbot.acme.io/webhooks/gitlab
"""

CHECK_EPILOG = """\
Reads the settings as `prbot serve` does and checks, for each platform configured, what
a deployment needs: the token or the App key works, the App's permissions and events,
its installations and theirs, the webhook (and, where the platform tells, whether its
deliveries arrive). Prints one row per check, with the fix under each failure.
Exit status: 0 when nothing failed, 1 otherwise.

examples:
  prbot check
  prbot check --github-webhook-url https://prbot.example.com/webhooks/github
  prbot check --gitlab-project acme/gitops --gitlab-group platform
"""


def cmd_setup_github(args: argparse.Namespace) -> int:
    from prbot.setup import github_flow

    output = Path(args.output) if args.output else setup_file("PRBOT_GITHUB_APP_FILE")
    setup = github_flow.GitHubSetup(
        webhook_url=args.webhook_url,
        output=output,
        github_url=args.github_url,
        org=args.org,
        name=args.name,
        ui_url=args.ui_url,
        port=args.port,
        timeout=args.timeout,
        force=args.force,
    )
    app = asyncio.run(github_flow.run(setup, announce=lambda line: print(line, flush=True)))
    print(f"GitHub App {app.slug} (id {app.app_id}) created for {app.owner}.")
    print(f"Its credentials are in {app.path} (mode 0600); prbot serve reads them.")
    print(f"Now install it where prbot should work: {app.install_url}")
    return EXIT_OK


def cmd_setup_gitlab(args: argparse.Namespace) -> int:
    from prbot.setup import gitlab_hooks

    token = setting("GITLAB_TOKEN")
    # a secret `prbot setup gitlab` saved before counts as configured
    configured = setting("GITLAB_WEBHOOK_SECRET", setup_files=True) or ()
    output = Path(args.output) if args.output else setup_file("PRBOT_GITLAB_FILE")
    setup = gitlab_hooks.GitLabSetup(
        url=args.url or setting("GITLAB_URL", setup_files=True),
        token=token.reveal() if token is not None else "",
        webhook_url=args.webhook_url,
        output=output,
        project=args.project,
        group=args.group,
        secret=configured[0].reveal() if configured else None,
        force=args.force,
    )
    done = asyncio.run(gitlab_hooks.run(setup))
    if done.existed:
        print(
            f"{done.target}: prbot's webhook is already there (hook {done.hook_id}); "
            "--force replaces it"
        )
        return EXIT_OK
    verb = "replaced" if done.replaced else "registered"
    print(f"{done.target}: webhook {verb} (hook {done.hook_id}) to {args.webhook_url}")
    if done.new_secret:
        print(f"Its secret token is in {output} (mode 0600); prbot serve reads it.")
    else:
        print("It uses the GITLAB_WEBHOOK_SECRET already configured.")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from prbot.setup.check import Row, passed, table
    from prbot.setup.run_check import run_checks

    try:
        from prbot.settings import load_settings

        settings = load_settings(config_file=args.config)
    except ConfigError as exc:
        rows = [
            Row("settings", "configuration", "FAIL", p, "correct this setting")
            for p in exc.problems
        ]
    else:
        rows = asyncio.run(
            run_checks(
                settings,
                github_webhook_url=args.github_webhook_url or "",
                gitlab_webhook_url=args.gitlab_webhook_url or "",
                gitlab_projects=args.gitlab_project or (),
                gitlab_groups=args.gitlab_group or (),
            )
        )
    sys.stdout.write(table(rows))
    return EXIT_OK if passed(rows) else EXIT_FAILED


def _formatter() -> dict[str, Any]:
    return {"formatter_class": argparse.RawDescriptionHelpFormatter}


def add_parsers(sub: Any) -> None:
    setup = sub.add_parser(
        "setup",
        help="install prbot on GitHub (an App) or GitLab (webhooks)",
        description="Install prbot on a platform.",
    )
    platforms = setup.add_subparsers(dest="platform", metavar="PLATFORM")
    platforms.required = True

    g = platforms.add_parser(
        "github",
        help="create prbot's GitHub App (the manifest flow) and save its credentials",
        description="Create prbot's GitHub App from its manifest and save its credentials.",
        epilog=SETUP_GITHUB_EPILOG,
        **_formatter(),
    )
    g.add_argument(
        "--webhook-url",
        required=True,
        metavar="URL",
        help="where GitHub delivers webhooks: https://YOUR-PRBOT/webhooks/github",
    )
    g.add_argument(
        "--org", metavar="ORG", help="create the App for this organisation (default: your account)"
    )
    g.add_argument(
        "--github-url",
        default="https://github.com",
        metavar="URL",
        help="GitHub's address (GitHub Enterprise Server: https://HOST)",
    )
    g.add_argument("--name", default="prbot", help="the App's name (unique on GitHub)")
    g.add_argument(
        "--ui-url",
        metavar="URL",
        help="where people reach prbot's pages (the "
        "sign-in callback); default: the webhook URL's origin",
    )
    g.add_argument("--port", type=int, default=0, help="local page's port (default: any)")
    g.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="how long to wait for GitHub's answer (default: 600)",
    )
    g.add_argument(
        "--output",
        metavar="FILE",
        help="where to save the credentials "
        "(default: $PRBOT_GITHUB_APP_FILE, else $PRBOT_DATA_DIR/github-app.yaml)",
    )
    g.add_argument("--force", action="store_true", help="replace an existing output file")
    g.set_defaults(func=cmd_setup_github)

    lab = platforms.add_parser(
        "gitlab",
        help="register prbot's webhook on a GitLab project or group",
        description="Register prbot's webhook on a GitLab project or group.",
        epilog=SETUP_GITLAB_EPILOG,
        **_formatter(),
    )
    lab.add_argument("--url", metavar="URL", help="GitLab's address (default: $GITLAB_URL)")
    target = lab.add_mutually_exclusive_group(required=True)
    target.add_argument("--project", metavar="PATH", help="a project: group/name or its id")
    target.add_argument("--group", metavar="PATH", help="a group: every project in it")
    lab.add_argument(
        "--webhook-url",
        required=True,
        metavar="URL",
        help="where GitLab delivers: https://YOUR-PRBOT/webhooks/gitlab",
    )
    lab.add_argument(
        "--output",
        metavar="FILE",
        help="where to save a new secret (default: "
        "$PRBOT_GITLAB_FILE, else $PRBOT_DATA_DIR/gitlab.yaml)",
    )
    lab.add_argument("--force", action="store_true", help="replace prbot's existing hook")
    lab.set_defaults(func=cmd_setup_gitlab)

    c = sub.add_parser(
        "check",
        help="check that the configured platforms have what prbot needs",
        description="Check the settings against each configured platform.",
        epilog=CHECK_EPILOG,
        **_formatter(),
    )
    c.add_argument("--config", metavar="FILE", help="config file (default: $PRBOT_CONFIG)")
    c.add_argument("--github-webhook-url", metavar="URL", help="the App's webhook must point here")
    c.add_argument("--gitlab-webhook-url", metavar="URL", help="the hooks must point here")
    c.add_argument(
        "--gitlab-project",
        action="append",
        metavar="PATH",
        help="check this project's webhook (repeatable)",
    )
    c.add_argument(
        "--gitlab-group",
        action="append",
        metavar="PATH",
        help="check this group's webhook (repeatable)",
    )
    c.set_defaults(func=cmd_check)
