"""Properties of reading comments: a command inside code, a quote or an HTML comment is
never found whatever surrounds it; a command line rendered from a verb and its arguments
reads back as them; any text is read without raising, within the bounds; a problem names
its verb's usage and never echoes a long word of the comment. Derandomized on CI (see
tests/conftest.py), a bounded number of examples each."""

from __future__ import annotations

import contextlib
import re
import shlex

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from prbot.commands.parse import (
    MAX_CHARS,
    MAX_COMMANDS,
    MAX_LINE,
    Command,
    Problem,
    parse_comment,
)
from prbot.commands.registry import BY_NAME, VERBS, Verb

LINE_END = re.compile(r"\r\n|\r|\n")
SHOWN = 40  # a word longer than this is shortened (to 37 characters and "...") in a reply
ECHO = SHOWN + 2  # never this many characters of it (2 more: its quotes and "..." may match)

# Text built to reach the parser's corners: its markers, line ends and commands, mixed
# with any characters.
pieces = st.one_of(
    st.sampled_from(
        [
            "/prbot run myapp tag=1",
            "/prbot hold",
            "/hold",
            "/prbot",
            "/prbot rnu",
            "```",
            "````",
            "~~~",
            "<!--",
            "-->",
            "> ",
            "    ",
            "\t",
            "   ",
            "\n",
            "\r\n",
            "\r",
            " ",
            "'",
            '"',
            "--repo",
            "=",
        ]
    ),
    st.text(max_size=12),
)
texts = st.lists(pieces, max_size=30).map("".join)
commands = st.sampled_from(["/prbot run myapp", "/prbot hold", "/hold", "/prbot", "/prbot rnu"])


def split_lines(text: str) -> list[str]:
    return LINE_END.split(text)


def with_command(text: str, command: str, at: int) -> str:
    """``text`` with ``command`` on a line of its own, after about ``at`` of its lines."""
    lines = split_lines(text)
    at = min(at, len(lines))
    return "\n".join([*lines[:at], command, *lines[at:]])


def longest_run(text: str, char: str) -> int:
    return max((len(m) for m in re.findall(f"{re.escape(char)}+", text)), default=0)


def fenced(text: str, char: str, info: str, closed: bool) -> str:
    fence = char * max(3, longest_run(text, char) + 1)
    closing = f"\n{fence}" if closed else ""
    return f"{fence}{info}\n{text}{closing}"


# -- (a) code, quotes and comments hide any command ---------------------------------


@settings(max_examples=300)
@given(
    texts,
    commands,
    st.integers(0, 10),
    st.sampled_from("`~"),
    st.sampled_from(["", "python", " sh", " a b"]),
    st.booleans(),
    st.sampled_from(["", "Look:", "  ", "\n\n", "x\r"]),
)
@example("``<!-- -->``", "/prbot hold", 1, "`", "", True, "")  # taking it out made a fence
@example("<!--", "/prbot hold", 1, "`", "", True, "")
def test_a_fenced_block_hides_every_command(text, command, at, char, info, closed, before):
    body = fenced(with_command(text, command, at), char, info, closed)
    assert parse_comment(before + "\n" + body if before else body) == ()


@settings(max_examples=300)
@given(texts, commands, st.integers(0, 10), st.sampled_from(["> ", ">", "   > ", "> > "]))
@example("<!--\n-->/prbot hold", "/hold", 0, "> ")
def test_a_quote_hides_every_command(text, command, at, prefix):
    lines = split_lines(with_command(text, command, at))
    assert parse_comment("\n".join(prefix + line for line in lines)) == ()


@settings(max_examples=300)
@given(texts, commands, st.integers(0, 10), st.sampled_from(["    ", "\t", "      ", " \t"]))
@example("x <!--\n-->/prbot hold", "/hold", 0, "    ")
@example("```\n", "/prbot hold", 2, "    ")
def test_indented_code_hides_every_command(text, command, at, prefix):
    lines = split_lines(with_command(text, command, at))
    assert parse_comment("\n".join(prefix + line for line in lines)) == ()


@settings(max_examples=300)
@given(texts.map(lambda t: t.replace(">", "")), commands, st.integers(0, 10), st.booleans())
@example("```\n", "/prbot hold", 1, True)
def test_an_html_comment_hides_every_command(text, command, at, closed):
    inner = with_command(text, command, at)  # no ">": only the end closes it
    body = f"<!--{inner}{'-->' if closed else ''}"
    assert parse_comment(body) == ()


# -- (b) rendering a command and reading it back ------------------------------------

# Any character a line can hold (no line ends, no other controls).
unicode = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
# Words a positional can be: no "=" (that is a pair) and not starting with "--" (a flag).
plain = st.text(unicode, min_size=1, max_size=12).filter(
    lambda w: "=" not in w and not w.startswith("--") and "<!--" not in w
)
positionals = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9-]{0,15}", fullmatch=True),
    plain,
    st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=2, max_size=4).map(" ".join),
)
keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,12}", fullmatch=True)
values = st.text(unicode, max_size=20).filter(lambda v: "<!--" not in v)
flag_values = values.filter(bool)


@st.composite
def rendered(draw: st.DrawFn) -> tuple[Verb, str, Command]:
    verb = draw(st.sampled_from(VERBS))
    count = len(verb.positionals) + draw(st.integers(0, len(verb.optional)))
    args = draw(st.lists(positionals, min_size=count, max_size=count))
    pairs = draw(st.dictionaries(keys, values, max_size=5)) if verb.pairs else {}
    chosen = draw(st.lists(st.sampled_from(verb.flags), unique=True)) if verb.flags else []
    flags = {f.name: (draw(flag_values) if f.value else True) for f in chosen}
    # each unit is one or two words; positionals keep their order, the rest go anywhere
    units = [("arg", shlex.quote(a)) for a in args]
    for key, value in pairs.items():
        units.insert(draw(st.integers(0, len(units))), ("pair", shlex.quote(f"{key}={value}")))
    for name, value in flags.items():
        if value is True:
            text = f"--{name}"
        elif draw(st.booleans()):
            text = shlex.quote(f"--{name}={value}")
        else:
            text = f"--{name} {shlex.quote(value)}"
        units.insert(draw(st.integers(0, len(units))), ("flag", text))
    head = draw(st.sampled_from([f"/prbot {verb.name}", f"/{verb.name}", f"  /prbot  {verb.name}"]))
    line = " ".join([head, *(text for _, text in units)])
    expected = Command(verb.name, tuple(args), pairs, flags, 1)
    return verb, line, expected


@settings(max_examples=400)
@given(rendered(), st.sampled_from(["", "\n", "\r\n", "\r"]), st.sampled_from(["", "hi ✓"]))
def test_a_rendered_command_reads_back(case, end, before):
    verb, line, expected = case
    if not verb.bare and not line.lstrip().startswith("/prbot"):
        return
    assert len(line) < MAX_LINE
    if before:
        body = f"{before}{end or chr(10)}{line}{end}"
        expected = Command(expected.verb, expected.args, expected.values, expected.flags, 2)
    else:
        body = f"{line}{end}"
    assert parse_comment(body) == (expected,)


# -- (c) any text is read, within the bounds ----------------------------------------


def problems_name_their_usage(found: tuple[Command | Problem, ...]) -> None:
    for i, item in enumerate(found):
        if isinstance(item, Problem) and item.verb in BY_NAME and i < MAX_COMMANDS:
            assert f"usage: `{BY_NAME[item.verb].usage}`" in item.message, item


@settings(max_examples=500)
@given(st.one_of(texts, st.text()))
def test_any_text_is_read_without_raising(body):
    found = parse_comment(body)
    assert len(found) <= MAX_COMMANDS + 1
    lines = len(split_lines(body))
    assert all(1 <= item.line <= lines for item in found)
    problems_name_their_usage(found)


@settings(max_examples=500)
@given(st.lists(st.sampled_from(["/prbot ", "/", "run", "hold", " ", "--", "=", "'", "x"])))
def test_any_command_line_is_read_without_raising(words):
    body = "".join(words)
    found = parse_comment(body)
    assert len(found) <= 1
    problems_name_their_usage(found)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.integers(2, 40), st.sampled_from(["\n", "", "\r\n"]))
def test_huge_text_is_bounded(text, times, end):
    body = ((text + end) * (MAX_CHARS // max(1, len(text + end)) + 1)) * times
    body = body[: MAX_CHARS * times] + "\n/prbot hold"
    found = parse_comment(body)
    assert len(found) <= MAX_COMMANDS + 1
    assert found == parse_comment(body[: MAX_CHARS + 1])  # nothing after the bound counts
    problems_name_their_usage(found)


def test_huge_text_of_commands_is_bounded():
    for body in [
        "/prbot hold\n" * 100_000,
        "/prbot run " + "x " * 1_000_000,  # cut at the bound: not read
        "/prbot run " + "x " * 30_000,
        "/prbot " + "z" * 60_000,
        "/prbot hold " + "'" * 60_000,
        "<!--" * 100_000,
        "```\n" * 100_000,
        "> /prbot hold\n" * 100_000,
    ]:
        found = parse_comment(body)
        assert len(found) <= MAX_COMMANDS + 1
        problems_name_their_usage(found)


# -- (d) a problem never echoes a long word ----------------------------------------

long_words = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
    min_size=SHOWN + 1,
    max_size=120,
)


@st.composite
def with_long_words(draw: st.DrawFn) -> str:
    word = draw(long_words)
    template = draw(
        st.sampled_from(
            [
                "/prbot {w}",
                "/prbot run {w}",
                "/prbot run myapp {w}",
                "/prbot hold {w}",
                "/prbot run myapp --{w}",
                "/prbot run myapp --repo {w} --repo {w}",
                "/prbot run myapp {k}=1 {k}=2",
                "/prbot run myapp {w}={w} {w}={w}",
                "/prbot hold {k}={w}",
                "/approve {w}={w}",
                "/prbot help {w} {w}",
                "/prbot run myapp '{w}",
                "/prbot run myapp {w} --{w}",
                "/prbot hold\n" * MAX_COMMANDS + "/prbot {w}",
            ]
        )
    )
    key = "k" + re.sub(r"[^\w.-]", "", word) + "k" * SHOWN
    return template.format(w=shlex.quote(word), k=key)


def echoed(word: str, text: str) -> bool:
    return any(word[i : i + ECHO] in text for i in range(len(word) - ECHO + 1))


@settings(max_examples=300)
@given(st.one_of(with_long_words(), texts))
def test_a_problem_never_repeats_a_long_word(body):
    typed = set(body.split())
    with contextlib.suppress(ValueError):  # an unclosed quote
        typed |= set(shlex.split(body))
    for item in parse_comment(body):
        if isinstance(item, Problem):
            assert len(item.verb) <= SHOWN
            for word in typed:
                assert not echoed(word, item.message), (word, item.message)
