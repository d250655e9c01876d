"""Unit tests of byte-surgical YAML edits: every rule, on small literal files."""

from __future__ import annotations

import datetime as dt

import pytest
from ruamel.yaml import YAML

from prbot.automation.yamledit import (
    YamlEditError,
    YamlPath,
    append_items,
    merge_overlay,
    parse_path,
    set_value,
)


def load(text: str) -> object:
    return YAML(typ="safe", pure=True).load(text)


def load_all(text: str) -> list[object]:
    return list(YAML(typ="safe", pure=True).load_all(text))


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("text", "document", "steps"),
    [
        ("spec.helm.values.image.tag", 0, ("spec", "helm", "values", "image", "tag")),
        ("images[0].newTag", 0, ("images", 0, "newTag")),
        ("1:spec.ref.semver", 1, ("spec", "ref", "semver")),
        ("0:a", 0, ("a",)),
        ("a.b[2].c", 0, ("a", "b", 2, "c")),
        ("[0].name", 0, (0, "name")),
        ("jobs.build.steps[0].uses", 0, ("jobs", "build", "steps", 0, "uses")),
        ("a[0][1]", 0, ("a", 0, 1)),
        ('annotations."app.kubernetes.io/name"', 0, ("annotations", "app.kubernetes.io/name")),
        ("annotations.'app.kubernetes.io/name'", 0, ("annotations", "app.kubernetes.io/name")),
        ("'it''s'.x", 0, ("it's", "x")),
        ('"a\\"b\\\\c"', 0, ('a"b\\c',)),
        ('"x[0]"[1]', 0, ("x[0]", 1)),
        ("12:key with space", 12, ("key with space",)),
        ("a:b", 0, ("a:b",)),
        ("ports.80", 0, ("ports", "80")),
    ],
)
def test_parse_path(text: str, document: int, steps: tuple[str | int, ...]) -> None:
    assert parse_path(text) == YamlPath(document, steps)


@pytest.mark.parametrize(
    "path",
    [
        YamlPath(0, ("a", "b")),
        YamlPath(3, ("spec", 0, "x")),
        YamlPath(0, (0, "name")),
        YamlPath(0, ("app.kubernetes.io/name", "x")),
        YamlPath(0, ("1:x",)),
        YamlPath(0, ('q"uote', "it's", "")),
        YamlPath(0, ("a[0]", " padded ")),
    ],
)
def test_path_str_round_trips(path: YamlPath) -> None:
    assert parse_path(str(path)) == path


def test_path_str_text_form() -> None:
    assert str(parse_path("1:spec.containers[0].image")) == "1:spec.containers[0].image"
    assert str(YamlPath(0, ("metadata", "annotations", "a.b/c"))) == 'metadata.annotations."a.b/c"'


@pytest.mark.parametrize(
    "bad",
    ["", "1:", "a..b", "a.", ".a", "a[", "a[x]", "a[-1]", 'a."b', "a]b", 'a"b"', "a.[0]", "[]"],
)
def test_parse_path_rejects_bad_syntax(bad: str) -> None:
    with pytest.raises(YamlEditError) as err:
        parse_path(bad)
    assert repr(bad) in str(err.value)


# --------------------------------------------------------------------------- scalars


def test_plain_scalar_keeps_comments_and_everything_else() -> None:
    text = "# head\nimage:\n  repo: nginx   # the repo\n  tag: 1.2.3  # bump me\n\nn: 1\n"
    out = set_value(text, "image.tag", "1.2.4")
    assert out == "# head\nimage:\n  repo: nginx   # the repo\n  tag: 1.2.4  # bump me\n\nn: 1\n"


def test_string_path_and_yamlpath_are_equivalent() -> None:
    text = "a:\n  b: x\n"
    assert set_value(text, YamlPath(0, ("a", "b")), "y1") == set_value(text, "a.b", "y1")


@pytest.mark.parametrize(
    ("new", "written"),
    [
        ("1.2.4", "1.2.4"),
        ("v2", "v2"),
        ("a:b", "a:b"),
        ("a#b", "a#b"),
        ("x-y_z/w@sha256:abc", "x-y_z/w@sha256:abc"),
        ("with space", "with space"),
        ("true", '"true"'),
        ("False", '"False"'),
        ("yes", '"yes"'),
        ("on", '"on"'),
        ("off", '"off"'),
        ("y", '"y"'),
        ("1.10", '"1.10"'),
        ("10", '"10"'),
        ("0x1F", '"0x1F"'),
        ("0o17", '"0o17"'),
        ("1e3", '"1e3"'),
        ("1:20", '"1:20"'),
        (".inf", '".inf"'),
        ("~", '"~"'),
        ("", '""'),
        ("null", '"null"'),
        ("Null", '"Null"'),
        ("2024-01-02", '"2024-01-02"'),
        ("<<", '"<<"'),
        (" lead", '" lead"'),
        ("trail ", '"trail "'),
        ("-x", '"-x"'),
        ("- x", '"- x"'),
        ("a: b", '"a: b"'),
        ("a #b", '"a #b"'),
        ("ends:", '"ends:"'),
        ("#x", '"#x"'),
        ("&a", '"&a"'),
        ("*a", '"*a"'),
        ("!x", '"!x"'),
        ("|x", '"|x"'),
        (">x", '">x"'),
        ("'x", '"\'x"'),
        ('"x', '"\\"x"'),
        ("%x", '"%x"'),
        ("@x", '"@x"'),
        ("`x", '"`x"'),
        ("[x", '"[x"'),
        ("{x", '"{x"'),
        ("?x", '"?x"'),
        (",x", '",x"'),
        (":x", '":x"'),
        ("---", '"---"'),
        ("two\nlines", '"two\\nlines"'),
        ("tab\there", '"tab\\there"'),
        ("bell\x07", '"bell\\a"'),
        ("ünïcødé ✓", "ünïcødé ✓"),
    ],
)
def test_plain_stays_plain_only_when_it_reads_back_the_same(new: str, written: str) -> None:
    out = set_value("k: old  # c\nz: 1\n", "k", new)
    assert out == f"k: {written}  # c\nz: 1\n"
    assert load(out) == {"k": new, "z": 1}


@pytest.mark.parametrize(
    ("new", "written"),
    [
        ("1.2.4", '"1.2.4"'),
        ("true", '"true"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("two\nlines", '"two\\nlines"'),
        ("nul\x00", '"nul\\0"'),
        ("\x01", '"\\x01"'),
        ("bom\ufeff", '"bom\\ufeff"'),
    ],
)
def test_double_quoted_stays_double_quoted(new: str, written: str) -> None:
    out = set_value('k: "old"\n', "k", new)
    assert out == f"k: {written}\n"
    assert load(out) == {"k": new}


@pytest.mark.parametrize(
    ("new", "written"),
    [
        ("0.3", "'0.3'"),
        ("it's", "'it''s'"),
        ('say "hi"', "'say \"hi\"'"),
        (" padded ", "' padded '"),
        ("two\nlines", '"two\\nlines"'),  # single quotes cannot hold a line break on one line
    ],
)
def test_single_quoted_stays_single_quoted(new: str, written: str) -> None:
    out = set_value("k: '0.2'\n", "k", new)
    assert out == f"k: {written}\n"
    assert load(out) == {"k": new}


@pytest.mark.parametrize(
    ("old", "new", "written"),
    [
        ("1", 2, "2"),
        ('"1"', 2, "2"),
        ("x", 7, "7"),
        ("x", -3, "-3"),
        ("x", 1.5, "1.5"),
        ("x", 1e20, "1.0e+20"),
        ("x", 1e-05, "1.0e-05"),
        ("x", float("inf"), ".inf"),
        ("x", float("-inf"), "-.inf"),
        ("x", True, "true"),
        ("'x'", False, "false"),
        ("x", None, "null"),
        ("1", "2", '"2"'),
        ("true", "false", '"false"'),
    ],
)
def test_non_strings_are_written_plain(old: str, new: object, written: str) -> None:
    out = set_value(f"k: {old}\n", "k", new)
    assert out == f"k: {written}\n"
    got = load(out)["k"]
    assert got == new and type(got) is type(new)


def test_nan_is_written_plain() -> None:
    assert set_value("k: 1\n", "k", float("nan")) == "k: .nan\n"


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("k: 1\n", "k", 1),
        ("k: '1'\n", "k", "1"),
        ("k: ~\n", "k", None),
        ("k:\n", "k", None),
        ("k: null\n", "k", None),
        ("k: yes\n", "k", "yes"),  # YAML 1.2: a string already
        ("k: true\n", "k", True),
        ("k: 1.5\n", "k", 1.5),
        ("k: [1, 2]\n", "k", [1, 2]),
        ("k:\n  a: 1\n  b: [x]\n", "k", {"b": ["x"], "a": 1}),
        ("a: &x 1\nk: *x\n", "k", 1),
        ("k: |\n  two\n  lines\n", "k", "two\nlines\n"),
    ],
)
def test_unchanged_value_returns_the_text_unchanged(text: str, path: str, value: object) -> None:
    assert set_value(text, path, value) is text


def test_same_value_other_type_is_a_change() -> None:
    assert set_value("k: 1\n", "k", "1") == 'k: "1"\n'
    assert set_value("k: 1\n", "k", True) == "k: true\n"
    assert set_value("k: 1\n", "k", 1.0) == "k: 1.0\n"


def test_tilde_null_is_kept_when_unchanged() -> None:
    assert set_value("k: ~\nj: 1\n", "k", None) == "k: ~\nj: 1\n"
    assert set_value("k: ~\n", "k", "x") == "k: x\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("k:\nj: 1\n", "k: v\nj: 1\n"),
        ("k:  # note\nj: 1\n", "k: v  # note\nj: 1\n"),
        ("k: \nj: 1\n", "k: v\nj: 1\n"),
        ("k: ~\nj: 1\n", "k: v\nj: 1\n"),
        ("k: null # note\n", "k: v # note\n"),
        ("- a\n-\n- b\n", None),
    ],
)
def test_empty_and_null_values_get_set_on_the_key_line(text: str, expected: str | None) -> None:
    if expected is None:
        assert set_value(text, "[1]", "v") == "- a\n- v\n- b\n"
    else:
        assert set_value(text, "k", "v") == expected


def test_multi_line_plain_scalar_is_replaced_whole() -> None:
    text = "description: A chart\n  folded over\n  three lines\nversion: 1\n"
    assert set_value(text, "description", "short") == "description: short\nversion: 1\n"


def test_multi_line_double_quoted_scalar_is_replaced_whole() -> None:
    text = 'k: "a\n  b"\nj: 1\n'
    assert set_value(text, "k", "c") == 'k: "c"\nj: 1\n'


# --------------------------------------------------------------------------- flow collections


@pytest.mark.parametrize(
    ("new", "written"),
    [
        ("c", "c"),
        ("c d", "c d"),
        ("c,d", '"c,d"'),
        ("[c]", '"[c]"'),
        ("{c}", '"{c}"'),
        ("c]", '"c]"'),
    ],
)
def test_plain_in_flow_sequence_avoids_flow_indicators(new: str, written: str) -> None:
    out = set_value("k: [a, b]  # list\n", "k[0]", new)
    assert out == f"k: [{written}, b]  # list\n"
    assert load(out) == {"k": [new, "b"]}


def test_flow_mapping_value() -> None:
    text = "k: {a: b, c: d}\n"
    assert set_value(text, "k.c", "x,y") == 'k: {a: b, c: "x,y"}\n'
    assert set_value(text, "k.a", 3) == "k: {a: 3, c: d}\n"


def test_flow_with_spaces_inside_brackets() -> None:
    text = "imgs: [ a, b ]\n"
    assert set_value(text, "imgs[1]", "c") == "imgs: [ a, c ]\n"


def test_flow_mapping_empty_value() -> None:
    assert set_value("k: {a: , b: 1}\n", "k.a", "x") == "k: {a: x, b: 1}\n"
    assert set_value("k: {a, b: 1}\n", "k.a", "x") == "k: {a: x, b: 1}\n"


def test_multi_line_flow_sequence() -> None:
    text = "args: [\n  --a,\n  --b\n]\nx: 1\n"
    out = set_value(text, "args[1]", "--c")
    assert out == 'args: [\n  --a,\n  "--c"\n]\nx: 1\n'
    assert set_value(text, "args[2]", "d") == "args: [\n  --a,\n  --b, d\n]\nx: 1\n"


# --------------------------------------------------------------------------- anchors, aliases, merges


def test_anchor_and_tag_properties_are_kept() -> None:
    assert set_value("a: &x 1\nb: *x\n", "a", 2, follow_aliases=True) == "a: &x 2\nb: *x\n"
    assert set_value("a: &x 1\nb: 1\n", "a", 2) == "a: &x 2\nb: 1\n"  # an anchor nobody uses
    assert set_value("a: !!str 1\n", "a", "2") == 'a: !!str "2"\n'
    assert set_value("a: &x !!str v1\n", "a", "v2") == "a: &x !!str v2\n"
    assert set_value("a: !custom v1\n", "a", "v2") == "a: !custom v2\n"
    assert set_value("a: &x\nb: 1\n", "a", "v") == "a: &x v\nb: 1\n"


def test_explicit_core_tag_must_fit_the_new_type() -> None:
    with pytest.raises(YamlEditError, match=r"^a: .*!!str"):
        set_value("a: !!str 1\n", "a", 2)
    with pytest.raises(YamlEditError, match=r"^a: .*!!map"):
        set_value("a: !!map\n  b: 1\n", "a", "s")
    assert set_value("a: !!map\n  b: 1\n", "a", {"c": 2}) == "a: !!map\n  c: 2\n"


def test_replacing_an_alias_node_is_allowed() -> None:
    text = "base: &port 80\nsvc:\n  port: *port\n"
    assert set_value(text, "svc.port", 81) == "base: &port 80\nsvc:\n  port: 81\n"
    assert set_value("a: &l [1]\nb: *l\n", "b", [2]) == "a: &l [1]\nb:\n  - 2\n"
    assert set_value("a: &l [1]\nb: [*l]\n", "b[0]", [2]) == "a: &l [1]\nb: [[2]]\n"


def test_editing_through_an_alias_is_refused() -> None:
    text = "base: &b\n  image: x\nsvc: *b\n"
    with pytest.raises(YamlEditError, match=r"^svc\.image: svc is an alias"):
        set_value(text, "svc.image", "y")
    with pytest.raises(YamlEditError, match=r"^l\[0\]: l is an alias"):
        set_value("a: &l [1]\nl: *l\n", "l[0]", 2)
    with pytest.raises(YamlEditError, match="alias"):
        set_value("a: &l [[1]]\nl:\n- *l\n", "l[0][0]", 2)


def test_editing_the_anchored_node_itself_changes_its_aliases_only_when_followed() -> None:
    text = "base: &b\n  image: x\nsvc: *b\n"
    with pytest.raises(YamlEditError, match=r"^base\.image: .*&b.*would also change svc\.image"):
        set_value(text, "base.image", "z")
    out = set_value(text, "base.image", "z", follow_aliases=True)
    assert out == "base: &b\n  image: z\nsvc: *b\n"


def test_merge_key_leaf_is_created_locally() -> None:
    text = "base: &b\n  x: 1\n  y: 2\nc:\n  <<: *b\n  z: 3\n"
    out = set_value(text, "c.x", 5)
    assert out == "base: &b\n  x: 1\n  y: 2\nc:\n  <<: *b\n  z: 3\n  x: 5\n"
    assert load(out)["c"] == {"x": 5, "y": 2, "z": 3}
    assert load(out)["base"] == {"x": 1, "y": 2}


def test_merge_key_local_override_is_edited_in_place() -> None:
    text = "base: &b\n  x: 1\nc:\n  << : *b\n  x: 2\n"
    assert set_value(text, "c.x", 3) == "base: &b\n  x: 1\nc:\n  << : *b\n  x: 3\n"


def test_merge_from_a_list_of_anchors() -> None:
    text = "a: &a {p: 1}\nb: &b {q: 2}\nc:\n  <<: [*a, *b]\n  r: 3\n"
    out = set_value(text, "c.q", 9)
    assert load(out)["c"] == {"p": 1, "q": 9, "r": 3}
    assert load(out)["b"] == {"q": 2}


def test_setting_inside_an_inherited_mapping_is_refused() -> None:
    text = "base: &b\n  labels:\n    a: 1\nc:\n  <<: *b\n"
    with pytest.raises(YamlEditError, match=r"^c\.labels\.b: c\.labels comes from a merge key"):
        set_value(text, "c.labels.b", 2)


# --------------------------------------------------------------------------- CRLF, BOM, documents


def test_crlf_is_kept() -> None:
    text = "a: 1\r\nb:\r\n  c: x # note\r\n"
    assert set_value(text, "b.c", "z") == "a: 1\r\nb:\r\n  c: z # note\r\n"


def test_crlf_used_for_new_lines() -> None:
    text = "a: 1\r\nb:\r\n  c: x\r\n"
    out = set_value(text, "b.d.e", "z")
    assert out == "a: 1\r\nb:\r\n  c: x\r\n  d:\r\n    e: z\r\n"
    assert set_value(text, "z", [1]) == "a: 1\r\nb:\r\n  c: x\r\nz:\r\n  - 1\r\n"


def test_bom_is_kept() -> None:
    text = "\ufeffa: 1\nb: 2\n"
    assert set_value(text, "a", 3) == "\ufeffa: 3\nb: 2\n"
    assert set_value(text, "c", 3) == "\ufeffa: 1\nb: 2\nc: 3\n"
    assert set_value("\ufeffa: {}\n", "a.b", 1) == "\ufeffa:\n  b: 1\n"


def test_document_prefix_selects_the_document() -> None:
    text = "# lead\n---\nkind: A\nv: 1\n---\nkind: B\nv: 1\n...\n---\nkind: C\n"
    assert set_value(text, "1:v", 2) == text.replace("kind: B\nv: 1", "kind: B\nv: 2")
    assert set_value(text, "v", 2) == text.replace("kind: A\nv: 1", "kind: A\nv: 2")
    assert set_value(text, "2:v", 2) == text + "v: 2\n"


def test_document_out_of_range() -> None:
    with pytest.raises(YamlEditError, match=r"^3:a: document 3 does not exist"):
        set_value("a: 1\n---\na: 2\n", "3:a", 1)
    with pytest.raises(YamlEditError, match=r"^1:a: document 1 does not exist"):
        set_value("", "1:a", 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "a:\n  b: 1\n"),
        ("# only a comment\n", "# only a comment\na:\n  b: 1\n"),
        ("# no final newline", "# no final newline\na:\n  b: 1\n"),
        ("---\n", "---\na:\n  b: 1\n"),
        ("--- # c\n---\nx: 1\n", "--- # c\na:\n  b: 1\n---\nx: 1\n"),
        ("--- ~\n", "---\na:\n  b: 1\n"),
    ],
)
def test_empty_document_gets_the_keys(text: str, expected: str) -> None:
    assert set_value(text, "a.b", 1) == expected


def test_empty_later_document() -> None:
    text = "a: 1\n---\n"
    assert set_value(text, "1:x", 2) == "a: 1\n---\nx: 2\n"


def test_root_sequence_document() -> None:
    text = "- name: a\n  v: 1\n- name: b\n"
    assert set_value(text, "[1].name", "c") == "- name: a\n  v: 1\n- name: c\n"
    assert set_value(text, "[1].v", 2) == "- name: a\n  v: 1\n- name: b\n  v: 2\n"
    assert set_value(text, "[2]", "x") == text + "- x\n"


# --------------------------------------------------------------------------- block scalars


def test_literal_block_scalar_is_re_emitted_as_literal() -> None:
    text = "cfg: |\n  line1\n  line2\n\n# after\nnext: 1\n"
    out = set_value(text, "cfg", "new1\nnew2\nnew3\n")
    assert out == "cfg: |\n  new1\n  new2\n  new3\n\n# after\nnext: 1\n"
    assert load(out) == {"cfg": "new1\nnew2\nnew3\n", "next": 1}


def test_literal_block_scalar_strip_chomping() -> None:
    text = "a:\n  cfg: |-\n      deep\n  b: 1\n"
    out = set_value(text, "a.cfg", "x\ny")
    assert out == "a:\n  cfg: |-\n      x\n      y\n  b: 1\n"
    assert load(out) == {"a": {"cfg": "x\ny", "b": 1}}
    out = set_value(text, "a.cfg", "x\ny\n")
    assert out == "a:\n  cfg: |\n      x\n      y\n  b: 1\n"


def test_folded_block_scalar_is_re_emitted_folded() -> None:
    text = "d: >\n  some long\n  text\nn: 1\n"
    out = set_value(text, "d", "first\nsecond\n")
    assert out == "d: >\n  first\n\n  second\nn: 1\n"
    assert load(out) == {"d": "first\nsecond\n", "n": 1}


def test_block_scalar_with_crlf() -> None:
    text = "a: |\r\n  x\r\n  y\r\nb: 1\r\n"
    out = set_value(text, "a", "p\nq\n")
    assert out == "a: |\r\n  p\r\n  q\r\nb: 1\r\n"


def test_single_line_replaces_block_scalar_on_the_key_line() -> None:
    text = "cfg: |\n  line1\n  line2\n\nnext: 1\n"
    assert set_value(text, "cfg", "one") == "cfg: one\n\nnext: 1\n"
    assert set_value(text, "cfg", "true") == 'cfg: "true"\n\nnext: 1\n'
    assert set_value(text, "cfg", 5) == "cfg: 5\n\nnext: 1\n"


def test_multi_line_value_that_block_style_cannot_hold_falls_back_to_quotes() -> None:
    text = "cfg: |\n  x\n"
    out = set_value(text, "cfg", "  indented first\nline\n")
    assert load(out) == {"cfg": "  indented first\nline\n"}
    out = set_value(text, "cfg", "keep\n\n")
    assert out == 'cfg: "keep\\n\\n"\n'


def test_creating_after_a_block_scalar() -> None:
    text = "a:\n  s: |\n    x\n\n  # c\nb: 1\n"
    out = set_value(text, "a.t", 1)
    assert out == "a:\n  s: |\n    x\n  t: 1\n\n  # c\nb: 1\n"
    assert load(out) == {"a": {"s": "x\n", "t": 1}, "b": 1}


def test_creating_after_a_keep_block_scalar_keeps_its_blank_lines() -> None:
    text = "a:\n  s: |+\n    x\n\nb: 1\n"
    out = set_value(text, "a.t", 1)
    assert load(out) == {"a": {"s": "x\n\n", "t": 1}, "b": 1}
    assert out == "a:\n  s: |+\n    x\n\n  t: 1\nb: 1\n"


# --------------------------------------------------------------------------- creating keys


def test_missing_key_goes_after_the_last_entry_content() -> None:
    text = (
        "top:\n"
        "  a: 1\n"
        "  nested:\n"
        "    deep: x   # trailing comment\n"
        "    # commented: out\n"
        "\n"
        "other: 2\n"
    )
    out = set_value(text, "top.b", "new")
    assert out == (
        "top:\n"
        "  a: 1\n"
        "  nested:\n"
        "    deep: x   # trailing comment\n"
        "  b: new\n"
        "    # commented: out\n"
        "\n"
        "other: 2\n"
    )


def test_missing_key_at_the_end_of_a_file_without_final_newline() -> None:
    assert set_value("a:\n  b: 1", "a.c", 2) == "a:\n  b: 1\n  c: 2"
    assert set_value("a: 1", "b", 2) == "a: 1\nb: 2"


def test_missing_levels_create_a_nested_block() -> None:
    text = "a:\n  x: 1\nz: 0\n"
    out = set_value(text, "a.b.c", "v")
    assert out == "a:\n  x: 1\n  b:\n    c: v\nz: 0\n"
    out = set_value(text, "a.list[0].name", "nm")
    assert out == "a:\n  x: 1\n  list:\n    - name: nm\nz: 0\n"


def test_indentation_step_is_detected() -> None:
    text = "a:\n    x: 1\nz: 0\n"
    assert set_value(text, "a.b.c", "v") == "a:\n    x: 1\n    b:\n        c: v\nz: 0\n"
    assert set_value("a: 1\n", "b.c", 1) == "a: 1\nb:\n  c: 1\n"


def test_dash_style_is_detected() -> None:
    flush = "a:\n- x\nb: 1\n"
    assert set_value(flush, "c", ["w"]) == "a:\n- x\nb: 1\nc:\n- w\n"
    indented = "a:\n  - x\nb: 1\n"
    assert set_value(indented, "c", ["w"]) == "a:\n  - x\nb: 1\nc:\n  - w\n"


def test_new_keys_that_need_quotes() -> None:
    out = set_value("m:\n  a: 1\n", "m.'app.kubernetes.io/name'", "x")
    assert out == "m:\n  a: 1\n  app.kubernetes.io/name: x\n"
    out = set_value("m:\n  a: 1\n", "m.true", "x")
    assert out == 'm:\n  a: 1\n  "true": x\n'
    assert load(set_value("m:\n  a: 1\n", "m.80", "x")) == {"m": {"a": 1, "80": "x"}}


@pytest.mark.parametrize(
    "text",
    ["a: {}\n  # foo: bar\nz: 1\n", "a:\n  # foo: bar\nz: 1\n", "a: ~\n  # foo: bar\nz: 1\n"],
)
def test_empty_flow_mapping_or_null_parent_becomes_a_block(text: str) -> None:
    assert set_value(text, "a.b", "v") == "a:\n  b: v\n  # foo: bar\nz: 1\n"


def test_null_parent_keeps_its_comment_and_anchor() -> None:
    assert set_value("a: null  # x\n", "a.b", 1) == "a:  # x\n  b: 1\n"
    assert set_value("a: &n {}\n", "a.b", 1) == "a: &n\n  b: 1\n"


def test_non_empty_flow_mapping_gets_a_flow_entry() -> None:
    assert set_value("a: {x: 1}\n", "a.w", 2) == "a: {x: 1, w: 2}\n"
    assert set_value("a: {x: 1}\n", "a.w.z", [1]) == "a: {x: 1, w: {z: [1]}}\n"
    assert set_value("a: {x: 1}\n", "a.y", 2) == 'a: {x: 1, "y": 2}\n'  # y is a YAML 1.1 bool


def test_inside_flow_empty_mapping_stays_flow() -> None:
    assert set_value("a: [{}]\n", "a[0].b", 1) == "a: [{b: 1}]\n"
    assert set_value("a: {m: {}}\n", "a.m.b", 1) == "a: {m: {b: 1}}\n"


def test_list_index_equal_to_length_appends() -> None:
    assert set_value("a:\n- 1\n- 2\nb: 0\n", "a[2]", 3) == "a:\n- 1\n- 2\n- 3\nb: 0\n"
    assert set_value("a:\n  - 1\nb: 0\n", "a[1]", 3) == "a:\n  - 1\n  - 3\nb: 0\n"
    assert set_value("a: [1, 2]\n", "a[2]", 3) == "a: [1, 2, 3]\n"
    assert set_value("a: []\n", "a[0]", 3) == "a:\n  - 3\n"
    assert set_value("a:\n", "a[0].b", 3) == "a:\n  - b: 3\n"
    out = set_value("imgs:\n- name: a\n  tag: 1\n", "imgs[1].name", "b")
    assert out == "imgs:\n- name: a\n  tag: 1\n- name: b\n"


def test_list_index_past_the_end_is_refused() -> None:
    with pytest.raises(YamlEditError, match=r"^a\[3\]: index \[3\] is out of range: a has 2"):
        set_value("a: [1, 2]\n", "a[3]", 3)
    with pytest.raises(YamlEditError, match=r"^a\.b\[1\]: index \[1\] is out of range"):
        set_value("a: {}\n", "a.b[1]", 3)
    with pytest.raises(YamlEditError, match=r"^a\[1\]: index \[1\] is out of range"):
        set_value("a:\n", "a[1]", 3)


# --------------------------------------------------------------------------- collections as values


def test_scalar_replaced_by_mapping_or_list() -> None:
    text = "a: 1  # note\nb: 2\n"
    assert set_value(text, "a", {"x": 1, "y": [2]}) == (
        'a:  # note\n  x: 1\n  "y":\n    - 2\nb: 2\n'
    )
    assert set_value(text, "a", ["p", {"q": 1, "r": 2}]) == (
        "a:  # note\n  - p\n  - q: 1\n    r: 2\nb: 2\n"
    )


def test_block_collection_replaced_by_block_collection() -> None:
    text = "a:\n  # keep me\n  x: 1\n  y: 2\nb: 2\n"
    assert set_value(text, "a", {"z": 3}) == "a:\n  # keep me\n  z: 3\nb: 2\n"
    assert set_value(text, "a", ["z"]) == "a:\n  # keep me\n  - z\nb: 2\n"
    flush = "a:\n- 1\n- 2\nb:\n- 3\n"
    assert set_value(flush, "a", [4, 5, 6]) == "a:\n- 4\n- 5\n- 6\nb:\n- 3\n"


def test_block_collection_replaced_by_scalar_or_empty() -> None:
    text = "a:  # note\n  x: 1\nb: 2\n"
    assert set_value(text, "a", "s") == "a: s  # note\nb: 2\n"
    assert set_value(text, "a", {}) == "a: {}  # note\nb: 2\n"
    assert set_value("a:\n- 1\nb: 2\n", "a", []) == "a: []\nb: 2\n"


def test_flow_collection_replaced_stays_flow() -> None:
    assert set_value("a: [1, 2]  # c\n", "a", [3, "x y"]) == "a: [3, x y]  # c\n"
    assert set_value("a: {k: v}\n", "a", {"k": "w", "j": [1]}) == "a: {k: w, j: [1]}\n"


def test_sequence_item_becomes_a_compact_mapping() -> None:
    text = "l:\n- a\n- b\n"
    assert set_value(text, "l[0]", {"k": 1, "j": 2}) == "l:\n- k: 1\n  j: 2\n- b\n"
    text = "l:\n  - name: x\n    v: 1\n  - b\n"
    assert set_value(text, "l[0]", {"m": 2}) == "l:\n  - m: 2\n  - b\n"
    assert set_value(text, "l[0]", "s") == "l:\n  - s\n  - b\n"


def test_multi_line_strings_in_new_collections_use_literal_blocks() -> None:
    out = set_value("a: 1\n", "b", {"script": "echo 1\necho 2\n"})
    assert out == "a: 1\nb:\n  script: |\n    echo 1\n    echo 2\n"
    assert load(out)["b"] == {"script": "echo 1\necho 2\n"}


def test_empty_collections_are_written_flow() -> None:
    assert set_value("a: 1\n", "a", {}) == "a: {}\n"
    assert set_value("a: 1\n", "a", []) == "a: []\n"
    assert set_value("a: 1\n", "b", {"c": {}, "d": []}) == "a: 1\nb:\n  c: {}\n  d: []\n"


def test_tuples_are_lists() -> None:
    assert set_value("a: 1\n", "a", (1, 2)) == "a:\n  - 1\n  - 2\n"


# --------------------------------------------------------------------------- errors


def test_path_through_a_scalar() -> None:
    with pytest.raises(YamlEditError) as err:
        set_value("a: 3\n", "a.b", 1)
    assert str(err.value) == "a.b: a is a scalar, cannot set a.b"


def test_index_into_a_mapping() -> None:
    with pytest.raises(YamlEditError, match=r"^spec\[0\]: spec is a mapping"):
        set_value("spec:\n  a: 1\n", "spec[0]", 1)


def test_key_into_a_sequence() -> None:
    with pytest.raises(YamlEditError, match=r"^l\.name: l is a sequence"):
        set_value("l:\n- 1\n", "l.name", 1)
    with pytest.raises(YamlEditError, match=r"^name: the document root is a sequence"):
        set_value("- 1\n", "name", 1)


def test_invalid_yaml() -> None:
    with pytest.raises(YamlEditError, match=r"^a: the file is not valid YAML: .*line 2"):
        set_value("a: [x\n", "a", 1)
    with pytest.raises(YamlEditError, match="undefined alias"):
        set_value("a: *nope\n", "a", 1)


def test_unsupported_value_types() -> None:
    with pytest.raises(YamlEditError, match=r"^a: cannot write a value of type object"):
        set_value("a: 1\n", "a", object())
    with pytest.raises(YamlEditError, match=r"^a: mapping keys must be scalars"):
        set_value("a: 1\n", "a", {(1, 2): 1})


def test_bad_path_syntax_in_set_value() -> None:
    with pytest.raises(YamlEditError, match=r"'a\.\.b'"):
        set_value("a: 1\n", "a..b", 1)


def test_errors_never_include_the_value() -> None:
    secret = "s3cr3t-t0ken"
    cases = [
        ("a: 3\n", "a.b"),
        ("a: [1]\n", "a[5]"),
        ("a: &x {b: 1}\nc: *x\n", "c.b"),
        ("a: !!int 1\n", "a"),
        ("a: [x\n", "a"),
    ]
    for text, path in cases:
        with pytest.raises(YamlEditError) as err:
            set_value(text, path, secret)
        assert secret not in str(err.value)
        assert path in str(err.value)


def test_error_is_a_value_error() -> None:
    assert issubclass(YamlEditError, ValueError)


# --------------------------------------------------------------------------- append_items


def test_append_to_block_sequence_keeps_dash_style() -> None:
    assert append_items("a:\n  - x\nb: 1\n", "a", ["y1", 2]) == "a:\n  - x\n  - y1\n  - 2\nb: 1\n"
    assert append_items("a:\n- x\n# end\n", "a", [{"k": 1, "j": [1]}]) == (
        "a:\n- x\n- k: 1\n  j:\n  - 1\n# end\n"
    )


def test_append_to_flow_sequence() -> None:
    assert append_items("a: [x]  # c\n", "a", ["y1", "z w"]) == "a: [x, y1, z w]  # c\n"
    assert append_items("a: [x]\n", "a", ["c,d"]) == 'a: [x, "c,d"]\n'


def test_append_creates_missing_or_empty_sequence() -> None:
    assert append_items("b: 1\n", "a", ["x"]) == "b: 1\na:\n  - x\n"
    assert append_items("b:\n- 1\n", "a", ["x"]) == "b:\n- 1\na:\n- x\n"
    assert append_items("a: []\nb: 1\n", "a", ["x"]) == "a:\n  - x\nb: 1\n"
    assert append_items("a:\nb: 1\n", "a", ["x"]) == "a:\n  - x\nb: 1\n"
    assert append_items("a: {l: []}\n", "a.l", ["x"]) == "a: {l: [x]}\n"
    assert append_items("", "a.b", [1]) == "a:\n  b:\n    - 1\n"


def test_append_nothing_is_identity() -> None:
    text = "a: [x]\n"
    assert append_items(text, "a", []) == text


def test_append_errors() -> None:
    with pytest.raises(YamlEditError, match=r"^a: the value is a scalar, not a sequence"):
        append_items("a: 1\n", "a", ["x"])
    with pytest.raises(YamlEditError, match=r"^a: the value is a mapping, not a sequence"):
        append_items("a: {x: 1}\n", "a", ["x"])
    with pytest.raises(YamlEditError, match=r"^b: the value is an alias"):
        append_items("a: &q [1]\nb: *q\n", "b", [2])
    with pytest.raises(YamlEditError, match=r"^a: items to append must be a list"):
        append_items("a: []\n", "a", "x")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- merge_overlay

BASE = """\
# values
image:
  repository: nginx  # repo
  tag: 1.0.0
replicas: 1
ports:
  - 80
labels: {}
"""


def test_overlay_changes_only_changed_leaves() -> None:
    out = merge_overlay(BASE, {"image": {"tag": "1.1.0"}, "replicas": 1})
    assert out == BASE.replace("tag: 1.0.0", "tag: 1.1.0")


def test_overlay_creates_missing_keys_recursively() -> None:
    out = merge_overlay(BASE, {"image": {"pullPolicy": "Always"}, "labels": {"team": "a"}})
    assert out == BASE.replace("tag: 1.0.0\n", "tag: 1.0.0\n  pullPolicy: Always\n").replace(
        "labels: {}\n", "labels:\n  team: a\n"
    )
    assert merge_overlay(BASE, {"new": {"deep": {"x": 1}}}) == BASE + "new:\n  deep:\n    x: 1\n"


def test_overlay_equal_data_is_identity() -> None:
    assert merge_overlay(BASE, load(BASE)) == BASE  # type: ignore[arg-type]
    assert merge_overlay(BASE, {}) == BASE


def test_overlay_lists_overwrite() -> None:
    out = merge_overlay(BASE, {"ports": [80, 443]})
    assert out == BASE.replace("  - 80\n", "  - 80\n  - 443\n")
    assert merge_overlay(BASE, {"ports": [80]}) == BASE
    assert merge_overlay(BASE, {"ports": [8080]}) == BASE.replace("  - 80\n", "  - 8080\n")


def test_overlay_lists_append() -> None:
    out = merge_overlay(BASE, {"ports": [443]}, list_merge="append")
    assert out == BASE.replace("  - 80\n", "  - 80\n  - 443\n")
    out = merge_overlay(BASE, {"hosts": ["a"]}, list_merge="append")
    assert out == BASE + "hosts:\n  - a\n"


def test_overlay_replaces_scalars_with_collections_and_back() -> None:
    out = merge_overlay(BASE, {"replicas": {"min": 1}, "image": "nginx:1"})
    assert load(out) == {**load(BASE), "replicas": {"min": 1}, "image": "nginx:1"}  # type: ignore[dict-item]


def test_overlay_into_a_later_document() -> None:
    text = "kind: A\n---\nkind: B\nspec: {}\n"
    out = merge_overlay(text, {"spec": {"x": 1}}, document=1)
    assert out == "kind: A\n---\nkind: B\nspec:\n  x: 1\n"


def test_overlay_on_an_alias_gives_the_key_its_own_merged_data() -> None:
    text = "base: &b\n  a: 1\nsvc: *b\n"
    out = merge_overlay(text, {"svc": {"b": 2}})
    assert load(out) == {"base": {"a": 1}, "svc": {"a": 1, "b": 2}}
    assert out.startswith("base: &b\n  a: 1\nsvc:")


def test_overlay_errors() -> None:
    with pytest.raises(YamlEditError, match="list_merge"):
        merge_overlay(BASE, {}, list_merge="zip")
    with pytest.raises(YamlEditError, match="mapping"):
        merge_overlay(BASE, ["x"])  # type: ignore[arg-type]
    with pytest.raises(YamlEditError, match="document"):
        merge_overlay(BASE, {}, document=-1)
    with pytest.raises(YamlEditError, match=r"^1:a: document 1 does not exist"):
        merge_overlay(BASE, {"a": 1}, document=1)
    assert merge_overlay("a: [1]\n", {"a": {"b": 1}}) == "a: {b: 1}\n"  # a list is replaced


def test_overlay_replaces_a_scalar_by_a_mapping() -> None:
    out = merge_overlay(BASE, {"image": {"tag": {"x": 1}}})
    assert out == BASE.replace("  tag: 1.0.0\n", "  tag:\n    x: 1\n")


def test_overlay_with_crlf_file() -> None:
    text = BASE.replace("\n", "\r\n")
    out = merge_overlay(text, {"image": {"tag": "2", "pullPolicy": "IfNotPresent"}})
    assert out == text.replace("tag: 1.0.0\r\n", 'tag: "2"\r\n  pullPolicy: IfNotPresent\r\n')
    assert load_all(out)[0]["image"]["tag"] == "2"  # type: ignore[index]


# --------------------------------------------------------------------------- misc


def test_dates_are_written_plain() -> None:
    assert set_value("a: x\n", "a", dt.date(2024, 1, 2)) == "a: 2024-01-02\n"
    assert load(set_value("a: x\n", "a", dt.datetime(2024, 1, 2, 3, 4, 5))) == {
        "a": dt.datetime(2024, 1, 2, 3, 4, 5)
    }


def test_successive_edits_compose() -> None:
    text = "a: 1\nb:\n  c: 2\n"
    once = set_value(text, "b.c", 3)
    twice = set_value(once, "b.d", 4)
    assert twice == "a: 1\nb:\n  c: 3\n  d: 4\n"
    assert set_value(text, "b.c", 3) == once  # same input, same output


def test_four_space_file_with_dash_items() -> None:
    text = "jobs:\n    build:\n        steps:\n            - uses: a@v1\n            - run: x\n"
    out = append_items(text, "jobs.build.steps", [{"uses": "b@v2", "with": {"k": 1}}])
    assert out == text + "            - uses: b@v2\n              with:\n                  k: 1\n"
    assert load(out)["jobs"]["build"]["steps"][2] == {"uses": "b@v2", "with": {"k": 1}}  # type: ignore[index]
