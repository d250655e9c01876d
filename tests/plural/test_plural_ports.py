"""Real Plural PrAutomations, ported to prbot and rendered against realistic repositories.

Each folder beside this file is one port: ``automation.yaml`` (the definition in prbot's
format), ``templates/`` (Jinja bodies) and ``repo/`` (a small repository it runs
against). The fixtures they port, all in tests/fixtures/plural/ (sources in SOURCES.md):

    cluster-creator   pra-cluster-create-bootstrap-inrepo-templates.yaml
                      (+ template-body-cluster-stack-liquid.yaml, ported into templates/;
                      no test reads the original, so it is not copied)
    console-upgrader  pra-console-helm-upgrade-regex-plus-observer.yaml
    flow-upgrade      pra-image-tag-bump-yaml-overlay.yaml
    cluster-deleter   pra-cluster-delete-deletes.yaml
    fleet-setup       pra-fleet-setup-template-context-overrides.yaml
    fleet-upgrade     pra-k8s-version-upgrade-pipeline-regex.yaml
    grafana           pra-addon-install-grafana-bool-cluster.yaml
    blob-creator      pra-s3-bucket-stack-create.yaml

The expectations are Plural's semantics for those definitions: which files a PR
creates, updates or deletes, and what ends up in them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from prbot.automation.changeset import ChangeSet, DirRepoView, MemoryRepoView, RepoView
from prbot.automation.definitions import PrAutomation
from prbot.automation.errors import InputError, RenderError
from prbot.automation.loader import load_view
from prbot.automation.render import RenderResult, render_automation
from tests.fixtures import PLURAL

HERE = Path(__file__).parent

PORTS = {
    "cluster-creator": ("cluster-creator", "pra-cluster-create-bootstrap-inrepo-templates.yaml"),
    "console-upgrader": ("console-upgrader", "pra-console-helm-upgrade-regex-plus-observer.yaml"),
    "flow-upgrade": ("flow-upgrade-pra", "pra-image-tag-bump-yaml-overlay.yaml"),
    "cluster-deleter": ("fleet-cluster-deleter", "pra-cluster-delete-deletes.yaml"),
    "fleet-setup": ("cluster-fleet-setup", "pra-fleet-setup-template-context-overrides.yaml"),
    "fleet-upgrade": ("fleet-upgrade-pra", "pra-k8s-version-upgrade-pipeline-regex.yaml"),
    "grafana": ("grafana", "pra-addon-install-grafana-bool-cluster.yaml"),
    "blob-creator": ("blob-creator", "pra-s3-bucket-stack-create.yaml"),
}


# ---------------------------------------------------------------- helpers


def load(port: str) -> PrAutomation:
    """Load a port's automation.yaml through the loader, as `prbot validate FILE` does."""
    defs = load_view(DirRepoView(HERE / port), files=["automation.yaml"])
    assert [str(p) for p in defs.problems] == []
    name = PORTS[port][0]
    assert list(defs.automations) == [name]
    return defs.automations[name]


def repo(port: str) -> DirRepoView:
    return DirRepoView(HERE / port / "repo")


def render(
    port: str,
    inputs: Mapping[str, Any],
    view: RepoView | None = None,
    pipeline_stage: str | None = None,
) -> RenderResult:
    extra = {"pipeline": {"stage": {"name": pipeline_stage}}} if pipeline_stage else None
    return render_automation(
        load(port), dict(inputs), view if view is not None else repo(port), extra_context=extra
    )


def ops(changes: ChangeSet) -> dict[str, str]:
    return {c.path: c.operation for c in changes}


def text(result: RenderResult, path: str) -> str:
    content = result.changes.by_path()[path].content
    assert content is not None
    return content.decode()


def before(view: RepoView, path: str) -> str:
    data = view.read(path)
    assert data is not None, path
    return data.decode()


def docs(source: str) -> list[Any]:
    return [d for d in YAML(typ="safe", pure=True).load_all(source) if d is not None]


def doc(source: str) -> Any:
    (only,) = docs(source)
    return only


def changed_lines(old: str, new: str) -> list[tuple[str, str]]:
    """(removed, added) line pairs; asserts the edit replaced lines one for one."""
    removed, added = [], []
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    assert len(removed) == len(added), (removed, added)
    return list(zip(removed, added, strict=True))


def comments(source: str) -> list[str]:
    return [line.strip() for line in source.splitlines() if "#" in line]


def after_changes(view: RepoView, changes: ChangeSet) -> MemoryRepoView:
    """The repository once a PR with ``changes`` merged."""
    files: dict[str, bytes] = {p: view.read(p) or b"" for p in view.list_files()}
    for c in changes:
        if c.operation == "delete":
            files.pop(c.path)
        else:
            files[c.path] = c.content or b""
    return MemoryRepoView(files)


def input_problems(exc: pytest.ExceptionInfo[InputError]) -> dict[str, str]:
    return {p.field: p.message for p in exc.value.problems}


# ---------------------------------------------------------------- all ports


def _plural_doc(fixture: str) -> dict[str, Any]:
    raw = (PLURAL / fixture).read_text()
    raw = raw.replace("{% raw %}", "").replace("{% endraw %}", "")
    (pra,) = [d for d in docs(raw) if d.get("kind") == "PrAutomation"]
    return pra


@pytest.mark.parametrize("port", sorted(PORTS))
def test_port_keeps_the_plural_name_and_inputs(port: str) -> None:
    """Each port names its fixture and keeps its PrAutomation's name and inputs: same
    fields, same order, same types (lower-cased; CLUSTER, which prbot lacks, becomes
    string) and the same enum values, defaults, optional flags and conditions."""
    name, fixture = PORTS[port]
    header = (HERE / port / "automation.yaml").read_text().splitlines()[0]
    assert header == f"# Port of fixtures/plural/{fixture}"
    plural = _plural_doc(fixture)
    assert plural["metadata"]["name"] == name
    ours = load(port)
    expected = [
        (
            f["name"],
            "string" if f["type"] == "CLUSTER" else f["type"].lower(),
            tuple(f.get("values") or ()),
            f.get("default"),
            bool(f.get("optional")),
            (f["condition"]["field"], f["condition"]["operation"].lower(), f["condition"]["value"])
            if f.get("condition")
            else None,
        )
        for f in plural["spec"]["configuration"]
    ]
    got = [
        (
            f.name,
            f.type,
            f.values,
            f.default,
            f.optional,
            (f.condition.field, f.condition.operation, f.condition.value) if f.condition else None,
        )
        for f in ours.configuration
    ]
    assert got == expected
    assert ours.title == plural["spec"]["title"]


# ---------------------------------------------------------------- cluster-creator
# ports pra-cluster-create-bootstrap-inrepo-templates.yaml: three file templates, an
# enum, and resourceGroup shown only when cloud == azure.

CLUSTER_AWS = {"name": "eu-prod-1", "cloud": "aws", "fleet": "eu", "tier": "prod"}


def test_cluster_creator_adds_stack_and_cluster_for_aws() -> None:
    result = render("cluster-creator", CLUSTER_AWS)
    # bootstrap/clusters.yaml is rendered too, but the repo already has exactly that
    # file (from its first cluster), so the PR does not touch it.
    assert ops(result.changes) == {
        "services/clusters/aws/stacks/eu-prod-1.yaml": "create",
        "services/clusters/aws/clusters/eu-prod-1.yaml": "create",
    }
    stack = doc(text(result, "services/clusters/aws/stacks/eu-prod-1.yaml"))
    assert stack["kind"] == "InfrastructureStack"
    assert stack["metadata"]["name"] == "cluster-eu-prod-1"
    assert stack["spec"]["variables"] == {"cluster": "eu-prod-1", "fleet": "eu", "tier": "prod"}
    assert stack["spec"]["git"] == {"ref": "main", "folder": "terraform/modules/clusters/aws"}
    assert "jobSpec" not in stack["spec"]
    assert stack["spec"]["configuration"] == {"version": "1.8"}
    cluster = doc(text(result, "services/clusters/aws/clusters/eu-prod-1.yaml"))
    assert cluster["kind"] == "Cluster"
    assert cluster["spec"] == {
        "handle": "eu-prod-1",
        "tags": {"fleet": "eu", "tier": "prod", "cloud": "aws"},
    }
    assert result.pull_request.title == "Adding aws cluster: eu-prod-1"
    assert result.pull_request.body == (
        "Adding aws cluster eu-prod-1 and registering it with Plural"
    )


def test_cluster_creator_in_a_fresh_repo_also_creates_the_clusters_service() -> None:
    result = render("cluster-creator", CLUSTER_AWS, MemoryRepoView({}))
    assert ops(result.changes) == {
        "services/clusters/aws/stacks/eu-prod-1.yaml": "create",
        "services/clusters/aws/clusters/eu-prod-1.yaml": "create",
        "bootstrap/clusters.yaml": "create",
    }
    service = doc(text(result, "bootstrap/clusters.yaml"))
    assert service["kind"] == "ServiceDeployment"
    assert service["spec"]["git"]["folder"] == "services/clusters"
    assert text(result, "bootstrap/clusters.yaml") == before(
        repo("cluster-creator"), "bootstrap/clusters.yaml"
    )


def test_cluster_creator_azure_passes_the_resource_group() -> None:
    inputs = {**CLUSTER_AWS, "name": "az-prod-1", "cloud": "azure", "resourceGroup": "rg-prod"}
    result = render("cluster-creator", inputs)
    assert ops(result.changes) == {
        "services/clusters/azure/stacks/az-prod-1.yaml": "create",
        "services/clusters/azure/clusters/az-prod-1.yaml": "create",
    }
    stack = doc(text(result, "services/clusters/azure/stacks/az-prod-1.yaml"))
    assert stack["spec"]["variables"]["resource_group_name"] == "rg-prod"
    assert stack["spec"]["jobSpec"] == {
        "namespace": "plrl-deploy-operator",
        "labels": {"azure.workload.identity/use": "true"},
        "serviceAccount": "stacks",
    }
    assert stack["spec"]["git"]["folder"] == "terraform/modules/clusters/azure"


def test_cluster_creator_resource_group_is_hidden_unless_azure() -> None:
    """The conditional field: not asked for on aws (so not required), and a value sent
    anyway is dropped rather than reaching the templates."""
    result = render("cluster-creator", {**CLUSTER_AWS, "resourceGroup": "rg-ignored"})
    assert "resourceGroup" not in result.inputs.values
    stack_text = text(result, "services/clusters/aws/stacks/eu-prod-1.yaml")
    assert "rg-ignored" not in stack_text
    # on azure it is shown but optional: left empty it renders as an empty value, the
    # way Liquid prints nil, not as Python's "None"
    azure = render("cluster-creator", {**CLUSTER_AWS, "cloud": "azure"})
    stack = doc(text(azure, "services/clusters/azure/stacks/eu-prod-1.yaml"))
    assert stack["spec"]["variables"]["resource_group_name"] is None


def test_cluster_creator_rejects_an_unknown_cloud_and_missing_name() -> None:
    with pytest.raises(InputError) as exc:
        render("cluster-creator", {"cloud": "oracle", "fleet": "eu", "tier": "dev"})
    problems = input_problems(exc)
    assert set(problems) == {"cloud", "name"}
    assert "aws, gcp, azure" in problems["cloud"]
    assert problems["name"] == "is required"


# ---------------------------------------------------------------- console-upgrader
# ports pra-console-helm-upgrade-regex-plus-observer.yaml: a `# VERSION` marker-comment
# regex replacement (the Observer that supplies `version` is played by the test).


def test_console_upgrader_rewrites_only_the_marked_version_line() -> None:
    result = render("console-upgrader", {"version": "0.3.95"})
    assert ops(result.changes) == {"bootstrap/console.yaml": "update"}
    old = before(repo("console-upgrader"), "bootstrap/console.yaml")
    new = text(result, "bootstrap/console.yaml")
    assert changed_lines(old, new) == [
        ("    version: 0.3.81 # VERSION", "    version: 0.3.95 # VERSION")
    ]
    assert comments(new) == [c.replace("0.3.81", "0.3.95") for c in comments(old)]
    assert doc(new)["spec"]["configuration"]["version"] == "0.3.81-pinned-schema"
    assert result.pull_request.title == "Update Plural Console helm chart to 0.3.95"
    assert result.pull_request.body == (
        "Update Plural Console helm chart to 0.3.95\n\n"
        "Release notes available here: https://github.com/pluralsh/console/releases"
    )


def test_console_upgrader_to_the_current_version_changes_nothing() -> None:
    assert ops(render("console-upgrader", {"version": "0.3.81"}).changes) == {}


def test_console_upgrader_needs_a_version_and_the_console_file() -> None:
    with pytest.raises(InputError) as exc:
        render("console-upgrader", {})
    assert input_problems(exc) == {"version": "is required"}
    elsewhere = MemoryRepoView(
        {"bootstrap/apps.yaml": before(repo("console-upgrader"), "bootstrap/apps.yaml")}
    )
    with pytest.raises(RenderError, match=r"bootstrap/console\.yaml does not exist"):
        render("console-upgrader", {"version": "0.3.95"}, elsewhere)


# ---------------------------------------------------------------- flow-upgrade
# ports pra-image-tag-bump-yaml-overlay.yaml: a yamlOverlay keyed by the pipeline
# stage (`{{ context.pipeline.stage.name }}Tag`).


def test_flow_upgrade_dev_stage_sets_dev_tag_and_keeps_comments() -> None:
    result = render("flow-upgrade", {"flow": "checkout", "tag": "1.5.0"}, pipeline_stage="dev")
    assert ops(result.changes) == {"bootstrap/flows/checkout.yaml": "update"}
    old = before(repo("flow-upgrade"), "bootstrap/flows/checkout.yaml")
    new = text(result, "bootstrap/flows/checkout.yaml")
    ((removed, added),) = changed_lines(old, new)
    assert removed == "    devTag: '1.4.2'  # dev runs what was last promoted to dev"
    assert added.startswith("    devTag: ")
    assert added.endswith("  # dev runs what was last promoted to dev")
    expected = doc(old)
    expected["spec"]["configuration"]["devTag"] = "1.5.0"
    assert doc(new) == expected
    assert result.pull_request.title == "Updating checkout dev service to use 1.5.0"


def test_flow_upgrade_prod_stage_keeps_a_numeric_looking_tag_a_string() -> None:
    result = render("flow-upgrade", {"flow": "checkout", "tag": "1.10"}, pipeline_stage="prod")
    new = text(result, "bootstrap/flows/checkout.yaml")
    config = doc(new)["spec"]["configuration"]
    assert config["prodTag"] == "1.10"
    assert config["devTag"] == "1.4.2"
    assert "# prod lags dev until the approval gate passes" in new


def test_flow_upgrade_outside_a_pipeline_or_for_an_unknown_flow_fails() -> None:
    with pytest.raises(RenderError, match="pipeline"):
        render("flow-upgrade", {"flow": "checkout", "tag": "1.5.0"})
    with pytest.raises(RenderError, match=r"bootstrap/flows/cart\.yaml does not exist"):
        render("flow-upgrade", {"flow": "cart", "tag": "1.5.0"}, pipeline_stage="dev")


# ---------------------------------------------------------------- cluster-deleter
# ports pra-cluster-delete-deletes.yaml: deletes.files with a templated path.


def test_cluster_deleter_deletes_exactly_the_named_cluster_stack() -> None:
    result = render("cluster-deleter", {"fleet": "eu", "name": "eu-dev", "tier": "dev"})
    assert ops(result.changes) == {"services/eu/clusters/dev/eu-dev.yaml.liquid": "delete"}
    (change,) = result.changes
    assert change.content is None
    assert result.pull_request.title == "Deletes cluster eu-dev in fleet eu"
    assert result.pull_request.body.endswith("Plural Service: mgmt/eu-dev")


def test_cluster_deleter_for_a_missing_cluster_changes_nothing() -> None:
    # the tier is part of the path: eu-dev is not a prod cluster
    assert (
        ops(render("cluster-deleter", {"fleet": "eu", "name": "eu-dev", "tier": "prod"}).changes)
        == {}
    )


@pytest.mark.parametrize("name", ["*", "eu-dev*", "../prod/eu-prod", "EU-dev"])
def test_cluster_deleter_refuses_names_that_are_not_object_names(name: str) -> None:
    """Without the name regex, `*` would turn the deleted path into a glob over every
    cluster of the tier, and `..` would reach another tier's folder."""
    with pytest.raises(InputError) as exc:
        render("cluster-deleter", {"fleet": "eu", "name": name, "tier": "dev"})
    assert list(input_problems(exc)) == ["name"]


def test_cluster_deleter_rejects_an_unknown_tier() -> None:
    with pytest.raises(InputError) as exc:
        render("cluster-deleter", {"fleet": "eu", "name": "eu-dev", "tier": "staging"})
    assert "dev, prod" in input_problems(exc)["tier"]


# ---------------------------------------------------------------- fleet-setup
# ports pra-fleet-setup-template-context-overrides.yaml: one stack template rendered
# twice with `context: {tier: dev|prod}`, per-cloud template conditions, a default.


def _fleet_paths(fleet: str) -> dict[str, str]:
    return {
        f"services/{fleet}/setup/pipeline.yaml": "create",
        f"services/{fleet}/setup/services.yaml": "create",
        f"services/{fleet}/clusters/dev/{fleet}-dev.yaml.liquid": "create",
        f"services/{fleet}/clusters/prod/{fleet}-prod.yaml.liquid": "create",
        f"bootstrap/infra/{fleet}.yaml": "create",
    }


def test_fleet_setup_aws_renders_the_stack_twice_with_tier_overrides() -> None:
    result = render("fleet-setup", {"cloud": "aws", "fleet": "us", "region": "us-east-1"})
    assert ops(result.changes) == {**_fleet_paths("us"), ".prbot/fleet-upgrade-pra.yaml": "create"}
    for tier in ("dev", "prod"):
        stack, cluster = docs(text(result, f"services/us/clusters/{tier}/us-{tier}.yaml.liquid"))
        assert stack["metadata"]["name"] == f"cluster-us-{tier}"
        assert stack["spec"]["git"]["folder"] == "terraform/modules/clusters/aws"
        assert stack["spec"]["variables"] == {
            "cluster": f"us-{tier}",
            "fleet": "us",
            "tier": tier,
            "region": "us-east-1",
            # left for Plural to fill in at deploy time
            "kubernetes_version": "{{ configuration.kubernetesVersion }}",
        }
        assert cluster["spec"] == {"handle": f"us-{tier}", "tags": {"fleet": "us", "tier": tier}}
    services = text(result, "services/us/setup/services.yaml")
    assert [d["metadata"]["name"] for d in docs(services)] == ["us-dev", "us-prod"]
    # the version default, and the stage markers fleet-upgrade-pra looks for
    assert "    kubernetesVersion: '1.34' # dev\n" in services
    assert "    kubernetesVersion: '1.34' # prod\n" in services
    pipeline = doc(text(result, "services/us/setup/pipeline.yaml"))
    assert [s["name"] for s in pipeline["spec"]["stages"]] == ["dev", "prod"]
    assert [(e["from"], e["to"]) for e in pipeline["spec"]["edges"]] == [("dev", "prod")]
    service = doc(text(result, "bootstrap/infra/us.yaml"))
    assert service["metadata"]["name"] == "us-setup"
    assert service["spec"]["git"]["folder"] == "services/us/setup"
    assert result.pull_request.title == "Setting up aws fleet us"


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_fleet_setup_uses_only_the_chosen_clouds_stack_template(cloud: str) -> None:
    result = render("fleet-setup", {"cloud": cloud, "fleet": "f1", "region": "r1"})
    assert ops(result.changes) == {**_fleet_paths("f1"), ".prbot/fleet-upgrade-pra.yaml": "create"}
    for tier in ("dev", "prod"):
        stack, _ = docs(text(result, f"services/f1/clusters/{tier}/f1-{tier}.yaml.liquid"))
        assert stack["spec"]["git"]["folder"] == f"terraform/modules/clusters/{cloud}"
        assert stack["spec"]["variables"]["tier"] == tier
        assert ("next_kubernetes_version" in stack["spec"]["variables"]) == (cloud == "azure")


def test_fleet_setup_azure_splits_control_plane_and_node_stages() -> None:
    inputs = {"cloud": "azure", "fleet": "az", "region": "westeurope", "resourceGroup": "rg-az"}
    result = render("fleet-setup", {**inputs, "version": "1.33"})
    pipeline = doc(text(result, "services/az/setup/pipeline.yaml"))
    stages = ["dev-cp", "dev-nodes", "prod-cp", "prod-nodes"]
    assert [s["name"] for s in pipeline["spec"]["stages"]] == stages
    assert [e["to"] for e in pipeline["spec"]["edges"]] == stages[1:]
    services = text(result, "services/az/setup/services.yaml")
    for stage in stages:
        key = "nextKubernetesVersion" if stage.endswith("-cp") else "kubernetesVersion"
        assert f"    {key}: '1.33' # {stage}\n" in services
    stack, _ = docs(text(result, "services/az/clusters/prod/az-prod.yaml.liquid"))
    assert stack["spec"]["variables"]["resource_group_name"] == "rg-az"
    assert stack["spec"]["jobSpec"]["serviceAccount"] == "stacks"


def test_fleet_setup_installs_the_fleet_upgrade_automation_once() -> None:
    first = render("fleet-setup", {"cloud": "aws", "fleet": "us", "region": "us-east-1"})
    # the created definition is the fleet-upgrade port, byte for byte, and loads cleanly
    created = first.changes.by_path()[".prbot/fleet-upgrade-pra.yaml"]
    assert created.operation == "create"
    assert created.content == (HERE / "fleet-upgrade" / "automation.yaml").read_bytes()
    merged = after_changes(repo("fleet-setup"), first.changes)
    defs = load_view(merged, root=".prbot")
    assert defs.problems == []
    assert list(defs.automations) == ["fleet-upgrade-pra"]
    # the next fleet renders the same definition again: identical, so not in its PR
    second = render("fleet-setup", {"cloud": "gcp", "fleet": "ap", "region": "asia-east1"}, merged)
    assert ops(second.changes) == _fleet_paths("ap")


def test_fleet_setup_then_its_upgrade_automation_bumps_the_dev_tier() -> None:
    """The two fixtures together: the fleet cluster-fleet-setup creates is what
    fleet-upgrade-pra's regexes are written against."""
    setup = render(
        "fleet-setup", {"cloud": "aws", "fleet": "eu", "region": "eu-west-1"}, MemoryRepoView({})
    )
    merged = after_changes(MemoryRepoView({}), setup.changes)
    upgrade = load_view(merged, root=".prbot").automations["fleet-upgrade-pra"]
    result = render_automation(
        upgrade,
        {"fleet": "eu", "version": "1.35"},
        merged,
        extra_context={"pipeline": {"stage": {"name": "dev"}}},
    )
    assert ops(result.changes) == {
        "services/eu/setup/services.yaml": "update",
        "services/eu/clusters/dev/eu-dev.yaml.liquid": "update",
    }
    services = text(result, "services/eu/setup/services.yaml")
    assert changed_lines(before(merged, "services/eu/setup/services.yaml"), services) == [
        ("    kubernetesVersion: '1.34' # dev", '    kubernetesVersion: "1.35" # dev')
    ]


def test_fleet_setup_resource_group_only_matters_on_azure() -> None:
    # hidden on aws: not required, and not used
    aws = render("fleet-setup", {"cloud": "aws", "fleet": "us", "region": "us-east-1"})
    assert "resourceGroup" not in aws.inputs.values
    assert aws.inputs.values["version"] == "1.34"
    with pytest.raises(InputError) as exc:
        render("fleet-setup", {"cloud": "azure", "region": "westeurope"})
    assert input_problems(exc) == {"fleet": "is required"}


# ---------------------------------------------------------------- fleet-upgrade
# ports pra-k8s-version-upgrade-pipeline-regex.yaml: stage-marker regexes, and Liquid
# `{% if %}` inside regexes (a stage that does not own a file renders `a^`).

EU = "services/eu/setup/services.yaml"
EU_DEV = "services/eu/clusters/dev/eu-dev.yaml.liquid"
EU_PROD = "services/eu/clusters/prod/eu-prod.yaml.liquid"
AZ = "services/az/setup/services.yaml"
AZ_DEV = "services/az/clusters/dev/az-dev.yaml.liquid"


def _upgrade(fleet: str, stage: str, view: RepoView | None = None) -> RenderResult:
    return render("fleet-upgrade", {"fleet": fleet, "version": "1.34"}, view, pipeline_stage=stage)


def test_fleet_upgrade_dev_stage_bumps_dev_service_and_retags_dev_stack() -> None:
    result = _upgrade("eu", "dev")
    assert ops(result.changes) == {EU: "update", EU_DEV: "update"}
    view = repo("fleet-upgrade")
    assert changed_lines(before(view, EU), text(result, EU)) == [
        ("    kubernetesVersion: '1.33' # dev", '    kubernetesVersion: "1.34" # dev')
    ]
    # the stack's earlier "# dev 1.33" comment is replaced, not appended to
    assert changed_lines(before(view, EU_DEV), text(result, EU_DEV)) == [
        (
            '    kubernetes_version: "{{ configuration.kubernetesVersion }}" # dev 1.33',
            '    kubernetes_version: "{{ configuration.kubernetesVersion }}" # dev 1.34',
        )
    ]
    assert comments(text(result, EU)) == [
        c.replace("'1.33' # dev", '"1.34" # dev') if c.endswith("# dev") else c
        for c in comments(before(view, EU))
    ]
    assert result.pull_request.title == "Updating eu dev clusters to 1.34"
    assert result.pull_request.body.endswith("Plural Service: mgmt/eu-setup")


def test_fleet_upgrade_prod_stage_leaves_dev_alone() -> None:
    result = _upgrade("eu", "prod")
    assert ops(result.changes) == {EU: "update", EU_PROD: "update"}
    view = repo("fleet-upgrade")
    assert changed_lines(before(view, EU), text(result, EU)) == [
        ("    kubernetesVersion: '1.33' # prod", '    kubernetesVersion: "1.34" # prod')
    ]
    assert changed_lines(before(view, EU_PROD), text(result, EU_PROD)) == [
        (
            '    kubernetes_version: "{{ configuration.kubernetesVersion }}"',
            '    kubernetes_version: "{{ configuration.kubernetesVersion }}" # prod 1.34',
        )
    ]


def test_fleet_upgrade_azure_control_plane_stage() -> None:
    result = _upgrade("az", "dev-cp")
    assert ops(result.changes) == {AZ: "update", AZ_DEV: "update"}
    view = repo("fleet-upgrade")
    assert changed_lines(before(view, AZ), text(result, AZ)) == [
        ("    nextKubernetesVersion: '1.33' # dev-cp", '    nextKubernetesVersion: "1.34" # dev-cp')
    ]
    assert changed_lines(before(view, AZ_DEV), text(result, AZ_DEV)) == [
        (
            '    next_kubernetes_version: "{{ configuration.nextKubernetesVersion }}"',
            '    next_kubernetes_version: "{{ configuration.nextKubernetesVersion }}"'
            " # dev-cp 1.34",
        )
    ]


def test_fleet_upgrade_azure_node_stage() -> None:
    result = _upgrade("az", "dev-nodes")
    view = repo("fleet-upgrade")
    assert changed_lines(before(view, AZ), text(result, AZ)) == [
        ("    kubernetesVersion: '1.33' # dev-nodes", '    kubernetesVersion: "1.34" # dev-nodes')
    ]
    # Plural's regex has no word boundary: `kubernetes_version: "..."` also matches the
    # tail of the next_kubernetes_version line, so both get the comment. Reproduced as
    # written (only a comment changes); the Go original behaves the same.
    assert changed_lines(before(view, AZ_DEV), text(result, AZ_DEV)) == [
        (
            '    kubernetes_version: "{{ configuration.kubernetesVersion }}"',
            '    kubernetes_version: "{{ configuration.kubernetesVersion }}" # dev-nodes 1.34',
        ),
        (
            '    next_kubernetes_version: "{{ configuration.nextKubernetesVersion }}"',
            '    next_kubernetes_version: "{{ configuration.nextKubernetesVersion }}"'
            " # dev-nodes 1.34",
        ),
    ]


def test_fleet_upgrade_is_idempotent() -> None:
    first = _upgrade("eu", "dev")
    merged = after_changes(repo("fleet-upgrade"), first.changes)
    assert ops(_upgrade("eu", "dev", merged).changes) == {}


def test_fleet_upgrade_verbatim_plural_fallback_regex_is_a_no_op() -> None:
    """Plural's original (pra-k8s-version-upgrade-pipeline-regex.yaml) falls back to
    `a^` outside a regex's stage while its replacement still names $1. A regex that
    matches nothing must leave the file alone, as Go's ReplaceAllString does; the port
    works around it with `(a^)`. Here the fallback is put back as Plural wrote it."""
    ported = load("fleet-upgrade")
    assert sum("{% else %}(a^){% endif %}" in r.regex for r in ported.regex_replacements) == 4
    verbatim = replace(
        ported,
        regex_replacements=tuple(
            replace(r, regex=r.regex.replace("{% else %}(a^)", "{% else %}a^"))
            for r in ported.regex_replacements
        ),
    )
    result = render_automation(
        verbatim,
        {"fleet": "eu", "version": "1.34"},
        repo("fleet-upgrade"),
        extra_context={"pipeline": {"stage": {"name": "dev"}}},
    )
    assert ops(result.changes) == ops(_upgrade("eu", "dev").changes)


def test_fleet_upgrade_unknown_stage_matches_nothing_and_no_stage_fails() -> None:
    assert ops(_upgrade("eu", "staging").changes) == {}
    with pytest.raises(RenderError, match="pipeline"):
        render("fleet-upgrade", {"fleet": "eu", "version": "1.34"})


# ---------------------------------------------------------------- grafana
# ports pra-addon-install-grafana-bool-cluster.yaml: file templates plus a folder
# template (terraform/{{ context.cloud }}), a bool and an optional input.

GRAFANA = {"cloud": "aws", "cluster": "eu-prod-1", "hostname": "grafana.acme.io"}
TEMPO = "http://tempo.tempo.svc.cluster.local:3100"
HELM = "helm/grafana/grafana.yaml.liquid"


def _deploy_time(source: str) -> Any:
    """Parse a .liquid values file the way it reads after Plural's deploy-time render:
    tags dropped, each {{ expression }} standing in for its value."""
    source = re.sub(r"\{%.*?%\}", "", source)
    return doc(re.sub(r"\{\{\s*(.*?)\s*\}\}", r"<\1>", source))


def test_grafana_creates_files_and_the_terraform_folder() -> None:
    result = render("grafana", {**GRAFANA, "pluralCloud": True, "tempoUrl": TEMPO})
    assert ops(result.changes) == {
        HELM: "create",
        "bootstrap/apps/grafana/eu-prod-1/servicedeployment.yaml": "create",
        "terraform/apps/grafana/db.tf": "create",
        "terraform/apps/grafana/outputs.tf": "create",
        "terraform/apps/grafana/variables.tf": "create",
        "bootstrap/apps/grafana/eu-prod-1/stack.yaml": "create",
    }
    source = HERE / "grafana" / "templates" / "terraform" / "aws"
    # folder members are templated too: the db is named after the cluster
    assert '  identifier           = "grafana-eu-prod-1"\n' in text(
        result, "terraform/apps/grafana/db.tf"
    )
    assert (
        text(result, "terraform/apps/grafana/variables.tf") == (source / "variables.tf").read_text()
    )
    service = doc(text(result, "bootstrap/apps/grafana/eu-prod-1/servicedeployment.yaml"))
    assert service["metadata"]["name"] == "grafana-eu-prod-1"
    assert service["spec"]["clusterRef"]["name"] == "eu-prod-1"
    assert service["spec"]["imports"] == [
        {"stackRef": {"name": "grafana-eu-prod-1", "namespace": "apps"}}
    ]
    stack = doc(text(result, "bootstrap/apps/grafana/eu-prod-1/stack.yaml"))
    assert stack["spec"]["git"]["folder"] == "terraform/apps/grafana"
    assert result.pull_request.title == "Grafana setup (eu-prod-1)"


def test_grafana_values_keep_deploy_time_liquid_and_fill_in_inputs() -> None:
    result = render("grafana", {**GRAFANA, "pluralCloud": True, "tempoUrl": TEMPO})
    helm = text(result, HELM)
    assert helm.startswith('{% assign stack = imports["grafana-" | append: cluster.handle] %}\n')
    assert "    GF_DATABASE_PASSWORD: {{ stack.postgres_password }}\n" in helm
    values = _deploy_time(helm)
    assert values["ingress"]["hosts"] == ["grafana.acme.io"]
    assert values["grafana.ini"]["server"]["root_url"] == "https://grafana.acme.io"
    datasources = values["datasources"]["datasources.yaml"]["datasources"]
    assert [(d["name"], d["url"]) for d in datasources] == [
        ("Prometheus", "<cluster.metadata.prometheus_url>"),
        ("Tempo", TEMPO),
    ]


@pytest.mark.parametrize(
    ("plural_cloud", "tempo", "expected"),
    [
        ("false", None, None),
        ("no", TEMPO, ["Tempo"]),
        ("true", None, ["Prometheus"]),
    ],
)
def test_grafana_datasources_follow_the_bool_and_the_optional_url(
    plural_cloud: str, tempo: str | None, expected: list[str] | None
) -> None:
    inputs = {**GRAFANA, "pluralCloud": plural_cloud}  # as a form or --set sends it
    if tempo:
        inputs["tempoUrl"] = tempo
    values = _deploy_time(text(render("grafana", inputs), HELM))
    if expected is None:
        assert "datasources" not in values
    else:
        names = [d["name"] for d in values["datasources"]["datasources.yaml"]["datasources"]]
        assert names == expected


def test_grafana_rejects_a_non_bool_and_a_bad_cluster_name() -> None:
    with pytest.raises(InputError) as exc:
        render("grafana", {**GRAFANA, "cluster": "EU_prod", "pluralCloud": "maybe"})
    problems = input_problems(exc)
    assert set(problems) == {"cluster", "pluralCloud"}
    assert "true or false" in problems["pluralCloud"]


# ---------------------------------------------------------------- blob-creator
# ports pra-s3-bucket-stack-create.yaml: regex validation on the bucket name.

BUCKET = {"name": "acme-backups", "type": "s3", "region": "us-east-2"}


def test_blob_creator_adds_one_stack_per_bucket() -> None:
    result = render("blob-creator", BUCKET)
    # bootstrap/blobstores.yaml already exists (first bucket's PR) and renders the same
    assert ops(result.changes) == {"services/blobstores/s3/acme-backups.yaml": "create"}
    stack = doc(text(result, "services/blobstores/s3/acme-backups.yaml"))
    assert stack["metadata"]["name"] == "s3-acme-backups"
    assert stack["spec"]["variables"] == {"name": "acme-backups", "region": "us-east-2"}
    assert stack["spec"]["git"]["folder"] == "terraform/modules/blobstores/s3"
    assert result.pull_request.title == "Adding a s3 bucket acme-backups"
    assert result.pull_request.body == "Setup a stack to manage the acme-backups s3 bucket"


def test_blob_creator_first_bucket_creates_the_blobstores_service() -> None:
    result = render("blob-creator", BUCKET, MemoryRepoView({}))
    assert ops(result.changes) == {
        "services/blobstores/s3/acme-backups.yaml": "create",
        "bootstrap/blobstores.yaml": "create",
    }
    assert (
        doc(text(result, "bootstrap/blobstores.yaml"))["spec"]["git"]["folder"]
        == "services/blobstores"
    )


@pytest.mark.parametrize("name", ["My_Bucket", "1bucket", "a", "acme backups"])
def test_blob_creator_name_must_match_the_whole_regex(name: str) -> None:
    """Plural's Go MatchString would accept "My_Bucket" (it contains a match); prbot
    requires the whole name to match, which is what the pattern means."""
    with pytest.raises(InputError) as exc:
        render("blob-creator", {**BUCKET, "name": name})
    assert input_problems(exc) == {"name": f"must match the pattern [a-z][a-z-0-9]+, got {name!r}"}


def test_blob_creator_offers_only_s3() -> None:
    with pytest.raises(InputError) as exc:
        render("blob-creator", {**BUCKET, "type": "gcs"})
    assert list(input_problems(exc)) == ["type"]
