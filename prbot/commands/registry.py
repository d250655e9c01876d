"""The one registry of verbs: name, arguments, help line and the permission it needs by
default. The parser checks arguments against it, the help reply and the README's Commands
section are generated from it, and the engine registers one handler per verb (a test
checks none is missing).

Permissions are the platforms' repository roles in order (GitHub's none < read < triage <
write < maintain < admin; GitLab's Guest, Reporter, Developer, Maintainer and Owner map
onto read, triage, write, maintain and admin). ``approve`` is special: the gate's listed
users and teams decide (see ``permissions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Permission = Literal["none", "read", "triage", "write", "maintain", "admin"]
PERMISSIONS: tuple[Permission, ...] = ("none", "read", "triage", "write", "maintain", "admin")
APPROVER = "approver"  # approve: a listed approver of the gate (else maintain)


@dataclass(frozen=True)
class Flag:
    name: str  # without the dashes
    value: str = ""  # the value's name in the usage line; "" for a switch
    help: str = ""


@dataclass(frozen=True)
class Verb:
    name: str
    summary: str  # the help line
    permission: Permission | Literal["approver"]
    positionals: tuple[str, ...] = ()  # required, in order
    optional: tuple[str, ...] = ()  # optional positionals after them
    pairs: bool = False  # takes key=value inputs
    flags: tuple[Flag, ...] = ()
    bare: bool = True  # also as /<verb>, not only /prbot <verb>
    promotion: bool = False  # acts on a promotion (the stage PR's, or --promotion ID)

    @property
    def usage(self) -> str:
        parts = [f"/prbot {self.name}"]
        parts += [f"<{p}>" for p in self.positionals]
        parts += [f"[{p}]" for p in self.optional]
        if self.pairs:
            parts.append("[key=value]...")
        parts += [f"[--{f.name}{' ' + f.value if f.value else ''}]" for f in self.flags]
        return " ".join(parts)

    def flag(self, name: str) -> Flag | None:
        return next((f for f in self.flags if f.name == name), None)


PROMOTION = Flag("promotion", "ID", "the promotion, where the PR is not one of its stages")

VERBS: tuple[Verb, ...] = (
    Verb("help", "list the commands, or explain one", "none", optional=("verb",)),
    Verb(
        "run",
        "run an automation: open its PR",
        "write",
        positionals=("automation",),
        pairs=True,
        flags=(Flag("repo", "OWNER/NAME", "another repository to open the PR in"),),
    ),
    Verb("promote", "start a promotion of a pipeline", "write", ("pipeline",), pairs=True),
    Verb(
        "status",
        "show the promotion of this stage PR (elsewhere: the repository's running ones)",
        "none",
        flags=(PROMOTION,),
        promotion=True,
    ),
    Verb(
        "approve",
        "approve the gate of a stage waiting for approval",
        APPROVER,
        optional=("stage",),
        flags=(PROMOTION,),
        promotion=True,
    ),
    Verb("hold", "hold the promotion where it is", "write", flags=(PROMOTION,), promotion=True),
    Verb("resume", "resume a held promotion", "write", flags=(PROMOTION,), promotion=True),
    Verb("retry", "retry the failed stage", "write", flags=(PROMOTION,), promotion=True),
    Verb(
        "rollback",
        "open a revert PR of the last merged stage and stop the promotion",
        "maintain",
        flags=(PROMOTION,),
        promotion=True,
    ),
    Verb("cancel", "cancel the promotion", "write", flags=(PROMOTION,), promotion=True),
)
BY_NAME: dict[str, Verb] = {v.name: v for v in VERBS}


def verb(name: str) -> Verb | None:
    return BY_NAME.get(name)


def at_least(have: Permission, need: Permission) -> bool:
    return PERMISSIONS.index(have) >= PERMISSIONS.index(need)


def help_markdown(only: str | None = None) -> str:
    """The commands as a Markdown table (the help reply and the README's section)."""
    verbs = [BY_NAME[only]] if only in BY_NAME else list(VERBS)
    lines = ["| command | what it does | who may |", "| --- | --- | --- |"]
    for v in verbs:
        who = {
            "none": "anyone who can comment",
            APPROVER: "a listed approver (else maintain)",
        }.get(v.permission, f"{v.permission} and above")
        lines.append(f"| `{v.usage}` | {v.summary} | {who} |")
    return "\n".join(lines)
