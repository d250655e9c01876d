"""Git behaviour, checked with the git CLI on the forge's bare repositories: what the API
writes is what git sees (files, modes, deletions, two-parent merge commits)."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from prbot.forge import git
from prbot.forge.errors import Conflict, NotMergeable, Unprocessable
from prbot.forge.git import Change

from .conftest import auth


def run_git(world, *args: str) -> str:
    gd = world.forge.git_dir("octo/app")
    out = subprocess.run(
        ["git", f"--git-dir={gd}", *args], capture_output=True, check=True, text=True
    )
    return out.stdout


def ls_tree(world, rev: str) -> dict[str, str]:
    """path -> mode at ``rev``."""
    out = run_git(world, "ls-tree", "-r", rev)
    entries = {}
    for line in out.splitlines():
        meta, path = line.split("\t", 1)
        entries[path] = meta.split()[0]
    return entries


async def test_multi_file_commit_through_trees_commits_refs(world):
    api = world.github_api_url + "/repos/octo/app"
    async with httpx.AsyncClient(headers=auth(world.tokens["dev"])) as c:
        main = (await c.get(f"{api}/git/ref/heads/main")).json()["object"]["sha"]
        base_tree = (await c.get(f"{api}/git/commits/{main}")).json()["tree"]["sha"]
        tree = await c.post(
            f"{api}/git/trees",
            json={
                "base_tree": base_tree,
                "tree": [
                    {"path": "deploy/staging/values.yaml", "mode": "100644", "type": "blob",
                     "content": "image:\n  tag: 2.0.0\n"},
                    {"path": "bin/deploy.sh", "mode": "100755", "type": "blob",
                     "content": "#!/bin/sh\n"},
                    {"path": "README.md", "mode": "100644", "type": "blob", "sha": None},
                    {"path": "deploy/prod", "mode": "040000", "type": "tree", "sha": None},
                ],
            },
        )  # fmt: skip
        assert tree.status_code == 201, tree.text
        commit = await c.post(
            f"{api}/git/commits",
            json={
                "message": "Add staging\n\nBody",
                "tree": tree.json()["sha"],
                "parents": [main],
                "author": {"name": "Ann", "email": "ann@example.com",
                           "date": "2024-05-01T10:00:00Z"},
            },
        )  # fmt: skip
        assert commit.status_code == 201
        sha = commit.json()["sha"]
        ref = await c.post(f"{api}/git/refs", json={"ref": "refs/heads/staging", "sha": sha})
        assert ref.status_code == 201

    files = ls_tree(world, "refs/heads/staging")
    assert files["deploy/staging/values.yaml"] == "100644"
    assert files["bin/deploy.sh"] == "100755"
    assert files["bin/run.sh"] == "100755"
    assert files["current"] == "120000"
    assert "README.md" not in files and not any(p.startswith("deploy/prod/") for p in files)
    assert run_git(world, "show", "staging:deploy/staging/values.yaml") == "image:\n  tag: 2.0.0\n"
    assert run_git(world, "log", "-1", "--format=%an <%ae> %at %P", "staging").split() == [
        "Ann", "<ann@example.com>", "1714557600", main,
    ]  # fmt: skip
    run_git(world, "fsck", "--strict")


async def test_merge_creates_a_real_two_parent_merge_commit(world):
    f = world.forge
    main_before = await f.resolve("octo/app", "main")
    await f.commit_changes(
        "octo/app", "feature", "Feature", {"a.txt": Change(content=b"a\n")},
        actor="dev", start_branch="main",
    )  # fmt: skip
    # main moves on meanwhile, touching another file: a true three-way merge
    await f.commit_changes(
        "octo/app", "main", "Unrelated", {"b.txt": Change(content=b"b\n")}, actor="octo"
    )
    pr = await f.open_pull_request("octo/app", head="feature", title="Feature", author="dev")
    assert await f.mergeable("octo/app", pr.number) is True
    merged = await f.merge_pull_request("octo/app", pr.number, actor="octo")

    parents = run_git(world, "rev-list", "--parents", "-n", "1", "main").split()
    assert parents[0] == merged.merge_commit_sha
    assert parents[1:] == [await f.resolve("octo/app", "main~1"), pr.head_sha]
    assert parents[1] != main_before  # the unrelated commit is the first parent
    assert {"a.txt", "b.txt"} <= set(ls_tree(world, "main"))
    subject = run_git(world, "log", "-1", "--format=%s", "main").strip()
    assert subject == "Merge pull request #1 from octo/feature"
    assert f.pull_request("octo/app", 1).state == "merged"


async def test_conflicting_pull_request_is_not_mergeable(world):
    f = world.forge
    for branch, text in (("one", b"one\n"), ("two", b"two\n")):
        await f.commit_changes(
            "octo/app", branch, branch, {"README.md": Change(content=text)},
            actor="dev", start_branch="main",
        )  # fmt: skip
    one = await f.open_pull_request("octo/app", head="one", title="One", author="dev")
    two = await f.open_pull_request("octo/app", head="two", title="Two", author="dev")
    await f.merge_pull_request("octo/app", one.number, actor="octo")
    assert await f.mergeable("octo/app", two.number) is False
    with pytest.raises(NotMergeable):
        await f.merge_pull_request("octo/app", two.number, actor="octo")
    with pytest.raises(NotMergeable):  # merged already
        await f.merge_pull_request("octo/app", one.number, actor="octo")


@pytest.mark.parametrize("method", ["squash", "rebase"])
async def test_squash_and_rebase_merges_are_linear(world, method):
    f = world.forge
    await f.commit_changes(
        "octo/app", "f", "first", {"x.txt": Change(content=b"1\n")}, actor="dev",
        start_branch="main",
    )  # fmt: skip
    await f.commit_changes(
        "octo/app", "f", "second", {"y.txt": Change(content=b"2\n")}, actor="dev"
    )
    await f.commit_changes("octo/app", "main", "main moves", {"z": Change(content=b"z")}, actor="o")
    pr = await f.open_pull_request("octo/app", head="f", title="Two files", author="dev")
    before = await f.resolve("octo/app", "main")
    merged = await f.merge_pull_request("octo/app", pr.number, actor="octo", merge_method=method)
    assert merged.merge_commit_sha == await f.resolve("octo/app", "main")
    assert run_git(world, "rev-list", "--merges", f"{before}..main") == ""  # linear
    count = run_git(world, "rev-list", "--count", f"{before}..main").strip()
    assert count == ("1" if method == "squash" else "2")
    assert {"x.txt", "y.txt", "z"} <= set(ls_tree(world, "main"))


async def test_ref_updates_fast_forward_force_and_compare_and_swap(world):
    f = world.forge
    main = await f.resolve("octo/app", "main")
    side = await f.commit_changes(
        "octo/app", "side", "s", {"s": Change(content=b"s")}, actor="dev", start_branch="main"
    )
    moved = await f.commit_changes(
        "octo/app", "main", "m", {"m": Change(content=b"m")}, actor="dev"
    )
    with pytest.raises(Unprocessable, match="not a fast forward"):
        await f.update_ref("octo/app", "refs/heads/side", main, actor="dev")
    old = await f.update_ref("octo/app", "refs/heads/side", moved, actor="dev", force=True)
    assert old == side
    with pytest.raises(Conflict):
        await f.update_ref("octo/app", "refs/heads/side", main, actor="dev", force=True,
                           expected=side)  # fmt: skip
    with pytest.raises(Unprocessable, match="already exists"):
        await f.create_ref("octo/app", "refs/heads/side", main, actor="dev")
    await f.delete_ref("octo/app", "refs/heads/side", actor="dev")
    assert await f.resolve("octo/app", "side") is None


async def test_revert_undoes_a_merge(world):
    f = world.forge
    await f.commit_changes(
        "octo/app", "feat", "Add", {"new.txt": Change(content=b"n\n")}, actor="dev",
        start_branch="main",
    )  # fmt: skip
    pr = await f.open_pull_request("octo/app", head="feat", title="Add", author="dev")
    merged = await f.merge_pull_request("octo/app", pr.number, actor="octo")
    reverted = await f.revert_commit("octo/app", merged.merge_commit_sha, "main", actor="octo")
    assert "new.txt" not in ls_tree(world, reverted)
    assert run_git(world, "log", "-1", "--format=%s", "main").startswith('Revert "Merge pull')


@pytest.mark.parametrize("path", ["../x", "a/../../x", ".git/config", "a/.git/hooks/x", "/abs", ""])
async def test_unsafe_tree_paths_are_refused(world, path):
    with pytest.raises(Unprocessable):
        await world.forge.write_tree("octo/app", None, {path: Change(content=b"x")})


async def test_repo_from_folder_keeps_modes_and_skips_dot_git(world, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.txt").write_text("a")
    (src / "run").write_text("#!/bin/sh\n")
    (src / "run").chmod(0o755)
    (src / ".git").mkdir()
    (src / ".git" / "HEAD").write_text("ref: x")
    await world.forge.create_repo("octo/fromdir", folder=src)
    items = {i.path: i.mode for i in await world.forge.list_tree("octo/fromdir", "main")}
    assert items == {"run": "100755", "sub": "040000", "sub/a.txt": "100644"}


def test_read_named_reads_many_objects_in_one_process(tmp_path):
    gd = tmp_path / "r.git"
    git.init_bare(gd)
    tree = git.import_files(gd, {"a": "A", "b/c": b"\x00C"})
    sha = git.commit_tree(gd, tree, [], "m", git.Signature("n", "e@x", 1))
    git.update_ref(gd, "refs/heads/main", sha)
    found = git.read_named(gd, ["main:a", "main:b/c", "main:none", "main"])
    assert [f and f[1] for f in found] == ["blob", "blob", None, "commit"]
    assert found[0][2] == b"A" and found[1][2] == b"\x00C"
