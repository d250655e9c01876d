"""Random templates and regular expressions built from dangerous constructs (doubling,
padding, repetition, joins, nested loops, nested quantifiers) never hold a render past
the box's wall-clock bound by more than a margin: each ends rendered, refused by a limit
of the core, or stopped by the box. Bounded examples, derandomized: the same cases on
every run."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from prbot.automation.changeset import MemoryRepoView
from prbot.automation.errors import PrbotError
from prbot.automation.loader import load_view
from prbot.engine.boxed import render_folder
from prbot.engine.sandbox import BoxLimits, Sandbox

DEADLINE = 0.75
MARGIN = 1.5  # killing, replacing the process, pickling the answer on a busy machine

atoms = st.sampled_from(['"ab"', '"x" * 1000', "a", "[1, 2, 3]", '"{:>9999}".format(1)'])


def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        inner.map(lambda e: f"({e}) ~ ({e})"),
        inner.map(lambda e: f"({e}) * 1000"),
        inner.map(lambda e: f"({e}) | string | center(100000)"),
        inner.map(lambda e: f'[({e})] * 1000 | join("-")'),
        inner.map(lambda e: f"({e}) | string | replace('a', ({e}) | string)"),
        inner.map(lambda e: f'"%s%s" % (({e}), ({e}))'),
    )


expressions = st.recursive(atoms, grow, max_leaves=6)


@st.composite
def templates(draw: st.DrawFn) -> str:
    expr = draw(expressions)
    sets = draw(st.integers(0, 30))
    loops = draw(st.integers(0, 3))
    body = "{% set a = 'xy' %}" + "{% set a = a ~ a %}" * sets + "{{ " + expr + " }}"
    for _ in range(loops):
        body = "{% for i in range(100000) %}" + body + "{% endfor %}"
    return body


regexes = st.recursive(
    st.sampled_from(["a", "a+", "a*", "(a|aa)", "(a|a)", "\\\\w", "."]),
    lambda inner: st.one_of(
        inner.map(lambda r: f"({r})+"),
        inner.map(lambda r: f"({r})*"),
        st.tuples(inner, inner).map("".join),
    ),
    max_leaves=5,
)


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    sandbox = Sandbox(BoxLimits(seconds=DEADLINE, cpu_seconds=DEADLINE, memory_mib=256), 1)
    sandbox.start()
    yield sandbox
    sandbox.close()


def definition(title: str, regex: str | None = None) -> str:
    text = (
        "apiVersion: prbot.dev/v1alpha1\nkind: PrAutomation\nmetadata: {name: t}\nspec:\n"
        f"  title: {json.dumps(title)}\n  configuration:\n    - {{name: a, type: string, default: ab}}\n"
    )
    if regex is None:
        return text + '  updates:\n    yamlEdits:\n      - {file: v.yaml, path: a, value: "2"}\n'
    return text + (
        "  updates:\n    regexReplacements:\n"
        f"      - {{file: target.txt, regex: {json.dumps(regex)}, replacement: b}}\n"
    )


def bounded(box: Sandbox, folder: str, text: str) -> float:
    loaded = load_view(MemoryRepoView({"t.yaml": text}))
    if loaded.problems:  # refused at load time: only a pattern RE2 cannot run may be
        assert all("regex" in str(p) for p in loaded.problems), loaded.problems
        return 0.0
    automation = loaded.automations["t"]
    started = time.monotonic()
    # a limit of the core, or of the box: either way, a clear error
    with contextlib.suppress(PrbotError):
        box.run_blocking("render of t", render_folder, automation, {}, folder, None)
    return time.monotonic() - started


@settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(template=templates())
@example(template="{% set a = 'xy' %}" + "{% set a = a ~ a %}" * 40 + "{{ a }}")
@example(
    template="{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
)
@example(template='{{ "{:>400000000}".format(1) }}')
def test_dangerous_templates_stay_within_the_bound(box: Sandbox, tmp_path_factory, template: str):
    folder = tmp_path_factory.mktemp("repo")
    (folder / "v.yaml").write_text("a: '1'\n")
    assert bounded(box, str(folder), definition(template)) < DEADLINE + MARGIN


@settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(regex=regexes, length=st.integers(20, 5000))
@example(regex="(a+)+", length=5000)
@example(regex="(a|aa)*(a|a)*", length=5000)
def test_dangerous_regexes_stay_within_the_bound(box: Sandbox, tmp_path_factory, regex, length):
    folder = tmp_path_factory.mktemp("repo")
    (folder / "target.txt").write_text("a" * length + "!\n")
    assert bounded(box, str(folder), definition("t", "^" + regex + "$")) < DEADLINE + MARGIN
