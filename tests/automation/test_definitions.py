"""Definition documents: every field parsed, every mistake reported with its location."""

from __future__ import annotations

from pathlib import Path

import pytest

from prbot.automation.changeset import MemoryRepoView, RepoFile
from prbot.automation.definitions import ApprovalGate, WindowGate, parse_duration
from prbot.automation.loader import load_view

HEADER = "apiVersion: prbot.dev/v1alpha1\n"

FULL = (
    HEADER
    + """\
kind: PrAutomation
metadata:
  name: full
spec:
  repository: acme/gitops
  base: main
  head: "prbot/full-{{ context.name }}"
  title: "Full {{ context.name }}"
  message: "Body"
  labels: [a, "b-{{ context.name }}"]
  reviewers: [alice]
  catalog: platform
  category: infra
  description: d
  documentation: "# Docs"
  icon: https://example.com/i.svg
  configuration:
    - name: name
      type: STRING            # Plural's spelling is accepted
      displayName: Name
      documentation: the name
      placeholder: x
      validation: {regex: "^[a-z]+$"}
    - name: size
      type: int
      default: 2
    - name: flag
      type: bool
      optional: true
    - name: cloud
      type: enum
      values: [aws, gcp]
    - name: extra
      type: json
      optional: true
    - name: token
      type: password
      condition: {field: cloud, operation: EQ, value: gcp}
    - name: raw
      type: string
      optional: true
      validation: {json: true}
  confirmation:
    text: Sure?
    checklist: ["one", {label: two}]
  creates:
    templates:
      - source: templates/a.yaml
        destination: "out/{{ context.name }}.yaml"
        condition: "context.cloud == 'aws'"
        context: {env: dev}
      - source: templates/folder
        destination: out/folder
  updates:
    regexReplacements:
      - {file: "x/*.yaml", regex: "v: (.*)", replacement: "v: 2"}
    yamlOverlays:
      - {file: y.yaml, yaml: "a: 1", listMerge: append}
    yamlEdits:
      - {file: z.yaml, path: "1:a.b[0]", value: {k: [1, 2]}}
  deletes:
    files: ["old/*.yaml"]
    folders: [gone]
---
"""
    + HEADER
    + """\
kind: Pipeline
metadata: {name: promote}
spec:
  stages:
    - name: dev
      automation: full
      context: {env: dev}
      health: {checks: [ci], deployment: dev, soak: 1h30m, timeout: 2h}
    - name: prod
      automation: full
      gates:
        - approval: {users: [alice], teams: [ops], count: 2}
        - window: {days: [MON, fri], hours: "09:00-17:00", timezone: Europe/Berlin}
      onFailure: rollback
---
"""
    + HEADER
    + """\
kind: Catalog
metadata: {name: platform}
spec: {description: Platform, category: infra, icon: x}
"""
)


def view(files: dict[str, str | bytes | RepoFile]) -> MemoryRepoView:
    return MemoryRepoView(files)


def load(text: str, extra: dict[str, str | bytes | RepoFile] | None = None):
    return load_view(view({"defs/a.yaml": text, **(extra or {})}), root="defs")


TEMPLATES = {
    "defs/templates/a.yaml": "a: {{ context.name }}\n",
    "defs/templates/folder/one.txt": "1",
    "defs/templates/folder/sub/two.sh": RepoFile(b"#!/bin/sh\n", "100755"),
}


def test_every_field_is_parsed() -> None:
    loaded = load(FULL, TEMPLATES)
    assert loaded.problems == []
    a = loaded.automations["full"]
    assert (a.repository, a.base, a.labels, a.reviewers) == (
        "acme/gitops",
        "main",
        ("a", "b-{{ context.name }}"),
        ("alice",),
    )
    assert [f.type for f in a.configuration] == [
        "string",
        "int",
        "bool",
        "enum",
        "json",
        "password",
        "string",
    ]
    assert a.configuration[0].regex == "^[a-z]+$"
    assert a.configuration[5].condition.operation == "eq"
    assert a.configuration[6].json is True
    assert a.confirmation.checklist == ("one", "two")
    t0, t1 = a.templates
    assert (t0.condition, t0.context, t0.is_folder) == (
        "context.cloud == 'aws'",
        {"env": "dev"},
        False,
    )
    assert t0.files[0].content == b"a: {{ context.name }}\n"
    assert t1.is_folder and sorted(f.relpath for f in t1.files) == ["one.txt", "sub/two.sh"]
    assert [f.executable for f in t1.files if f.relpath == "sub/two.sh"] == [True]
    assert a.yaml_overlays[0].list_merge == "append"
    assert a.yaml_edits[0].value == {"k": [1, 2]}
    assert a.delete_files == ("old/*.yaml",) and a.delete_folders == ("gone",)

    p = loaded.pipelines["promote"]
    assert p.stages[0].health.soak_seconds == 5400 and p.stages[0].health.timeout_seconds == 7200
    assert p.stages[1].gates == (
        ApprovalGate(("alice",), ("ops",), 2),
        WindowGate(("mon", "fri"), "09:00-17:00", "Europe/Berlin"),
    )
    assert p.stages[1].on_failure == "rollback" and p.stages[0].on_failure == "hold"
    assert loaded.catalogs["platform"].description == "Platform"
    loaded.check_references()
    assert loaded.problems == []


def problems_of(text: str, extra=None) -> list[str]:
    return [str(p) for p in load(text, extra).problems]


def automation(spec: str) -> str:
    return HEADER + "kind: PrAutomation\nmetadata: {name: t}\nspec:\n  title: T\n" + spec


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "  titel: x\n",
            "defs/a.yaml:6: document 1: spec.titel: unknown field (did you mean 'title'?)",
        ),
        (
            "  configuration:\n    - {name: a, type: strng}\n",
            "spec.configuration[0].type: must be one of string, int, bool, enum, json, password, got 'strng' (did you mean 'string'?)",
        ),
        (
            "  configuration:\n    - {name: a, type: enum}\n",
            "spec.configuration[0].values: an enum needs a list of values",
        ),
        (
            "  configuration:\n    - {name: a, type: int, default: x}\n",
            "spec.configuration[0].default: must be an integer",
        ),
        (
            "  configuration:\n    - {name: a, type: string, default: B, validation: {regex: '^[a-z]$'}}\n",
            "spec.configuration[0].default: must match the pattern",
        ),
        (
            "  configuration:\n    - {name: a, type: password, default: hunter2}\n",
            "a password input cannot have a default",
        ),
        (
            "  configuration:\n    - {name: a, type: string, validation: {regex: '(['}}\n",
            "is not a valid regular expression",
        ),
        (
            "  configuration:\n    - {name: a-b, type: string}\n",
            "spec.configuration[0].name: must be an identifier",
        ),
        (
            "  configuration:\n    - {name: a, type: string}\n    - {name: a, type: int}\n",
            "spec.configuration[1].name: duplicate input name 'a'",
        ),
        (
            "  configuration:\n    - {name: a, type: string, condition: {field: clod, operation: eq, value: x}}\n    - {name: cloud, type: string}\n",
            "no input named 'clod' (did you mean 'cloud'?)",
        ),
        (
            "  configuration:\n    - {name: a, type: string, condition: {field: a, operation: eq, value: x}}\n",
            "cannot depend on itself",
        ),
        (
            "  configuration:\n    - {name: a, type: string, condition: {field: b, operation: eq, value: x}}\n    - {name: b, type: string, condition: {field: a, operation: eq, value: x}}\n",
            "conditions form a cycle",
        ),
        (
            "  configuration:\n    - {name: a, type: int}\n    - {name: b, type: string, condition: {field: a, operation: gt, value: many}}\n",
            "gt needs a number",
        ),
        (
            "  configuration:\n    - {name: a, type: string, condition: {field: a, operation: sometimes}}\n",
            "operation: must be one of eq, not",
        ),
        ("  repository: just-a-name\n", "spec.repository: must look like owner/name"),
        ("  labels: a\n", "spec.labels: must be a list, got a string"),
        (
            "  updates:\n    yamlOverlays:\n      - {file: a, yaml: b, listMerge: merge}\n",
            "listMerge: must be one of overwrite, append",
        ),
        (
            "  updates:\n    yamlEdits:\n      - {file: a, value: 1}\n",
            "spec.updates.yamlEdits[0].path: is required",
        ),
        (
            "  creates:\n    templates:\n      - {source: templates/missing.yaml, destination: x}\n",
            "spec.creates.templates[0].source: 'templates/missing.yaml' does not exist",
        ),
        (
            "  creates:\n    templates:\n      - {source: ../../etc/passwd, destination: x}\n",
            "leaves the repository",
        ),
        (
            "  creates:\n    templates:\n      - {source: ../outside.yaml, destination: x}\n",
            "is outside the definitions folder",
        ),
    ],
)
def test_mistakes_are_located(spec: str, expected: str) -> None:
    found = problems_of(automation(spec), {"outside.yaml": "x"})
    assert any(expected in p for p in found), found
    assert all(p.startswith("defs/a.yaml") for p in found)


def test_line_numbers_point_at_the_field() -> None:
    text = automation("  configuration:\n    - name: a\n      type: integer\n")
    (problem,) = load(text).problems
    assert problem.line == 8 and problem.document == 1
    assert problem.field == "spec.configuration[0].type"


def test_envelope_errors() -> None:
    assert "is required" in problems_of("apiVersion: prbot.dev/v1alpha1\nkind: PrAutomation\n")[0]
    plural = "apiVersion: deployments.plural.sh/v1alpha1\nkind: PrAutomation\n# prbot.dev/\n"
    found = load_view(view({"a.yaml": plural}), files=["a.yaml"]).problems
    assert "this is a Plural definition" in str(found[0])
    bad_kind = HEADER + "kind: PrAutomaton\nmetadata: {name: x}\nspec: {}\n"
    assert "did you mean 'PrAutomation'" in problems_of(bad_kind)[0]


def test_invalid_yaml_and_duplicate_keys_name_the_line() -> None:
    (p,) = problems_of(HEADER + "kind: [\n")
    assert p.startswith("defs/a.yaml:") and "invalid YAML" in p
    dup = automation("  title: again\n")
    (p,) = problems_of(dup)
    assert "invalid YAML" in p and "defs/a.yaml:" in p


def test_names_are_unique_per_kind_and_references_checked() -> None:
    one = automation("")
    two = automation("").replace("name: t", "name: t")
    loaded = load_view(view({"d/a.yaml": one, "d/b.yaml": two}))
    assert any("already defined in d/a.yaml" in str(p) for p in loaded.problems)
    pipeline = (
        HEADER
        + "kind: Pipeline\nmetadata: {name: t}\nspec:\n  stages:\n    - {name: dev, automation: tt}\n"
    )
    loaded = load_view(view({"d/a.yaml": one, "d/p.yaml": pipeline}))
    assert loaded.problems == []  # same name, different kind: fine
    loaded.check_references()
    assert "no PrAutomation named 'tt' (did you mean 't'?)" in str(loaded.problems[0])


def test_pipeline_mistakes() -> None:
    text = (
        HEADER
        + """\
kind: Pipeline
metadata: {name: p}
spec:
  stages:
    - {name: dev, automation: a, health: {soak: 5 minutes}}
    - {name: dev, automation: a, gates: [{approval: {count: 0}}, {approval: {}, window: {}}]}
    - {name: x, automation: a, gates: [{window: {hours: "9-5", timezone: Mars/Base, days: [funday]}}]}
"""
    )
    found = "\n".join(problems_of(text))
    assert "spec.stages[0].health.soak: '5 minutes' is not a duration" in found
    assert "spec.stages[1].gates[0].approval.count: must be at least 1" in found
    assert "spec.stages[1].gates[1]: must have exactly one of approval or window" in found
    assert "hours: must be HH:MM-HH:MM" in found
    assert "'Mars/Base' is not a known time zone" in found
    assert "days[0]: must be one of mon" in found
    dup = (
        HEADER
        + "kind: Pipeline\nmetadata: {name: p}\nspec:\n  stages:\n    - {name: dev, automation: a}\n    - {name: dev, automation: a}\n"
    )
    assert "duplicate stage 'dev'" in "\n".join(problems_of(dup))


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("10m", 600), ("1h30m", 5400), ("2d", 172800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_files_without_the_marker_are_not_definitions() -> None:
    loaded = load_view(view({"d/values.yaml": "image: {tag: 1}\n", "d/t.yaml": "{{ broken"}))
    assert loaded.problems == [] and not loaded.automations


def test_template_source_symlink_is_refused() -> None:
    text = automation(
        "  creates:\n    templates:\n      - {source: templates/link, destination: x}\n"
    )
    found = problems_of(text, {"defs/templates/link": RepoFile(b"/etc/passwd", "120000")})
    assert any("is a symlink" in p for p in found)


def test_shipped_automations_validate() -> None:
    root = Path(__file__).resolve().parents[2]
    from prbot.automation.changeset import DirRepoView

    loaded = load_view(DirRepoView(root / "automations"))
    loaded.merge(load_view(DirRepoView(root / "examples" / "gitops" / ".prbot")))
    loaded.check_references()
    assert loaded.problems == []
    assert set(loaded.automations) == {"cluster-create", "service-create", "image-bump", "scale"}
    assert set(loaded.pipelines) == {"myapp"}


def test_template_syntax_errors_are_found_at_load_time() -> None:
    text = automation(
        '  labels: ["{{ context.x "]\n'
        "  creates:\n    templates:\n"
        "      - {source: templates/t.yaml, destination: x, condition: 'context.a =='}\n"
        "  updates:\n    yamlEdits:\n      - {file: f, path: p, value: {k: ['{% if %}']}}\n"
    )
    found = problems_of(text, {"defs/templates/t.yaml": "ok\n{% for %}\n"})
    joined = "\n".join(found)
    # file:line of the field in the definition, then the field
    assert "defs/a.yaml:6: spec.labels[0]: template syntax error" in joined
    assert "defs/a.yaml:9: spec.creates.templates[0].condition: template syntax error" in joined
    assert "defs/a.yaml:12: spec.updates.yamlEdits[0].value.k[0]: template syntax error" in joined
    assert (
        "defs/a.yaml:9: spec.creates.templates[0].source: template syntax error in "
        "templates/t.yaml at line 2"
    ) in joined


def test_a_syntax_error_in_a_template_of_several_lines_names_both_lines() -> None:
    text = automation(
        "  message: |\n    Adds it.\n\n    {% if context.x %}never closed\n"
        '  head: "prbot/{{ context.x "\n'
    )
    assert problems_of(text) == [
        "defs/a.yaml:6: spec.message: template line 3: template syntax error: Unexpected end "
        "of template. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. "
        "The innermost block that needs to be closed is 'if'.",
        "defs/a.yaml:10: spec.head: template syntax error: unexpected end of template, "
        "expected 'end of print statement'.",
    ]
