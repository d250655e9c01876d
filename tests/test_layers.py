"""The layers of DESIGN.md's "Layout" hold: import-linter's contracts in pyproject.toml
pass on the tree, and fail on a copy of it with one forbidden import (so the check can
fail). Only prbot/settings.py reads the environment."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(ROOT / "pyproject.toml", root)
    shutil.copytree(ROOT / "prbot", root / "prbot", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_the_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_pure_core_importing_a_port_breaks_the_contracts(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)
    paths = root / "prbot" / "automation" / "paths.py"
    paths.write_text(paths.read_text() + "\nfrom prbot.scm.port import Scm  # noqa: E402\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "prbot.automation.paths -> prbot.scm.port" in result.stdout


def test_a_port_importing_the_engine_breaks_the_layers(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)
    base = root / "prbot" / "store" / "base.py"
    base.write_text(base.read_text() + "\nimport prbot.engine.run  # noqa: E402\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "prbot.store.base -> prbot.engine.run" in result.stdout


def _reads_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        # os.environ.get(...), os.environ[...] read, os.getenv(...), "X" in os.environ
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "getenv")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            lines.append(node.lineno)
    return lines


def test_only_settings_reads_the_environment() -> None:
    allowed = {
        Path("prbot/settings.py"),
        # hands the metrics folder to prometheus-client and to child processes (a write)
        Path("prbot/metrics.py"),
        # a box process deletes what it inherited (credentials) before any untrusted work
        Path("prbot/engine/sandbox.py"),
        # the demo starts a prbot serve with an environment of its own making, plus PATH
        Path("prbot/demo/stack.py"),
    }
    found: dict[str, list[int]] = {}
    for path in sorted((ROOT / "prbot").rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel in allowed or rel.parts[:2] == ("prbot", "forge"):  # the forge is its own tool
            continue
        lines = _reads_environment(ast.parse(path.read_text(), str(rel)))
        if lines:
            found[str(rel)] = lines
    assert found == {}


def test_metrics_only_writes_the_environment() -> None:
    tree = ast.parse((ROOT / "prbot" / "metrics.py").read_text())
    reads = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Subscript)
        and isinstance(node.ctx, ast.Load)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "environ"
    ] + [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("get", "getenv")
        and isinstance(node.func.value, ast.Attribute | ast.Name)
        and getattr(node.func.value, "attr", getattr(node.func.value, "id", ""))
        in ("environ", "os")
    ]
    assert reads == []
