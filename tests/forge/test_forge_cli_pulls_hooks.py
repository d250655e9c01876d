"""``prbot forge`` commit / pulls / hook / repo list against a forge served in a subprocess,
with webhooks delivered to a receiver on 127.0.0.1. The CLI is synchronous, so it runs in
a thread while the receiver answers on the test's event loop."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import httpx
import pytest

from prbot.cli import main

from .test_cli import served  # noqa: F401  (the forge in a subprocess)
from .test_webhooks import Receiver

SECRET = "hook-secret-0123456789"


async def cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["forge", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
async def acme(served, tmp_path, capsys, monkeypatch):  # noqa: F811
    """The served forge with acme/gitops and alice (her token from the environment)."""
    _, url = served
    monkeypatch.setenv("PRBOT_FORGE_URL", url)
    src = tmp_path / "src"
    (src / "apps").mkdir(parents=True)
    (src / "apps" / "values.yaml").write_text("tag: 1\n")
    assert (await cli(capsys, "repo", "create", "acme/gitops", "--from", str(src)))[0] == 0
    monkeypatch.setenv("ALICE_TOKEN", "alice-token-0123456789")
    code, out, _ = await cli(capsys, "user", "create", "alice", "--token-env", "ALICE_TOKEN")
    assert code == 0 and "alice-token" not in out and "token: from $ALICE_TOKEN" in out
    assert (await cli(capsys, "permission", "acme/gitops", "alice", "write"))[0] == 0
    return url


async def test_commit_open_list_merge_close(acme, tmp_path, capsys):
    url = acme
    new = tmp_path / "v.yaml"
    new.write_text("tag: 2\n")
    code, out, err = await cli(
        capsys, "commit", "acme/gitops", "bump", "--start-branch", "main",
        "--file", f"apps/values.yaml={new}", "--as", "alice", "-m", "Bump to 2",
    )  # fmt: skip
    assert code == 0, err
    head = out.split()[-1]
    code, out, _ = await cli(
        capsys, "pulls", "open", "acme/gitops", "--head", "bump", "--title", "Bump", "--as", "alice"
    )
    assert code == 0 and out.startswith(f"opened #1 (bump at {head[:12]})")
    code, out, _ = await cli(capsys, "pulls", "list", "acme/gitops")
    assert out.strip() == f"#1  open    bump -> main  alice  Bump  {url}/acme/gitops/pull/1"

    # the token alice got from the environment works on the API
    gh = f"{url}/api/v3/repos/acme/gitops"
    r = httpx.get(f"{gh}/pulls/1", headers={"Authorization": "token alice-token-0123456789"})
    assert r.json()["head"]["sha"] == head

    code, out, _ = await cli(capsys, "pulls", "merge", "acme/gitops", "1", "--method", "squash")
    assert code == 0 and out.startswith("merged #1 as ")
    merge_sha = out.split()[-1]
    await cli(capsys, "commit", "acme/gitops", "idea", "--start-branch", "main",
              "--delete", "apps/values.yaml", "--as", "alice")  # fmt: skip
    await cli(capsys, "pulls", "open", "acme/gitops", "--head", "idea", "--title", "Idea",
              "--body", "two\nlines", "--as", "alice")  # fmt: skip
    code, out, _ = await cli(capsys, "pulls", "close", "acme/gitops", "2")
    assert code == 0 and out.strip() == "closed #2"

    code, out, _ = await cli(capsys, "pulls", "list", "acme/gitops", "--state", "all", "--json")
    pulls = {p["number"]: p for p in json.loads(out)}
    assert pulls[1]["state"] == "merged" and pulls[1]["merge_commit_sha"] == merge_sha
    assert pulls[2]["state"] == "closed" and pulls[2]["head"] == "idea"
    assert pulls[2]["web_url"] == f"{url}/acme/gitops/-/merge_requests/2"
    assert [p["number"] for p in json.loads((await cli(
        capsys, "pulls", "list", "acme/gitops", "--state", "merged", "--json"))[1])] == [1]  # fmt: skip
    assert (await cli(capsys, "pulls", "list", "acme/gitops"))[1].strip() == "no open pull requests"
    # the page the list points at is there
    page = httpx.get(pulls[1]["html_url"])
    assert page.status_code == 200 and "Merged by acme" in page.text  # the owner, by default

    code, out, _ = await cli(capsys, "repo", "list")
    assert out.strip() == "acme/gitops  private  main"


async def test_bad_arguments_are_named_and_change_nothing(acme, tmp_path, capsys):
    code, _, err = await cli(capsys, "commit", "acme/gitops", "x", "--file", "nolocal", "--as", "a")
    assert code == 2 and "--file nolocal: expected PATH=LOCAL_FILE" in err
    missing = tmp_path / "missing.yaml"
    code, _, err = await cli(
        capsys, "commit", "acme/gitops", "x", "--file", f"a={missing}", "--as", "alice"
    )
    assert code == 2 and f"cannot read {missing}" in err
    code, _, err = await cli(capsys, "commit", "acme/gitops", "x", "--as", "alice")
    assert code == 2 and "nothing to commit" in err
    code, _, err = await cli(capsys, "pulls", "merge", "acme/gitops", "7")
    assert code == 2 and "404" in err
    code, _, err = await cli(capsys, "pulls", "open", "acme/gitops", "--head", "nope",
                             "--title", "T", "--as", "alice")  # fmt: skip
    assert code == 2 and "prbot forge:" in err
    code, out, _ = await cli(capsys, "pulls", "list", "acme/gitops", "--state", "all", "--json")
    assert json.loads(out) == []
    with pytest.raises(SystemExit):
        await asyncio.to_thread(main, ["forge", "pulls", "list", "acme/gitops", "--state", "x"])
    code, _, err = await cli(capsys, "user", "create", "bob", "--token-env", "NO_SUCH_VAR_HERE")
    assert code == 2 and "--token-env NO_SUCH_VAR_HERE" in err


async def test_hooks_deliver_signed_events_and_never_show_the_secret(acme, capsys, monkeypatch):
    url = acme
    async with Receiver() as receiver:
        # an unset variable is refused by name, and no hook is added
        code, _, err = await cli(capsys, "hook", "add", "github", receiver.url,
                                 "--secret-env", "NOT_SET_ANYWHERE")  # fmt: skip
        assert code == 2 and "--secret-env NOT_SET_ANYWHERE" in err
        assert (await cli(capsys, "hook", "list", "--json"))[1].strip() == "[]"

        monkeypatch.setenv("FORGE_HOOK_SECRET", SECRET)
        code, out, err = await cli(
            capsys, "hook", "add", "github", receiver.url, "--secret-env", "FORGE_HOOK_SECRET",
            "--event", "issue_comment", "--repo", "acme/gitops",
        )  # fmt: skip
        assert code == 0, err
        hook_id = int(out.split()[1].rstrip(":"))
        assert out.strip() == (
            f"hook {hook_id}: github {receiver.url} (issue_comment; acme/gitops)"
        )
        code, out, _ = await cli(capsys, "hook", "add", "gitlab", receiver.url)
        assert code == 0 and out.strip().endswith("(every event; every repository) (no secret)")
        gitlab_hook = int(out.split()[1].rstrip(":"))

        await cli(capsys, "commit", "acme/gitops", "b", "--start-branch", "main",
                  "--delete", "apps/values.yaml", "--as", "alice")  # fmt: skip
        await cli(capsys, "pulls", "open", "acme/gitops", "--head", "b", "--title", "B",
                  "--as", "alice")  # fmt: skip
        await cli(capsys, "comment", "acme/gitops", "1", "--as", "alice", "/prbot promote")
        # the receiver answers on this loop: wait for the forge in a thread
        await asyncio.to_thread(httpx.post, f"{url}/_forge/deliveries/drain", timeout=20)

        github = [r for r in receiver.got if "X-GitHub-Event" in r.headers]
        assert [r.headers["X-GitHub-Event"] for r in github] == ["issue_comment"]
        expected = hmac.new(SECRET.encode(), github[0].body, hashlib.sha256).hexdigest()
        assert github[0].headers["X-Hub-Signature-256"] == f"sha256={expected}"
        assert github[0].json["comment"]["body"] == "/prbot promote"

        code, out, _ = await cli(capsys, "hook", "deliveries", "--hook", str(hook_id))
        assert out.strip().endswith(f"hook {hook_id}  issue_comment.created  acme/gitops  200")
        delivery = int(out.split()[0])
        code, out, _ = await cli(capsys, "hook", "redeliver", str(delivery))
        assert code == 0 and out.strip().endswith(f"(again of {delivery}): 200")
        assert len([r for r in receiver.got if "X-GitHub-Event" in r.headers]) == 2

        # the secret is in no output: add, list (text and JSON), deliveries
        code, listed, _ = await cli(capsys, "hook", "list")
        _, listed_json, _ = await cli(capsys, "hook", "list", "--json")
        _, deliveries, _ = await cli(capsys, "hook", "deliveries", "--json")
        for shown in (listed, listed_json, deliveries):
            assert SECRET not in shown
        assert f"{hook_id}  github {receiver.url}" in listed

        assert (await cli(capsys, "hook", "remove", str(gitlab_hook)))[0] == 0
        hooks = json.loads((await cli(capsys, "hook", "list", "--json"))[1])
        assert [h["id"] for h in hooks] == [hook_id]
