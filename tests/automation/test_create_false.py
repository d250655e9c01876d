"""``create: false`` on yamlEdits and yamlOverlays: a missing key is an error naming the
definition field, the file and the key, and nothing is written; ``create: true`` (the
default) keeps creating missing keys."""

from __future__ import annotations

import pytest

from prbot.automation.changeset import MemoryRepoView
from prbot.automation.errors import RenderError
from prbot.automation.loader import load_view
from prbot.automation.render import render_automation
from prbot.automation.yamledit import YamlEditError, merge_overlay, set_value

HEADER = "apiVersion: prbot.dev/v1alpha1\nkind: PrAutomation\nmetadata: {name: bump}\nspec:\n"
SERVICE = "# the service\nspec:\n  image:\n    tag: 1.0.0 # bump me\n"
UNRELATED = "# not a service\nkind: Notes\nspec:\n  owner: team-a\n"
# a glob over services/ that also matches a file which is not a service
REPO = MemoryRepoView({"services/web.yaml": SERVICE, "services/notes.yaml": UNRELATED})


def automation(entry: str):
    spec = (
        '  title: "Bump to {{ context.tag }}"\n'
        "  configuration: [{name: tag, type: string}]\n"
        "  updates:\n" + entry
    )
    loaded = load_view(MemoryRepoView({"defs/a.yaml": HEADER + spec}), root="defs")
    assert loaded.problems == [], loaded.problems
    return loaded.automations["bump"]


EDIT = """\
    yamlEdits:
      - file: "services/*.yaml"
        path: spec.image.tag
        value: "{{ context.tag }}"
"""
OVERLAY = """\
    yamlOverlays:
      - file: "services/*.yaml"
        yaml: |
          spec: {image: {tag: "{{ context.tag }}"}}
"""


# -- the definition field


def test_create_is_true_unless_it_says_false() -> None:
    assert automation(EDIT).yaml_edits[0].create is True
    assert automation(EDIT + "        create: false\n").yaml_edits[0].create is False
    assert automation(EDIT + "        create: true\n").yaml_edits[0].create is True
    assert automation(OVERLAY).yaml_overlays[0].create is True
    assert automation(OVERLAY + "        create: false\n").yaml_overlays[0].create is False


def test_create_must_be_a_yaml_boolean() -> None:
    text = HEADER + '  title: "T"\n  updates:\n' + EDIT + "        create: no\n"
    loaded = load_view(MemoryRepoView({"defs/a.yaml": text}), root="defs")
    assert [str(p) for p in loaded.problems] == [
        "defs/a.yaml:11: document 1: spec.updates.yamlEdits[0].create: "
        "must be true or false, got a string"
    ]


# -- rendering: a glob matching two files, one without the key


@pytest.mark.parametrize("entry", [EDIT, OVERLAY], ids=["yamlEdits", "yamlOverlays"])
def test_default_creates_the_missing_key_in_the_unrelated_file(entry: str) -> None:
    result = render_automation(automation(entry), {"tag": "2.0.0"}, REPO)
    got = {c.path: c.content.decode() for c in result.changes if c.content is not None}
    assert got["services/web.yaml"] == SERVICE.replace("1.0.0", "2.0.0")
    # today's behaviour, kept as the default: the bogus key the issue describes
    assert got["services/notes.yaml"] == UNRELATED + "  image:\n    tag: 2.0.0\n"


def test_yaml_edit_create_false_refuses_the_file_without_the_key() -> None:
    a = automation(EDIT + "        create: false\n")
    with pytest.raises(RenderError) as caught:
        render_automation(a, {"tag": "2.0.0"}, REPO)
    assert str(caught.value) == (
        "bump: spec.updates.yamlEdits[0]: services/notes.yaml: spec.image.tag: spec.image "
        "is not in the file, and create is false (the key must exist)"
    )


def test_yaml_overlay_create_false_refuses_the_file_without_the_key() -> None:
    a = automation(OVERLAY + "        create: false\n")
    with pytest.raises(RenderError) as caught:
        render_automation(a, {"tag": "2.0.0"}, REPO)
    assert str(caught.value) == (
        "bump: spec.updates.yamlOverlays[0]: services/notes.yaml: the overlay: spec.image "
        "is not in the file, and create is false (every key of the overlay must exist)"
    )


@pytest.mark.parametrize("entry", [EDIT, OVERLAY], ids=["yamlEdits", "yamlOverlays"])
def test_create_false_changes_a_file_that_has_the_key(entry: str) -> None:
    repo = MemoryRepoView({"services/web.yaml": SERVICE})
    a = automation(entry + "        create: false\n")
    result = render_automation(a, {"tag": "3.1.0"}, repo)
    assert [(c.path, c.content) for c in result.changes] == [
        ("services/web.yaml", SERVICE.replace("1.0.0", "3.1.0").encode())
    ]


# -- the edits themselves


def test_set_value_create_false() -> None:
    text = "a:\n  b: 1\n  n:\nlist: [x]\n"
    assert set_value(text, "a.b", 2, create=False) == text.replace("b: 1", "b: 2")
    assert set_value(text, "a.n", 3, create=False) == text.replace("n:", "n: 3")  # null is there
    for path, message in [
        ("a.c", "a.c is not in the file"),
        ("x.y.z", "x.y.z: x is not in the file"),
        ("a.n.deeper", "a.n.deeper is not in the file"),  # below a null
        ("list[1]", "list[1] is not in the file"),  # one past the end: an append
    ]:
        with pytest.raises(YamlEditError) as caught:
            set_value(text, path, 9, create=False)
        assert str(caught.value) == f"{message}, and create is false (the key must exist)"
    assert set_value(text, "a.c", 9) == "a:\n  b: 1\n  n:\n  c: 9\nlist: [x]\n"  # default


def test_set_value_create_false_on_an_empty_file() -> None:
    with pytest.raises(YamlEditError, match=r"^a is not in the file"):
        set_value("", "a", 1, create=False)


def test_a_key_a_merge_gives_counts_as_there() -> None:
    text = "base: &b {x: 1}\nc:\n  <<: *b\n"
    assert set_value(text, "c.x", 2, create=False) == text + "  x: 2\n"
    assert merge_overlay(text, {"c": {"x": 2}}, create=False) == text + "  x: 2\n"


def test_merge_overlay_create_false_checks_every_level() -> None:
    text = "spec:\n  image: {tag: 1}\n  ports: [80]\n"
    # existing keys at every level; a list is a value, replaced whole
    assert merge_overlay(
        text, {"spec": {"image": {"tag": 2}, "ports": [81, 82]}}, create=False
    ) == ("spec:\n  image: {tag: 2}\n  ports: [81, 82]\n")
    for overlay, missing in [
        ({"spec": {"image": {"tag": 2, "pull": "always"}}}, "spec.image.pull"),
        ({"spec": {"ports": {"http": 80}}}, "spec.ports.http"),  # a list is not a mapping
        ({"status": {}}, "status"),
    ]:
        with pytest.raises(YamlEditError) as caught:
            merge_overlay(text, overlay, create=False)
        assert str(caught.value) == (
            f"the overlay: {missing} is not in the file, and create is false "
            "(every key of the overlay must exist)"
        )
    # an overlay's keys are data: 80 is not "80"
    with pytest.raises(YamlEditError, match=r"^the overlay: ports\.80 is not in the file"):
        merge_overlay('ports: {"80": a}\n', {"ports": {80: "b"}}, create=False)
