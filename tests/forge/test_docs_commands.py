"""docs/forge.md runs as written: its ``sh`` blocks, in order, in one bash started in an
empty folder, with FORGE_PORT and PRBOT_PORT set to free ports of 127.0.0.1 (the doc
defaults them otherwise). The doc starts a forge and ``prbot serve`` in the background and
stops both at its end; whatever is left is killed with the shell's process group. Its
table of subcommands is checked against the real parser."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from prbot.forge import cli as forge_cli
from tests.support.serve import ROOT, free_port

DOC = ROOT / "docs" / "forge.md"
RUN_SECONDS = 120  # the whole walk-through takes a few seconds; a hang fails, bounded


def shell_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```$", markdown, flags=re.S | re.M)


def test_the_docs_shell_blocks_run_as_written(tmp_path: Path):
    blocks = shell_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    script = "set -euo pipefail\n" + "\n".join(blocks)
    forge_port, prbot_port = free_port(), free_port()
    bin_dir = Path(sys.executable).parent  # the venv's: prbot, python3
    env = {
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "FORGE_PORT": str(forge_port),
        "PRBOT_PORT": str(prbot_port),
    }
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the servers it starts included
    )
    try:
        out, err = proc.communicate(timeout=RUN_SECONDS)
    finally:
        with contextlib.suppress(ProcessLookupError):  # only this test's shell and children
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    logs = "".join(
        f"\n--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in work.glob("*.log")
    )
    assert proc.returncode == 0, f"{out}\n--- stderr\n{err}{logs}"

    forge = f"http://127.0.0.1:{forge_port}"
    prbot = f"http://127.0.0.1:{prbot_port}"
    assert "created acme/gitops (main at " in out
    assert "user prbot (id " in out and "token: from $PRBOT_BOT_TOKEN" in out
    assert f"github {prbot}/webhooks/github (every event; acme/gitops)" in out
    assert f"gitlab {prbot}/webhooks/gitlab (every event; acme/gitlab-demo)" in out
    assert (
        f"#1  open    bump -> main  alice  Bump podinfo to 6.1.0  {forge}/acme/gitops/pull/1" in out
    )
    # prbot took the signed deliveries (202: accepted; a bad signature would be 401)
    deliveries = [line.split() for line in out.splitlines() if "  hook 9" in line]
    assert ["pull_request.opened", "acme/gitops", "202"] in [d[3:] for d in deliveries]
    assert ["issue_comment.created", "acme/gitops", "202"] in [d[3:] for d in deliveries]
    assert all(d[-1] in ("200", "202") for d in deliveries), deliveries
    # the PR page's comment count, then the request total: the last blocks ran too
    lines = out.strip().splitlines()
    assert int(lines[-2]) >= 1 and lines[-1].split()[0] == "total", lines[-2:]


def _subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(f"{prefix}{name}")
                found += _subcommands(sub, f"{prefix}{name} ")
    return found


def test_the_docs_list_every_subcommand_there_is():
    root = argparse.ArgumentParser()
    forge = forge_cli.add_parser(root.add_subparsers())
    names = _subcommands(forge)
    assert {"hook add", "pulls list", "pulls merge", "commit", "repo list"} <= set(names)
    doc = DOC.read_text(encoding="utf-8")
    table = doc.split("## Every subcommand", 1)[1]
    for name in names:
        assert f"`{name} " in table or f"`{name}`" in table, f"{name} is not in docs/forge.md"
