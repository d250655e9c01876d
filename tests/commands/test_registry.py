"""The registry of verbs: well formed, its usage lines and help table, and the README's
"Slash-commands" section, which holds exactly the help table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prbot.commands.registry import (
    APPROVER,
    BY_NAME,
    PERMISSIONS,
    VERBS,
    Flag,
    Verb,
    at_least,
    help_markdown,
    verb,
)

README = Path(__file__).resolve().parents[2] / "README.md"
START = "<!-- commands:start -->"
END = "<!-- commands:end -->"


def readme_section(text: str, title: str) -> str:
    """The text of the ``## title`` section, to the next ``## ``."""
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m is not None, f"README.md has no '## {title}' section"
    return m.group(1)


def test_the_readme_holds_the_registrys_help_table():
    text = README.read_text(encoding="utf-8")
    section = readme_section(text, "Slash-commands")
    expected = f"{START}\n{help_markdown()}\n{END}"
    assert section.count(START) == 1 and section.count(END) == 1, (
        f"README.md's '## Slash-commands' section needs one {START} and one {END}"
    )
    found = section[section.index(START) : section.index(END) + len(END)]
    assert found == expected, (
        "README.md's Slash-commands table is not the registry's: replace the lines from "
        f"{START} to {END} in README.md with these:\n\n{expected}\n"
    )


def test_the_slash_commands_section_follows_pipelines():
    headings = re.findall(r"^## (.+)$", README.read_text(encoding="utf-8"), re.M)
    assert headings.count("Slash-commands") == 1
    assert headings.index("Slash-commands") == headings.index("Pipelines") + 1


def test_the_readme_prose_names_what_the_engine_reads():
    section = readme_section(README.read_text(encoding="utf-8"), "Slash-commands")
    prose = section[: section.index(START)]
    for words in [
        "`/prbot <verb>`",
        "`/<verb>`",
        "`--promotion ID`",
        "PRBOT_COMMAND_PERMISSIONS",
        ".prbot/config.yaml",
        "`rollback`",
        "Developer = write",
        "Maintainer = maintain",
        "Owner = admin",
        "👀",
        "🚀",
        "😕",
    ]:
        assert words in prose, words


# -- the registry ---------------------------------------------------------------------


def test_names_are_unique_lowercase_words():
    names = [v.name for v in VERBS]
    assert len(names) == len(set(names)) == len(BY_NAME)
    assert all(re.fullmatch(r"[a-z][a-z-]*", n) for n in names)
    assert "prbot" not in names  # /prbot is the prefix


@pytest.mark.parametrize("v", VERBS, ids=lambda v: v.name)
def test_each_verb_is_well_formed(v):
    assert verb(v.name) is v
    assert v.summary and "|" not in v.summary and "\n" not in v.summary
    assert v.permission in (*PERMISSIONS, APPROVER)
    flags = [f.name for f in v.flags]
    assert len(flags) == len(set(flags))
    assert all(re.fullmatch(r"[a-z][a-z-]*", f) for f in flags)
    assert not set(v.positionals) & set(v.optional)


@pytest.mark.parametrize("v", VERBS, ids=lambda v: v.name)
def test_promotion_verbs_take_promotion_id(v):
    assert (v.flag("promotion") is not None) is v.promotion
    if v.promotion:
        assert v.flag("promotion").value == "ID"


def test_promotion_verbs_are_status_to_cancel():
    names = [v.name for v in VERBS]
    promotion = [v.name for v in VERBS if v.promotion]
    assert promotion == names[names.index("status") : names.index("cancel") + 1]


def test_unknown_verb_is_none():
    assert verb("nope") is None
    assert verb("RUN") is None


def test_usage_lines():
    assert BY_NAME["help"].usage == "/prbot help [verb]"
    assert BY_NAME["run"].usage == "/prbot run <automation> [key=value]... [--repo OWNER/NAME]"
    assert BY_NAME["approve"].usage == "/prbot approve [stage] [--promotion ID]"
    demo = Verb(
        "demo",
        "x",
        "write",
        ("a", "b"),
        ("c",),
        pairs=True,
        flags=(Flag("dry-run"), Flag("to", "WHERE")),
    )
    assert demo.usage == "/prbot demo <a> <b> [c] [key=value]... [--dry-run] [--to WHERE]"
    assert demo.flag("dry-run") == Flag("dry-run")
    assert demo.flag("nope") is None


def test_permissions_are_ordered():
    assert PERMISSIONS == ("none", "read", "triage", "write", "maintain", "admin")
    for i, have in enumerate(PERMISSIONS):
        for j, need in enumerate(PERMISSIONS):
            assert at_least(have, need) is (i >= j)


def test_help_markdown_is_a_table_of_every_verb():
    rows = help_markdown().splitlines()
    assert rows[:2] == ["| command | what it does | who may |", "| --- | --- | --- |"]
    assert len(rows) == 2 + len(VERBS)
    for row, v in zip(rows[2:], VERBS, strict=True):
        assert row.startswith(f"| `{v.usage}` | {v.summary} | ")
        assert row.count("|") == 4


def test_help_markdown_says_who_may():
    rows = {v.name: row for v, row in zip(VERBS, help_markdown().splitlines()[2:], strict=True)}
    assert rows["help"].endswith("| anyone who can comment |")
    assert rows["run"].endswith("| write and above |")
    assert rows["rollback"].endswith("| maintain and above |")
    assert rows["approve"].endswith("| a listed approver (else maintain) |")


def test_help_markdown_for_one_verb():
    rows = help_markdown("rollback").splitlines()
    assert len(rows) == 3
    assert rows[2].startswith("| `/prbot rollback [--promotion ID]` |")
    assert help_markdown("nope") == help_markdown()  # an unknown verb: them all
