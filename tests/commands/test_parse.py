"""Reading a comment into slash-commands, rule by rule: which lines are read (code fences,
indented code, quotes, HTML comments, line endings), how a command line is read (verbs,
quoting, pairs, flags, positionals) and the bounds on what a comment can ask."""

from __future__ import annotations

import pytest

from prbot.commands import registry
from prbot.commands.parse import (
    MAX_CHARS,
    MAX_COMMANDS,
    MAX_LINE,
    MAX_WORDS,
    Command,
    Problem,
    parse_command,
    parse_comment,
)
from prbot.commands.registry import BY_NAME, Flag, Verb


def one(body: str) -> Command | Problem:
    found = parse_comment(body)
    assert len(found) == 1, found
    return found[0]


def command(body: str) -> Command:
    found = one(body)
    assert isinstance(found, Command), found
    return found


def problem(body: str) -> Problem:
    found = one(body)
    assert isinstance(found, Problem), found
    return found


def lines(body: str) -> list[tuple[str, int]]:
    """(verb, line) of every command and problem found, in order."""
    return [(c.verb, c.line) for c in parse_comment(body)]


# -- where a command is -------------------------------------------------------------


def test_prbot_verb_and_bare_verb_read_the_same():
    full = command("/prbot run myapp tag=6.7.1")
    bare = command("/run myapp tag=6.7.1")
    assert full == bare == Command("run", ("myapp",), {"tag": "6.7.1"}, {}, 1)


def test_prbot_alone_is_help():
    assert command("/prbot") == Command("help", line=1)
    assert command("/prbot   ") == Command("help", line=1)
    assert command("/prbot\t") == Command("help", line=1)


def test_help_bare_and_for_one_verb():
    assert command("/help") == Command("help", line=1)
    assert command("/prbot help run").args == ("run",)


@pytest.mark.parametrize("indent", ["", " ", "  ", "   "])
def test_up_to_three_spaces_before_the_slash(indent):
    assert command(f"{indent}/prbot hold").verb == "hold"


@pytest.mark.parametrize(
    "body",
    [
        "please /prbot run myapp",  # not at the start of the line
        "`/prbot run myapp`",
        "/prbotrun myapp",
        "/prbot: run myapp",
        "//prbot run myapp",
        "/usr/bin/prbot run myapp",
        "prbot run myapp",
    ],
)
def test_not_a_command(body):
    assert parse_comment(body) == ()


def test_unknown_prbot_verb_is_a_problem_with_did_you_mean():
    found = problem("/prbot rnu myapp")
    assert found.verb == "rnu"
    assert "unknown command 'rnu'" in found.message
    assert "(did you mean 'run'?)" in found.message
    assert "/prbot help lists them" in found.message


def test_unknown_verb_in_another_case_is_pointed_to_the_right_one():
    assert "(did you mean 'run'?)" in problem("/prbot RUN myapp").message


def test_unknown_verb_far_from_any_has_no_hint():
    assert "did you mean" not in problem("/prbot xyzzy").message


@pytest.mark.parametrize("body", ["/lgtm", "/lgtm cancel", "/assign @me", "/label bug", "/rnu x"])
def test_another_tools_command_is_ignored(body):
    assert parse_comment(body) == ()


def test_a_verb_that_is_not_bare_needs_prbot(monkeypatch):
    monkeypatch.setitem(BY_NAME, "deploy", Verb("deploy", "a test verb", "write", bare=False))
    assert parse_comment("/deploy") == ()
    assert command("/prbot deploy").verb == "deploy"


def test_several_commands_in_order_with_their_line_numbers():
    body = "\n".join(
        [
            "Thanks! Let's go.",  # 1
            "/prbot promote myapp tag=6.7.1",  # 2
            "",  # 3
            "/lgtm",  # 4
            "/approve dev",  # 5
            "/prbot rnu",  # 6
            "then /hold",  # 7
            "/status --promotion 42",  # 8
        ]
    )
    found = parse_comment(body)
    assert [(c.verb, c.line, type(c).__name__) for c in found] == [
        ("promote", 2, "Command"),
        ("approve", 5, "Command"),
        ("rnu", 6, "Problem"),
        ("status", 8, "Command"),
    ]
    assert found[0] == Command("promote", ("myapp",), {"tag": "6.7.1"}, {}, 2)
    assert found[1] == Command("approve", ("dev",), {}, {}, 5)
    assert found[3] == Command("status", (), {}, {"promotion": "42"}, 8)


# -- code, quotes and comments are not read -----------------------------------------


@pytest.mark.parametrize("fence", ["```", "~~~", "````", "~~~~~"])
def test_fenced_code_is_not_read(fence):
    body = f"look:\n{fence}\n/prbot run myapp\n{fence}\n/prbot hold"
    assert lines(body) == [("hold", 5)]


@pytest.mark.parametrize(
    ("opening", "closing"),
    [("```python", "```"), ("``` sh", "```"), ("~~~ yaml title=x", "~~~"), ("   ```", "```")],
)
def test_a_fence_with_an_info_string_or_indent_opens_a_block(opening, closing):
    body = f"{opening}\n/prbot run myapp\n{closing}\n/prbot hold"
    assert lines(body) == [("hold", 4)]


def test_an_unclosed_fence_hides_the_rest():
    assert lines("/prbot hold\n```\n/prbot resume\n/prbot cancel") == [("hold", 1)]


def test_a_closing_fence_is_the_same_character():
    body = "```\n~~~\n/prbot run myapp\n~~~\n```\n/prbot hold"
    assert lines(body) == [("hold", 6)]


def test_a_closing_fence_is_at_least_as_long():
    body = "````\n```\n/prbot run myapp\n```\n/prbot resume\n````\n/prbot hold"
    assert lines(body) == [("hold", 7)]
    body = "```\n/prbot run myapp\n``````\n/prbot hold"
    assert lines(body) == [("hold", 4)]


def test_a_closing_fence_has_no_info_string():
    body = "```\n``` js\n/prbot run myapp\n```\n/prbot hold"
    assert lines(body) == [("hold", 5)]


def test_a_closing_fence_may_be_indented_and_followed_by_spaces():
    assert lines("```\n/prbot resume\n   ```  \n/prbot hold") == [("hold", 4)]


def test_four_spaces_before_a_fence_is_indented_code_not_a_fence():
    assert lines("    ```\n/prbot hold") == [("hold", 2)]


def test_a_fence_in_a_quote_ends_with_the_quote():
    assert lines("> ```\n> /prbot resume\n/prbot hold") == [("hold", 3)]


def test_an_html_comment_in_a_fence_is_code():
    # the fence closes at line 3 (the <!-- does not hide it), so line 4 is read
    assert lines("```\n<!--\n```\n/prbot hold") == [("hold", 4)]


def test_taking_out_an_html_comment_in_a_fence_never_closes_it():
    body = "```\n<!-- x -->```\n/prbot run myapp\n```\n/prbot hold"
    assert lines(body) == [("hold", 5)]


@pytest.mark.parametrize("indent", ["    ", "     ", "\t", "  \t"])
def test_indented_code_is_not_read(indent):
    assert parse_comment(f"{indent}/prbot run myapp") == ()


@pytest.mark.parametrize("quote", ["> ", ">", "   > ", "> > ", ">\t"])
def test_quoted_lines_are_not_read(quote):
    body = f"{quote}/prbot run myapp\nI agree:\n/prbot hold"
    assert lines(body) == [("hold", 3)]


def test_an_html_comment_on_one_line_is_not_read():
    assert parse_comment("<!-- /prbot run myapp -->") == ()
    assert lines("<!-- /prbot run myapp -->\n/prbot hold") == [("hold", 2)]


def test_the_text_after_a_comment_on_its_line_is_read():
    assert command("<!-- note --> /prbot hold").verb == "hold"
    assert command("/prbot run myapp <!-- tag=1 --> tag=2").values == {"tag": "2"}


def test_a_multi_line_html_comment_is_not_read():
    body = "before <!-- a note\n/prbot run myapp\n  -->\n/prbot hold"
    assert lines(body) == [("hold", 4)]


def test_an_unclosed_html_comment_hides_the_rest():
    assert lines("/prbot hold\n<!--\n/prbot resume\n\n/prbot cancel") == [("hold", 1)]
    assert lines("/prbot hold <!-- \n/prbot cancel") == [("hold", 1)]


def test_the_line_that_closes_a_comment_does_not_start_a_command():
    assert parse_comment("<!--\n-->/prbot hold") == ()


@pytest.mark.parametrize(
    "body",
    [
        "    x <!--\n    -->/prbot hold",  # indented code, both lines
        "> <!--\n> -->/prbot hold",  # a quote, both lines
        "> <!--\n> \n> -->   /prbot hold",
    ],
)
def test_a_comment_never_takes_a_command_out_of_code_or_a_quote(body):
    assert parse_comment(body) == ()


def test_a_fence_inside_an_html_comment_is_not_a_fence():
    assert lines("<!--\n```\n-->\n/prbot hold") == [("hold", 4)]


# -- line endings and unicode -------------------------------------------------------


def test_crlf_line_endings():
    body = "Thanks\r\n/prbot run myapp tag=1\r\n```\r\n/prbot cancel\r\n```\r\n/prbot hold\r\n"
    found = parse_comment(body)
    assert [(c.verb, c.line) for c in found] == [("run", 2), ("hold", 6)]
    assert found[0] == Command("run", ("myapp",), {"tag": "1"}, {}, 2)


def test_lone_cr_line_endings():
    body = "Thanks\r/prbot run myapp tag=1\r> /prbot cancel\r/prbot hold"
    found = parse_comment(body)
    assert [(c.verb, c.line) for c in found] == [("run", 2), ("hold", 4)]
    assert found[0].values == {"tag": "1"}


def test_mixed_line_endings_count_one_line_each():
    assert lines("a\r\nb\rc\n/prbot hold") == [("hold", 4)]
    assert lines("a\n\r/prbot hold") == [("hold", 3)]  # \n then a lone \r: two ends


def test_unicode_around_and_in_values():
    body = "Merci 🎉 — déployons:\n/prbot run myapp note='héllo wörld ✓' city=東京\nありがとう"
    found = command(body)
    assert found == Command("run", ("myapp",), {"note": "héllo wörld ✓", "city": "東京"}, {}, 2)


def test_unicode_in_a_key_and_a_flag_value():
    found = command("/prbot run myapp clé=valeur --repo=équipe/dépôt")
    assert found.values == {"clé": "valeur"}
    assert found.flags == {"repo": "équipe/dépôt"}


# -- arguments ----------------------------------------------------------------------


def test_quotes_group_words():
    found = command("""/prbot run "my app" msg="a b" 'c=d e' x=it\\'s""")
    assert found.args == ("my app",)
    assert found.values == {"msg": "a b", "c": "d e", "x": "it's"}


def test_a_value_keeps_its_equals_signs_and_a_hash():
    assert command("/prbot run myapp q=a=b c=#1").values == {"q": "a=b", "c": "#1"}


def test_an_empty_value_is_a_value():
    assert command("/prbot run myapp tag=").values == {"tag": ""}


def test_an_unclosed_quote_is_a_problem_with_the_usage():
    found = problem('/prbot run myapp msg="a b')
    assert found.verb == "run"
    assert "cannot read the arguments" in found.message
    assert f"usage: `{BY_NAME['run'].usage}`" in found.message


def test_a_duplicate_key_is_a_problem():
    found = problem("/prbot run myapp tag=1 tag=2")
    assert "'tag' is given twice" in found.message


def test_a_duplicate_flag_is_a_problem():
    assert "--repo is given twice" in problem("/prbot run x --repo a/b --repo c/d").message
    assert "--promotion is given twice" in problem("/hold --promotion 1 --promotion=2").message


def test_a_missing_positional_is_a_problem():
    assert "missing <automation>" in problem("/prbot run").message
    assert "missing <automation>" in problem("/prbot run tag=1").message
    assert "missing <pipeline>" in problem("/promote").message


@pytest.mark.parametrize(
    ("body", "extra"),
    [
        ("/prbot run myapp other", "'other'"),
        ("/prbot hold now", "'now'"),
        ("/prbot help run status", "'status'"),
        ("/approve dev prod", "'prod'"),
        ("/status --", "'--'"),
    ],
)
def test_an_extra_positional_is_a_problem(body, extra):
    assert f"unexpected argument {extra}" in problem(body).message


def test_an_optional_positional():
    assert command("/approve").args == ()
    assert command("/approve prod").args == ("prod",)


@pytest.mark.parametrize(
    "body", ["/prbot status tag=1", "/hold reason=lunch", "/approve stage=prod", "/help run=1"]
)
def test_pairs_on_a_verb_without_pairs_are_a_problem(body):
    found = problem(body)
    assert f"{found.verb} takes no key=value inputs" in found.message


@pytest.mark.parametrize(
    "body", ["/prbot run myapp --repo acme/other", "/prbot run myapp --repo=acme/other"]
)
def test_a_flag_with_its_value_after_a_space_or_an_equals_sign(body):
    assert command(body) == Command("run", ("myapp",), {}, {"repo": "acme/other"}, 1)


def test_flags_and_pairs_go_anywhere_among_the_positionals():
    found = command("/prbot run --repo acme/other tag=1 myapp")
    assert found == Command("run", ("myapp",), {"tag": "1"}, {"repo": "acme/other"}, 1)


@pytest.mark.parametrize(
    "body", ["/prbot run myapp --repo", "/run myapp --repo=", '/run myapp --repo ""']
)
def test_a_flag_without_its_value_is_a_problem(body):
    assert "--repo needs a value (OWNER/NAME)" in problem(body).message


def test_an_unknown_flag_is_a_problem_with_did_you_mean():
    found = problem("/prbot hold --promotoin 4")
    assert "no option '--promotoin' (did you mean 'promotion'?)" in found.message
    assert "no option '--x'" in problem("/prbot help --x").message


@pytest.fixture
def with_switch(monkeypatch):
    switch = Verb("sweep", "a test verb", "write", flags=(Flag("dry-run"), Flag("note", "TEXT")))
    monkeypatch.setitem(BY_NAME, "sweep", switch)


@pytest.mark.usefixtures("with_switch")
def test_a_switch_is_true_and_takes_no_value():
    assert command("/sweep --dry-run").flags == {"dry-run": True}
    assert command("/sweep --dry-run --note hi").flags == {"dry-run": True, "note": "hi"}
    assert "--dry-run takes no value" in problem("/sweep --dry-run=yes").message


def test_every_problem_of_a_verb_ends_with_its_usage():
    for body in ["/run", "/run a b", "/run a --x", "/run a k=1 k=2", "/status a=1", "/hold '"]:
        found = problem(body)
        usage = BY_NAME[found.verb].usage
        assert found.message.endswith(f"; usage: `{usage}`"), found.message


def test_parse_command_alone():
    assert parse_command("run", "myapp tag=1", 7) == Command("run", ("myapp",), {"tag": "1"}, {}, 7)
    assert isinstance(parse_command("nope", ""), Problem)


# -- bounds -------------------------------------------------------------------------


def test_only_the_first_max_chars_are_read():
    inside = "x" * (MAX_CHARS - 100) + "\n/prbot hold\n"
    assert lines(inside + "/prbot cancel\n" * 20 + "y" * MAX_CHARS + "\n/prbot resume") == [
        ("hold", 2),
        ("cancel", 3),
        ("cancel", 4),
        ("cancel", 5),
        ("cancel", 6),
        ("cancel", 7),
        ("cancel", 8),
    ]
    assert parse_comment("x" * MAX_CHARS + "\n/prbot hold") == ()


def test_a_command_cut_at_max_chars_is_not_read():
    # the first MAX_CHARS characters end in "tag=6.7": a cut value must never run
    head = "x" * (MAX_CHARS - len("\n/prbot run myapp tag=6.7")) + "\n"
    assert parse_comment(head + "/prbot run myapp tag=6.7.1") == ()
    # a line that ends exactly at the bound is whole
    assert lines(head + "/prbot run myapp tag=6.7\nmore") == [("run", 2)]
    assert lines(head + "/prbot run myapp tag=6.7\r\nmore") == [("run", 2)]


def test_at_most_max_commands_then_one_problem():
    assert len(parse_comment("/prbot hold\n" * MAX_COMMANDS)) == MAX_COMMANDS
    found = parse_comment("/prbot hold\n" * (MAX_COMMANDS + 5))
    assert len(found) == MAX_COMMANDS + 1
    assert all(isinstance(c, Command) for c in found[:MAX_COMMANDS])
    last = found[-1]
    assert isinstance(last, Problem)
    assert last.line == MAX_COMMANDS + 1
    assert f"at most {MAX_COMMANDS} commands" in last.message


def test_problems_count_among_the_commands():
    found = parse_comment("/prbot rnu\n" * MAX_COMMANDS + "/prbot hold")
    assert len(found) == MAX_COMMANDS + 1
    assert "at most" in found[-1].message


def test_a_command_line_longer_than_max_line_is_a_problem():
    found = problem("/prbot run myapp note=" + "a" * MAX_LINE)
    assert found.verb == "run"
    assert f"longer than {MAX_LINE} characters" in found.message
    assert f"usage: `{BY_NAME['run'].usage}`" in found.message


def test_a_long_line_under_the_bound_is_read():
    assert command("/prbot run myapp note=" + "a" * (MAX_LINE - 100)).values["note"] == "a" * (
        MAX_LINE - 100
    )


def test_more_than_max_words_is_a_problem():
    pairs = " ".join(f"k{i}=v" for i in range(MAX_WORDS))
    assert f"more than {MAX_WORDS} arguments" in problem(f"/prbot run myapp {pairs}").message
    fits = " ".join(f"k{i}=v" for i in range(MAX_WORDS - 1))
    assert len(command(f"/prbot run myapp {fits}").values) == MAX_WORDS - 1


def test_a_long_unknown_verb_is_not_echoed():
    word = "z" * 500
    found = problem(f"/prbot {word}")
    assert len(found.verb) <= 40
    assert "z" * 41 not in found.message
    found = parse_comment("/prbot hold\n" * MAX_COMMANDS + f"/prbot {word}")[-1]
    assert len(found.verb) <= 40


def test_long_user_words_are_shortened_in_problems():
    long = "s" * 80
    for body in [
        f"/prbot run myapp {long}",
        f"/prbot hold --{long}",
        f"/prbot run myapp {long}=1 {long}=2",
    ]:
        assert "s" * 41 not in problem(body).message


def test_the_registry_is_what_the_parser_reads():
    assert {v.name for v in registry.VERBS} <= set(BY_NAME)
