"""Path safety: normalisation, escapes, .git, symlinks; and repository globs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prbot.automation.changeset import DirRepoView, MemoryRepoView, RepoFile
from prbot.automation.errors import PathError
from prbot.automation.paths import glob_to_regex, normalise, resolve_in_repo


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a/b.yaml", "a/b.yaml"),
        ("./a//b.yaml", "a/b.yaml"),
        ("a/x/../b.yaml", "a/b.yaml"),
        ("a/./b/", "a/b"),
        (".github/workflows/ci.yml", ".github/workflows/ci.yml"),
        (".gitignore", ".gitignore"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("/etc/passwd", "is absolute"),
        ("C:/Windows", "is absolute"),
        ("../x", "leaves the repository"),
        ("a/../../x", "leaves the repository"),
        (".git/config", "inside .git"),
        ("sub/.GIT/hooks/pre-commit", "inside .git"),
        ("a\\..\\..\\x", "backslash"),
        ("a\x00b", "control character"),
        ("", "is empty"),
        (".", "names the repository root"),
        ("a/..", "names the repository root"),
        ("x" * 5000, "longer than"),
    ],
)
def test_refused(raw: str, fragment: str) -> None:
    with pytest.raises(PathError) as err:
        normalise(raw, what="destination")
    assert fragment in str(err.value)
    assert str(err.value).startswith("destination")


def link(target: str) -> RepoFile:
    return RepoFile(target.encode(), "120000")


REPO = MemoryRepoView(
    {
        "real/file.yaml": "x",
        "inside": link("real"),
        "chain": link("inside/file.yaml"),
        "up": link(".."),
        "abs": link("/etc"),
        "deep/escape": link("../../outside"),
        "loop": link("loop"),
        "to-git": link(".git"),
    }
)


def test_symlinks_inside_the_repo_resolve() -> None:
    assert resolve_in_repo("inside/file.yaml", REPO) == "real/file.yaml"
    assert resolve_in_repo("chain", REPO) == "real/file.yaml"
    assert resolve_in_repo("real/new.yaml", REPO) == "real/new.yaml"


@pytest.mark.parametrize("raw", ["up/x", "abs/passwd", "deep/escape/x", "loop/x", "to-git/config"])
def test_symlinks_that_leave_are_refused(raw: str) -> None:
    with pytest.raises(PathError):
        resolve_in_repo(raw, REPO)


def test_real_symlinks_on_disk(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f").write_text("x")
    os.symlink("real", tmp_path / "ok")
    os.symlink("/tmp", tmp_path / "out")
    view = DirRepoView(tmp_path)
    assert resolve_in_repo("ok/f", view) == "real/f"
    with pytest.raises(PathError):
        resolve_in_repo("out/anything", view)
    assert "ok" in view.list_files() and view.mode("ok") == "120000"


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("bootstrap/services/*-dev.yaml", "bootstrap/services/a-dev.yaml", True),
        ("bootstrap/services/*-dev.yaml", "bootstrap/services/x/a-dev.yaml", False),
        ("bootstrap/**/*.yaml", "bootstrap/services/x/a.yaml", True),
        ("bootstrap/**/*.yaml", "bootstrap/a.yaml", True),
        ("**/kustomization.yaml", "kustomization.yaml", True),
        ("a?.yaml", "ab.yaml", True),
        ("a?.yaml", "a/.yaml", False),
        ("[ab].yaml", "b.yaml", True),
        ("[!ab].yaml", "b.yaml", False),
        ("values.yaml", "values.yaml", True),
        ("values.yaml", "other/values.yaml", False),
    ],
)
def test_globs(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_to_regex(pattern).match(path)) is matches
