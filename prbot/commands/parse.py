"""Reading a comment into commands.

A command is a line starting (after at most three spaces) with ``/prbot <verb>``, or with
``/<verb>`` for a verb that allows it. Lines inside fenced code blocks (``` or ~~~),
indented code (four spaces or a tab), quotes (``>``) and HTML comments are not read: a
quoted or pasted command never runs. An unknown ``/prbot`` verb is a problem with a
did-you-mean; any other ``/word`` is someone else's and is ignored. Arguments are
shell-like words (quotes group), ``key=value`` pairs and ``--flags``, checked against the
verb's registry entry. Several commands in one comment run in order.

Bounded: the first ``MAX_CHARS`` of a comment are read (not a line cut there), at most
``MAX_COMMANDS`` commands (the rest are one problem), and a command line longer than
``MAX_LINE`` is a problem, not parsed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from prbot.commands.registry import BY_NAME, Verb
from prbot.errors import did_you_mean

MAX_CHARS = 65_536  # GitHub's own limit on a comment
MAX_COMMANDS = 10
MAX_LINE = 2_000
MAX_WORDS = 100

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_QUOTE = re.compile(r"^ {0,3}>")
_SLASH = re.compile(r"^ {0,3}/([A-Za-z][\w-]*)(?=\s|$)(.*)$")
_PAIR = re.compile(r"^([A-Za-z_][\w.-]*)=(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Command:
    verb: str
    args: tuple[str, ...] = ()  # positionals, in order
    values: Mapping[str, str] = field(default_factory=dict)  # key=value inputs
    flags: Mapping[str, str | bool] = field(default_factory=dict)
    line: int = 0  # 1-based, in the comment


@dataclass(frozen=True)
class Problem:
    """A command line that could not be read: said in the reply, nothing run."""

    verb: str  # as typed ("" when there was none)
    message: str
    line: int = 0


def parse_comment(body: str) -> tuple[Command | Problem, ...]:
    """The commands in ``body``, in order, each read or a ``Problem``."""
    found: list[Command | Problem] = []
    text = body[:MAX_CHARS]
    if len(body) > MAX_CHARS and body[MAX_CHARS] not in "\r\n":  # a line cut in two
        text = text[: max(text.rfind("\n"), text.rfind("\r")) + 1]  # is not read
    for number, line in _readable_lines(text):
        m = _SLASH.match(line)
        if m is None:
            continue
        word, rest = m.group(1), m.group(2)
        if word == "prbot":
            words = rest.split(None, 1)
            name = words[0] if words else "help"
            rest = words[1] if len(words) > 1 else ""
        elif word in BY_NAME and BY_NAME[word].bare:
            name = word
        else:
            continue  # another tool's command, or prose
        if len(found) == MAX_COMMANDS:
            too_many = f"at most {MAX_COMMANDS} commands per comment"
            found.append(Problem(name[:40], too_many, number))
            break
        found.append(parse_command(name, rest, number))
    return tuple(found)


def parse_command(name: str, rest: str, line: int = 0) -> Command | Problem:
    """One command: ``name`` and the text after it, checked against the registry."""
    verb = BY_NAME.get(name)
    if verb is None:
        hint = did_you_mean(name, BY_NAME)
        return Problem(
            name[:40], f"unknown command {_shown(name)}{hint}; /prbot help lists them", line
        )
    if len(rest) > MAX_LINE:
        return _bad(verb, f"the command is longer than {MAX_LINE} characters", line)
    try:
        words = shlex.split(rest, comments=False, posix=True)
    except ValueError as exc:  # an unclosed quote
        return _bad(verb, f"cannot read the arguments: {exc}", line)
    if len(words) > MAX_WORDS:
        return _bad(verb, f"more than {MAX_WORDS} arguments", line)
    args: list[str] = []
    values: dict[str, str] = {}
    flags: dict[str, str | bool] = {}
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.startswith("--") and len(word) > 2:
            flag_name, eq, value = word[2:].partition("=")
            flag = verb.flag(flag_name)
            if flag is None:
                hint = did_you_mean(flag_name, [f.name for f in verb.flags])
                return _bad(verb, f"no option {_shown('--' + flag_name)}{hint}", line)
            if flag_name in flags:
                return _bad(verb, f"--{flag_name} is given twice", line)
            if not flag.value:
                if eq:
                    return _bad(verb, f"--{flag_name} takes no value", line)
                flags[flag_name] = True
                continue
            if not eq and i < len(words):
                value = words[i]
                i += 1
            if not value:  # at the end, or given empty (--repo= or --repo "")
                return _bad(verb, f"--{flag_name} needs a value ({flag.value})", line)
            flags[flag_name] = value
            continue
        pair = _PAIR.match(word)
        if pair is not None:
            if not verb.pairs:  # never a positional: no name has an "="
                return _bad(verb, f"{verb.name} takes no key=value inputs", line)
            key, value = pair.groups()
            if key in values:
                return _bad(verb, f"{_shown(key)} is given twice", line)
            values[key] = value
            continue
        args.append(word)
    needed, most = len(verb.positionals), len(verb.positionals) + len(verb.optional)
    if len(args) < needed:
        missing = verb.positionals[len(args)]
        return _bad(verb, f"missing <{missing}>", line)
    if len(args) > most:
        extra = args[most]
        if "=" in extra and not verb.pairs:
            return _bad(verb, f"{verb.name} takes no key=value inputs", line)
        return _bad(verb, f"unexpected argument {_shown(extra)}", line)
    return Command(verb.name, tuple(args), values, flags, line)


def _bad(verb: Verb, message: str, line: int) -> Problem:
    return Problem(verb.name, f"{message}; usage: `{verb.usage}`", line)


def _shown(word: str) -> str:
    """A word of the comment quoted back, short (it may be anything someone typed)."""
    return repr(word if len(word) <= 40 else word[:37] + "...")


def _readable_lines(body: str) -> list[tuple[int, str]]:
    """(line number, text) of the lines outside code blocks, quotes and HTML comments.

    Inside a fenced block nothing but its closing fence counts (a ``<!--`` there is code,
    and removing one must not make a closing fence). Elsewhere an HTML comment's text is
    taken out of the lines it spans, and a line that begins inside one is not read: the
    rest of a quoted or indented line after ``-->`` does not start a command.
    """
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    readable: list[tuple[int, str]] = []
    fence: str | None = None
    in_comment = False
    for number, line in enumerate(text.split("\n"), start=1):
        m = _FENCE.match(line)
        if fence is not None:
            closing = m is not None and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence)
            if closing and not line.strip().strip(fence[0]):  # no info string after it
                fence = None
            continue
        if m is not None and not in_comment:
            fence = m.group(1)
            continue
        began_in_comment = in_comment
        line, in_comment = _uncommented(line, in_comment)
        if began_in_comment or line.startswith(("    ", "\t")) or _QUOTE.match(line):
            continue
        readable.append((number, line))
    return readable


def _uncommented(line: str, inside: bool) -> tuple[str, bool]:
    """``line`` without its HTML comments' text, and whether one is still open at its end
    (``inside``: one was open at its start)."""
    kept: list[str] = []
    at = 0
    while True:
        if inside:
            end = line.find("-->", at)
            if end < 0:
                return "".join(kept), True
            at, inside = end + 3, False
        else:
            begin = line.find("<!--", at)
            if begin < 0:
                kept.append(line[at:])
                return "".join(kept), False
            kept.append(line[at:begin])
            at, inside = begin + 4, True
