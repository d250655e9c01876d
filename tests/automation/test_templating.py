"""The template sandbox: filters, strictness, escapes refused, limits enforced."""

from __future__ import annotations

import pytest

from prbot.automation.errors import RenderError
from prbot.automation.templating import evaluate_condition, render_string, render_value

CTX = {"context": {"name": "web", "n": 3, "items": ["a", "b"], "cfg": {"k": "v"}}}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ context.name }}", "web"),
        ("{{ context.cfg | to_yaml }}", "k: v"),
        ("{{ context.items | to_json }}", '["a", "b"]'),
        ("{{ context.name | b64encode }}", "d2Vi"),
        ("{{ 'say \"hi\"' | quote }}", '"say \\"hi\\""'),
        ("{{ context.name | regex_replace('w(e)b', 'x\\\\1') }}", "xe"),
        ("{{ context.missing | default('d') }}", "d"),
        ("{{ none | default('d') }}", "d"),
        ("a:\n{{ context.cfg | to_yaml | indent(2, true) }}", "a:\n  k: v"),
        ("{% if context.name is match('^w') %}yes{% endif %}", "yes"),
        ("{{ range(3) | list | length }}", "3"),
        ("plain text without braces", "plain text without braces"),
        ("trailing newline kept\n", "trailing newline kept\n"),
    ],
)
def test_filters(source: str, expected: str) -> None:
    assert render_string(source, CTX, "t") == expected


def test_strict_undefined_names_template_and_line() -> None:
    with pytest.raises(RenderError) as err:
        render_string("line1\n{{ context.nope }}", CTX, "templates/x.yaml")
    assert str(err.value).startswith("templates/x.yaml:2: undefined")
    assert "nope" in str(err.value)


def test_syntax_error_names_template_and_line() -> None:
    with pytest.raises(RenderError) as err:
        render_string("ok\nok\n{% if %}", CTX, "templates/y.yaml")
    assert str(err.value).startswith("templates/y.yaml:3: syntax error")


@pytest.mark.parametrize(
    "payload",
    [
        "{{ context.__class__ }}",
        "{{ context.name.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ context.name.upper.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{{ self._TemplateReference__context }}",
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{{ context.items.pop() }}",
        "{{ [].__class__.__mro__[-1].__subclasses__() }}",
        "{{ request.application.__globals__ }}",
        "{{ config.items() }}",
        "{{ '{0.__class__.__mro__}'.format(context.name) }}",
        "{{ 'x' * 100000000 }}",
        "{{ [1] * 100000000 }}",
        "{{ 9 ** 99999999 }}",
        "{% for i in range(100000000) %}{% endfor %}",
    ],
)
def test_escapes_and_bombs_fail_cleanly(payload: str) -> None:
    with pytest.raises(RenderError) as err:
        render_string(payload, CTX, "evil.yaml")
    assert str(err.value).startswith("evil.yaml")
    assert "Traceback" not in str(err.value)


def test_output_size_is_limited() -> None:
    payload = "{% for i in range(90000) %}{{ 'x' * 1000 }}{% endfor %}"
    with pytest.raises(RenderError) as err:
        render_string(payload, CTX, "big.yaml")
    assert str(err.value) == "big.yaml: rendered output exceeds 2 MiB (max_output_file_bytes)"


def test_render_value_keeps_native_types_for_a_lone_expression() -> None:
    assert render_value("{{ context.n }}", CTX, "v") == 3
    assert render_value("{{ context.items }}", CTX, "v") == ["a", "b"]
    assert render_value(" {{ context.n + 1 }} ", CTX, "v") == 4
    assert render_value("v{{ context.n }}", CTX, "v") == "v3"
    assert render_value("{{ context.n }}-{{ context.n }}", CTX, "v") == "3-3"
    with pytest.raises(RenderError):
        render_value("{{ context.nope }}", CTX, "v")
    with pytest.raises(RenderError):
        render_value("{{ context.__class__ }}", CTX, "v")


def test_conditions() -> None:
    assert evaluate_condition("", CTX, "c") is True
    assert evaluate_condition("context.name == 'web'", CTX, "c") is True
    assert evaluate_condition("{{ context.n > 5 }}", CTX, "c") is False
    with pytest.raises(RenderError) as err:
        evaluate_condition("context.cloud == 'aws'", CTX, "spec.creates.templates[0].condition")
    assert "spec.creates.templates[0].condition" in str(err.value)
