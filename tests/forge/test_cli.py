"""``prbot forge``: serve in a subprocess, drive it with the admin subcommands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest

from prbot.cli import main


@pytest.fixture
def served(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "prbot.cli", "forge", "--port", "0", "--data", str(tmp_path / "d")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first = proc.stdout.readline()  # "forge: serving http://127.0.0.1:PORT (...)"
        assert first.startswith("forge: serving http://127.0.0.1:"), first + proc.stderr.read()
        url = first.split()[2]
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_serve_and_drive_with_admin_commands(served, tmp_path, capsys):
    proc, url = served
    src = tmp_path / "src"
    (src / "deploy").mkdir(parents=True)
    (src / "deploy" / "values.yaml").write_text("tag: 1\n")
    assert main(["forge", "repo", "create", "acme/gitops", "--from", str(src), "--url", url]) == 0
    assert main(["forge", "user", "create", "alice", "--token", "alice-t", "--url", url]) == 0
    assert main(["forge", "permission", "acme/gitops", "alice", "write", "--url", url]) == 0
    out = capsys.readouterr().out
    assert "created acme/gitops" in out and "alice: write on acme/gitops" in out

    # alice pushes a branch through the API and opens a PR; CI and a reviewer react
    api = f"{url}/api/v3/repos/acme/gitops"
    h = {"Authorization": "token alice-t"}
    main_sha = httpx.get(f"{api}/git/ref/heads/main", headers=h).json()["object"]["sha"]
    httpx.post(f"{api}/git/refs", headers=h, json={"ref": "refs/heads/f", "sha": main_sha})
    tree = httpx.post(
        f"{api}/git/trees", headers=h,
        json={"base_tree": main_sha, "tree": [{"path": "x", "mode": "100644", "type": "blob",
                                               "content": "x"}]},
    ).json()  # fmt: skip
    commit = httpx.post(
        f"{api}/git/commits",
        headers=h,
        json={"message": "x", "tree": tree["sha"], "parents": [main_sha]},
    ).json()
    httpx.patch(f"{api}/git/refs/heads/f", headers=h, json={"sha": commit["sha"]})
    pr = httpx.post(f"{api}/pulls", headers=h, json={"title": "X", "head": "f", "base": "main"})
    assert pr.status_code == 201

    short = commit["sha"][:8]
    assert main(["forge", "status", "acme/gitops", short, "ci/test", "success", "--url", url]) == 0
    assert main(["forge", "comment", "acme/gitops", "1", "--as", "bob", "LGTM", "--url", url]) == 0
    assert main(["forge", "merge", "acme/gitops", "1", "--url", url]) == 0
    assert main(["forge", "requests", "--url", url]) == 0
    out = capsys.readouterr().out
    assert "ci/test: success" in out and "merged #1 as" in out
    assert "POST /api/v3/repos/{owner}/{repo}/pulls" in out and "total" in out

    # errors are reported, not raised
    assert main(["forge", "merge", "acme/gitops", "1", "--url", url]) == 2
    assert "405" in capsys.readouterr().err

    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0
    assert "forge: stopped" in proc.stdout.read()


def test_unreachable_forge_is_a_clear_error(capsys):
    assert main(["forge", "requests", "--url", "http://127.0.0.1:9"]) == 2
    assert "cannot reach the forge" in capsys.readouterr().err
