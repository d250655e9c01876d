"""Every ``prbot validate`` / ``prbot render`` example runs as written and exits 0.

Where examples are found (new ones are picked up without touching this file):

- the epilog of ``prbot --help`` and of every subcommand's ``--help``: each line that
  starts with ``prbot`` in a section whose heading starts with ``examples`` (``\\``
  continuations joined);
- ``README.md`` and ``docs/*.md``: each command of a fenced ``sh``/``shell``/``bash``/
  ``console`` block (a ``$ `` prompt is dropped, ``;`` and ``&&`` separate commands).

The rules for what is not run, each with its reason (checked by
``test_every_example_not_run_is_so_for_a_stated_reason``; none is a skipped test):

1. A document's block whose fence is preceded by a line ``<!-- not run: REASON -->``
   (blank lines between are allowed) is not run, for that reason.
2. A command with ``...`` (a synopsis: ``prbot validate PATH...``) is not an example.
3. Only ``validate`` and ``render`` run offline. An example of another subcommand must be
   listed in ``NOT_RUN`` with its reason, or the test fails (so a new subcommand's example
   is a decision, not an accident).

Examples run from the repository's root, as the help says; one with ``--write`` runs in a
temporary copy of ``automations/`` and ``examples/`` so the tree is left as it was.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from prbot.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
RUN = ("validate", "render")
NOT_RUN = {
    "promote": "talks to a running prbot serve",
    "promotions": "talks to a running prbot serve",
    "serve": "starts the server, which runs until it is stopped",
    "forge": "starts or administers a local forge server",
    "jobs": "reads the job queue of a prbot serve's database",
    "demo": "starts a local forge and a prbot serve and plays the whole story",
    "db": "creates, upgrades or copies a server's database",
    "check": "asks the configured GitHub or GitLab over the network",
    "setup": "installs prbot on GitHub or GitLab over the network",
}
SHELL_BLOCK = re.compile(r"^```(sh|shell|bash|console)\s*$")
NOT_RUN_MARK = re.compile(r"^<!--\s*not run:\s*(?P<reason>\S.*?)\s*-->\s*$")
SEPARATORS = {";", "&&", "||", "|"}


@dataclass(frozen=True)
class Example:
    where: str  # "README.md:45", "prbot render --help"
    argv: tuple[str, ...]  # after "prbot"
    skip: str = ""  # why it is not run

    @property
    def id(self) -> str:
        return f"{self.where}: prbot {' '.join(self.argv)}"[:120]


def _commands(line: str) -> list[list[str]]:
    """The commands of one shell line (comments dropped), split at ; && || |."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def _joined(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Lines with their ``\\`` continuations joined, each with its first line number."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, text in lines:
        if pending is not None:
            number, text = pending[0], pending[1] + " " + text.strip()
        if text.rstrip().endswith("\\"):
            pending = (number, text.rstrip()[:-1].rstrip())
            continue
        pending = None
        out.append((number, text))
    if pending is not None:
        out.append(pending)
    return out


def _examples_of(where: str, line: str, skip: str = "") -> list[Example]:
    found = []
    try:
        commands = _commands(line)
    except ValueError as exc:  # an unbalanced quote: only a problem in a prbot command
        if line.startswith("prbot "):
            return [Example(where, ("?",), f"FAIL: {line!r} is not a shell line: {exc}")]
        return []
    for command in commands:
        if command[0] != "prbot" or len(command) < 2:
            continue
        argv = tuple(command[1:])
        reason = skip
        if not reason and any("..." in word for word in argv):
            reason = "a synopsis (it has '...'), not an example"
        if not reason and argv[0] not in RUN and not argv[0].startswith("-"):
            reason = NOT_RUN.get(argv[0], "")
            if not reason:
                reason = "FAIL: not in NOT_RUN: run it here or list it there, with why"
        found.append(Example(where, argv, reason))
    return found


def help_examples() -> list[Example]:
    parser = build_parser()
    parsers = [("prbot --help", parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers += [(f"prbot {name} --help", sub) for name, sub in action.choices.items()]
    found = []
    for where, p in parsers:
        lines: list[tuple[int, str]] = []
        in_examples = False
        for line in (p.epilog or "").splitlines():
            if line and not line.startswith(" "):  # a heading
                in_examples = line.startswith("examples")
            elif in_examples and line.strip():
                lines.append((0, line))
        for _n, line in _joined(lines):
            if line.strip().startswith("prbot "):
                found += _examples_of(where, line.strip())
    return found


def document_examples(path: Path) -> list[Example]:
    name = str(path.relative_to(ROOT))
    found: list[Example] = []
    block: list[tuple[int, str]] | None = None
    skip = ""
    last_text = ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if block is None:
            if SHELL_BLOCK.match(line.strip()):
                mark = NOT_RUN_MARK.match(last_text)
                skip = f"marked not run: {mark['reason']}" if mark else ""
                block = []
            elif line.strip():
                last_text = line.strip()
            continue
        if line.strip().startswith("```"):
            for start, text in _joined(block):
                text = text.strip().removeprefix("$ ")
                found += _examples_of(f"{name}:{start}", text, skip)
            block, last_text = None, ""
            continue
        block.append((number, line))
    return found


def all_examples() -> list[Example]:
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return help_examples() + [e for d in documents for e in document_examples(d)]


EXAMPLES = all_examples()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRBOT_AUTOMATIONS_DIR", raising=False)


RUNNABLE = [e for e in EXAMPLES if not e.skip]


def test_every_example_not_run_is_so_for_a_stated_reason() -> None:
    """What is not run is listed here with its reason (no test is skipped for it): an
    example of an unlisted subcommand, or a shell line that is not one, fails."""
    failing = [
        f"{e.where}: prbot {' '.join(e.argv)}: {e.skip}"
        for e in EXAMPLES
        if e.skip.startswith("FAIL")
    ]
    assert failing == []
    reasons = {e.skip for e in EXAMPLES if e.skip}
    known = {*NOT_RUN.values(), "a synopsis (it has '...'), not an example"}
    assert all(r in known or r.startswith("marked not run: ") for r in reasons), reasons
    assert len(RUNNABLE) >= 10  # the help's, the README's and the docs' own examples


@pytest.mark.parametrize("example", RUNNABLE, ids=[e.id for e in RUNNABLE])
def test_example_runs(
    example: Example,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cwd = ROOT
    if "--write" in example.argv:
        for folder in ("automations", "examples"):
            shutil.copytree(ROOT / folder, tmp_path / folder, symlinks=True)
        cwd = tmp_path
    monkeypatch.chdir(cwd)
    try:
        code = main(list(example.argv))
    except SystemExit as exc:  # --help
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    assert code == 0, f"{example.where}: prbot {shlex.join(example.argv)}\n{err}"
    assert out.strip()  # it said something: a diff, "ok: ...", or the help


def test_the_help_examples_are_found() -> None:
    """The extraction itself: the epilogs of prbot, validate and render each give runnable
    examples, and every example needing a server is classified."""
    found = help_examples()
    for where in ("prbot --help", "prbot validate --help", "prbot render --help"):
        assert any(e.where == where and not e.skip for e in found), where
    promote = [e for e in found if e.argv[0] == "promote"]
    assert promote and all(e.skip == NOT_RUN["promote"] for e in promote)
    assert any("--write" in e.argv for e in found)


def test_the_rules_for_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The not-run mark, synopses, prompts, continuations and separators, on a document."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    doc = tmp_path / "d.md"
    doc.write_text(
        "text\n\n```sh\n$ prbot render a --repo r \\\n    --set x=1  # comment\n"
        "prbot --help; prbot validate v && echo done\n"
        "prbot validate PATH...\nprbot promote p\nprbot frobnicate\n```\n"
        "<!-- not run: needs a server -->\n\n```bash\nprbot render b --repo r\n```\n"
        "```python\nprbot render c\n```\n"
    )
    found = [(e.where, e.argv, e.skip) for e in document_examples(doc)]
    assert found == [
        ("d.md:4", ("render", "a", "--repo", "r", "--set", "x=1"), ""),
        ("d.md:6", ("--help",), ""),
        ("d.md:6", ("validate", "v"), ""),
        ("d.md:7", ("validate", "PATH..."), "a synopsis (it has '...'), not an example"),
        ("d.md:8", ("promote", "p"), NOT_RUN["promote"]),
        ("d.md:9", ("frobnicate",), "FAIL: not in NOT_RUN: run it here or list it there, with why"),
        ("d.md:14", ("render", "b", "--repo", "r"), "marked not run: needs a server"),
    ]


def test_the_api_document_describes_the_run_request_as_the_server_does() -> None:
    """docs/api.md stays in step with the OpenAPI document the server serves: every field
    of the request body and every error status of POST /api/runs is in its tables."""
    from prbot.web.openapi import PATHS, SCHEMAS

    doc = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    fields = SCHEMAS["RunRequest"]["properties"]
    assert fields and all(f"| `{name}` |" in doc for name in fields), sorted(fields)
    statuses = [s for s in PATHS["/api/runs"]["post"]["responses"] if s != "201"]
    assert statuses and all(f"| {status} |" in doc for status in statuses), statuses
