"""``prbot promote`` and ``prbot promotions``: start, show, follow and steer promotions
through the API of a running ``prbot serve`` (``/api/promotions``).

A thin client: the server does the work. Its address comes from --url, else PRBOT_URL
(default http://127.0.0.1:3000); the bearer token from PRBOT_API_TOKEN, the same token the
server has. The token is sent, never printed.

Exit status: 0 done (with --wait: the promotion succeeded); 1 with --wait when it ended
otherwise (failed, cancelled, superseded), or a command the server refused (it would change
nothing); 2 a usage error, invalid input (one line per field), an unknown promotion, a
server that cannot be reached or refuses the token.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from prbot.errors import PrbotError

EXIT_OK, EXIT_ENDED, EXIT_USAGE = 0, 1, 2
COMMANDS = ("approve", "hold", "resume", "retry", "rollback", "cancel")
FINISHED = ("succeeded", "failed", "cancelled", "superseded")
STATUSES = ("running", "waiting", "held", *FINISHED)
POLL_SECONDS = 1.0
LOST_SERVER_SECONDS = 30.0  # how long --wait keeps trying a server that went away
# the API's field names, and the option that sets each
FIELD_OPTIONS = {
    "pipeline": "PIPELINE",
    "repo": "--repo",
    "platform": "--platform",
    "inputs": "--set",
    "requested_by": "--by",
    "by": "--by",
    "stage": "--stage",
}

PROMOTE_EPILOG = """\
Starts a promotion of PIPELINE (a Pipeline defined in the repository's .prbot/ or the
deployment's automations folder) and prints its stages. With --wait, follows it: one line
per change, until it ends.

The server: --url, else $PRBOT_URL (default http://127.0.0.1:3000); the token:
$PRBOT_API_TOKEN, as set on the server.

Exit status: 0 started (with --wait: succeeded); 1 with --wait: it failed, was cancelled
or superseded; 2 invalid input (one line per field), unreachable server or wrong token.

examples:
  prbot promote myapp --repo acme/gitops --set tag=6.7.1
  prbot promote myapp --repo acme/gitops --set tag=6.7.1 --by alice --wait
  prbot promote myapp --repo group/gitops --platform gitlab --set tag=6.7.1 \\
      --url https://prbot.internal
"""

PROMOTIONS_EPILOG = """\
Without ID: the newest promotions, one a line. With ID: that promotion's stages (--wait
follows it until it ends). With ID and a COMMAND: ask the server to approve (a stage's
gate; --stage, default the one waiting), hold, resume, retry, roll back or cancel it.

The server: --url, else $PRBOT_URL (default http://127.0.0.1:3000); the token:
$PRBOT_API_TOKEN, as set on the server.

Exit status: 0 done (with --wait: succeeded); 1 the server refused the command (it would
change nothing; the reason is printed), or with --wait the promotion did not succeed;
2 unknown promotion, invalid input, unreachable server or wrong token.

examples:
  prbot promotions                              # the newest promotions
  prbot promotions --repo acme/gitops --status running,waiting,held
  prbot promotions 12                           # one promotion, stage by stage
  prbot promotions 12 --wait                    # follow it until it ends
  prbot promotions 12 approve --stage prod --by bob
  prbot promotions 12 rollback --by alice
"""


class ClientError(PrbotError):
    """The server could not be asked, or refused us; the message is one line."""


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "promote",
        help="start a promotion on a running prbot serve",
        description="Start a promotion of a pipeline against a repository.",
        epilog=PROMOTE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("pipeline", metavar="PIPELINE", help="the pipeline's name")
    p.add_argument("--repo", required=True, metavar="REPO", help="the repository, owner/name")
    p.add_argument("--platform", choices=("github", "gitlab"), default="github")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="one input (repeatable)")
    p.add_argument("--by", metavar="NAME", help="who asks (default: your login name)")
    p.add_argument("--wait", action="store_true", help="follow it until it ends")
    _add_url(p)
    p.set_defaults(func=cmd_promote)

    q = sub.add_parser(
        "promotions",
        help="list, show, follow or steer promotions",
        description="List promotions, show or follow one, or approve, hold, resume, retry, "
        "roll back or cancel one.",
        epilog=PROMOTIONS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument("id", nargs="?", type=int, metavar="ID", help="one promotion")
    q.add_argument("action", nargs="?", choices=COMMANDS, metavar="COMMAND", help=_or(COMMANDS))
    q.add_argument("--repo", metavar="REPO", help="only this repository's")
    q.add_argument("--pipeline", metavar="NAME", help="only this pipeline's")
    q.add_argument("--status", metavar="S[,S]", help=f"only these: {_or(STATUSES)}")
    q.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (default 50)")
    q.add_argument("--stage", metavar="STAGE", help="approve: the stage (default: the waiting one)")
    q.add_argument("--by", metavar="NAME", help="who asks (required with a COMMAND)")
    q.add_argument("--wait", action="store_true", help="with ID: follow it until it ends")
    _add_url(q)
    q.set_defaults(func=cmd_promotions)


def _add_url(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url", metavar="URL", help="the server (default: $PRBOT_URL, http://127.0.0.1:3000)"
    )


def _or(words: Sequence[str]) -> str:
    return ", ".join(words[:-1]) + " or " + words[-1]


# -- the commands


def cmd_promote(args: argparse.Namespace) -> int:
    body = {
        "pipeline": args.pipeline,
        "repo": args.repo,
        "platform": args.platform,
        "inputs": _inputs(args.set),
        "requested_by": args.by or _login_name(),
    }
    with _client(args.url) as api:
        answer = api.call("POST", "/api/promotions", json=body)
        if answer.status_code == 422:
            return _invalid(answer)
        promotion = _expect(answer, 202)["promotion"]
        print(format_promotion(promotion), flush=True)
        if args.wait:
            return follow(api, promotion)
    return EXIT_OK


def cmd_promotions(args: argparse.Namespace) -> int:
    if args.id is None:
        if args.action or args.wait:
            raise ClientError(f"{args.action or '--wait'} needs a promotion ID")
        return _list(args)
    with _client(args.url) as api:
        if args.action:
            return _command(api, args)
        promotion = _get(api, args.id)
        print(format_promotion(promotion), flush=True)
        if args.wait:
            return follow(api, promotion)
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    if args.status:
        unknown = [s for s in args.status.split(",") if s and s not in STATUSES]
        if unknown:
            raise ClientError(f"--status {unknown[0]!r}: must be {_or(STATUSES)}")
    params = {"repo": args.repo, "pipeline": args.pipeline, "status": args.status}
    params = {k: v for k, v in params.items() if v}
    params["limit"] = str(max(1, args.limit))
    with _client(args.url) as api:
        answer = _expect(api.call("GET", "/api/promotions", params=params), 200)
    print(format_list(answer["promotions"]))
    return EXIT_OK


def _command(api: Api, args: argparse.Namespace) -> int:
    if not args.by or not args.by.strip():
        raise ClientError(f"{args.action} needs --by NAME (who asks)")
    body = {"by": args.by}
    if args.stage:
        if args.action != "approve":
            raise ClientError("--stage goes with approve only")
        body["stage"] = args.stage
    answer = api.call("POST", f"/api/promotions/{args.id}/{args.action}", json=body)
    if answer.status_code == 404:
        raise ClientError(f"no promotion {args.id}")
    if answer.status_code == 422:
        return _invalid(answer)
    if answer.status_code == 409:
        reason = _json(answer).get("reason") or "it would change nothing"
        print(f"prbot: {args.action} refused: {reason}", file=sys.stderr)
        return EXIT_ENDED
    _expect(answer, 202)
    print(f"{args.action} of promotion {args.id} accepted (by {args.by})")
    return EXIT_OK


def _get(api: Api, promotion_id: int) -> dict[str, Any]:
    answer = api.call("GET", f"/api/promotions/{promotion_id}")
    if answer.status_code == 404:
        raise ClientError(f"no promotion {promotion_id}")
    return _expect(answer, 200)["promotion"]


# -- following


def follow(
    api: Api,
    promotion: dict[str, Any],
    *,
    every: float = POLL_SECONDS,
    out: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Poll the promotion every ``every`` seconds, printing a line per change, until it
    ends; then its table again. 0 when it succeeded, 1 otherwise."""
    out = out or sys.stdout
    seen = _facts(promotion)
    lost_since: float | None = None
    try:
        while promotion["status"] not in FINISHED:
            sleep(every)
            try:
                current = _get(api, promotion["id"])
            except ClientError as exc:
                if not isinstance(exc.__cause__, httpx.TransportError):
                    raise
                now = time.monotonic()
                if lost_since is None:
                    lost_since = now
                    print(f"{_clock()} lost the server ({exc}); retrying", file=out, flush=True)
                elif now - lost_since > LOST_SERVER_SECONDS:
                    raise
                continue
            if lost_since is not None:
                lost_since = None
                print(f"{_clock()} server back", file=out, flush=True)
            for line in changes(seen, _facts(current)):
                print(f"{_clock()} {line}", file=out, flush=True)
            seen, promotion = _facts(current), current
    except KeyboardInterrupt:
        print(
            f"\nstopped following; promotion {promotion['id']} goes on "
            f"(prbot promotions {promotion['id']} --wait)",
            file=sys.stderr,
        )
        return 130
    print(file=out)
    print(format_promotion(promotion), file=out, flush=True)
    return EXIT_OK if promotion["status"] == "succeeded" else EXIT_ENDED


def _facts(p: dict[str, Any]) -> dict[str, Any]:
    """What a change line is printed for: the promotion's status and reason, and each
    stage's status, PR, health and failure."""
    return {
        "status": p["status"],
        "reason": p.get("reason") or "",
        "stages": {
            s["name"]: (s["status"], _pr(s), _health(s), s.get("failure") or "")
            for s in p["stages"]
        },
    }


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """One line per stage that changed, then one for the promotion if it did."""
    lines = []
    for name, now in after["stages"].items():
        was = before["stages"].get(name)
        if now == was:
            continue
        status, pr, health, failure = now
        parts = [f"{name}: {status.replace('_', ' ')}"]
        if pr not in ("-", "opening") and (was is None or pr != was[1]):
            parts.append(f"PR {pr}")
        if health != "-" and (was is None or health != was[2]):
            parts.append(f"health {health}")
        if failure:
            parts.append(f"failure: {failure}")
        lines.append(", ".join(parts))
    if (after["status"], after["reason"]) != (before["status"], before["reason"]):
        reason = f" ({after['reason']})" if after["reason"] else ""
        lines.append(f"promotion: {after['status']}{reason}")
    return lines


def _clock() -> str:
    return time.strftime("%H:%M:%S")


# -- formatting


def format_promotion(p: dict[str, Any]) -> str:
    """A header and one row per stage: stage, status, PR, health, failure."""
    lines = [
        f"Promotion {p['id']} of pipeline {p['pipeline']} on {p['repo']} "
        f"({p.get('platform', 'github')}): {p['status']}",
    ]
    inputs = p.get("inputs") or {}
    asked = f"Requested by {p.get('requested_by') or '?'}"
    if inputs:
        asked += " with " + ", ".join(f"{k}={inputs[k]}" for k in sorted(inputs))
    lines.append(asked)
    if p.get("reason"):
        lines.append(f"Reason: {_line(p['reason'])}")
    lines.append("")
    header = ("STAGE", "STATUS", "PR", "HEALTH", "FAILURE")
    rows = [
        (
            s["name"],
            s["status"].replace("_", " "),
            _pr(s),
            _health(s),
            _line(s.get("failure") or "") or "-",
        )
        for s in p["stages"]
    ]
    lines += _table(header, rows)
    return "\n".join(lines)


def format_list(promotions: Sequence[dict[str, Any]]) -> str:
    """One line per promotion: id, pipeline, repository, status, where it is, who asked."""
    if not promotions:
        return "no promotions"
    header = ("ID", "PIPELINE", "REPO", "STATUS", "STAGE", "REQUESTED BY")
    rows = [
        (
            str(p["id"]),
            p["pipeline"],
            p["repo"] + ("" if p.get("platform", "github") == "github" else f" ({p['platform']})"),
            p["status"],
            _where(p),
            p.get("requested_by") or "-",
        )
        for p in promotions
    ]
    return "\n".join(_table(header, rows))


def _where(p: dict[str, Any]) -> str:
    """The stage the promotion is at: the first not succeeded (or the last)."""
    stages = p["stages"]
    if not stages:
        return "-"
    at = next((s for s in stages if s["status"] != "succeeded"), stages[-1])
    return f"{at['name']} ({at['status'].replace('_', ' ')})"


def _pr(s: dict[str, Any]) -> str:
    pr = s.get("pr")
    if pr:
        return f"#{pr['number']} {pr.get('url') or ''}".strip()
    if s["status"] == "pr_open":
        return "opening"
    if s.get("merge_sha"):
        return f"no change ({s['merge_sha'][:7]})"
    return "-"


def _health(s: dict[str, Any]) -> str:
    signals = s.get("health") or []
    if not signals:
        return "-"
    return ", ".join(f"{h['name']} {h['state']}" for h in signals)


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header) - 1)]
    return [
        "  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]).rstrip()
        for r in (header, *rows)
    ]


def _line(text: str, width: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1] + "…"


# -- input


def _inputs(items: Sequence[str] | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ClientError(f"--set {item!r}: expected key=value")
        values[key.strip()] = value
    return values


def _login_name() -> str:
    """The operating system's name for who runs this (not the environment's USER)."""
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        raise ClientError("--by NAME is required (no login name for this user)") from None


# -- the API


class Api:
    """The server's API: one httpx client with the bearer token; transport failures and
    refusals of the token become one-line ClientErrors."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.http = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=10.0,
            follow_redirects=False,
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            why = _line(str(exc) or type(exc).__name__, 120)
            raise ClientError(f"cannot reach prbot serve at {self.url}: {why}") from exc
        if answer.status_code == 401:
            raise ClientError(
                f"{self.url} refused the API token (401): PRBOT_API_TOKEN must be the "
                "server's token"
            )
        if answer.status_code == 404 and not _is_json(answer):
            raise ClientError(
                f"{self.url} has no promotions API: is it prbot serve, with PRBOT_API_TOKEN set?"
            )
        return answer


def _client(url_option: str | None) -> Api:
    from prbot.settings import setting

    if url_option:
        if not re.match(r"https?://[^/\s]+", url_option):
            raise ClientError(f"--url {url_option!r}: must be an http(s) URL")
        url = url_option.rstrip("/")
    else:
        url = setting("PRBOT_URL")
    secret = setting("PRBOT_API_TOKEN")
    if secret is None:
        raise ClientError("PRBOT_API_TOKEN is not set: the server's API token is needed")
    token = secret.reveal().strip()
    if not token.isascii() or not token.isprintable() or " " in token:
        raise ClientError("PRBOT_API_TOKEN: must be printable ASCII without spaces")
    return Api(url, token)


def _expect(answer: httpx.Response, status: int) -> dict[str, Any]:
    if answer.status_code != status:
        body = _json(answer)
        why = body.get("reason") or body.get("status") or _line(answer.text, 200)
        raise ClientError(f"the server answered {answer.status_code}: {why}")
    body = _json(answer)
    if not body:
        raise ClientError(f"the server answered {answer.status_code} without a JSON object")
    return body


def _invalid(answer: httpx.Response) -> int:
    errors = _json(answer).get("errors") or {"request": _line(answer.text, 200)}
    for name, message in errors.items():
        option = FIELD_OPTIONS.get(name)
        where = f"{name} ({option})" if option and option != name else name
        print(f"prbot: {where}: {message}", file=sys.stderr)
    return EXIT_USAGE


def _is_json(answer: httpx.Response) -> bool:
    return answer.headers.get("content-type", "").startswith("application/json")


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
