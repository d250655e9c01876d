"""The prbot command: validate, render (diff, --write, errors), help; and golden renders
of the shipped automations against examples/gitops."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from prbot.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "gitops"
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("PRBOT_UPDATE_GOLDEN") == "1"


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("PRBOT_AUTOMATIONS_DIR", raising=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    dest = tmp_path / "gitops"
    shutil.copytree(EXAMPLE, dest)
    return dest


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


GOLDEN_CASES = {
    "image-bump": ["--set", "service=myapp", "--set", "env=staging", "--set", "tag=6.7.1"],
    "cluster-create": [
        "--set", "name=dev-eu-1", "--set", "cloud=aws", "--set", "region=eu-west-1",
        "--set", "tier=dev", "--set", "nodeCount=2",
    ],
    "cluster-create-azure": [
        "--set", "name=prod-we-1", "--set", "cloud=azure", "--set", "region=westeurope",
        "--set", "tier=prod", "--set", "resourceGroup=rg-prod",
    ],
    "service-create": [
        "--set", "name=checkout", "--set", "url=https://github.com/example/checkout.git",
        "--set", "image=ghcr.io/example/checkout", "--set", "tag=1.4.0",
    ],
    "scale": ["--set", "service=myapp", "--set", "env=prod", "--set", "replicas=5"],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_render(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    name = case.removesuffix("-azure")
    code, out, err = run(capsys, "render", name, "--repo", "examples/gitops", *GOLDEN_CASES[case])
    assert (code, err) == (0, "")
    golden = GOLDEN / f"{case}.txt"
    if UPDATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(out)
    assert out == golden.read_text()


def load_yaml(path: Path):
    return YAML(typ="safe").load(path.read_text())


def test_image_bump_writes_only_the_tag_line(repo: Path, capsys) -> None:
    target = repo / "bootstrap/services/myapp-staging.yaml"
    before = target.read_text().splitlines()
    code, out, _ = run(
        capsys, "render", "image-bump", "--repo", str(repo),
        "--set", "service=myapp", "--set", "env=staging", "--set", "tag=6.7.1", "--write",
    )  # fmt: skip
    assert code == 0 and "Wrote 1 file(s)" in out
    after = target.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [
        (
            '        tag: "6.5.0" # promoted by prbot: dev -> staging -> prod',
            '        tag: "6.7.1" # promoted by prbot: dev -> staging -> prod',
        )
    ]
    # a second run finds nothing left to do
    code, out, _ = run(
        capsys, "render", "image-bump", "--repo", str(repo),
        "--set", "service=myapp", "--set", "env=staging", "--set", "tag=6.7.1",
    )  # fmt: skip
    assert code == 0 and "No changes" in out


def test_service_create_writes_base_and_three_overlays(repo: Path, capsys) -> None:
    code, _, err = run(
        capsys, "render", "service-create", "--repo", str(repo), "--set", "name=checkout",
        "--set", "url=https://github.com/example/checkout.git",
        "--set", "image=ghcr.io/example/checkout", "--set", "prodReplicas=4", "--write",
    )  # fmt: skip
    assert code == 0, err
    services = repo / "bootstrap/services"
    repo_def = load_yaml(repo / "bootstrap/repositories/checkout.yaml")
    assert repo_def["kind"] == "GitRepository"
    assert repo_def["spec"]["url"] == "https://github.com/example/checkout.git"
    base = load_yaml(services / "checkout-base.yaml")
    assert base["spec"]["template"]["helm"]["values"]["image"]["repository"] == (
        "ghcr.io/example/checkout"
    )
    for env, replicas in (("dev", 1), ("staging", 1), ("prod", 4)):
        overlay = load_yaml(services / f"checkout-{env}.yaml")
        values = overlay["spec"]["helm"]["values"]
        assert overlay["metadata"]["name"] == f"checkout-{env}"
        assert overlay["spec"]["clusterRef"]["name"] == env
        assert values["replicaCount"] == replicas
        assert values["image"]["tag"] == "latest"
        assert ("podDisruptionBudget" in values) is (env == "prod")
    assert load_yaml(services / "checkout-prod.yaml")["spec"]["helm"]["values"][
        "podDisruptionBudget"
    ] == {"enabled": True, "minAvailable": 3}


def test_cluster_create_hidden_field_and_files(repo: Path, capsys) -> None:
    args = ["render", "cluster-create", "--repo", str(repo), "--set", "name=dev-eu-1",
            "--set", "cloud=gcp", "--set", "region=europe-west1", "--write"]  # fmt: skip
    code, _, err = run(capsys, *args)
    assert code == 0, err
    cluster = load_yaml(repo / "services/clusters/gcp/clusters/dev-eu-1.yaml")
    stack = load_yaml(repo / "services/clusters/gcp/stacks/dev-eu-1.yaml")
    assert cluster["spec"]["cloud"] == "gcp" and cluster["spec"]["protect"] is False
    assert stack["spec"]["variables"] == {
        "cluster_name": "dev-eu-1", "region": "europe-west1", "node_count": 3,
    }  # fmt: skip
    code, _, err = run(capsys, "render", "cluster-create", "--repo", str(repo),
                       "--set", "name=x1-a", "--set", "cloud=azure", "--set", "region=westeurope")  # fmt: skip
    assert code == 2 and err == "input resourceGroup: is required\n"


def test_invalid_inputs_exit_2_and_write_nothing(repo: Path, capsys) -> None:
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    code, out, err = run(
        capsys, "render", "image-bump", "--repo", str(repo), "--set", "service=Bad Name",
        "--set", "env=qa", "--set", "tga=1", "--write",
    )  # fmt: skip
    assert code == 2 and out == ""
    lines = sorted(err.splitlines())
    assert lines == sorted(
        [
            "input tga: is not an input of this automation (did you mean 'tag'?)",
            "input service: must match the pattern ^[a-z][a-z0-9-]{1,40}$, got 'Bad Name'",
            "input env: must be one of dev, staging, prod, got 'qa'",
            "input tag: is required",
        ]
    )
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()} == before


def test_template_error_exit_2_names_template_and_line(tmp_path: Path, repo: Path, capsys) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "x.yaml").write_text("ok: 1\nbad: {{ context.nmae }}\n")
    (tmp_path / "a.yaml").write_text(
        "apiVersion: prbot.dev/v1alpha1\nkind: PrAutomation\nmetadata: {name: a}\nspec:\n"
        "  title: T\n  configuration: [{name: name, type: string}]\n"
        "  creates: {templates: [{source: t/x.yaml, destination: x.yaml}]}\n"
    )
    code, out, err = run(capsys, "render", str(tmp_path / "a.yaml"), "--repo", str(repo),
                         "--set", "name=x", "--write")  # fmt: skip
    assert code == 2 and out == ""
    assert err.startswith("prbot: t/x.yaml:2: undefined:")
    assert not (repo / "x.yaml").exists()


def test_values_file_and_set_override(tmp_path: Path, capsys) -> None:
    values = tmp_path / "v.yaml"
    values.write_text("service: myapp\nenv: dev\ntag: '1.10'\n")
    code, out, _ = run(capsys, "render", "image-bump", "--repo", "examples/gitops",
                       "--values", str(values), "--set", "env=prod")  # fmt: skip
    assert code == 0
    assert "Bump myapp in prod to 1.10" in out
    assert '+        tag: "1.10"' in out
    values.write_text("- not a mapping\n")
    code, _, err = run(
        capsys, "render", "image-bump", "--repo", "examples/gitops", "--values", str(values)
    )
    assert code == 2 and "must be a mapping" in err


def test_usage_errors(capsys) -> None:
    assert run(capsys, "render", "nope", "--repo", "examples/gitops")[2] == (
        "prbot: no automation named 'nope' in automations, examples/gitops/.prbot\n"
    )
    # a name from either folder is suggested
    for typo, meant in (("image-bunp", "image-bump"), ("scal", "scale")):
        code, out, err = run(capsys, "render", typo, "--repo", "examples/gitops")
        assert (code, out) == (2, "")
        assert err.endswith(f"examples/gitops/.prbot (did you mean {meant!r}?)\n")
    code, _, err = run(capsys, "render", "image-bump", "--repo", "does/not/exist")
    assert code == 2 and "--repo does/not/exist: not a directory" in err
    code, _, err = run(
        capsys, "render", "image-bump", "--repo", "examples/gitops", "--set", "novalue"
    )
    assert code == 2 and "expected key=value" in err
    code, _, err = run(capsys, "validate", "missing-folder")
    assert code == 2 and "no such file or directory" in err


def test_validate(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "validate", "automations", "examples/gitops/.prbot")
    assert code == 0 and out.startswith("ok: 4 automation(s), 1 pipeline(s), 1 catalog(s)")
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: prbot.dev/v1alpha1\nkind: PrAutomation\nmetadata: {name: b}\n"
                   "spec:\n  title: T\n  lables: [x]\n")  # fmt: skip
    code, _, err = run(capsys, "validate", str(bad))
    assert code == 2
    assert (
        f"{tmp_path}/bad.yaml:6: document 1: spec.lables: unknown field (did you mean 'labels'?)"
        in err
    )


def test_help_has_examples() -> None:
    for argv in (["--help"], ["render", "--help"], ["validate", "--help"]):
        proc = subprocess.run(
            [sys.executable, "-m", "prbot.cli", *argv], capture_output=True, text=True, cwd=ROOT
        )
        assert proc.returncode == 0
        assert "\nexamples (from the repository's root" in proc.stdout  # run by test_examples_run


def test_console_script_runs_from_a_clean_environment(tmp_path: Path) -> None:
    """The installed `prbot` entry point, in a subprocess, with a colourless pipe."""
    exe = Path(sys.executable).with_name("prbot")
    proc = subprocess.run(
        [str(exe), "render", "image-bump", "--repo", str(EXAMPLE), "--set", "service=myapp",
         "--set", "env=dev", "--set", "tag=7.0.0"],
        capture_output=True, text=True, cwd=ROOT, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" not in proc.stdout
    assert "Head:       prbot/image-bump/myapp-dev" in proc.stdout


def test_context_previews_a_pipeline_stage(capsys) -> None:
    base = "tests/plural/flow-upgrade"
    args = ["render", f"{base}/automation.yaml", "--repo", f"{base}/repo",
            "--set", "flow=checkout", "--set", "tag=1.2.3"]  # fmt: skip
    code, _, err = run(capsys, *args)
    assert code == 2 and "pipeline" in err  # the stage name is not there without --context
    code, out, _ = run(capsys, *args, "--context", "pipeline.stage.name=dev")
    assert code == 0
    assert "+    devTag: '1.2.3'  # dev runs what was last promoted to dev" in out
    code, _, err = run(capsys, *args, "--context", "pipeline..name=dev")
    assert code == 2 and "--context 'pipeline..name=dev': expected key=value" in err


def test_the_dockerfile_copies_what_exists_and_runs_serve() -> None:
    # no Docker engine in CI: at least keep the file in step with the tree
    root = Path(__file__).resolve().parents[1]
    text = (root / "Dockerfile").read_text()
    lines = text.splitlines()
    # what is copied from the checkout exists (a copy from the build stage is not a path)
    copied = [x.split()[1:-1] for x in lines if x.startswith("COPY ") and "--from=" not in x]
    assert copied and all((root / p).exists() for sources in copied for p in sources)
    assert 'CMD ["prbot", "serve"]' in lines
    # the image installs the wheel as CI does, and asks /readyz whether it is healthy
    assert "pip wheel" in text and "pip install --no-cache-dir /dist/prbot-*.whl" in text
    assert [x for x in lines if x.startswith("HEALTHCHECK ")] and "/readyz" in text


def test_validate_reports_names_that_are_not_inputs(tmp_path: Path, capsys) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "x.yaml").write_text("ok: {{ context.name }}\nbad: {{ context.nmae }}\n")
    (tmp_path / "a.yaml").write_text(
        "apiVersion: prbot.dev/v1alpha1\nkind: PrAutomation\nmetadata: {name: a}\nspec:\n"
        '  title: "Add {{ context.nme }}"\n'
        "  message: |\n    Adds {{ context.name }}\n    for {{ context.ownr }}\n"
        "  configuration: [{name: name, type: string}, {name: owner, type: string}]\n"
        "  creates: {templates: [{source: t/x.yaml, destination: x.yaml}]}\n"
    )
    code, out, err = run(capsys, "validate", str(tmp_path))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"{tmp_path}/a.yaml:5: spec.title: context.nme is not an input (did you mean 'name'?)",
        f"{tmp_path}/a.yaml:6: spec.message: template line 2: context.ownr is not an input "
        "(did you mean 'owner'?)",
        f"{tmp_path}/a.yaml:10: spec.creates.templates[0].source: in t/x.yaml at line 2: "
        "context.nmae is not an input (did you mean 'name'?)",
        "3 problem(s) found",
    ]
    # render loads without the name check: the misspelling fails where it is rendered
    code, out, err = run(capsys, "render", str(tmp_path / "a.yaml"), "--repo", "examples/gitops",
                         "--set", "name=x", "--set", "owner=y")  # fmt: skip
    assert (code, out) == (2, "")
    assert err == "prbot: t/x.yaml:2: undefined: 'dict object' has no attribute 'nmae'\n"


def test_template_syntax_errors_name_file_and_lines_in_validate_and_render(
    tmp_path: Path, capsys
) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: prbot.dev/v1alpha1\nkind: PrAutomation\nmetadata: {name: a}\nspec:\n"
        "  title: T\n  message: |\n    one\n    {% if context.name %}two\n"
        "  configuration: [{name: name, type: string}]\n"
    )
    expected = (
        f"{tmp_path}/a.yaml:6: spec.message: template line 2: template syntax error: "
        "Unexpected end of template."
    )
    code, _, err = run(capsys, "validate", str(tmp_path / "a.yaml"))
    assert code == 2 and err.startswith(expected)
    code, out, err = run(capsys, "render", str(tmp_path / "a.yaml"), "--repo", "examples/gitops",
                         "--set", "name=x")  # fmt: skip
    assert (code, out) == (2, "") and err.startswith(expected)


def test_render_shows_the_commit_message_and_body_before_the_diff(capsys) -> None:
    code, out, _ = run(capsys, "render", "scale", "--repo", "examples/gitops",
                       "--set", "service=myapp", "--set", "env=dev", "--set", "replicas=2",
                       "--set", "reason=load test")  # fmt: skip
    assert code == 0
    head, diff = out.split("diff --git", 1)
    assert head.splitlines()[-4:] == [
        "Commit message and PR body:",
        "    Sets `replicaCount` of `myapp` in dev to 2.",
        "    Reason: load test",
        "",
    ]
    assert "+      replicaCount: 2" in diff


def test_render_by_name_of_a_broken_definition_shows_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    (tmp_path / "b.yaml").write_text(
        "apiVersion: prbot.dev/v1alpha1\nkind: PrAutomation\nmetadata: {name: b}\nspec:\n"
        "  title: T\n  message: |\n    one\n    {% if x %}\n"
    )
    monkeypatch.setenv("PRBOT_AUTOMATIONS_DIR", str(tmp_path))
    code, out, err = run(capsys, "render", "b", "--repo", "examples/gitops")
    assert (code, out) == (2, "")
    assert err.splitlines()[0].startswith(
        f"{tmp_path}/b.yaml:6: spec.message: template line 2: template syntax error: "
    )
    assert err.splitlines()[1] == (
        f"prbot: no automation named 'b' in {tmp_path}, examples/gitops/.prbot "
        "(definitions with the problems above were not loaded)"
    )
