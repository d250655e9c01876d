"""render_automation: creates, updates, deletes, metadata, path safety and secrets."""

from __future__ import annotations

import pytest

from prbot.automation.changeset import MemoryRepoView, RepoFile, unified_diff
from prbot.automation.errors import InputError, RenderError
from prbot.automation.loader import load_view
from prbot.automation.render import default_head, render_automation

HEADER = "apiVersion: prbot.dev/v1alpha1\nkind: PrAutomation\nmetadata: {name: demo}\nspec:\n"


def automation(spec: str, templates: dict[str, str | bytes | RepoFile] | None = None):
    files = {"defs/a.yaml": HEADER + spec, **{f"defs/{k}": v for k, v in (templates or {}).items()}}
    loaded = load_view(MemoryRepoView(files), root="defs")
    assert loaded.problems == [], loaded.problems
    return loaded.automations["demo"]


BASIC = """\
  title: "Add {{ context.name }}"
  message: "Adds {{ context.name }}"
  configuration:
    - {name: name, type: string}
    - {name: cloud, type: enum, values: [aws, gcp], default: aws}
"""

REPO = MemoryRepoView(
    {
        "values.yaml": "# settings\nimage:\n  tag: 1.0.0 # bump me\nreplicas: 1\n",
        "chart/Chart.yaml": "version: 1.2.3 # VERSION\n",
        "old/a.yaml": "a",
        "old/b.txt": "b",
        "gone/x/y.yaml": "y",
        "bin/run.sh": RepoFile(b"#!/bin/sh\n", "100755"),
        "link": RepoFile(b"/etc", "120000"),
    }
)


def test_creates_with_condition_context_and_folder() -> None:
    a = automation(
        BASIC
        + """\
  creates:
    templates:
      - source: templates/one.yaml
        destination: "out/{{ context.name }}-{{ context.env }}.yaml"
        context: {env: dev}
      - source: templates/one.yaml
        destination: "out/{{ context.name }}-{{ context.env }}.yaml"
        context: {env: prod}
      - source: templates/one.yaml
        destination: "gcp-only.yaml"
        condition: "context.cloud == 'gcp'"
        context: {env: any}
      - source: templates/dir
        destination: "svc/{{ context.name }}"
""",
        {
            "templates/one.yaml": "name: {{ context.name }}\nenv: {{ context.env }}\n",
            "templates/dir/{{ context.name }}.txt": "hello {{ context.name }}",
            "templates/dir/run.sh": RepoFile(b"#!/bin/sh\necho {{ context.name }}\n", "100755"),
            "templates/dir/logo.png": b"\x89PNG\x00\xff{{",
        },
    )
    result = render_automation(a, {"name": "web"}, REPO)
    got = {c.path: (c.operation, c.content, c.mode) for c in result.changes}
    assert got == {
        "out/web-dev.yaml": ("create", b"name: web\nenv: dev\n", "100644"),
        "out/web-prod.yaml": ("create", b"name: web\nenv: prod\n", "100644"),
        "svc/web/web.txt": ("create", b"hello web", "100644"),
        "svc/web/run.sh": ("create", b"#!/bin/sh\necho web\n", "100755"),
        "svc/web/logo.png": ("create", b"\x89PNG\x00\xff{{", "100644"),
    }
    assert (
        "gcp-only.yaml"
        in render_automation(a, {"name": "web", "cloud": "gcp"}, REPO).changes.paths()
    )


def test_updates_see_creates_and_deletes_come_last() -> None:
    a = automation(
        BASIC
        + """\
  creates:
    templates:
      - {source: templates/new.yaml, destination: new.yaml}
  updates:
    regexReplacements:
      - file: new.yaml
        regex: "v: 1"
        replacement: "v: 2"
      - file: "chart/*.yaml"
        regex: "^version: (.*) # VERSION$"
        replacement: "version: 2.0.0 # VERSION (was \\\\1)"
  deletes:
    files: ["old/*.yaml", "new.yaml", "never-there.yaml"]
    folders: [gone]
""",
        {"templates/new.yaml": "v: 1\n"},
    )
    result = render_automation(a, {"name": "x"}, REPO)
    changes = result.changes.by_path()
    assert "new.yaml" not in changes  # created then deleted: no net change
    assert changes["chart/Chart.yaml"].content == b"version: 2.0.0 # VERSION (was 1.2.3)\n"
    assert changes["old/a.yaml"].operation == "delete"
    assert changes["gone/x/y.yaml"].operation == "delete"
    assert "old/b.txt" not in changes
    assert set(changes) == {"chart/Chart.yaml", "old/a.yaml", "gone/x/y.yaml"}


def test_yaml_edits_and_overlays_keep_comments() -> None:
    a = automation(
        """\
  title: T
  configuration:
    - {name: name, type: string}
    - {name: replicas, type: int}
  updates:
    yamlEdits:
      - {file: values.yaml, path: image.tag, value: "{{ context.name }}"}
      - {file: values.yaml, path: replicas, value: "{{ context.replicas }}"}
    yamlOverlays:
      - file: values.yaml
        yaml: |
          image:
            pullPolicy: Always
"""
    )
    result = render_automation(a, {"name": "2.0.0", "replicas": "3"}, REPO)
    (change,) = result.changes
    text = change.content.decode()
    assert "tag: 2.0.0 # bump me" in text
    assert "replicas: 3\n" in text  # the int stays an int: a lone {{ }} keeps its type
    assert text.startswith("# settings\n")
    assert "pullPolicy: Always" in text


def test_same_inputs_same_result_and_no_op_is_empty() -> None:
    a = automation(
        BASIC
        + "  updates:\n    yamlEdits:\n      - {file: values.yaml, path: image.tag, value: 1.0.0}\n"
    )
    first = render_automation(a, {"name": "x"}, REPO)
    assert len(first.changes) == 0  # the value is already 1.0.0: nothing to commit
    again = render_automation(a, {"name": "x"}, REPO)
    assert first.pull_request == again.pull_request
    other = render_automation(a, {"name": "y"}, REPO)
    assert other.pull_request.head != first.pull_request.head


def test_pull_request_metadata() -> None:
    a = automation(
        """\
  title: "  Add   {{ context.name }}\\n now "
  message: "Body for {{ context.name }}"
  head: "feature/{{ context.name }}"
  base: "release-{{ context.name }}"
  labels: [infra, "team/{{ context.name }}", ""]
  reviewers: ["{{ context.name }}-owner"]
  configuration:
    - {name: name, type: string}
"""
    )
    pr = render_automation(a, {"name": "web"}, REPO).pull_request
    assert pr.title == "Add web now"
    assert pr.body == pr.commit_message == "Body for web"
    assert (pr.head, pr.base) == ("feature/web", "release-web")
    assert pr.labels == ("infra", "team/web")
    assert pr.reviewers == ("web-owner",)


def test_default_head_is_deterministic_and_ignores_passwords() -> None:
    a = automation(BASIC + "    - {name: pw, type: password, optional: true}\n")
    one = render_automation(a, {"name": "x", "pw": "s1"}, REPO).pull_request.head
    two = render_automation(a, {"name": "x", "pw": "s2"}, REPO).pull_request.head
    assert one == two and one.startswith("prbot/demo-")
    inputs = render_automation(a, {"name": "x"}, REPO).inputs
    assert default_head("demo", inputs, {"stage": "dev"}) != default_head("demo", inputs, {})


@pytest.mark.parametrize("head", ["a..b", "-x", "a b", "x.lock", "a~1", "a/", "refs@{0}"])
def test_invalid_branch_names_are_refused(head: str) -> None:
    a = automation(f'  head: "{head}"\n' + BASIC)
    with pytest.raises(RenderError) as err:
        render_automation(a, {"name": "x"}, REPO)
    assert "spec.head" in str(err.value) and "not a valid branch name" in str(err.value)


SECRET = "s3cr3t-Value-42"


def secret_automation(field_use: str):
    return automation(
        f"""\
  title: "{field_use}"
  configuration:
    - {{name: name, type: string}}
    - {{name: token, type: password}}
  creates:
    templates:
      - {{source: templates/s.yaml, destination: secret.yaml}}
""",
        {"templates/s.yaml": "token: {{ context.token | b64encode }}\n"},
    )


def test_passwords_reach_file_templates_only() -> None:
    ok = secret_automation("Add {{ context.name }}")
    result = render_automation(ok, {"name": "x", "token": SECRET}, REPO)
    assert SECRET not in repr(result.pull_request)
    assert result.changes.by_path()["secret.yaml"].content.startswith(b"token: czNjcjN0")
    assert SECRET not in repr(result.inputs.public())
    for use in ["{{ context.token }}", "{{ context.token | upper }}", "{{ context.token[0] }}"]:
        with pytest.raises(RenderError) as err:
            render_automation(secret_automation(use), {"name": "x", "token": SECRET}, REPO)
        assert "only available in file templates" in str(err.value)
        assert SECRET not in str(err.value)


def test_errors_are_redacted() -> None:
    a = automation(
        """\
  title: T
  configuration:
    - {name: token, type: password}
  creates:
    templates:
      - {source: templates/s.yaml, destination: "x.yaml"}
""",
        {"templates/s.yaml": "{{ context.token | int(base=2) }}{{ context.nope[context.token] }}"},
    )
    with pytest.raises(RenderError) as err:
        render_automation(a, {"token": SECRET}, REPO)
    assert SECRET not in str(err.value)


@pytest.mark.parametrize(
    ("destination", "fragment"),
    [
        ("../escape.yaml", "leaves the repository"),
        ("/etc/passwd", "is absolute"),
        (".git/hooks/post-checkout", "inside .git"),
        ("link/passwd", "symlink that leaves"),
        ("{{ '../' * 3 }}x", "leaves the repository"),
    ],
)
def test_destinations_stay_in_the_repository(destination: str, fragment: str) -> None:
    a = automation(
        BASIC
        + f'  creates:\n    templates:\n      - {{source: templates/t, destination: "{destination}"}}\n',
        {"templates/t": "x"},
    )
    with pytest.raises(RenderError) as err:
        render_automation(a, {"name": "x"}, REPO)
    assert fragment in str(err.value)
    assert "spec.creates.templates[0].destination" in str(err.value)


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        (
            "updates:\n    regexReplacements:\n      - {file: ../x, regex: a, replacement: b}",
            "leaves the repository",
        ),
        ("updates:\n    yamlEdits:\n      - {file: .git/config, path: a, value: 1}", "inside .git"),
        ("deletes:\n    files: [/etc/passwd]", "is absolute"),
        ("deletes:\n    folders: ['..']", "leaves the repository"),
        (
            "updates:\n    regexReplacements:\n      - {file: missing.yaml, regex: a, replacement: b}",
            "missing.yaml does not exist",
        ),
        (
            "updates:\n    yamlEdits:\n      - {file: 'nothing/*.yaml', path: a, value: 1}",
            "no file matches",
        ),
        (  # a pattern that is a template is checked when rendered (a literal one at load)
            "updates:\n    regexReplacements:\n      - {file: values.yaml, regex: '{{ \"(\" }}', replacement: b}",
            "regexReplacements[0].regex: is not a valid regular expression: missing ): (",
        ),
        (
            "updates:\n    regexReplacements:\n      - {file: values.yaml, regex: 'tag', replacement: '\\9'}",
            "replacement",
        ),
        (
            "updates:\n    yamlEdits:\n      - {file: values.yaml, path: 'image.tag.x', value: 1}",
            "yamlEdits[0]",
        ),
        (
            "updates:\n    yamlOverlays:\n      - {file: values.yaml, yaml: '- a'}",
            "must be a mapping",
        ),
        ("updates:\n    yamlOverlays:\n      - {file: values.yaml, yaml: 'a: ['}", "not YAML"),
    ],
)
def test_update_errors_name_the_field(section: str, fragment: str) -> None:
    a = automation(BASIC + "  " + section + "\n")
    with pytest.raises(RenderError) as err:
        render_automation(a, {"name": "x"}, REPO)
    assert fragment in str(err.value), str(err.value)
    assert str(err.value).startswith("demo: spec.")


def test_invalid_inputs_raise_input_error() -> None:
    a = automation(BASIC)
    with pytest.raises(InputError) as err:
        render_automation(a, {"cloud": "azure"}, REPO)
    fields = {p.field for p in err.value.problems}
    assert fields == {"name", "cloud"}


def test_template_error_names_the_template_file_and_line() -> None:
    a = automation(
        BASIC
        + "  creates:\n    templates:\n      - {source: templates/bad.yaml, destination: x}\n",
        {"templates/bad.yaml": "a: 1\nb: {{ context.nam }}\n"},
    )
    with pytest.raises(RenderError) as err:
        render_automation(a, {"name": "x"}, REPO)
    assert str(err.value).startswith("templates/bad.yaml:2: undefined")


def test_unified_diff() -> None:
    a = automation(
        BASIC
        + "  updates:\n    yamlEdits:\n      - {file: values.yaml, path: image.tag, value: 2.0.0}\n"
        + "  deletes:\n    files: [old/b.txt]\n"
    )
    result = render_automation(a, {"name": "x"}, REPO)
    diff = unified_diff(result.changes, REPO)
    assert "--- a/values.yaml\n+++ b/values.yaml\n" in diff
    assert "-  tag: 1.0.0 # bump me\n+  tag: 2.0.0 # bump me\n" in diff
    assert "deleted file mode 100644" in diff
    coloured = unified_diff(result.changes, REPO, colour=True)
    assert "\x1b[32m+  tag: 2.0.0" in coloured


def test_input_values_are_literal_inside_globs() -> None:
    a = automation(
        BASIC
        + '  deletes:\n    files: ["old/{{ context.name }}.yaml", "old/*.txt"]\n'
        + "  updates:\n    regexReplacements:\n"
        + '      - {file: "chart/{{ context.name }}", regex: "1", replacement: "2"}\n'
    )
    with pytest.raises(RenderError) as err:  # '*' does not match Chart.yaml
        render_automation(a, {"name": "*"}, REPO)
    assert "no file matches" in str(err.value)
    b = automation(BASIC + '  deletes:\n    files: ["old/{{ context.name }}.yaml", "old/*.txt"]\n')
    result = render_automation(b, {"name": "*"}, REPO)
    assert result.changes.paths() == ["old/b.txt"]  # the definition's own * still globs


def test_an_expression_that_yields_a_wildcard_is_literal_but_template_text_globs() -> None:
    """What docs/definitions.md says: {{ '*' }} is escaped; a * in the template's own text,
    chosen by an if, is a wildcard."""
    files = "{% if context.cloud == 'gcp' %}*{% else %}{{ context.name }}{% endif %}"
    a = automation(BASIC + f'  deletes:\n    files: ["old/{files}.yaml", "old/{{{{ \'*\' }}}}"]\n')
    assert render_automation(a, {"name": "a"}, REPO).changes.paths() == ["old/a.yaml"]
    assert render_automation(a, {"name": "zz", "cloud": "gcp"}, REPO).changes.paths() == [
        "old/a.yaml"
    ]
    assert render_automation(a, {"name": "*"}, REPO).changes.paths() == []


def test_regex_without_a_match_changes_nothing_even_with_group_references() -> None:
    a = automation(
        BASIC
        + "  updates:\n    regexReplacements:\n"
        + "      - {file: values.yaml, regex: 'a^', replacement: '\\g<1> x'}\n"
    )
    assert len(render_automation(a, {"name": "x"}, REPO).changes) == 0
