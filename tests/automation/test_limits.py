"""The pure core's own limits: each attack on a definition, a template, a regular
expression or an input fails with a clear error that names the file, field or template
and the limit, and it fails before the expensive work is done. No timing asserts: a
refusal "before the work" is shown by counting what was built (constructed YAML
documents, peak memory), and the hypothesis tests run derandomized with a bounded number
of examples.
"""

from __future__ import annotations

import re
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError

from prbot.automation import regex, yamledit
from prbot.automation.changeset import DirRepoView, MemoryRepoView, RepoFile
from prbot.automation.errors import InputError, RenderError
from prbot.automation.inputs import ConfigField, validate_inputs
from prbot.automation.limits import LIMITS, Limits, size_text, text_size
from prbot.automation.loader import load_view, parse_text
from prbot.automation.render import render_automation
from prbot.automation.templating import render_string, render_value
from prbot.automation.yamlload import YamlLimitError, expanded_size, load_all

ROOT = Path(__file__).resolve().parents[2]
HEADER = "apiVersion: prbot.dev/v1alpha1\nkind: PrAutomation\nmetadata: {name: demo}\nspec:\n"
BASIC = (
    HEADER
    + '  title: "Add {{ context.name }}"\n  configuration:\n    - {name: name, type: string}\n'
)
MiB = 1024 * 1024


def peak_memory(work: Any) -> int:
    """Bytes allocated at the peak while ``work()`` runs (it may raise)."""
    tracemalloc.start()
    try:
        work()
    except (RenderError, InputError):
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


# ---------------------------------------------------------------- YAML


def laughs(levels: int) -> str:
    """The 'billion laughs': nine references per level, a 13-line file at 8 levels."""
    lines = [
        "apiVersion: prbot.dev/v1alpha1",
        "kind: PrAutomation",
        "metadata: {name: lol}",
        "spec:",
        "  title: x",
        '  l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
    ]
    for i in range(1, levels + 1):
        lines.append(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


class CountingConstructor(RoundTripConstructor):
    documents = 0

    def construct_document(self, node: Any) -> Any:
        CountingConstructor.documents += 1
        return super().construct_document(node)


@pytest.mark.parametrize("levels", [7, 9, 12])
def test_billion_laughs_is_refused_before_anything_is_constructed(levels: int) -> None:
    text = laughs(levels)
    if levels == 7:
        assert len(text.splitlines()) == 13
    y = YAML(typ="rt")
    y.Constructor = CountingConstructor
    CountingConstructor.documents = 0
    with pytest.raises(YamlLimitError) as err:
        load_all(y, text)
    assert CountingConstructor.documents == 0  # refused on the node graph, never expanded
    assert (err.value.document, err.value.line) == (1, 1)
    _, problems = parse_text(text.encode(), ".prbot/lol.yaml")
    assert [str(p) for p in problems] == [
        ".prbot/lol.yaml:1: document 1: aliases expand it to more than 10000 YAML nodes "
        "(max_alias_nodes); refused before expanding"
    ]


def test_expanded_size_is_computed_once_per_node() -> None:
    # 9**12 nodes expanded (far too many to walk) are counted exactly through the memo
    node = YAML(typ="rt").compose(laughs(12))
    l12 = node.value[3][1].value[-1][1]
    exact = 10  # l0: a list of nine strings
    for _ in range(12):
        exact = 1 + 9 * exact
    assert expanded_size(l12, cap=10**30) == exact
    assert expanded_size(l12, cap=1000) == 1001  # stops counting past the cap


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    _, problems = parse_text(b"a: &a [1, *a]\n", "x.yaml")
    assert [str(p) for p in problems] == [
        "x.yaml:1: document 1: an alias refers to a node that contains it"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a: " + "[" * 150 + "]" * 150 + "\n",
            "x.yaml:1: document 1: nests more than 100 levels deep",
        ),
        (
            "---\na: 1\n" * 101,
            "x.yaml:201: has more than 100 YAML documents (max_documents)",
        ),
        (
            "a: [" + ", ".join(["0"] * 20_000) + "]\n",
            "x.yaml:1: document 1: has more than 10000 YAML nodes (max_alias_nodes)",
        ),
        (
            "".join(f"---\n{k}: [" + ", ".join(["0"] * 9_000) + "]\n" for k in "abc"),
            "x.yaml:6: document 3: has more than 25000 YAML nodes in all (max_file_nodes)",
        ),
    ],
)
def test_yaml_shapes_over_a_limit_are_refused_with_the_file_and_limit(
    text: str, message: str
) -> None:
    _, problems = parse_text(text.encode(), "x.yaml")
    assert [str(p) for p in problems] == [message]


def test_a_definition_file_over_one_mib_is_refused_unread() -> None:
    text = (BASIC + "#" * MiB).encode()
    _, problems = parse_text(text, ".prbot/big.yaml")
    assert [str(p) for p in problems] == [
        f".prbot/big.yaml: is {len(text)} bytes; a definition file may have at most 1 MiB "
        "(max_file_bytes)"
    ]


def test_limits_passed_in_are_the_ones_applied() -> None:
    small = Limits(max_alias_nodes=10, max_file_bytes=10_000, max_documents=2)
    defs, problems = parse_text(BASIC.encode(), "a.yaml", small)
    assert "max_alias_nodes" in str(problems[0])
    defs, problems = parse_text(BASIC.encode(), "a.yaml", replace(small, max_alias_nodes=100))
    assert problems == [] and [d.name for d in defs] == ["demo"]


def real_definition_files() -> list[Path]:
    found = [
        *(ROOT / "automations").rglob("*.yaml"),
        *(ROOT / "examples").rglob("*.yaml"),
        *(ROOT / "tests" / "plural").rglob("*.yaml"),
        *(ROOT / "tests" / "fixtures" / "plural").glob("*.yaml"),
    ]
    return sorted(p for p in found if b"apiVersion:" in p.read_bytes())


def test_every_real_definition_passes_the_yaml_limits_ten_times_over() -> None:
    tight = Limits(max_alias_nodes=LIMITS.max_alias_nodes // 10, max_file_nodes=2_500)
    checked = 0
    for path in real_definition_files():
        try:
            list(YAML(typ="rt").compose_all(path.read_text()))
        except YAMLError:
            continue  # a template that renders to a definition, not YAML itself
        try:
            documents = load_all(YAML(typ="rt"), path.read_text(), tight)
        except YamlLimitError as exc:  # pragma: no cover - the assertion's message
            pytest.fail(f"{path}: {exc}")
        assert documents
        checked += 1
    assert checked > 20


def test_the_shipped_catalog_and_the_plural_ports_load_cleanly_within_the_limits() -> None:
    loaded = load_view(DirRepoView(ROOT / "automations"))
    loaded.merge(load_view(DirRepoView(ROOT / "examples" / "gitops" / ".prbot")))
    assert loaded.problems == []
    for port in sorted(p for p in (ROOT / "tests" / "plural").iterdir() if p.is_dir()):
        assert load_view(DirRepoView(port), files=["automation.yaml"]).problems == [], port


def test_a_repository_folder_is_capped_in_files_and_bytes() -> None:
    files = {f".prbot/f{i}.yaml": "x: 1\n" for i in range(501)}
    assert [str(p) for p in load_view(MemoryRepoView(files), root=".prbot").problems] == [
        ".prbot: has 501 files; at most 500 are read (max_repo_files)"
    ]
    files = {f".prbot/t{i}.txt": "x" * 300_000 for i in range(14)}
    files[".prbot/a.yaml"] = BASIC
    loaded = load_view(MemoryRepoView(files), root=".prbot")
    assert [str(p) for p in loaded.problems] == [
        ".prbot: holds more than 4 MiB of files; at most that much is read (max_repo_bytes)"
    ]
    assert loaded.automations == {}
    # within the limits the same folder loads; the limits come from the caller
    roomy = Limits(max_repo_bytes=8 * MiB)
    assert load_view(MemoryRepoView(files), root=".prbot", limits=roomy).problems == []
    few = Limits(max_repo_files=2)
    assert "at most 2 are read (max_repo_files)" in str(
        load_view(
            MemoryRepoView({".prbot/a.yaml": BASIC, ".prbot/b": "", ".prbot/c": ""}),
            root=".prbot",
            limits=few,
        ).problems[0]
    )
    # only files under the root count
    outside = {f"other/{i}": "x" for i in range(600)} | {".prbot/a.yaml": BASIC}
    assert load_view(MemoryRepoView(outside), root=".prbot").problems == []


def test_a_folder_of_files_just_under_the_file_limits_stops_at_the_folder_budget() -> None:
    spec = BASIC + "  description: x\n  icon: [" + ", ".join(["0"] * 9_000) + "]\n"
    files = {f".prbot/f{i:02}.yaml": spec.replace("demo", f"d{i}") for i in range(80)}
    loaded = load_view(MemoryRepoView(files), root=".prbot")
    # each file is read until the folder's budget is spent, then loading stops
    assert [str(p) for p in loaded.problems if "max_repo_nodes" in p.message] == [
        ".prbot/f05.yaml:9: document 1: takes the folder's definitions over 50000 YAML nodes "
        "in all (max_repo_nodes)"
    ]
    assert len(loaded.problems) == 6  # five files with a bad field, then the budget


def test_an_overlay_that_renders_to_an_alias_bomb_is_refused() -> None:
    lines = ["{{ context.name }}: &a [x, x, x, x, x, x, x, x, x, x]"] + [
        f"l{i}: &l{i} [{', '.join(['*' + ('a' if i == 0 else f'l{i - 1}')] * 10)}]"
        for i in range(8)
    ]
    overlay = "".join(f"          {line}\n" for line in lines)
    a = automation(
        BASIC
        + "  updates:\n    yamlOverlays:\n      - file: values.yaml\n        yaml: |\n"
        + overlay
    )
    with pytest.raises(RenderError) as err:
        render_automation(a, {"name": "x"}, REPO)
    assert str(err.value) == (
        "demo: spec.updates.yamlOverlays[0].yaml: the rendered overlay aliases expand it to "
        "more than 10000 YAML nodes (max_alias_nodes); refused before expanding"
    )


def test_an_edit_through_aliases_of_the_target_file_is_refused_before_expanding() -> None:
    text = "base: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"l{i}: &l{i} [{', '.join(['*' + ('a' if i == 0 else f'l{i - 1}')] * 10)}]\n"
        for i in range(8)
    )
    with pytest.raises(yamledit.YamlEditError, match="aliases expand the value by more than"):
        yamledit.set_value(text, "l7", "plain")
    # Any edit of such a file is refused: verifying it reads the whole document back, and
    # the aliases would expand it past the limit (refused before expanding, too).
    with pytest.raises(yamledit.YamlEditError, match="aliases expand the value by more than"):
        yamledit.set_value(text, "base", "plain", follow_aliases=True)
    # What a file's aliases add is limited, not its size: a big file with a few aliases is fine.
    big = "base: &a [x, y]\nl0: [*a, *a]\n" + "".join(
        f"k{i}: {i}\n" for i in range(5_100)
    )  # > 10,000 nodes
    assert yamledit.set_value(big, "k5", 6).startswith("base: &a [x, y]\nl0: [*a, *a]\n")


# ---------------------------------------------------------------- regular expressions


CONSTRUCTS = [
    (r"^(a)\1$", r"a backreference \1"),
    (r"^(?=a)", "a lookahead (?=...)"),
    (r"^(?!admin)[a-z]+$", "a negative lookahead (?!...)"),
    (r"(?<=v)1", "a lookbehind (?<=...)"),
    (r"(?<!v)1", "a negative lookbehind (?<!...)"),
    (r"(?>a+)b", "an atomic group (?>...)"),
    (r"a++b", "a possessive quantifier ++"),
    (r"a{2,3}+", "a possessive quantifier {n}+"),
    (r"(?P<x>a)(?P=x)", "a named backreference (?P=...)"),
    (r"(a)?(?(1)b|c)", "a conditional group (?(...)...)"),
    (r"(?x) a b", "the inline flag x in (?x)"),
]
TAIL = ", which RE2 does not support (regular expressions run on RE2, in linear time)"


def automation(spec: str, templates: dict[str, str | bytes | RepoFile] | None = None):
    files = {"defs/a.yaml": spec, **{f"defs/{k}": v for k, v in (templates or {}).items()}}
    loaded = load_view(MemoryRepoView(files), root="defs")
    assert loaded.problems == [], loaded.problems
    return loaded.automations["demo"]


def problems_of(spec: str, templates: dict[str, str] | None = None) -> list[str]:
    files = {"defs/a.yaml": spec, **{f"defs/{k}": v for k, v in (templates or {}).items()}}
    return [str(p) for p in load_view(MemoryRepoView(files), root="defs").problems]


def quoted(pattern: str) -> str:
    return "'" + pattern.replace("'", "''") + "'"


@pytest.mark.parametrize(("pattern", "construct"), CONSTRUCTS)
def test_a_validation_regex_re2_cannot_run_is_refused_at_load(pattern: str, construct: str) -> None:
    spec = HEADER + "  title: x\n  configuration:\n"
    spec += f"    - {{name: a, type: string, validation: {{regex: {quoted(pattern)}}}}}\n"
    assert problems_of(spec) == [
        f"defs/a.yaml:7: document 1: spec.configuration[0].validation.regex: uses {construct}{TAIL}"
    ]


@pytest.mark.parametrize(("pattern", "construct"), CONSTRUCTS)
def test_a_literal_replacement_regex_re2_cannot_run_is_refused_at_load(
    pattern: str, construct: str
) -> None:
    spec = HEADER + "  title: x\n  updates:\n    regexReplacements:\n"
    spec += f"      - {{file: values.yaml, regex: {quoted(pattern)}, replacement: b}}\n"
    assert problems_of(spec) == [
        f"defs/a.yaml:8: document 1: spec.updates.regexReplacements[0].regex: uses {construct}{TAIL}"
    ]


@pytest.mark.parametrize(("pattern", "construct"), CONSTRUCTS[:4])
def test_a_templated_replacement_regex_is_checked_when_rendered_with_the_same_words(
    pattern: str, construct: str
) -> None:
    templated = "{{ context.name }}" + pattern
    spec = BASIC + "  updates:\n    regexReplacements:\n"
    spec += f"      - {{file: values.yaml, regex: {quoted(templated)}, replacement: b}}\n"
    a = automation(spec)
    with pytest.raises(RenderError) as err:
        render_automation(a, {"name": "x"}, REPO)
    assert (
        str(err.value) == f"demo: spec.updates.regexReplacements[0].regex: uses {construct}{TAIL}"
    )


def test_literal_patterns_in_templates_are_checked_at_load_and_at_render() -> None:
    template = "a: 1\nb: {{ context.name | regex_replace('(?<=a)b', '') }}\n"
    spec = BASIC + "  creates:\n    templates:\n      - {source: t.yaml, destination: out.yaml}\n"
    assert problems_of(spec, {"t.yaml": template}) == [
        "defs/a.yaml:10: spec.creates.templates[0].source: in t.yaml at line 2: regex_replace "
        f"pattern '(?<=a)b' uses a lookbehind (?<=...){TAIL}"
    ]
    title = HEADER + r"""  title: '{{ "a" if "x" is match("(x)\\1") else "b" }}'""" + "\n"
    assert problems_of(title) == [
        f"defs/a.yaml:5: spec.title: match pattern '(x)\\\\1' uses a backreference \\1{TAIL}",
    ]  # the message is the title (none is given): reported once
    # built at render time: the same words, from the template and line
    with pytest.raises(RenderError) as err:
        render_string(
            "x\n{{ 'ab' | regex_replace(context.p, '') }}", {"context": {"p": "(?=a)"}}, "t.yaml"
        )
    assert (
        str(err.value) == f"t.yaml:2: regex_replace pattern '(?=a)' uses a lookahead (?=...){TAIL}"
    )


def test_nested_quantifiers_run_in_linear_time() -> None:
    evil = "a" * 200_000 + "!"
    assert not regex.fullmatch(r"^(a+)+$", evil)
    assert (
        render_string("{{ context.s is match('^(a+)+$') }}", {"context": {"s": evil}}, "t")
        == "False"
    )
    field = ConfigField("name", "string", regex=r"^(a|a)*$")
    with pytest.raises(InputError) as err:
        validate_inputs((field,), {"name": "a" * 60_000 + "!"})
    assert "must match the pattern ^(a|a)*$" in str(err.value)
    spec = BASIC + "  updates:\n    regexReplacements:\n"
    spec += "      - {file: big.txt, regex: '^(x+x+)+y$', replacement: z}\n"
    repo = MemoryRepoView({"big.txt": "x" * 100_000 + "\n"})
    assert len(render_automation(automation(spec), {"name": "x"}, repo).changes) == 0


@pytest.mark.parametrize(
    ("pattern", "template", "text"),
    [
        (r"version: (.*) # VERSION", r"version: 2 # VERSION", "version: 1 # VERSION\n"),
        (r"(\w+)=(\w+)", r"\2=\1", "a=b c=d"),
        (r"(\w+)=(\w+)", r"\g<2>=\g<1>", "a=b c=d"),
        (r"(?P<k>\w+)=(?P<v>\w+)", r"\g<v>=\g<k>", "a=b"),
        (r"(a)|(b)", r"[\1\2]", "ab"),
        (r"x*", "-", "abxd"),
        (r"", "-", "héllo"),
        (r"^", "> ", "a\nb\n"),
        (r"b$", "B", "ab\nab"),
        (r"a", r"$1 \n\t \\ \. \0", "a"),
        (r"(a)", r"\1\0\101", "a"),
        (r"é+", "E", "aééb é"),
    ],
)
def test_replacements_keep_pythons_meaning(pattern: str, template: str, text: str) -> None:
    expected = re.subn(pattern, template, text, flags=re.MULTILINE)
    got = regex.substitute(
        regex.compile_regex(pattern, multiline=True), template, text, limit=MiB, what="x"
    )
    assert got == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (r"\9", "invalid group reference 9 at position 1"),
        (r"\g<3>", "invalid group reference 3 at position 3"),
        (r"\g<nope>", "unknown group name 'nope'"),
        (r"\q", r"bad escape \q at position 0"),
    ],
)
def test_bad_replacements_fail_like_python(template: str, message: str) -> None:
    with pytest.raises((re.error, IndexError), match=re.escape(message)):
        re.sub(r"(a)", template, "a")
    with pytest.raises(regex.RegexError, match=re.escape(message)):
        regex.substitute(regex.compile_regex(r"(a)"), template, "a", limit=MiB, what="x")


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        (r"^ab\Z", "ab", True),
        (r"^ab\Z", "ab\n", False),
        (r"^a{,2}$", "aa", True),
        (r"^\u00e9$", "é", True),
        (r"^[\b]$", "\b", True),
        (r"^\101$", "A", True),
    ],
)
def test_python_spellings_re2_lacks_are_rewritten(pattern: str, text: str, expected: bool) -> None:
    assert bool(re.search(pattern, text)) is expected
    assert regex.search(pattern, text) is expected


PIECES = ["a", "b", "ab", ".", "[ab]", "[^a]", "\\n", "(a|b)", "(?:ab|a)", "x"]


@st.composite
def safe_patterns(draw: st.DrawFn, depth: int = 0) -> str:
    parts = draw(st.lists(st.sampled_from(PIECES), min_size=1, max_size=4))
    out = ""
    for part in parts:
        if depth < 2 and draw(st.booleans()):
            part = "(" + draw(safe_patterns(depth + 1)) + ")"
        # greedy quantifiers: an empty match then wins only where nothing longer matches
        # (after an empty match RE2 goes on a character later; Python first retries the
        # same place for a longer match, which only lazy or empty-first patterns see)
        out += part + draw(st.sampled_from(["", "", "*", "+", "?", "{1,2}", "+?"]))
    return out


@settings(max_examples=300, derandomize=True, deadline=None)
@given(safe_patterns(), st.text(alphabet="abx\n", max_size=30))
def test_re2_finds_what_python_finds(pattern: str, text: str) -> None:
    """Where both can run a pattern (leftmost-first, no lookaround), RE2 matches what
    Python's re matches: the whole match of every replacement, search and fullmatch."""
    compiled = regex.compile_regex(pattern, multiline=True)
    expected = re.subn(pattern, r"<\g<0>>", text, flags=re.MULTILINE)
    assert regex.substitute(compiled, r"<\g<0>>", text, limit=MiB, what="x") == expected
    assert regex.search(pattern, text) is (re.search(pattern, text) is not None)
    assert regex.fullmatch(pattern, text) is (re.fullmatch(pattern, text) is not None)


# ---------------------------------------------------------------- templates

BIG = "x" * 60_000
CTX = {"context": {"name": "web", "big": BIG, "n": 3}}
TOO_LONG = "template string exceeds 1 MiB (max_string) in "
TOO_MANY = "template list exceeds 100000 items (max_list) in "
DOUBLE = "{% set a = 'aaaaaaaaaaaaaaaa' %}" + "{% set a = a ~ a %}" * 30
NESTED = "{% set a = [context.big] %}" + "{% set a = [a, a] %}" * 30
BLOCK = "{% set x %}{% for i in range(100000) %}{{ context.big }}{% endfor %}{% endset %}"

TEMPLATE_ATTACKS = [
    (DOUBLE, TOO_LONG + "'~'"),
    (
        "{% set ns = namespace(a='ab') %}{% for i in range(40) %}{% set ns.a = ns.a ~ ns.a %}{% endfor %}",
        TOO_LONG + "'~'",
    ),
    ("{% set a = 'ab' %}" + "{% set a = a + a %}" * 30, TOO_LONG + "'+'"),
    ("{{ 'x' * 100000000 }}", TOO_LONG + "'*'"),
    ("{{ [1] * 100000000 }}", TOO_MANY + "'*'"),
    ("{% set l = [1] %}" + "{% set l = l + l %}" * 20, TOO_MANY + "'+'"),
    ("{{ '{:>40000000}'.format(1) }}", TOO_LONG + "str.format()"),
    ("{{ '{:.40000000f}'.format(1.0) }}", TOO_LONG + "str.format()"),
    ("{{ '{:{w}}'.format(1, w=40000000) }}", TOO_LONG + "str.format()"),
    ("{{ ('{0}' * 100000).format(context.big) }}", TOO_LONG + "str.format()"),
    ("{{ '{x:>40000000}'.format_map({'x': 1}) }}", TOO_LONG + "str.format()"),
    ("{{ '%40000000s' % 'x' }}", TOO_LONG + "'%'"),
    ("{{ '%*s' % (40000000, 'x') }}", TOO_LONG + "'%'"),
    ("{{ '%(a)s%(a)s%(a)s' % {'a': context.big * 8} }}", TOO_LONG + "'%'"),
    ("{{ '%.40000000f' | format(1.0) }}", TOO_LONG + "filter format"),
    ("{{ 'x' | center(40000000) }}", TOO_LONG + "filter center"),
    ("{{ 'a\nb' | indent(40000000) }}", TOO_LONG + "filter indent"),
    ("{{ context.big | wordwrap(1, wrapstring=context.big) }}", TOO_LONG + "filter wordwrap"),
    ("{{ context.big | replace('x', context.big) }}", TOO_LONG + "filter replace"),
    ("{{ ([context.big] * 20) | join }}", TOO_LONG + "filter join"),
    ("{{ ([context.big] * 20) | join(context.big) }}", TOO_LONG + "filter join"),
    ("{{ context.big.replace('', context.big) }}", TOO_LONG + "str.replace()"),
    ("{{ 'x'.ljust(40000000) }}", TOO_LONG + "str.ljust()"),
    ("{{ 'x'.center(40000000) }}", TOO_LONG + "str.center()"),
    ("{{ 'x'.zfill(40000000) }}", TOO_LONG + "str.zfill()"),
    ("{{ ('\t' * 100000).expandtabs(10000) }}", TOO_LONG + "str.expandtabs()"),
    ("{{ context.big.join([context.big] * 100) }}", TOO_LONG + "str.join()"),
    ("{{ ('a' * 1000) | list | length }}", "OK"),
    ("{{ 'ab'.translate({97: context.big * 17}) }}", TOO_LONG + "str.translate()"),
    ("{{ ('a' * 60000).translate({97: context.big}) }}", TOO_LONG + "str.translate()"),
    ("{{ [context.big] * 100000 }}", TOO_LONG + "output"),
    (NESTED + "{{ a }}", TOO_LONG + "output"),
    (NESTED + "{{ a | tojson }}", TOO_LONG + "filter tojson"),
    (NESTED + "{{ a | to_yaml }}", TOO_LONG + "filter to_yaml"),
    (NESTED + "{{ a | to_json(2) }}", TOO_LONG + "filter to_json"),
    (NESTED + "{{ a | string }}", TOO_LONG + "filter string"),
    (NESTED + "{{ a | pprint }}", TOO_LONG + "filter pprint"),
    (NESTED + "{{ '%s' % (a,) }}", TOO_LONG + "'%'"),
    (NESTED + "{{ 'x' ~ a }}", TOO_LONG + "'~'"),
    (NESTED + "{{ '{}'.format(a) }}", TOO_LONG + "str.format()"),
    (NESTED + "{{ '{!r}'.format(a) }}", TOO_LONG + "str.format()"),
    (
        "{% set a = [1] %}" + "{% set a = [a, a, a, a] | sum(start=[]) %}" * 30,
        TOO_MANY + "filter sum",
    ),
    ("{{ range(1000000) | list }}", TOO_MANY + "range()"),
    ("{{ [1] | batch(100000000, 'x') | list }}", TOO_MANY + "filter batch"),
    ("{{ [1] | slice(100000000) | list }}", TOO_MANY + "filter slice"),
    ("{{ ('x' * 200000) | list | length }}", TOO_MANY + "filter list"),
    ("{{ dict.fromkeys(range(100000), context.big) }}", TOO_LONG + "output"),
    ("{{ ('x,' * 200000).split(',') | length }}", TOO_MANY + "str.split()"),
    (BLOCK, TOO_LONG + "a block"),
    (
        "{% macro m() %}{% for i in range(100000) %}{{ context.big }}{% endfor %}{% endmacro %}{% set y = m() %}",
        TOO_LONG + "a block",
    ),
    (
        "{% filter upper %}{% for i in range(100000) %}{{ context.big }}{% endfor %}{% endfilter %}",
        TOO_LONG + "a block",
    ),
    ("{{ 9 ** 99999999 }}", "template number exceeds 16384 bits in '**'"),
    (
        "{% set a = 10 ** 256 %}" + "{% set a = a * a %}" * 20,
        "template number exceeds 16384 bits in '*'",
    ),
    ("{{ lipsum(100000) }}", TOO_LONG + "lipsum()"),
    ("{{ context.big | regex_replace('(x)', '\\\\1' * 40) }}", TOO_LONG + "filter regex_replace"),
    ("{{ context.big" + " | b64encode" * 11 + " }}", TOO_LONG + "filter b64encode"),
    (
        "{% for i in range(100) %}{{ context.big }}{% endfor %}",
        "rendered output exceeds 2 MiB (max_output_file_bytes)",
    ),
]


@pytest.mark.parametrize(("source", "message"), TEMPLATE_ATTACKS)
def test_template_attacks_fail_fast_with_the_limit_named(source: str, message: str) -> None:
    if message == "OK":
        render_string(source, CTX, "t.yaml")
        return
    with pytest.raises(RenderError) as err:
        render_string(source, CTX, "templates/t.yaml")
    text = str(err.value)
    assert text.startswith("templates/t.yaml"), text
    assert text.endswith(message), text
    assert "Traceback" not in text


@pytest.mark.parametrize(
    "source",
    [DOUBLE, "{{ '{:>40000000}'.format(1) }}", NESTED + "{{ a | tojson }}", BLOCK],
)
def test_template_attacks_are_refused_before_the_big_value_is_built(source: str) -> None:
    render_string("{{ 1 }}", CTX, "warm-up")
    # the limit is 1 MiB; building the attack's value would take 64 MiB or more
    assert peak_memory(lambda: render_string(source, CTX, "t.yaml")) < 8 * MiB


def test_the_limits_of_the_caller_apply() -> None:
    small = Limits(max_string=1000, max_list=10, max_output_file_bytes=5000)
    with pytest.raises(RenderError, match=re.escape("exceeds 1000 bytes (max_string) in '~'")):
        render_string("{{ 'x' * 600 ~ 'y' * 600 }}", CTX, "t", limits=small)
    with pytest.raises(RenderError, match=re.escape("exceeds 10 items (max_list) in range()")):
        render_string("{% for i in range(11) %}{% endfor %}", CTX, "t", limits=small)
    with pytest.raises(RenderError, match=re.escape("exceeds 5000 bytes (max_output_file_bytes)")):
        render_string("{% for i in range(6) %}{{ 'x' * 999 }}{% endfor %}", CTX, "t", limits=small)
    assert render_string("{{ 'x' * 600 ~ 'y' * 600 }}", CTX, "t") == "x" * 600 + "y" * 600


def test_native_values_are_bounded_too() -> None:
    with pytest.raises(RenderError) as err:
        render_value("{{ [context.big] * 50 }}", CTX, "demo: spec.updates.yamlEdits[0].value")
    assert str(err.value) == (
        "demo: spec.updates.yamlEdits[0].value: rendered output exceeds 2 MiB "
        "(max_output_file_bytes)"
    )


def test_text_size_counts_aliases_but_stops_at_its_budget() -> None:
    nested: Any = ["x" * 1000]
    for _ in range(40):  # 2**40 references: far too many to walk
        nested = [nested, nested]
    assert text_size(nested, 10_000) > 10_000
    assert text_size({"a": [1, "bc"]}, 10**6) >= len(str({"a": [1, "bc"]}))
    assert (
        size_text(MiB) == "1 MiB" and size_text(65536) == "64 KiB" and size_text(10) == "10 bytes"
    )


# a small grammar of the constructs that build big values, for the property tests
ATOMS = ["'ab'", "context.s", "context.n", "a", "[a]", "[a, a]", "range(context.n)", "'%s'"]
WIDTHS = ["9", "999", "99999", "9999999"]


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(ATOMS))
    x = draw(expressions(depth + 1))
    y = draw(expressions(depth + 1))
    w = draw(st.sampled_from(WIDTHS))
    return draw(
        st.sampled_from(
            [
                f"({x} ~ {y})",
                f"({x} + {y})",
                f"({x} * {w})",
                f"({x} % {y})",
                f"({x} ** {w})",
                f"'{{:>{w}}}'.format({x})",
                f"'{{0}}{{0}}'.format({x})",
                f"({x} | join({y}))",
                f"({x} | center({w}))",
                f"({x} | indent({w}))",
                f"({x} | replace('a', {y}))",
                f"({x} | wordwrap(1, wrapstring={y}))",
                f"({x} | list)",
                f"([{x}, {y}] | sum(start=[]))",
                f"({x} | batch({w}, 'z') | list)",
                f"range({w})",
                f"({x} | tojson)",
                f"({x} | to_yaml)",
                f"({x} | string).ljust({w})",
                f"('%*s' % ({w}, {x}))",
                f"({x} | regex_replace('(a)', '\\\\1\\\\1'))",
            ]
        )
    )


SMALL = Limits(max_string=4096, max_list=500, max_output_file_bytes=16384)


@settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(expressions(), min_size=1, max_size=6), st.integers(0, 3))
def test_random_dangerous_templates_render_within_the_limits_or_fail_cleanly(
    steps: list[str], output: int
) -> None:
    source = "{% set a = 'ab' %}" + "".join(f"{{% set a = {s} %}}" for s in steps)
    source += "{{ a }}" * output
    try:
        out = render_string(source, {"context": {"s": "xy" * 100, "n": 7}}, "t", limits=SMALL)
    except RenderError as exc:
        assert str(exc).startswith("t"), exc
        return
    assert len(out) <= SMALL.max_output_file_bytes


PATTERN_PIECES = [
    "a",
    "b",
    ".",
    "(a+)+",
    "(a|a)*",
    "(a*)*",
    "(.*a){3}",
    "\\1",
    "(?=a)",
    "(?<!b)",
    "a++",
    "(?>a)",
    "[ab]",
    "x{2,5}",
]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.lists(st.sampled_from(PATTERN_PIECES), min_size=1, max_size=6),
    st.sampled_from(["match", "regex_replace"]),
)
def test_random_dangerous_regexes_run_on_re2_or_are_refused_by_name(
    pieces: list[str], kind: str
) -> None:
    pattern = "^" + "".join(pieces) + "$"
    ctx = {"context": {"p": pattern, "s": "a" * 3000 + "!"}}
    source = (
        "{{ context.s is match(context.p) }}"
        if kind == "match"
        else "{{ context.s | regex_replace(context.p, 'z') | length }}"
    )
    try:
        out = render_string(source, ctx, "t", limits=SMALL)
    except RenderError as exc:
        assert "which RE2 does not support" in str(exc) or "not a valid regular expression" in str(
            exc
        )
        return
    assert out in ("True", "False") or out.isdigit()


# ---------------------------------------------------------------- render output

REPO = MemoryRepoView({"values.yaml": "image:\n  tag: 1.0.0\n", "big.txt": "y" * 3 * MiB})


def test_a_rendered_file_over_the_limit_names_the_field_and_file() -> None:
    spec = BASIC + "  creates:\n    templates:\n      - {source: t, destination: out.txt}\n"
    a = automation(spec, {"t": "{% for i in range(40) %}{{ 'x' * 60000 }}{% endfor %}"})
    with pytest.raises(RenderError) as err:
        render_automation(a, {"name": "x"}, REPO)
    assert str(err.value) == "t: rendered output exceeds 2 MiB (max_output_file_bytes)"
    # non-ASCII: characters within the limit, bytes over it
    b = automation(spec, {"t": "{% for i in range(20) %}{{ 'é' * 60000 }}{% endfor %}"})
    with pytest.raises(RenderError) as err:
        render_automation(b, {"name": "x"}, REPO)
    assert str(err.value) == (
        "demo: spec.creates.templates[0]: out.txt would be 2400000 bytes, more than 2 MiB "
        "(max_output_file_bytes)"
    )


def test_a_change_over_the_total_limit_is_refused_when_it_gets_there() -> None:
    small = Limits(max_output_file_bytes=1000, max_output_bytes=2500)
    spec = BASIC + "  creates:\n    templates:\n"
    spec += "".join(f"      - {{source: t, destination: out{i}.txt}}\n" for i in range(5))
    a = automation(spec, {"t": "{{ 'x' * 900 }}"})
    with pytest.raises(RenderError) as err:
        render_automation(a, {"name": "x"}, REPO, limits=small)
    assert str(err.value) == (
        "demo: spec.creates.templates[2]: writing out2.txt takes the change over 2500 bytes "
        "in all (max_output_bytes)"
    )
    assert len(render_automation(a, {"name": "x"}, REPO).changes) == 5


def test_a_replacement_that_inflates_a_file_is_stopped_before_it_is_built() -> None:
    spec = BASIC + "  updates:\n    regexReplacements:\n"
    spec += "      - {file: values.yaml, regex: '(.)', replacement: '" + "\\1" * 40 + "'}\n"
    repo = MemoryRepoView({"values.yaml": "v" * 100_000})
    with pytest.raises(RenderError) as err:
        render_automation(automation(spec), {"name": "x"}, repo)
    assert str(err.value) == (
        "demo: spec.updates.regexReplacements[0]: values.yaml after the replacement would "
        "exceed 2 MiB (max_output_file_bytes)"
    )
    # a file already bigger than the limit may still be edited
    spec = BASIC + "  updates:\n    regexReplacements:\n"
    spec += "      - {file: big.txt, regex: '^y', replacement: z}\n"
    result = render_automation(automation(spec), {"name": "x"}, REPO)
    assert result.changes.paths() == ["big.txt"]


# ---------------------------------------------------------------- inputs

FIELDS = (ConfigField("name", "string"), ConfigField("cfg", "json", optional=True))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "x" * 70_000}, "input name: is larger than 64 KiB (max_input_bytes)"),
        ({"name": "é" * 40_000}, "input name: is larger than 64 KiB (max_input_bytes)"),
        (
            {"name": "x", "cfg": {"a": ["x" * 1000] * 100}},
            "input cfg: is larger than 64 KiB (max_input_bytes)",
        ),
        (
            {"name": "x", "cfg": "[" + "1," * 40_000 + "1]"},
            "input cfg: is larger than 64 KiB (max_input_bytes)",
        ),
        (
            {f"k{i}": "1" for i in range(201)},
            "201 input values given; at most 200 are accepted (max_inputs)",
        ),
    ],
)
def test_inputs_are_bounded_in_size_and_number(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as err:
        validate_inputs(FIELDS, raw)
    assert str(err.value) == message


def test_an_unknown_input_with_a_huge_name_is_shown_cut() -> None:
    with pytest.raises(InputError) as err:
        validate_inputs(FIELDS, {"name": "x", "n" * 5000: "1"})
    assert str(err.value) == f"input {'n' * 64}...: is not an input of this automation"


def test_input_limits_come_from_the_caller() -> None:
    small = Limits(max_input_bytes=10, max_inputs=1)
    with pytest.raises(InputError, match=re.escape("is larger than 10 bytes (max_input_bytes)")):
        validate_inputs(FIELDS, {"name": "x" * 11}, small)
    with pytest.raises(InputError, match=re.escape("at most 1 are accepted (max_inputs)")):
        validate_inputs(FIELDS, {"name": "x", "cfg": "1"}, small)
    assert validate_inputs(FIELDS, {"name": "x" * 10}, small).values["name"] == "x" * 10
    a = automation(BASIC)
    with pytest.raises(InputError, match=re.escape("(max_input_bytes)")):
        render_automation(a, {"name": "x" * 11}, REPO, limits=small)
