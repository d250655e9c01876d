"""The verification every edit goes through (yamledit.verify): duplicate keys in the file
read, the anchor rule, and the read-back check that stops an edit whose result means
something else, whatever the editor's own mistake was.

Mistakes are simulated by breaking a piece of the editor with monkeypatch; the check must
then refuse with a clear message, and return nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from prbot.automation.yamledit import (
    YamlEditError,
    append_items,
    merge_overlay,
    set_value,
    yaml_problem,
)
from prbot.automation.yamledit import edit as edit_module
from prbot.automation.yamledit import keys as keys_module
from prbot.automation.yamledit import locate as locate_module
from prbot.automation.yamledit import plan as plan_module

ALIAS_KEY = "meta:\n  name: &app podinfo\nvalues:\n  *app :\n    image:\n      tag: 1.0.0\n"

# --------------------------------------------------------------------------- the read-back check


def test_the_reported_bug_is_stopped_by_the_check_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # Put back the old lookup, which compared only plain scalar keys: the edit then appends
    # a second "podinfo:" block, and the check refuses to return it.
    def old_find_entry(text: str, mapping: Any, step: Any, label: str, here: str) -> Any:
        for k, v in mapping.pairs:
            if k.kind == "scalar" and k.value == step:
                return keys_module.Entry(mapping, k, v)
        return None

    monkeypatch.setattr(locate_module, "find_entry", old_find_entry)
    with pytest.raises(YamlEditError) as err:
        set_value(ALIAS_KEY, "values.podinfo.image.tag", "2.0.0")
    assert str(err.value) == (
        "values.podinfo.image.tag: the edit was not applied: the result would not read back: "
        "the key 'podinfo' is in values twice (an alias of line 2 and line 7); YAML readers "
        "disagree on which value it has"
    )


def test_a_value_that_reads_back_as_another_type_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(plan_module, "styled_scalar", lambda value, style, flow: str(value))
    with pytest.raises(
        YamlEditError, match=r"^a\.k: .*reading the result back, a\.k would not hold the new value$"
    ):
        set_value("a:\n  k: x\n", "a.k", "true")  # written plain, it would be a boolean


def test_a_change_anywhere_else_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real_apply = edit_module.apply

    def sloppy_apply(text: str, splices: list[Any]) -> str:
        return real_apply(text, splices).replace("other: 1", "other: 2")

    monkeypatch.setattr(edit_module, "apply", sloppy_apply)
    with pytest.raises(
        YamlEditError, match=r"^a: .*reading the result back, other would differ from the original$"
    ):
        set_value("a: 1\nother: 1\n", "a", 2)


def test_an_overlay_result_must_be_the_deep_merge(monkeypatch: pytest.MonkeyPatch) -> None:
    real_step = edit_module._step
    monkeypatch.setattr(
        edit_module,
        "_step",
        lambda text, path, *rest: text if str(path) == "b" else real_step(text, path, *rest),
    )
    with pytest.raises(
        YamlEditError,
        match=r"^the overlay: .*\bb would differ from the overlay merged into the original$",
    ):
        merge_overlay("a: 1\nb: 1\n", {"a": 2, "b": 2})


def test_a_broken_result_names_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_module, "styled_scalar", lambda value, style, flow: "[unclosed")
    with pytest.raises(
        YamlEditError, match=r"would not read back: not valid YAML: .*\(line 3, column"
    ):
        set_value("a:\n  k: x\nz: 1\n", "a.k", "y")


def test_messages_name_paths_never_values(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-t0ken"
    monkeypatch.setattr(plan_module, "styled_scalar", lambda value, style, flow: "wrong")
    with pytest.raises(YamlEditError) as err:
        set_value("a:\n  k: x\n", "a.k", secret)
    assert secret not in str(err.value) and "wrong" not in str(err.value)


def test_an_unchanged_file_is_returned_as_it_is() -> None:
    assert set_value(ALIAS_KEY, "values.podinfo.image.tag", "1.0.0") is ALIAS_KEY


# --------------------------------------------------------------------------- duplicate keys


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", "the key 'a' is in the document root twice (line 1 and line 3)"),
        ("m:\n  x: 1\n  x: 2\n", "the key 'x' is in m twice (line 2 and line 3)"),
        ("m: {x: 1, x: 2}\n", "the key 'x' is in m twice (line 1 and line 1)"),
        ("ports:\n  80: a\n  0x50: b\n", "the key '80' is in ports twice (line 2 and line 3)"),
        ("f:\n  true: a\n  True: b\n", "the key 'true' is in f twice (line 2 and line 3)"),
        (
            "n: &n podinfo\nm:\n  *n : a\n  podinfo: b\n",
            "the key 'podinfo' is in m twice (line 3 and line 4)",
        ),
        (
            "b: &b {x: 1}\nm:\n  <<: *b\n  <<: *b\n",
            "the key '<<' is in m twice (line 3 and line 4)",
        ),
        ("l:\n- k: 1\n  k: 2\n", "the key 'k' is in l[0] twice (line 2 and line 3)"),
        ("a: 1\n---\na: 1\nb: 1\nb: 2\n", "document 2: the key 'b' is in the document root twice"),
    ],
)
def test_a_key_written_twice_is_reported_not_resolved(text: str, message: str) -> None:
    for edit in (
        lambda: set_value(text, "new", 1),
        lambda: append_items(text, "new", [1]),
        lambda: merge_overlay(text, {"new": 1}),
    ):
        with pytest.raises(YamlEditError, match="the file cannot be edited safely: ") as err:
            edit()
        assert message in str(err.value)


def test_keys_that_only_look_alike_are_not_duplicates() -> None:
    text = 'm:\n  80: a\n  "80": b\n  1: c\n  true: d\n  "<<": e\n  ~: f\n  null_: g\n'
    assert "zz: 1" in set_value(text, "zz", 1)


# --------------------------------------------------------------------------- the anchor rule

SHARED = "base: &b\n  image: x\n  tag: 1\nsvc: *b\nother:\n  <<: *b\n  tag: 2\n"


def test_an_edit_of_a_shared_node_is_refused_naming_what_else_would_change() -> None:
    with pytest.raises(YamlEditError) as err:
        set_value(SHARED, "base.image", "y")
    assert str(err.value) == (
        "base.image: the value is shared through an anchor (&b): the edit would also change "
        "svc.image, other.image; set followAliases: true to change them all, or edit those "
        "paths instead"
    )


def test_following_aliases_changes_the_anchored_node_and_so_every_use() -> None:
    out = set_value(SHARED, "base.image", "z", follow_aliases=True)
    assert out == SHARED.replace("image: x", "image: z")


def test_what_an_alias_or_merge_overrides_is_not_shared() -> None:
    # other overrides tag: changing base.tag changes svc.tag only.
    with pytest.raises(YamlEditError, match=r"would also change svc\.tag;"):
        set_value(SHARED, "base.tag", 3)
    assert set_value(SHARED, "other.tag", 3) == SHARED.replace("tag: 2", "tag: 3")


def test_an_alias_at_the_path_is_replaced_or_followed() -> None:
    text = "port: &p 80\nsvc:\n  port: *p\nprobe: {port: *p}\n"
    assert set_value(text, "svc.port", 81) == text.replace("port: *p\n", "port: 81\n")
    assert set_value(text, "svc.port", 81, follow_aliases=True) == text.replace("&p 80", "&p 81")


def test_a_scalar_anchor_used_as_a_key_renames_the_key_only_when_followed() -> None:
    with pytest.raises(YamlEditError, match=r"would also change values\.podinfo"):
        set_value(ALIAS_KEY, "meta.name", "web")
    out = set_value(ALIAS_KEY, "meta.name", "web", follow_aliases=True)
    assert out == ALIAS_KEY.replace("&app podinfo", "&app web")


def test_following_into_a_key_collision_is_refused_by_the_check() -> None:
    text = "meta:\n  name: &app podinfo\nvalues:\n  *app : 1\n  web: 2\n"
    with pytest.raises(YamlEditError, match=r"the key 'web' is in values twice"):
        set_value(text, "meta.name", "web", follow_aliases=True)


def test_many_other_paths_are_counted() -> None:
    text = "a: &a 1\n" + "".join(f"k{i}: *a\n" for i in range(6))
    with pytest.raises(YamlEditError, match=r"would also change k0, k1, k2 and 3 more;"):
        set_value(text, "a", 2)


def test_appends_and_overlays_follow_the_same_rule() -> None:
    text = "base: &l [1]\nuse: *l\nmine: [1]\n"
    with pytest.raises(YamlEditError, match=r"^base: .*&l.*would also change use;"):
        append_items(text, "base", [2])
    assert append_items(text, "base", [2], follow_aliases=True) == text.replace(
        "&l [1]", "&l [1, 2]"
    )
    with pytest.raises(YamlEditError, match="would also change use"):
        merge_overlay(text, {"base": [3]})
    assert merge_overlay(text, {"base": [3]}, follow_aliases=True) == text.replace(
        "&l [1]", "&l [3]"
    )
    # an alias at the overlay's path gets data of its own (its anchor stays as it is)
    assert merge_overlay(text, {"use": [3]}) == text.replace("use: *l", "use:\n  - 3")


# --------------------------------------------------------------------------- yaml_problem


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: 1\n", None),
        ("", None),
        ("a: [1\n", "not valid YAML: "),
        ("a: 1\n  b: 2\n", "(line 2, column"),
        ("a: *nope\n", "not valid YAML: "),
        ("a: 1\na: 2\n", "the key 'a' is in the document root twice (line 1 and line 2)"),
        ("x: !custom {a: 1}\ny: !reference [a, b]\n", None),
    ],
)
def test_yaml_problem(text: str, problem: str | None) -> None:
    got = yaml_problem(text)
    assert got is None if problem is None else problem in (got or "")
