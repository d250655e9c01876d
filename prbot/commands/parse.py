"""Reading a comment into commands.

A command is a line starting (after at most three spaces) with ``/prbot <verb>``, or with
``/<verb>`` for a verb that allows it. Lines inside fenced code blocks (``` or ~~~),
indented code (four spaces or a tab), quotes (``>``) and HTML comments are not read: a
quoted or pasted command never runs. An unknown ``/prbot`` verb is a problem with a
did-you-mean; any other ``/word`` is someone else's and is ignored. Arguments are
shell-like words (quotes group), ``key=value`` pairs and ``--flags``, checked against the
verb's registry entry. Several commands in one comment run in order.

Bounded: the first ``MAX_CHARS`` of a comment are read, at most ``MAX_COMMANDS``
commands (the rest are one problem), and a command line longer than ``MAX_LINE`` is a
problem, not parsed.
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
_HTML_COMMENT = re.compile(r"<!--.*?(-->|$)", re.DOTALL)


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
    for number, line in _readable_lines(body[:MAX_CHARS]):
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
            found.append(Problem(name, f"at most {MAX_COMMANDS} commands per comment", number))
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
        return Problem(name, f"the command is longer than {MAX_LINE} characters", line)
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
                return _bad(verb, f"no option --{flag_name}{hint}", line)
            if flag_name in flags:
                return _bad(verb, f"--{flag_name} is given twice", line)
            if not flag.value:
                if eq:
                    return _bad(verb, f"--{flag_name} takes no value", line)
                flags[flag_name] = True
                continue
            if not eq:
                if i >= len(words):
                    return _bad(verb, f"--{flag_name} needs a value ({flag.value})", line)
                value = words[i]
                i += 1
            flags[flag_name] = value
            continue
        pair = _PAIR.match(word) if verb.pairs else None
        if pair is not None:
            key, value = pair.groups()
            if key in values:
                return _bad(verb, f"{key} is given twice", line)
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
    """(line number, text) of the lines outside code blocks, quotes and HTML comments."""
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    # an HTML comment hides what is inside it; its lines keep their numbers
    text = _HTML_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    readable: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        m = _FENCE.match(line)
        if fence is not None:
            closing = m is not None and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence)
            if closing and not line.strip().strip(fence[0]):  # no info string after it
                fence = None
            continue
        if m is not None:
            fence = m.group(1)
            continue
        if line.startswith(("    ", "\t")) or _QUOTE.match(line):
            continue
        readable.append((number, line))
    return readable
