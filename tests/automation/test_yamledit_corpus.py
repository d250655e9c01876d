"""set_value on real GitOps files: only the edited value's characters may change.

The corpus (60 files, 94 image/version paths listed in SOURCES.tsv) lives in
tests/fixtures/corpus/yaml.
"""

from __future__ import annotations

import csv
import functools
import re
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from prbot.automation.yamledit import parse_path, set_value
from tests.fixtures import YAML_CORPUS


def corpus_cases() -> list[tuple[str, str]]:
    with (YAML_CORPUS / "SOURCES.tsv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [(row["file"], path) for row in rows for path in row["image_paths"].split(";")]


CASES = corpus_cases()
PARAMS = [pytest.param(f, p, id=f"{f}::{p}") for f, p in CASES]


def load_all(text: str) -> list[Any]:
    return list(YAML(typ="safe", pure=True).load_all(text))


def node_at(text: str, path: str) -> Node:
    """The composed node at path, found independently of the module under test."""
    p = parse_path(path)
    node = list(YAML(typ="safe", pure=True).compose_all(text))[p.document]
    for step in p.steps:
        if isinstance(node, MappingNode):
            node = next(v for k, v in node.value if k.value == step)
        else:
            assert isinstance(node, SequenceNode)
            node = node.value[step]
    return node


def data_at(data: Any, steps: tuple[str | int, ...]) -> Any:
    for step in steps:
        data = data[step]
    return data


def put(data: Any, steps: tuple[str | int, ...], value: Any) -> None:
    data_at(data, steps[:-1])[steps[-1]] = value


def new_value_for(old: Any) -> Any:
    if isinstance(old, bool):
        return not old
    if isinstance(old, int):
        return old + 1
    assert isinstance(old, str), f"unexpected type {type(old).__name__}"
    if re.fullmatch(r"v?\d+(\.\d+)*", old):
        new = ("v" if old.startswith("v") else "") + "9.9.9"
        if new != old:
            return new
    return old + "-prbot"


def check_case(file: str, path: str) -> None:
    text = (YAML_CORPUS / file).read_bytes().decode("utf-8")
    p = parse_path(path)
    before = load_all(text)
    old = data_at(before[p.document], p.steps)
    new = new_value_for(old)
    assert new != old

    out = set_value(text, path, new)

    # (a) exactly one line differs: the line that held the old value
    old_lines, new_lines = text.split("\n"), out.split("\n")
    assert len(old_lines) == len(new_lines), "the number of lines changed"
    changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b]
    node = node_at(text, path)
    assert changed == [node.start_mark.line], f"changed lines {changed}"
    # (b) the new value reads back with its type, and nothing else in the data changed
    after = load_all(out)
    got = data_at(after[p.document], p.steps)
    assert got == new and type(got) is type(new)
    put(before[p.document], p.steps, new)
    assert after == before
    # (c) every other byte is identical: the difference lies within the old value's span
    prefix = 0
    while prefix < min(len(text), len(out)) and text[prefix] == out[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(text), len(out)) - prefix and text[-1 - suffix] == out[-1 - suffix]:
        suffix += 1
    assert node.start_mark.index <= prefix
    assert len(text) - suffix <= node.end_mark.index


@functools.cache
def outcome(file: str, path: str) -> str | None:
    """None when the case passes, else why not (computed once, shared by both tests)."""
    try:
        check_case(file, path)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.mark.parametrize(("file", "path"), PARAMS)
def test_set_value_changes_only_the_value(file: str, path: str) -> None:
    problem = outcome(file, path)
    assert problem is None, problem


def test_corpus_size() -> None:
    assert len({f for f, _ in CASES}) == 60
    assert len(CASES) == 94


def test_corpus_pass_share(capsys: pytest.CaptureFixture[str]) -> None:
    failed = [f"{f}::{p}: {outcome(f, p)}" for f, p in CASES if outcome(f, p) is not None]
    passed = len(CASES) - len(failed)
    with capsys.disabled():
        print(f"\nyamledit corpus: {passed}/{len(CASES)} ({100 * passed / len(CASES):.1f}%)")
    assert not failed, "\n".join(failed)
