"""``prbot promote`` and ``prbot promotions`` as processes, against ``prbot serve`` as a
process and the forge: the table of stages, one promotion shown and listed, --wait
following a promotion to success (exit 0) while the test merges the stage PRs and posts
the health statuses, a cancel through the command and --wait ending with exit 1, invalid
input naming its field (exit 2), a wrong token refused without being echoed (exit 2)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.support.forge import ForgeRepo
from tests.support.promotions import BUMP, STAGES, pipeline, serve_env
from tests.support.serve import ROOT, free_port, serve_process
from tests.support.waiting import wait_for

REPO = "acme/gitops"
TOKEN = "promote-cli-forge-token-5678"
SECRET = "promote-cli-webhook-secret-1234"
API_TOKEN = "promote-cli-internal-api-token"
WRONG_TOKEN = "not-the-api-token-9f8e7d"
SLOW = {"timeout": 20.0, "every": 0.1}


@pytest.fixture
def forge_files() -> dict[str, str]:
    files = {f"envs/{env}.yaml": "image:\n  tag: '1.0.0' # bumped\n" for env in STAGES}
    files[".prbot/bump.yaml"] = BUMP
    files[".prbot/app.yaml"] = pipeline()
    return files


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN}


def _env(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], **extra}


async def _start(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    """``prbot ARGS`` in the background (the forge runs on this event loop: never block)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "prbot.cli",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _finish(proc: asyncio.subprocess.Process, timeout: float = 20) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _prbot(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    return await _finish(await _start(*args, env=env))


async def _promotion_id(proc: asyncio.subprocess.Process) -> int:
    """The id from the first line `prbot promote` prints ("Promotion N of pipeline ...")."""
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
    found = re.match(r"Promotion (\d+) of pipeline app on acme/gitops \(github\): ", line)
    assert found, line
    return int(found.group(1))


async def test_promote_show_follow_and_cancel_against_prbot_serve(
    tmp_path, forge_repo: ForgeRepo
) -> None:
    forge = forge_repo.forge
    port = free_port()
    env = serve_env(forge_repo, tmp_path, port, webhook_secret=SECRET, api_token=API_TOKEN)
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    async with (
        serve_process(tmp_path, env, port=port) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=10) as http,
    ):
        cli = _env(PRBOT_URL=served.base_url, PRBOT_API_TOKEN=API_TOKEN)

        async def promotion(pid: int) -> dict[str, Any]:
            return (await http.get(f"/api/promotions/{pid}", headers=auth)).json()["promotion"]

        async def merge_and_report(pid: int, index: int) -> None:
            async def opened():
                return (await promotion(pid))["stages"][index]["pr"]

            pr = await wait_for(opened, **SLOW, what=f"stage {index}'s PR")
            merged = await forge.merge_pull_request(REPO, pr["number"], actor="alice")

            async def seen_merged():
                status = (await promotion(pid))["stages"][index]["status"]
                return status in ("merged", "verifying")

            await wait_for(seen_merged, **SLOW, what=f"stage {index} merged")
            await forge.post_status(
                REPO, merged.merge_commit_sha, "success", creator="flux", context="ci/deploy"
            )

        # promote --wait: the table first, then a line per change until it succeeds
        follower = await _start(
            "promote", "app", "--repo", REPO, "--set", "tag=2.0.0", "--by", "alice", "--wait",
            env=cli,
        )  # fmt: skip
        # meanwhile (processes at once, to keep the test short): invalid input exits 2
        # with one line naming the field, and starts nothing; a wrong token exits 2 with
        # one clear line, the token never shown
        invalid, wrong_token, pid = await asyncio.gather(
            _prbot("promote", "nope", "--repo", REPO, "--set", "tag=1", "--by", "al", env=cli),
            _prbot("promotions", env={**cli, "PRBOT_API_TOKEN": WRONG_TOKEN}),
            _promotion_id(follower),
        )
        code, out, err = invalid
        assert code == 2, (out, err)
        assert err.startswith("prbot: pipeline (PIPELINE): ") and "nope" in err, err
        code, out, err = wrong_token
        assert code == 2
        assert err.startswith("prbot: ") and "refused the API token (401)" in err, err
        assert err.count("\n") == 1 and WRONG_TOKEN not in out + err

        (code, shown, _), (listed_code, listed, _) = await asyncio.gather(
            _prbot("promotions", str(pid), env=cli),
            _prbot("promotions", "--repo", REPO, env=cli),
        )
        assert code == 0
        assert shown.startswith(f"Promotion {pid} of pipeline app on {REPO} (github): ")
        assert "Requested by alice with tag=2.0.0" in shown
        assert re.search(r"^STAGE +STATUS +PR +HEALTH +FAILURE$", shown, re.M), shown
        rows = [line.split()[0] for line in shown.splitlines()[-3:]]
        assert rows == list(STAGES), shown
        assert listed_code == 0
        assert re.search(rf"^{pid} +app +{REPO} +(running|waiting) +dev ", listed, re.M), listed

        for index in range(3):
            await merge_and_report(pid, index)
        code, out, err = await _finish(follower)
        assert code == 0, (out, err)
        # (the first line, the header, was read above); each poll may see more than one
        # step, so a stage's PR shows up with whatever status it then has
        table, events = out.split("\n\n", 1)[1].split("\n", 4)[1:4], out
        assert [row.split()[:2] for row in table] == [[s, "pending"] for s in STAGES], out
        assert re.search(r"^\d\d:\d\d:\d\d dev: [a-z ]+, PR #\d+ http", events, re.M), out
        assert re.search(r"^\d\d:\d\d:\d\d prod: succeeded", events, re.M), out
        assert re.search(r"^\d\d:\d\d:\d\d promotion: succeeded$", events, re.M), out
        final = "Promotion " + out.rsplit("\n\nPromotion ", 1)[1]
        assert final.startswith(f"Promotion {pid} of pipeline app on {REPO} (github): succeeded")
        assert all(re.search(rf"^{s} +succeeded +#\d+ ", final, re.M) for s in STAGES), final
        assert "ci/deploy success" in final

        # a second promotion, cancelled with `prbot promotions ID cancel`: --wait exits 1
        follower = await _start(
            "promote", "app", "--repo", REPO, "--set", "tag=3.0.0", "--by", "alice", "--wait",
            env=cli,
        )  # fmt: skip
        second = await _promotion_id(follower)

        async def started():
            return (await promotion(second))["stages"][0]["pr"]

        await wait_for(started, **SLOW, what="the second promotion's first PR")
        code, out, err = await _prbot("promotions", str(second), "cancel", "--by", "bob", env=cli)
        assert (code, out) == (0, f"cancel of promotion {second} accepted (by bob)\n"), err
        code, out, err = await _finish(follower)
        assert code == 1, (out, err)
        assert re.search(r"^\d\d:\d\d:\d\d promotion: cancelled", out, re.M), out
        # once it ended, a command is refused: exit 1 with the server's reason
        code, out, err = await _prbot("promotions", str(second), "retry", "--by", "bob", env=cli)
        assert code == 1 and err.startswith("prbot: retry refused: "), (out, err)
        code, _, err = await _prbot("promotions", "99999", env=cli)
        assert (code, err) == (2, "prbot: no promotion 99999\n")
    assert served.exit_code == 0, served.output()[-3000:]
    assert API_TOKEN not in served.output()


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prbot.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_unreachable_server_and_missing_token_exit_2_with_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    proc = _run("promotions", "--url", url, env=_env(PRBOT_API_TOKEN=API_TOKEN))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"prbot: cannot reach prbot serve at {url}: ")
    assert proc.stderr.count("\n") == 1 and API_TOKEN not in proc.stdout + proc.stderr
    proc = _run("promote", "app", "--repo", REPO, env=_env(PRBOT_URL=url))
    assert (proc.returncode, proc.stderr) == (
        2,
        "prbot: PRBOT_API_TOKEN is not set: the server's API token is needed\n",
    )
    proc = _run("promotions", env=_env(PRBOT_URL="ftp://x", PRBOT_API_TOKEN=API_TOKEN))
    assert proc.returncode == 2 and proc.stderr.startswith("prbot: PRBOT_URL: must be an http")


def test_help_has_examples() -> None:
    for command in ("promote", "promotions"):
        proc = _run(command, "--help", env=_env())
        assert proc.returncode == 0
        assert "examples:" in proc.stdout and "PRBOT_API_TOKEN" in proc.stdout
