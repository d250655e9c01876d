"""Regular expressions on RE2: linear-time matching for patterns from untrusted definitions.

Definitions are written in Python's ``re`` syntax (and Plural's, which is Go's RE2). RE2
never backtracks, so ``^(a+)+$`` against a long string takes linear time. What RE2 cannot
run (backreferences, lookaround, atomic groups, possessive quantifiers, conditionals) is
refused with an error that names the construct; what means the same with another
spelling is rewritten (``\\Z`` -> ``\\z``, ``\\uXXXX`` -> ``\\x{XXXX}``, ``{,n}`` ->
``{0,n}``).

Replacements keep Python's ``re.sub`` template syntax (``\\1``, ``\\g<1>``, ``\\g<name>``,
``\\n``...); ``$1`` is literal text, as it always was. Known differences from Python's
``re``, the same as Go's: ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII-only, and ``$``
without multi-line mode matches only at the very end (not before a final newline). After
an empty match a replacement goes on one character later; Python first retries the same
place for a longer match, which only a pattern that prefers an empty match there (a lazy
``*?`` or ``??``, an empty first alternative) can tell apart.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import re2

from prbot.automation.limits import LimitExceeded, size_text

MAX_PATTERN_CHARS = 64 * 1024
_OCTAL = "01234567"
_INLINE_FLAGS = set("imsU-")  # RE2's inline flags (U: ungreedy)
_GROUP_CONSTRUCTS = (
    ("<=", "a lookbehind (?<=...)"),
    ("<!", "a negative lookbehind (?<!...)"),
    ("=", "a lookahead (?=...)"),
    ("!", "a negative lookahead (?!...)"),
    (">", "an atomic group (?>...)"),
    ("P=", "a named backreference (?P=...)"),
    ("(", "a conditional group (?(...)...)"),
    ("#", "a comment group (?#...)"),
)
_FLAGS = re.compile(r"[A-Za-z-]*(?=[:)])")
_QUANTIFIER_END = re.compile(r"\{\d*(?:,\d*)?\}\Z")
_TEMPLATE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}


class RegexError(ValueError):
    """A pattern RE2 cannot run, or a replacement that cannot be expanded. The message
    reads after a field name: ``spec.x.regex: uses a lookahead (?=...), which ...``."""


def unsupported(construct: str) -> RegexError:
    return RegexError(
        f"uses {construct}, which RE2 does not support "
        "(regular expressions run on RE2, in linear time)"
    )


def is_template(pattern: str) -> bool:
    """Whether a definition's pattern is a Jinja template (checked when rendered)."""
    return "{{" in pattern or "{%" in pattern or "{#" in pattern


def translate(pattern: str) -> str:
    """Python ``re`` syntax -> RE2 syntax; RegexError names what RE2 cannot run."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                out.append(c)  # RE2 reports the trailing backslash
                break
            i = _escape(pattern, i, in_class, out)
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":  # a ] first in a class is literal (both)
                j += 1
            out.append(pattern[i:j])
            i = j
            continue
        if c == "(" and pattern.startswith("(?", i):
            rest = pattern[i + 2 : i + 4]
            for prefix, construct in _GROUP_CONSTRUCTS:
                if rest.startswith(prefix):
                    raise unsupported(construct)
            flags = _FLAGS.match(pattern, i + 2)
            if flags and flags.group() and not rest.startswith("P"):
                bad = sorted(set(flags.group()) - _INLINE_FLAGS)
                if bad:
                    raise unsupported(f"the inline flag {bad[0]} in (?{flags.group()})")
            out.append("(?")
            i += 2
            continue
        if (
            c in "*+?}"
            and pattern.startswith("+", i + 1)
            and (c != "}" or _QUANTIFIER_END.search(pattern, max(0, i - 24), i + 1))
        ):
            raise unsupported(f"a possessive quantifier {c if c != '}' else '{n}'}+")
        if c == "{":
            m = re.match(r"\{,(\d+)\}", pattern[i : i + 16])
            if m and out:  # Python's {,n} is {0,n}; RE2 would read it as literal text
                out.append("{0," + m.group(1) + "}")
                i += m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _escape(pattern: str, i: int, in_class: bool, out: list[str]) -> int:
    """Translate the escape at ``pattern[i]`` (a backslash) into ``out``; the next index."""
    d = pattern[i + 1]
    if d.isascii() and d.isdigit():
        if in_class or d == "0":  # an octal character code
            m = re.match(r"[0-7]{1,3}" if in_class else r"0[0-7]{0,2}", pattern[i + 1 : i + 4])
            if m is None:
                raise RegexError(f"is not a valid regular expression: bad escape \\{d}")
            out.append(f"\\x{{{int(m.group(), 8):x}}}")
            return i + 1 + len(m.group())
        three = pattern[i + 1 : i + 4]
        if len(three) == 3 and all(ch in _OCTAL for ch in three) and int(three, 8) <= 0o377:
            out.append(f"\\x{{{int(three, 8):x}}}")
            return i + 4
        number = re.match(r"\d{1,2}", pattern[i + 1 :])
        assert number is not None
        raise unsupported(f"a backreference \\{number.group()}")
    if d == "Z" and not in_class:
        out.append("\\z")
        return i + 2
    if d in "uU":
        width = 4 if d == "u" else 8
        digits = pattern[i + 2 : i + 2 + width]
        if len(digits) == width and all(ch in "0123456789abcdefABCDEF" for ch in digits):
            out.append(f"\\x{{{digits}}}")
            return i + 2 + width
    if d == "N" and pattern.startswith("{", i + 2):
        end = pattern.find("}", i + 3)
        if end != -1:
            try:
                char = unicodedata.lookup(pattern[i + 3 : end])
            except KeyError:
                raise RegexError(
                    f"is not a valid regular expression: unknown character name "
                    f"{pattern[i + 3 : end]!r}"
                ) from None
            out.append(f"\\x{{{ord(char):x}}}")
            return end + 1
    if d == "b" and in_class:  # Python: a backspace inside a class
        out.append("\\x08")
        return i + 2
    out.append(pattern[i : i + 2])
    return i + 2


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # errors are raised, not printed to stderr
    options.max_mem = 2 * 1024 * 1024  # per compiled pattern (RE2's default is 8 MiB)
    return options


_OPTIONS = _options()


@functools.lru_cache(maxsize=128)
def compile_regex(pattern: str, *, multiline: bool = False) -> Any:
    """Compile a Python-syntax pattern for RE2 (cached); RegexError says what is wrong."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise RegexError(
            f"is not a valid regular expression: longer than {size_text(MAX_PATTERN_CHARS)}"
        )
    translated = translate(pattern)
    try:
        compiled = re2.compile(translated, _OPTIONS)  # errors quote the pattern as written
        return re2.compile("(?m)" + translated, _OPTIONS) if multiline else compiled
    except re2.error as exc:
        detail = exc.args[0] if exc.args else "invalid"
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        if "pattern too large" in str(detail):
            detail = "too large for RE2 (simplify it or bound its repetitions)"
        raise RegexError(f"is not a valid regular expression: {detail}") from None


def check(pattern: str, *, multiline: bool = False) -> str | None:
    """The problem with ``pattern`` (a message for a field), or None if RE2 runs it."""
    try:
        compile_regex(pattern, multiline=multiline)
    except RegexError as exc:
        return str(exc)
    return None


def search(pattern: str, text: str) -> bool:
    return compile_regex(pattern).search(text) is not None


def fullmatch(pattern: str, text: str) -> bool:
    return compile_regex(pattern).fullmatch(text) is not None


def parse_replacement(template: str, groups: int, groupindex: Mapping[str, int]) -> list[str | int]:
    """Python's ``re.sub`` template: literal text and group numbers, with its errors."""
    parts: list[str | int] = []
    literal: list[str] = []

    def group(index: int) -> None:
        if literal:
            parts.append("".join(literal))
            literal.clear()
        parts.append(index)

    i, n = 0, len(template)
    while i < n:
        c = template[i]
        if c != "\\":
            literal.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise RegexError(f"bad escape (end of pattern) at position {i}")
        d = template[i + 1]
        if d == "g":
            m = re.match(r"<([^>]*)>", template[i + 2 :])
            if not m:
                raise RegexError(f"missing group name in \\g<...> at position {i}")
            name = m.group(1)
            if name.isascii() and name.isdigit():
                index = int(name)
                if index > groups:
                    raise RegexError(f"invalid group reference {index} at position {i + 3}")
            elif name.isidentifier():
                if name not in groupindex:
                    raise RegexError(f"unknown group name {name!r}")
                index = groupindex[name]
            else:
                raise RegexError(f"bad character in group name {name!r} at position {i + 3}")
            group(index)
            i += 2 + m.end()
        elif d == "0":
            code = re.match(r"0[0-7]{0,2}", template[i + 1 : i + 4]).group()  # type: ignore[union-attr]
            literal.append(chr(int(code, 8)))
            i += 1 + len(code)
        elif d.isascii() and d.isdigit():
            three = template[i + 1 : i + 4]
            if len(three) == 3 and all(ch in _OCTAL for ch in three):
                value = int(three, 8)
                if value > 0o377:
                    raise RegexError(
                        f"octal escape value \\{three} outside of range 0-0o377 at position {i}"
                    )
                literal.append(chr(value))
                i += 4
                continue
            number = re.match(r"\d{1,2}", template[i + 1 :]).group()  # type: ignore[union-attr]
            index = int(number)
            if index > groups:
                raise RegexError(f"invalid group reference {index} at position {i + 1}")
            group(index)
            i += 1 + len(number)
        elif d in _TEMPLATE_ESCAPES:
            literal.append(_TEMPLATE_ESCAPES[d])
            i += 2
        elif d.isascii() and d.isalpha():
            raise RegexError(f"bad escape \\{d} at position {i}")
        else:
            literal.append(template[i : i + 2])
            i += 2
    if literal:
        parts.append("".join(literal))
    return parts


def _char_length(lead: int) -> int:
    """Bytes of the UTF-8 character starting with byte ``lead``."""
    return 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def substitute(
    regex: Any, template: str, text: str, *, count: int = 0, limit: int, what: str
) -> tuple[str, int]:
    """``re.subn`` on RE2: (new text, number of replacements). The template is parsed only
    if something matched (a regex without a match changes nothing, whatever its
    replacement names, as Go's ReplaceAllString). LimitExceeded once the result would be
    longer than ``limit`` bytes, before it is built.

    Works on the UTF-8 bytes with RE2's own match call: the ``re2`` module's ``finditer``
    spends several microseconds per match converting offsets, which a pattern matching
    every character of a big file turns into seconds."""
    data = text.encode("utf-8", "surrogatepass")
    match = regex._regexp.Match
    anchor = re2._Anchor.UNANCHORED
    end = len(data)
    pieces: list[bytes] = []
    parts: list[bytes | int] | None = None
    size = pos = last = done = 0
    while pos <= end:
        spans = match(anchor, data, pos, end)
        start, stop = spans[0]
        if start == -1:
            break
        if parts is None:
            parsed = parse_replacement(template, regex.groups, regex.groupindex)
            parts = [
                p.encode("utf-8", "surrogatepass") if isinstance(p, str) else p for p in parsed
            ]
        pieces.append(data[last:start])
        size += start - last
        for part in parts:
            if isinstance(part, bytes):
                piece = part
            else:
                g_start, g_stop = spans[part]
                piece = data[g_start:g_stop] if g_start != -1 else b""
            pieces.append(piece)
            size += len(piece)
        if size > limit:
            raise LimitExceeded(f"{what} would exceed {size_text(limit)}")
        last = stop
        done += 1
        if count and done >= count:
            break
        if stop > start:
            pos = stop
        elif stop >= end:
            break
        else:  # an empty match: the next one starts a character later
            pos = stop + _char_length(data[stop])
    if parts is None:
        return text, 0
    pieces.append(data[last:])
    size += end - last
    if size > limit:
        raise LimitExceeded(f"{what} would exceed {size_text(limit)}")
    return b"".join(pieces).decode("utf-8", "surrogatepass"), done
