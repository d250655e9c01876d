"""Names a template reads that its context will not hold: found by Jinja's parser, with
the definition's file and line, the template's own line and a did-you-mean; legitimate
names (loop and set variables, macro arguments, filters, guarded names, the documented
context) are left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from prbot.automation.changeset import DirRepoView, MemoryRepoView
from prbot.automation.loader import load_view
from prbot.automation.template_checks import name_problems
from prbot.automation.template_names import unknown_names

ROOT = Path(__file__).resolve().parents[2]
KNOWN = {"name", "env", "items", "pipeline"}


def found(source: str, **kwargs) -> list[tuple[int, str]]:
    return [(u.line, u.message) for u in unknown_names(source, KNOWN, **kwargs)]


def test_a_misspelled_input_is_found_with_its_line_and_a_did_you_mean() -> None:
    assert found("a: {{ context.name }}\nb: {{ context.nme }}\n") == [
        (2, "context.nme is not an input (did you mean 'name'?)")
    ]
    assert found("{{ context['nmae'] }}") == [
        (1, "context.nmae is not an input (did you mean 'name'?)")
    ]
    assert found("{{ context.zzz }}") == [(1, "context.zzz is not an input")]
    # reported once per template, at its first use
    assert found("{{ context.nme }}\n{{ context.nme }}") == [
        (1, "context.nme is not an input (did you mean 'name'?)")
    ]


def test_a_root_variable_other_than_context() -> None:
    assert found("x\n{{ name }}") == [
        (2, "name is not defined: the only variable is context (did you mean 'context.name'?)")
    ]
    assert found("{{ other }}") == [(1, "other is not defined: the only variable is context")]


@pytest.mark.parametrize(
    "source",
    [
        "{% for x in context.items %}{{ x.a }}{{ loop.index }}{% endfor %}",
        "{% set y = context.name | upper %}{{ y }}",
        "{% if context.env == 'a' %}{% set s = 1 %}{% else %}{% set s = 2 %}{% endif %}{{ s }}",
        "{% macro m(a, b=1) %}{{ a }}{{ b }}{% endmacro %}{{ m(context.name) }}",
        "{{ context.name | default('x') | to_yaml | indent(2) }}",
        "{% if context.extra is defined %}{{ context.extra }}{% endif %}",
        "{{ context.extra | default('none') }} {{ context.extra }}",
        "{{ context.other | d }}",
        "{% for k, v in context.items() %}{{ k }}{% endfor %}{{ context.get('maybe') }}",
        "{{ context.keys() | list }}{{ context.values() | list }}",
        "{{ context.pipeline.stage.name }}-{{ context.pipeline.unknown_is_not_checked }}",
        "{{ range(3) | list }}{{ dict(a=1) }}{% set ns = namespace(n=0) %}{{ ns.n }}",
        "{% set context = {'x': 1} %}{{ context.x }}",
        "{% for context in [1] %}{{ context }}{% endfor %}",
        "no template at all: {{ but it has braces",  # a syntax error is reported elsewhere
    ],
)
def test_legitimate_names_are_not_reported(source: str) -> None:
    assert found(source) == []


def test_an_expression_and_a_password() -> None:
    assert found("context.envv == 'x'", expression=True) == [
        (1, "context.envv is not an input (did you mean 'env'?)")
    ]
    hidden = {"name": "is a password input, only available in file templates"}
    assert found("{{ context.name }}", hidden=hidden) == [
        (1, "context.name is a password input, only available in file templates")
    ]


HEADER = "apiVersion: prbot.dev/v1alpha1\nkind: PrAutomation\nmetadata: {name: demo}\nspec:\n"
SPEC = """\
  title: "Add {{ context.nme }}"
  message: |
    Adds {{ context.name }}.
    Owner: {{ context.owner }}
  labels: ["{{ context.token }}"]
  configuration:
    - {name: name, type: string}
    - {name: token, type: password}
  creates:
    templates:
      - source: t/svc.yaml
        destination: "svc/{{ context.name }}-{{ context.env }}.yaml"
        context: {env: dev, replicas: 1}
      - source: t/svc.yaml
        destination: "svc/{{ context.name }}-{{ context.env }}.yaml"
        condition: "context.envv == 'x'"
        context: {env: prod, production: true}
  updates:
    yamlEdits:
      - file: "svc/{{ context.name }}-dev.yaml"
        path: spec.size
        value: "{{ context.sise }}"
"""
SVC = (
    "name: {{ context.name }}\n"
    "{% if context.production %}pdb: true{% else %}replicas: {{ context.replicas }}{% endif %}\n"
    "token: {{ context.token }}\n"
    "bad: {{ context.nmae }}\n"
)


def test_problems_name_the_definition_file_line_and_template_line() -> None:
    loaded = load_view(
        MemoryRepoView({"defs/a.yaml": HEADER + SPEC, "defs/t/svc.yaml": SVC}), root="defs"
    )
    assert loaded.problems == []  # loading does not check names: validate does
    problems = [str(p) for p in name_problems(loaded.automations["demo"])]
    assert problems == [
        "defs/a.yaml:5: spec.title: context.nme is not an input (did you mean 'name'?)",
        "defs/a.yaml:6: spec.message: template line 2: context.owner is not an input",
        "defs/a.yaml:9: spec.labels[0]: context.token is a password input, only available "
        "in file templates",
        "defs/a.yaml:20: spec.creates.templates[1].condition: context.envv is not an input "
        "(did you mean 'env'?)",
        "defs/a.yaml:26: spec.updates.yamlEdits[0].value: context.sise is not an input",
        # the file is used by two entries: replicas and production are known for both
        "defs/a.yaml:15: spec.creates.templates[0].source: in t/svc.yaml at line 4: "
        "context.nmae is not an input (did you mean 'name'?)",
        "defs/a.yaml:18: spec.creates.templates[1].source: in t/svc.yaml at line 4: "
        "context.nmae is not an input (did you mean 'name'?)",
    ]


def test_the_shipped_and_ported_definitions_have_none() -> None:
    """The 4 shipped automations and the 8 ports of real Plural definitions: every name
    they read is declared (the Plural originals were checked too, see the report)."""
    folders = [ROOT / "automations", ROOT / "examples/gitops/.prbot"]
    folders += sorted(p.parent for p in (ROOT / "tests/plural").glob("*/automation.yaml"))
    checked = 0
    for folder in folders:
        loaded = load_view(DirRepoView(folder))
        assert loaded.problems == []
        for automation in loaded.automations.values():
            assert name_problems(automation) == [], automation.name
            checked += 1
    assert checked == 4 + 8
