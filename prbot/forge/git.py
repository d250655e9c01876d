"""Bare-repository operations through the git CLI.

Synchronous functions, each one or a few ``git`` processes started with argument lists
(never a shell); ``Forge`` calls them through ``asyncio.to_thread`` so the event loop
never waits on git. Object ids are 40-hex sha1 strings. Nothing here knows about pull
requests or users: that is ``state.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ZERO_SHA = "0" * 40
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
BLOB_MODES = ("100644", "100755", "120000")
TREE_MODE = "040000"
# A fixed, minimal environment: a user's ~/.gitconfig, hooks or templates must not change
# what the forge writes.
_BASE_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": os.environ.get("HOME", "/"),
}


class GitError(Exception):
    """git exited non-zero where that means a bug or a broken repository."""


class InvalidPath(ValueError):
    """A tree path is absolute, empty, or climbs out of or into ``.git``."""


@dataclass(frozen=True)
class Signature:
    name: str
    email: str
    when: int  # unix seconds (the forge's logical clock)

    def date(self) -> str:
        # "@" makes git read a unix time even when it is small (tests use tiny ones)
        return f"@{self.when} +0000"


@dataclass(frozen=True)
class TreeItem:
    path: str
    mode: str  # "100644", "100755", "120000", "040000", "160000"
    type: str  # blob | tree | commit
    sha: str
    size: int | None  # blobs only


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Signature
    committer: Signature
    message: str


@dataclass(frozen=True)
class Change:
    """One path of a new tree: a blob (by sha, or by content to be written) and its mode."""

    mode: str = "100644"
    sha: str | None = None
    content: bytes | None = None


def check_path(path: str) -> str:
    """The path, if safe to store: relative, no empty/``.``/``..`` part, no ``.git``."""
    if not path or path.startswith("/") or "\0" in path or "\\" in path:
        raise InvalidPath(f"invalid path {path!r}")
    for part in path.split("/"):
        if part in ("", ".", "..") or part.lower() == ".git":
            raise InvalidPath(f"invalid path {path!r}")
    return path


def _run(
    git_dir: Path | None,
    args: list[str],
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    ok: Iterable[int] = (0,),
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    cmd = ["git"]
    if git_dir is not None:
        cmd.append(f"--git-dir={git_dir}")
    cmd += args
    full_env = dict(_BASE_ENV)
    if env:
        full_env.update(env)
    proc = subprocess.run(cmd, input=input, capture_output=True, env=full_env, cwd=cwd, check=False)
    if proc.returncode not in tuple(ok):
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise GitError(f"git {args[0]} failed ({proc.returncode}): {err[:500]}")
    return proc


def _out(git_dir: Path, args: list[str], **kw) -> str:
    return _run(git_dir, args, **kw).stdout.decode("utf-8", "surrogateescape").strip()


# --- repositories -------------------------------------------------------------------


def init_bare(git_dir: Path, default_branch: str = "main") -> None:
    git_dir.parent.mkdir(parents=True, exist_ok=True)
    _run(None, ["init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(git_dir)])
    # merges and imports must never see a pager or auto-gc pause
    _run(git_dir, ["config", "gc.auto", "0"])


def import_folder(git_dir: Path, folder: Path) -> str:
    """Write every file under ``folder`` (as git would add it) and return the tree sha.

    Uses a throwaway index so the bare repository never gets one; ``.git`` folders and
    ``.gitignore``d files are skipped as ``git add`` skips them.
    """
    with tempfile.TemporaryDirectory(prefix="forge-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        wt = f"--work-tree={folder}"
        _run(git_dir, [wt, "-c", "core.autocrlf=false", "add", "-A", "."], env=env, cwd=folder)
        return _out(git_dir, ["write-tree"], env=env)


def import_files(git_dir: Path, files: Mapping[str, bytes | str | tuple[bytes | str, str]]) -> str:
    """Write a map of path -> content (or (content, mode)) and return the tree sha."""
    with tempfile.TemporaryDirectory(prefix="forge-files-") as tmp:
        root = Path(tmp) / "w"
        root.mkdir()
        for path, value in files.items():
            check_path(path)
            content, mode = value if isinstance(value, tuple) else (value, "100644")
            data = content.encode() if isinstance(content, str) else content
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if mode == "120000":
                os.symlink(data.decode(), target)
                continue
            target.write_bytes(data)
            if mode == "100755":
                target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        # a .gitignore among the files must not hide the others: add with -f
        with tempfile.TemporaryDirectory(prefix="forge-index-") as itmp:
            env = {"GIT_INDEX_FILE": str(Path(itmp) / "index")}
            wt = f"--work-tree={root}"
            _run(
                git_dir,
                [wt, "-c", "core.autocrlf=false", "add", "-A", "-f", "."],
                env=env,
                cwd=root,
            )
            return _out(git_dir, ["write-tree"], env=env)


def remove_repo(git_dir: Path) -> None:
    shutil.rmtree(git_dir, ignore_errors=True)


# --- objects ------------------------------------------------------------------------


def rev_parse(git_dir: Path, rev: str, peel: str | None = None) -> str | None:
    """The object id ``rev`` names (``peel``: "commit" or "tree" to peel to that type)."""
    if rev.startswith("-"):
        return None
    spec = f"{rev}^{{{peel}}}" if peel else rev
    proc = _run(
        git_dir, ["rev-parse", "--verify", "--quiet", "--end-of-options", spec], ok=(0, 1, 128)
    )
    sha = proc.stdout.decode().strip()
    return sha if proc.returncode == 0 and SHA_RE.match(sha) else None


def object_type(git_dir: Path, sha: str) -> str | None:
    if not SHA_RE.match(sha):
        return None
    proc = _run(git_dir, ["cat-file", "-t", sha], ok=(0, 1, 128))
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def write_blob(git_dir: Path, data: bytes) -> str:
    return _out(git_dir, ["hash-object", "-w", "--stdin", "--no-filters"], input=data)


def read_objects(git_dir: Path, shas: Iterable[str]) -> dict[str, tuple[str, bytes]]:
    """sha -> (type, bytes) for every sha that exists, in one ``cat-file --batch``."""
    wanted = [s for s in dict.fromkeys(shas) if SHA_RE.match(s)]
    if not wanted:
        return {}
    out = _run(
        git_dir, ["cat-file", "--batch"], input="".join(f"{s}\n" for s in wanted).encode()
    ).stdout
    result: dict[str, tuple[str, bytes]] = {}
    pos = 0
    while pos < len(out):
        nl = out.index(b"\n", pos)
        header = out[pos:nl].decode().split()
        pos = nl + 1
        if len(header) == 2 and header[1] == "missing":
            continue
        sha, kind, size = header[0], header[1], int(header[2])
        result[sha] = (kind, out[pos : pos + size])
        pos += size + 1  # content is followed by a newline
    return result


def read_named(git_dir: Path, names: list[str]) -> list[tuple[str, str, bytes] | None]:
    """(sha, type, bytes) for each object name (``REV:path``, a sha, a ref), in order,
    from one ``cat-file --batch``; None where the name does not resolve."""
    safe = [n for n in names if n and "\n" not in n and not n.startswith("-")]
    if not safe:
        return [None] * len(names)
    out = _run(
        git_dir, ["cat-file", "--batch"], input="".join(f"{n}\n" for n in safe).encode()
    ).stdout
    found: list[tuple[str, str, bytes] | None] = []
    pos = 0
    for _ in safe:
        nl = out.index(b"\n", pos)
        header = out[pos:nl].decode("utf-8", "surrogateescape")
        pos = nl + 1
        parts = header.rsplit(" ", 2)
        if len(parts) != 3 or not SHA_RE.match(parts[0]) or not parts[2].isdigit():
            found.append(None)  # "<name> missing" / "ambiguous"
            continue
        size = int(parts[2])
        found.append((parts[0], parts[1], out[pos : pos + size]))
        pos += size + 1
    by_name = dict(zip(safe, found, strict=True))
    return [by_name.get(n) for n in names]


def read_commit(git_dir: Path, sha: str) -> CommitInfo | None:
    obj = read_objects(git_dir, [sha]).get(sha)
    if obj is None or obj[0] != "commit":
        return None
    return parse_commit(sha, obj[1])


def _parse_sig(value: str) -> Signature:
    # "Name <email> 1700000000 +0000"
    m = re.match(r"^(.*) <(.*)> (\d+) [+-]\d{4}$", value)
    if not m:
        return Signature(value, "", 0)
    return Signature(m.group(1), m.group(2), int(m.group(3)))


def parse_commit(sha: str, raw: bytes) -> CommitInfo:
    head, _, message = raw.partition(b"\n\n")
    tree = ""
    parents: list[str] = []
    author = committer = Signature("", "", 0)
    for line in head.decode("utf-8", "replace").split("\n"):
        key, _, value = line.partition(" ")
        if key == "tree":
            tree = value
        elif key == "parent":
            parents.append(value)
        elif key == "author":
            author = _parse_sig(value)
        elif key == "committer":
            committer = _parse_sig(value)
    return CommitInfo(
        sha, tree, tuple(parents), author, committer, message.decode("utf-8", "replace")
    )


def list_tree(
    git_dir: Path, treeish: str, recursive: bool = True, path: str = ""
) -> list[TreeItem]:
    """Entries of a tree (with sub-trees listed too when recursive, like GitHub's API)."""
    args = ["ls-tree", "-z", "-l", "--full-tree"]
    if recursive:
        args += ["-r", "-t"]
    args += ["--end-of-options", treeish]
    if path:
        args.append(path)
    raw = _run(git_dir, args).stdout.decode("utf-8", "surrogateescape")
    items = []
    for rec in raw.split("\0"):
        if not rec:
            continue
        meta, _, name = rec.partition("\t")
        mode, kind, sha, size = meta.split()
        items.append(TreeItem(name, mode, kind, sha, int(size) if size != "-" else None))
    return items


def write_tree(git_dir: Path, base_tree: str | None, changes: Mapping[str, Change | None]) -> str:
    """A new tree: ``base_tree`` (or empty) with ``changes`` applied; None deletes a path.

    Deleting a folder path removes everything below it; a ``040000`` change grafts an
    existing tree at that path. Runs in a throwaway index (``GIT_INDEX_FILE``).
    """
    lines: list[str] = []
    for path, change in changes.items():
        check_path(path)
        if change is None:
            continue
        if change.mode == TREE_MODE:
            for item in list_tree(git_dir, change.sha or "", recursive=True):
                if item.type != "tree":
                    lines.append(f"{item.mode} {item.sha}\t{path}/{item.path}")
            continue
        sha = change.sha
        if change.content is not None:
            sha = write_blob(git_dir, change.content)
        lines.append(f"{change.mode} {sha}\t{path}")
    with tempfile.TemporaryDirectory(prefix="forge-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if base_tree:
            _run(git_dir, ["read-tree", "--end-of-options", base_tree], env=env)
        else:
            _run(git_dir, ["read-tree", "--empty"], env=env)
        removed = [p for p, c in changes.items() if c is None or c.mode == TREE_MODE]
        if removed:
            # mode 0 in --index-info drops an entry; folder paths expand to their files
            listing = _run(git_dir, ["ls-files", "-z", "--", *removed], env=env).stdout
            paths = [p for p in listing.decode("utf-8", "surrogateescape").split("\0") if p]
            lines = [f"0 {ZERO_SHA}\t{p}" for p in paths] + lines
        if lines:
            _run(
                git_dir,
                ["update-index", "--add", "--index-info"],
                env=env,
                input=("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"),
            )
        return _out(git_dir, ["write-tree"], env=env)


def commit_tree(
    git_dir: Path,
    tree: str,
    parents: Iterable[str],
    message: str,
    author: Signature,
    committer: Signature | None = None,
) -> str:
    committer = committer or author
    env = {
        "GIT_AUTHOR_NAME": author.name,
        "GIT_AUTHOR_EMAIL": author.email,
        "GIT_AUTHOR_DATE": author.date(),
        "GIT_COMMITTER_NAME": committer.name,
        "GIT_COMMITTER_EMAIL": committer.email,
        "GIT_COMMITTER_DATE": committer.date(),
    }
    args = ["commit-tree", tree]
    for p in parents:
        args += ["-p", p]
    return _out(git_dir, [*args, "-F", "-"], input=message.encode(), env=env)


# --- refs ---------------------------------------------------------------------------


def list_refs(git_dir: Path, prefix: str = "refs/") -> list[tuple[str, str, str]]:
    """(refname, object id, object type) under ``prefix``, sorted by name."""
    raw = _out(git_dir, ["for-each-ref", "--format=%(refname) %(objectname) %(objecttype)", prefix])
    return [tuple(line.split(" ")) for line in raw.splitlines() if line]  # type: ignore[misc]


def update_ref(git_dir: Path, ref: str, new: str, old: str | None = None) -> bool:
    """Point ``ref`` at ``new`` if it still holds ``old`` (ZERO_SHA: must not exist).

    False when the expectation no longer holds (someone moved the ref first).
    """
    args = ["update-ref", "--no-deref", ref, new]
    if old is not None:
        args.append(old)
    proc = _run(git_dir, args, ok=(0, 1, 128))
    return proc.returncode == 0


def delete_ref(git_dir: Path, ref: str, old: str | None = None) -> bool:
    args = ["update-ref", "--no-deref", "-d", ref]
    if old is not None:
        args.append(old)
    return _run(git_dir, args, ok=(0, 1, 128)).returncode == 0


def check_ref_name(ref: str) -> bool:
    return _run(None, ["check-ref-format", ref], ok=(0, 1, 128)).returncode == 0


# --- history ------------------------------------------------------------------------


def is_ancestor(git_dir: Path, ancestor: str, descendant: str) -> bool:
    args = ["merge-base", "--is-ancestor", ancestor, descendant]
    return _run(git_dir, args, ok=(0, 1)).returncode == 0


def merge_base(git_dir: Path, a: str, b: str) -> str | None:
    proc = _run(git_dir, ["merge-base", a, b], ok=(0, 1))
    return proc.stdout.decode().strip() or None


def log(
    git_dir: Path, rev: str, max_count: int = 100, exclude: str | None = None
) -> list[CommitInfo]:
    """Commits reachable from ``rev`` (minus those from ``exclude``), newest first."""
    args = ["rev-list", f"--max-count={max_count}", rev]
    if exclude and exclude != ZERO_SHA:
        args.append(f"^{exclude}")
    shas = _out(git_dir, args).split()
    objs = read_objects(git_dir, shas)
    return [parse_commit(s, objs[s][1]) for s in shas if s in objs]


def changed_paths(git_dir: Path, old: str | None, new: str) -> list[tuple[str, str]]:
    """(status letter A/M/D, path) between two commits (old None: everything added)."""
    if old is None or old == ZERO_SHA:
        args = ["diff-tree", "-r", "-z", "--no-renames", "--name-status", "--root", new]
    else:
        args = ["diff-tree", "-r", "-z", "--no-renames", "--name-status", old, new]
    parts = [p for p in _out(git_dir, args).split("\0") if p]
    if parts and SHA_RE.match(parts[0]):
        parts = parts[1:]  # --root prints the commit id first
    return [(parts[i][0], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]


def numstat(git_dir: Path, old: str, new: str) -> tuple[int, int, int]:
    """(additions, deletions, changed files) between two commits (binary files count as
    changed with no lines)."""
    raw = _out(git_dir, ["diff", "--numstat", "-z", "--no-renames", old, new])
    adds = dels = files = 0
    for rec in raw.split("\0"):
        fields = rec.split("\t")
        if len(fields) < 3:
            continue
        files += 1
        adds += int(fields[0]) if fields[0].isdigit() else 0
        dels += int(fields[1]) if fields[1].isdigit() else 0
    return adds, dels, files


def merge_trees(git_dir: Path, ours: str, theirs: str) -> tuple[str | None, list[str]]:
    """Three-way merge of two commits: (tree, []) when clean, (None, conflicted paths)."""
    proc = _run(
        git_dir,
        ["merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", ours, theirs],
        ok=(0, 1),
    )
    parts = [p for p in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if p]
    if proc.returncode == 0:
        return parts[0], []
    return None, sorted(set(parts[1:]))


def apply_diff(git_dir: Path, onto_tree: str, diff_from: str, diff_to: str) -> str | None:
    """Apply the change diff_from -> diff_to on ``onto_tree``: a cherry-pick (parent ->
    commit) or a revert (commit -> parent). None when it does not apply cleanly."""
    diff = _run(
        git_dir, ["diff", "--binary", "--full-index", "--no-renames", diff_from, diff_to]
    ).stdout
    if not diff.strip():
        return onto_tree
    with tempfile.TemporaryDirectory(prefix="forge-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        _run(git_dir, ["read-tree", onto_tree], env=env)
        proc = _run(
            git_dir, ["apply", "--cached", "--3way", "-"], input=diff, env=env, ok=(0, 1, 128)
        )
        if proc.returncode != 0:
            return None
        unmerged = _out(git_dir, ["ls-files", "-u"], env=env)
        if unmerged:
            return None
        return _out(git_dir, ["write-tree"], env=env)
