"""Keys in every form YAML writes them, at several depths, in block and flow style, with
comments and CRLF line endings: an edit changes exactly one line, and the result reads back
(with ruamel, not yamledit) as the original with only that value changed.

The first test is the reported bug: a key written as an alias (``*app :``) was not
recognised, and the edit appended a second ``podinfo:`` block (a duplicate key).
"""

from __future__ import annotations

import difflib
from typing import Any

import pytest
from ruamel.yaml import YAML

from prbot.automation.yamledit import YamlEditError, merge_overlay, parse_path, set_value


def load(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)  # refuses a key twice in one mapping


def put(data: Any, keys: tuple[Any, ...], value: Any) -> Any:
    if not keys:
        return value
    out = dict(data) if isinstance(data, dict) else list(data)
    out[keys[0]] = put(data[keys[0]], keys[1:], value)
    return out


def changed_lines(old: str, new: str) -> list[tuple[str, list[str], list[str]]]:
    a, b = old.split("\n"), new.split("\n")
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return [(tag, a[i1:i2], b[j1:j2]) for tag, i1, i2, j1, j2 in ops if tag != "equal"]


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        (
            'metadata.annotations."app.kubernetes.io/name"',
            ("metadata", "annotations", "app.kubernetes.io/name"),
        ),
        ('".rules:docs:review".rules[0]', (".rules:docs:review", "rules", 0)),
        ('"x[0]"[1]', ("x[0]", 1)),
        ("'it''s'", ("it's",)),
        ('"say \\"hi\\""', ('say "hi"',)),
        ("data.key with spaces", ("data", "key with spaces")),
        ("a:b.c", ("a:b", "c")),
        ('"1:x"', ("1:x",)),
        ("1:x", ("x",)),
        ("ports.80", ("ports", "80")),
    ],
)
def test_the_documented_path_syntax(text: str, steps: tuple[Any, ...]) -> None:
    # docs/definitions.md, "Paths"
    assert parse_path(text).steps == steps


def test_the_reported_alias_key_bug() -> None:
    text = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\n"
        "kind: HelmRelease\n"
        "metadata:\n"
        "  name: &app podinfo\n"
        "spec:\n"
        "  values:\n"
        "    controllers:\n"
        "      *app :\n"
        "        containers:\n"
        "          app:\n"
        "            image:\n"
        "              tag: 6.5.0  # {{ renovate }}\n"
    )
    out = set_value(text, "spec.values.controllers.podinfo.containers.app.image.tag", "6.5.1")
    assert out == text.replace("tag: 6.5.0", "tag: 6.5.1")
    assert load(out)["spec"]["values"]["controllers"]["podinfo"]["containers"]["app"] == {
        "image": {"tag": "6.5.1"}
    }


# (id, the key as written, the key in a path, the key as data). "ALIAS" keys need the
# anchor &app on the value podinfo, which every generated document defines first.
FORMS: list[tuple[str, str, str, Any]] = [
    ("plain", "name", "name", "name"),
    ("alias", "*app ", "podinfo", "podinfo"),
    (
        "double-quoted, dots",
        '"app.kubernetes.io/name"',
        '"app.kubernetes.io/name"',
        "app.kubernetes.io/name",
    ),
    ("single-quoted", "'x'", "x", "x"),
    ("single-quoted, quote", "'it''s'", '"it\'s"', "it's"),
    ("brackets", '"x[0]"', '"x[0]"', "x[0]"),
    ("spaces", "key with spaces", "key with spaces", "key with spaces"),
    ("colons, leading dot", ".rules:docs:review", '".rules:docs:review"', ".rules:docs:review"),
    ("integer", "80", "80", 80),
    ("hex integer", "0x50", "80", 80),
    ("quoted number", '"80"', "80", "80"),
    ("boolean", "true", "true", True),
    ("boolean, capital", "True", "true", True),
    ("null", "~", "null", None),
    ("anchored key", "&k name", "name", "name"),
    ("tagged key", "!!str 443", "443", "443"),
    ("explicit", "? name", "name", "name"),
    ("explicit, quoted", '? "a.b"', '"a.b"', "a.b"),
]
IDS = [f[0] for f in FORMS]


def document(key: str, depth: int, flow: bool, through: bool) -> tuple[str, str]:
    """A document with ``key`` at ``depth`` (1-3) below ``root``, holding ``old`` (or, when
    ``through``, a mapping holding ``leaf: old``); and the path prefix of the key's parent."""
    explicit = key.startswith("? ")
    head = "# head comment\nanchors:\n  app: &app podinfo  # for alias keys\n"
    parents = ["root", "l1", "l2"][:depth]
    if flow:
        value = "{leaf: old}" if through else "old"
        entry = f"{key} : {value}" if explicit else f"{key}: {value}"
        inner = "{" + entry + ", other: 1}"
        for name in reversed(parents[1:]):
            inner = "{" + f"{name}: {inner}" + "}"
        return head + f"root: {inner}  # trailing\ntail: 2\n", ".".join(parents)
    lines = [head.rstrip("\n")]
    for i, name in enumerate(parents):
        lines.append("  " * i + f"{name}:  # level {i}")
    pad = "  " * depth
    if explicit:
        lines.append(pad + key + "  # the key")
        lines += [pad + ":", pad + "  leaf: old  # c"] if through else [pad + ": old  # c"]
    elif through:
        lines += [pad + f"{key}:  # the key", pad + "  leaf: old  # c"]
    else:
        lines.append(pad + f"{key}: old  # c")
    lines += [pad + "other: 1", "tail: 2", ""]
    return "\n".join(lines), ".".join(parents)


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
@pytest.mark.parametrize("flow", [False, True], ids=["block", "flow"])
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize(("form", "key", "step", "data_key"), FORMS, ids=IDS)
def test_a_value_at_each_key_form_changes_one_line(
    form: str, key: str, step: str, data_key: Any, depth: int, flow: bool, crlf: bool
) -> None:
    for through in (False, True):
        text, parent = document(key, depth, flow, through)
        if crlf:
            text = text.replace("\n", "\r\n")
        path = f"{parent}.{step}" + (".leaf" if through else "")
        out = set_value(text, path, "new")
        ((tag, old_lines, new_lines),) = changed_lines(text, out)
        assert tag == "replace" and len(old_lines) == len(new_lines) == 1, (text, out)
        assert old_lines[0].replace("old", "new") == new_lines[0]
        keys = (*parent.split("."), data_key, *(["leaf"] if through else []))
        assert load(out) == put(load(text), tuple(keys), "new")


@pytest.mark.parametrize("flow", [False, True], ids=["block", "flow"])
@pytest.mark.parametrize(("form", "key", "step", "data_key"), FORMS, ids=IDS)
def test_keys_are_created_beside_and_below_each_key_form(
    form: str, key: str, step: str, data_key: Any, flow: bool
) -> None:
    text, parent = document(key, 2, flow, True)
    beside = set_value(text, f"{parent}.added", "new")
    below = set_value(text, f"{parent}.{step}.added", "new")
    for out, keys in [(beside, ("added",)), (below, (data_key, "added"))]:
        ((tag, _, new_lines),) = changed_lines(text, out)
        assert (tag, len(new_lines)) == (("replace", 1) if flow else ("insert", 1)), out
        want = load(text)
        inner = want["root"]["l1"]
        for k in keys[:-1]:
            inner = inner[k]
        inner[keys[-1]] = "new"
        assert load(out) == want


def test_a_path_naming_two_keys_is_refused() -> None:
    text = 'ports:\n  80: http\n  "80": web\n'
    with pytest.raises(
        YamlEditError, match=r"^ports\.80: ports has several keys that '80' names \(lines 2 and 3"
    ):
        set_value(text, "ports.80", "x")


def test_a_missing_key_is_created_as_text() -> None:
    out = set_value("ports:\n  443: https\n", "ports.80", "http")
    assert (
        out == 'ports:\n  443: https\n  "80": http\n'
    )  # the path's 80 is text when nothing names it


# --------------------------------------------------------------------------- merge keys


@pytest.mark.parametrize(
    "text",
    [
        "base: &b\n  x: 1\n  y: 2\nc:\n  <<: *b\n  y: 3  # own\n",
        "base: &b {x: 1, y: 2}\nc: {<<: *b, y: 3}\n",
        "base: &b {x: 1}\nmore: &m {y: 2}\nc:\n  <<: [*b, *m]\n  y: 3\n",
        "base: &b {x: 1}\r\nc:\r\n  << : *b  # merged\r\n  y: 3\r\n",
    ],
    ids=["block", "flow", "list of sources", "crlf, space before colon"],
)
def test_merge_keys(text: str) -> None:
    # A key of the mapping itself is edited in place.
    out = set_value(text, "c.y", 4)
    assert load(out)["c"]["y"] == 4 and load(out)["c"]["x"] == 1
    # An inherited leaf is overridden in this mapping; the anchored source stays as it is.
    out = set_value(text, "c.x", 5)
    assert load(out)["c"]["x"] == 5 and load(out)["base"]["x"] == 1
    assert len(changed_lines(text, out)) == 1
    # Following aliases edits the mapping that really holds it: every mapping merging it changes.
    out = set_value(text, "c.x", 5, follow_aliases=True)
    assert load(out)["base"]["x"] == 5 and load(out)["c"]["x"] == 5


def test_below_a_merged_key_is_refused_unless_followed() -> None:
    text = "base: &b\n  labels:\n    a: 1\nc:\n  <<: *b\n  own: 1\nd:\n  <<: *b\n"
    with pytest.raises(
        YamlEditError,
        match=r"^c\.labels\.a: c\.labels comes from a merge key \(<<\).*followAliases",
    ):
        set_value(text, "c.labels.a", 2)
    out = set_value(text, "c.labels.a", 2, follow_aliases=True)
    assert out == text.replace("    a: 1", "    a: 2")
    assert load(out)["d"]["labels"] == {"a": 2}  # d merges the same mapping


def test_a_merge_key_is_not_a_key_to_name_and_a_quoted_one_is() -> None:
    text = 'base: &b {x: 1}\nc:\n  <<: *b\n  "<<": literal\n'
    assert load(set_value(text, 'c."<<"', "changed"))["c"]["<<"] == "changed"


# --------------------------------------------------------------------------- complex keys


@pytest.mark.parametrize(
    "text",
    [
        "m:\n  ? [a, b]\n  : pair\n  c: 1\n",
        "m:\n  ? {k: v}\n  : map\n  c: 1\n",
        "m: {[a, b]: pair, c: 1}\n",
        "m:\n  ? |\n    block key\n  : 1\n  c: 1\n",
    ],
    ids=["sequence key", "mapping key", "flow", "block scalar key"],
)
def test_complex_keys_are_left_alone_and_edits_beside_them_work(text: str) -> None:
    out = set_value(text, "m.c", 2)
    assert len(changed_lines(text, out)) == 1
    out = set_value(text, "m.d", 3)
    assert len(changed_lines(text, out)) == 1
    if "block key" in text:  # the only one of these a Python dict can hold
        assert load(out) == {"m": {"block key\n": 1, "c": 1, "d": 3}}


def test_an_explicit_key_without_a_value_gets_its_own_colon_line() -> None:
    text = "m:\n  ? a\n  b: 1\n"
    assert set_value(text, "m.a", "x") == "m:\n  ? a\n  : x\n  b: 1\n"
    assert set_value(text, "m.a", {"k": [1]}) == "m:\n  ? a\n  : {k: [1]}\n  b: 1\n"


# --------------------------------------------------------------------------- overlays


def test_an_overlay_names_keys_by_data_type_included() -> None:
    text = 'ports:\n  80: http\n  "443": https\n'
    out = merge_overlay(text, {"ports": {80: "web", 443: "tls"}})
    assert out == 'ports:\n  80: web\n  "443": https\n  443: tls\n'
    assert load(out) == {"ports": {80: "web", "443": "https", 443: "tls"}}


def test_an_overlay_through_an_alias_key() -> None:
    text = "meta:\n  name: &app podinfo\nvalues:\n  *app :\n    tag: 1\n"
    out = merge_overlay(text, {"values": {"podinfo": {"tag": 2}}})
    assert out == text.replace("tag: 1", "tag: 2")


def test_an_overlay_into_a_merged_mapping_merges_with_what_it_inherits() -> None:
    text = "base: &b\n  env: {A: '1'}\nsvc:\n  <<: *b\n"
    out = merge_overlay(text, {"svc": {"env": {"B": "2"}}})
    assert load(out)["svc"]["env"] == {"A": "1", "B": "2"}
    assert load(out)["base"]["env"] == {"A": "1"}
