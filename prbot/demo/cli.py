"""``prbot demo``: the command. Exit 0 only when every step happened as told."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from prbot.demo.stack import Stack

EPILOG = """\
The story, on 127.0.0.1 with the local forge and SQLite (no account, no network):
  1. a platform engineer creates clusters for dev, staging and prod from the catalog;
  2. a developer creates the service myapp from the catalog;
  3. `/prbot promote myapp tag=6.7.1` in a comment promotes it dev -> staging -> prod:
     prbot opens each stage's PR when the previous one merged and reports healthy, and
     prod waits for an approval by team platform (an outsider's is refused);
  4. release 6.8.0 fails its staging check, and prbot opens the revert PR itself;
  5. a table of every step: its PR, how long it took, and the SCM requests it cost.

examples:
  prbot demo
  prbot demo --platform gitlab --json
  prbot demo --keep-running --port 8000 --forge-port 3000
"""
BERLIN = ZoneInfo("Europe/Berlin")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "demo",
        help="play the whole story offline against a local forge",
        description="Play a platform team's story with prbot, offline, and check each step.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=run)
    p.add_argument("--platform", choices=("github", "gitlab"), default="github",
                   help="which API of the forge prbot talks to (default: github)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--keep-running", action="store_true",
                   help="leave the forge and prbot running, and print where to click")  # fmt: skip
    p.add_argument("--port", type=_port, default=0, help="prbot serve's port (default: any free)")
    p.add_argument(
        "--forge-port", type=_port, default=0, help="the forge's port (default: any free)"
    )
    return p


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {port}")
    return port


def next_tuesday_morning(now: datetime) -> float:
    """Tuesday 10:00 in Berlin after ``now``: prod's window (mon-thu 09:00-16:00) is open
    for the whole story."""
    local = now.astimezone(BERLIN)
    days = (1 - local.weekday()) % 7 or 7
    day = (local + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, 10, tzinfo=BERLIN).timestamp()


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_demo(args))
    except KeyboardInterrupt:
        return 130


async def _demo(args: argparse.Namespace) -> int:
    # the forge, httpx and the story load only when the demo runs, not for `prbot --help`
    import httpx

    from prbot.demo.stack import running_stack
    from prbot.demo.story import DemoFailure, Story, play
    from prbot.demo.summary import summary_data, summary_json, summary_table

    out: TextIO = sys.stderr if args.json else sys.stdout

    def narrate(text: str) -> None:
        print(text, file=out, flush=True)

    with tempfile.TemporaryDirectory(prefix="prbot-demo-") as work:
        narrate(f"prbot demo on {args.platform}: starting the forge and prbot serve in {work}")
        start = next_tuesday_morning(datetime.now(BERLIN))
        async with running_stack(
            args.platform, Path(work), start_at=start, port=args.port, forge_port=args.forge_port
        ) as stack:
            narrate(f"  forge {stack.forge_server.url}, prbot {stack.serve_url}")
            ok, error = True, ""
            async with httpx.AsyncClient(base_url=stack.serve_url, timeout=15) as http:
                story = Story(stack, http, narrate)
                try:
                    await play(story)
                except DemoFailure as exc:
                    ok, error = False, str(exc)
                    narrate(f"✗ {error}")
                    narrate("prbot serve's last lines:\n" + stack.serve_output()[-3000:])
            data = summary_data(args.platform, story.results, ok=ok, error=error)
            if args.json:
                print(summary_json(data), flush=True)
            else:
                narrate("\n5. What happened\n")
                narrate(summary_table(data))
                narrate("\nEvery step happened as told." if ok else f"\nThe demo failed: {error}")
            if args.keep_running:
                await _keep_running(stack, narrate)
        return 0 if ok else 1


async def _keep_running(stack: Stack, narrate: Any) -> None:
    label = "GitHub" if stack.platform == "github" else "GitLab"
    people = stack.people
    narrate(
        f"""
Everything is still running (Ctrl-C stops it):
  the catalog            {stack.serve_url}/catalog
  the promotions         {stack.serve_url}/promotions
  the repository         {stack.forge_server.url}/{stack.repo}
Sign in with {label} on prbot's pages; the forge's page lets you pick who you are:
  {people.engineer} (platform team), {people.developer} (developer), {people.approver} (platform
  team), {people.outsider} (may write, not in the platform team)."""
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    narrate("stopping")
