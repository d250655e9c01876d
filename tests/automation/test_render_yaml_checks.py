"""render_automation never returns a change whose YAML files mean something else: yamlEdits
and yamlOverlays are verified by yamledit, and a .yaml/.yml file written by a regex
replacement or a template must still read as YAML if it (or its template) did before."""

from __future__ import annotations

import pytest

from prbot.automation.changeset import MemoryRepoView
from prbot.automation.errors import RenderError
from prbot.automation.loader import load_view
from prbot.automation.render import render_automation

HEADER = "apiVersion: prbot.dev/v1alpha1\nkind: PrAutomation\nmetadata: {name: demo}\nspec:\n"
SPEC = '  title: "t"\n  configuration: [{name: name, type: string, optional: true}]\n'
VALUES = "# values\nimage:\n  tag: 1.0.0\nreplicas: 1\n"


def automation(spec: str, templates: dict[str, str] | None = None):
    files = {
        "defs/a.yaml": HEADER + SPEC + spec,
        **{f"defs/{k}": v for k, v in (templates or {}).items()},
    }
    loaded = load_view(MemoryRepoView(files), root="defs")
    assert loaded.problems == [], loaded.problems
    return loaded.automations["demo"]


def regex(file: str, pattern: str, replacement: str) -> str:
    # repr() writes these as YAML single-quoted strings (none of them holds a quote)
    return (
        "  updates:\n    regexReplacements:\n"
        f"      - file: {file!r}\n        regex: {pattern!r}\n        replacement: {replacement!r}\n"
    )


def render(
    spec: str, files: dict[str, str], templates: dict[str, str] | None = None, **inputs: str
):
    return render_automation(automation(spec, templates), inputs, MemoryRepoView(files))


# --------------------------------------------------------------------------- regex replacements


@pytest.mark.parametrize(
    ("replacement", "problem"),
    [
        ("replicas: [1", "not valid YAML: "),
        (
            "replicas: 1\nimage: {}",
            "the key 'image' is in the document root twice (line 2 and line 5)",
        ),
    ],
    ids=["syntax", "duplicate key"],
)
def test_a_regex_replacement_that_breaks_a_yaml_file_is_refused(
    replacement: str, problem: str
) -> None:
    spec = (
        "  updates:\n    regexReplacements:\n      - file: values.yaml\n"
        '        regex: "^replicas: 1$"\n'
        f"        replacement: {replacement!r}\n"
    ).replace("'", '"')
    with pytest.raises(RenderError) as err:
        render(spec, {"values.yaml": VALUES})
    message = str(err.value)
    assert message.startswith(
        "demo: spec.updates.regexReplacements[0]: values.yaml would no longer read as YAML: "
    )
    assert problem in message and message.endswith("; nothing was written")


def test_a_yaml_error_names_the_line() -> None:
    spec = regex("values.yaml", "^replicas: 1$", "replicas: [1")
    with pytest.raises(RenderError, match=r"\(line 5, column 1\)"):
        render(spec, {"values.yaml": VALUES})


def test_files_that_were_not_yaml_or_are_not_named_yaml_are_not_held_to_it() -> None:
    spec = regex("*", "^replicas: 1$", "replicas: [1")
    result = render(spec, {"values.yaml.txt": VALUES, "broken.yaml": "a: [\nreplicas: 1\n"})
    assert sorted(result.changes.paths()) == ["broken.yaml", "values.yaml.txt"]


def test_a_regex_replacement_that_keeps_the_yaml_valid_passes() -> None:
    result = render(regex("values.yaml", "^replicas: 1$", "replicas: 2"), {"values.yaml": VALUES})
    (change,) = result.changes
    assert change.content == VALUES.replace("replicas: 1", "replicas: 2").encode()


# --------------------------------------------------------------------------- templates

CREATE = (
    "  creates:\n    templates:\n"
    "      - source: templates/svc.yaml\n        destination: out/svc.yaml\n"
)


def test_a_template_that_renders_to_broken_yaml_is_refused() -> None:
    templates = {"templates/svc.yaml": "name: {{ context.name }}\nkind: Service\n"}
    assert render(CREATE, {}, templates, name="web").changes.paths() == ["out/svc.yaml"]
    with pytest.raises(RenderError) as err:
        render(CREATE, {}, templates, name="a: b")
    assert str(err.value).startswith(
        "demo: spec.creates.templates[0]: out/svc.yaml would no longer read as YAML: not valid YAML: "
    )
    assert "(line 1, column" in str(err.value)


def test_a_template_that_is_not_yaml_itself_is_not_held_to_it() -> None:
    # A Helm template (Go template syntax kept by {% raw %}) is not YAML before or after.
    templates = {"templates/svc.yaml": "{% raw %}{{- if .Values.on }}{% endraw %}\nkind: A\n"}
    result = render(CREATE, {}, templates)
    assert result.changes.paths() == ["out/svc.yaml"]


def test_a_template_replacing_a_yaml_file_must_keep_it_yaml() -> None:
    templates = {"templates/svc.yaml": "{{ context.name }}\n"}
    with pytest.raises(RenderError, match=r"out/svc\.yaml would no longer read as YAML"):
        render(CREATE, {"out/svc.yaml": "a: 1\n"}, templates, name="a: b: c")


# --------------------------------------------------------------------------- yamlEdits, yamlOverlays

ALIAS_KEY = (
    "metadata:\n  name: &app podinfo\nspec:\n  values:\n    controllers:\n      *app :\n"
    "        image:\n          tag: 6.5.0\n"
)
SHARED = "defaults: &d\n  tag: 1.0.0\napp:\n  <<: *d\n  name: web\n"


def edit(path: str, value: str, follow: bool | None = None, file: str = "values.yaml") -> str:
    extra = "" if follow is None else f", followAliases: {str(follow).lower()}"
    return f"  updates:\n    yamlEdits:\n      - {{file: {file}, path: {path!r}, value: {value!r}{extra}}}\n"


def test_the_reported_alias_key_edit_through_render() -> None:
    result = render(
        edit("spec.values.controllers.podinfo.image.tag", "6.5.1"), {"values.yaml": ALIAS_KEY}
    )
    (change,) = result.changes
    assert change.content == ALIAS_KEY.replace("6.5.0", "6.5.1").encode()


def test_follow_aliases_in_a_definition() -> None:
    with pytest.raises(RenderError) as err:
        render(edit("defaults.tag", "2.0.0"), {"values.yaml": SHARED})
    assert str(err.value) == (
        "demo: spec.updates.yamlEdits[0]: values.yaml: defaults.tag: the value is shared through an "
        "anchor (&d): the edit would also change app.tag; set followAliases: true to change them "
        "all, or edit those paths instead"
    )
    (change,) = render(edit("defaults.tag", "2.0.0", True), {"values.yaml": SHARED}).changes
    assert change.content == SHARED.replace("1.0.0", "2.0.0").encode()
    (change,) = render(edit("app.tag", "2.0.0", False), {"values.yaml": SHARED}).changes
    assert change.content == SHARED.replace("  name: web\n", "  name: web\n  tag: 2.0.0\n").encode()


def test_follow_aliases_in_an_overlay() -> None:
    overlay = (
        "  updates:\n    yamlOverlays:\n      - file: values.yaml\n"
        "        yaml: 'defaults: {tag: 2.0.0}'\n"
    )
    with pytest.raises(RenderError, match=r"yamlOverlays\[0\]: values.yaml: defaults.tag: .*&d"):
        render(overlay, {"values.yaml": SHARED})
    (change,) = render(overlay + "        followAliases: true\n", {"values.yaml": SHARED}).changes
    assert change.content == SHARED.replace("1.0.0", "2.0.0").encode()


def test_a_file_with_a_key_twice_is_reported() -> None:
    with pytest.raises(RenderError) as err:
        render(edit("image.tag", "2.0.0"), {"values.yaml": VALUES + "image: {}\n"})
    assert str(err.value) == (
        "demo: spec.updates.yamlEdits[0]: values.yaml: image.tag: the file cannot be edited "
        "safely: the key 'image' is in the document root twice (line 2 and line 5); YAML "
        "readers disagree on which value it has"
    )


def test_follow_aliases_must_be_a_boolean() -> None:
    files = {"defs/a.yaml": HEADER + SPEC + edit("a", "1").replace("}", ", followAliases: maybe}")}
    loaded = load_view(MemoryRepoView(files), root="defs")
    assert [p.field for p in loaded.problems] == ["spec.updates.yamlEdits[0].followAliases"]
