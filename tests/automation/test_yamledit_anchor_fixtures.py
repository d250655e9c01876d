"""Edits on real files that use anchors, aliases and merge keys (tests/fixtures/yaml-anchors,
sources in its SOURCES.md): Flux HelmReleases, a docker-compose file, GitLab CI rules."""

from __future__ import annotations

import difflib
from typing import Any

import pytest
from ruamel.yaml import YAML

from prbot.automation.yamledit import (
    YamlEditError,
    YamlPath,
    append_items,
    merge_overlay,
    parse_path,
    set_value,
)
from tests.fixtures import FIXTURES, fixture_files

ANCHORS = FIXTURES / "yaml-anchors"
COMPOSE = "netbox-community__netbox-docker__docker-compose.yml"
BAZARR = "ishioni__homelab-ops__kubernetes__apps__downloads__bazarr__app__helmrelease.yaml"
KPS = (
    "ishioni__homelab-ops__kubernetes__apps__monitor__kube-prometheus-stack__app__helmrelease.yaml"
)
QBT = "bjw-s-labs__home-ops__kubernetes__apps__downloads__qbittorrent__app__helmrelease.yaml"
RULES = "gitlabhq__gitlab-runner__.gitlab__ci___rules.gitlab-ci.yml"
CONTAINER = "spec.values.controllers.bazarr.containers.app"


def read(name: str) -> str:
    return (ANCHORS / name).read_bytes().decode("utf-8")


def load(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def diff(old: str, new: str) -> list[str]:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
    return [ln for ln in lines if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]


def at(data: Any, path: str) -> Any:
    for step in parse_path(path).steps:
        data = data[step]
    return data


def test_the_fixtures_are_all_here() -> None:
    assert [f.name for f in fixture_files(ANCHORS, "*.y*ml")] == sorted(
        [COMPOSE, BAZARR, KPS, QBT, RULES]
    )


# --------------------------------------------------------------------------- docker-compose <<


def test_compose_a_service_merged_into_others_is_shared() -> None:
    text = read(COMPOSE)
    with pytest.raises(YamlEditError) as err:
        set_value(text, "services.netbox.image", "docker.io/netboxcommunity/netbox:v4.2")
    assert "&netbox" in str(err.value)
    assert "services.netbox-worker.image, services.netbox-housekeeping.image;" in str(err.value)
    out = set_value(
        text, "services.netbox.image", "docker.io/netboxcommunity/netbox:v4.2", follow_aliases=True
    )
    assert diff(text, out) == [
        "-    image: docker.io/netboxcommunity/netbox:${VERSION-v4.1-3.0.2}",
        "+    image: docker.io/netboxcommunity/netbox:v4.2",
    ]
    services = load(out)["services"]
    assert {services[s]["image"] for s in ("netbox", "netbox-worker", "netbox-housekeeping")} == {
        "docker.io/netboxcommunity/netbox:v4.2"
    }


def test_compose_an_inherited_key_is_overridden_in_its_service() -> None:
    text = read(COMPOSE)
    out = set_value(text, "services.netbox-worker.image", "docker.io/netboxcommunity/netbox:v4.2")
    assert diff(text, out) == ["+    image: docker.io/netboxcommunity/netbox:v4.2"]
    before, after = load(text)["services"], load(out)["services"]
    assert after["netbox-worker"]["image"] == "docker.io/netboxcommunity/netbox:v4.2"
    assert (
        after["netbox"] == before["netbox"]
        and after["netbox-housekeeping"] == before["netbox-housekeeping"]
    )


def test_compose_an_aliased_healthcheck() -> None:
    text = read(COMPOSE)
    with pytest.raises(YamlEditError, match=r"healthcheck is an alias \(\*redis-healthcheck\)"):
        set_value(text, "services.redis-cache.healthcheck.timeout", "5s")
    out = set_value(text, "services.redis-cache.healthcheck.timeout", "5s", follow_aliases=True)
    assert diff(text, out) == ["-      timeout: 3s", "+      timeout: 5s"]
    assert load(out)["services"]["redis"]["healthcheck"]["timeout"] == "5s"
    # An overlay gives the aliased key a mapping of its own instead, merged.
    out = merge_overlay(text, {"services": {"redis-cache": {"healthcheck": {"retries": 3}}}})
    services = load(out)["services"]
    assert services["redis-cache"]["healthcheck"] == {
        **services["redis"]["healthcheck"],
        "retries": 3,
    }
    assert services["redis"]["healthcheck"]["retries"] == 5


# --------------------------------------------------------------------------- Flux HelmRelease values


def test_helmrelease_an_anchored_port() -> None:
    text = read(BAZARR)
    port = f"{CONTAINER}.probes.liveness.spec.httpGet.port"
    with pytest.raises(YamlEditError) as err:
        set_value(text, port, 6768)
    assert "(&port)" in str(err.value) and "spec.values.service.app.ports.http.port" in str(
        err.value
    )
    out = set_value(text, port, 6768, follow_aliases=True)
    assert diff(text, out) == [
        "-                    port: &port 6767",
        "+                    port: &port 6768",
    ]
    assert at(load(out), "spec.values.service.app.ports.http.port") == 6768
    # Replacing one alias of it changes that path alone.
    out = set_value(text, "spec.values.service.app.ports.http.port", 6768)
    assert diff(text, out) == ["-            port: *port", "+            port: 6768"]
    assert at(load(out), port) == 6767


def test_helmrelease_aliased_and_merged_probes() -> None:
    text = read(BAZARR)
    with pytest.raises(YamlEditError, match=r"probes\.readiness is an alias \(\*probes\)"):
        set_value(text, f"{CONTAINER}.probes.readiness.spec.periodSeconds", 20)
    out = set_value(
        text, f"{CONTAINER}.probes.readiness.spec.periodSeconds", 20, follow_aliases=True
    )
    assert diff(text, out) == [
        "-                  periodSeconds: 10",
        "+                  periodSeconds: 20",
    ]
    # startup.spec merges &probes and overrides periodSeconds itself
    out = set_value(text, f"{CONTAINER}.probes.startup.spec.periodSeconds", 15)
    assert diff(text, out) == [
        "-                  periodSeconds: 5",
        "+                  periodSeconds: 15",
    ]
    assert at(load(out), f"{CONTAINER}.probes.liveness.spec.periodSeconds") == 10


def test_helmrelease_flow_mapping_inside_block() -> None:
    text = read(BAZARR)
    out = set_value(text, f"{CONTAINER}.securityContext.capabilities.drop[0]", "NET_RAW")
    assert diff(text, out) == [
        '-              capabilities: { drop: ["ALL"] }',
        '+              capabilities: { drop: ["NET_RAW"] }',
    ]


def test_helmrelease_a_merged_service_block() -> None:
    text = read(KPS)
    path = "spec.values.kubeEtcd.service.selector.k8s-app"
    with pytest.raises(YamlEditError, match=r"kubeEtcd\.service comes from a merge key \(<<\)"):
        set_value(text, path, "etcd")
    with pytest.raises(
        YamlEditError,
        match=r"would also change spec\.values\.kubeEtcd\.service\.selector\.k8s-app;",
    ):
        set_value(text, "spec.values.kubeControllerManager.service.selector.k8s-app", "kcm")
    # An overlay gives kubeEtcd a service of its own: what it merged, with the change.
    out = merge_overlay(
        text, {"spec": {"values": {"kubeEtcd": {"service": {"selector": {"k8s-app": "etcd"}}}}}}
    )
    values = load(out)["spec"]["values"]
    assert values["kubeEtcd"]["service"] == {"selector": {"k8s-app": "etcd"}}
    assert values["kubeControllerManager"]["service"] == {
        "selector": {"k8s-app": "kube-controller-manager"}
    }


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_helmrelease_with_the_controller_key_written_as_an_alias(crlf: bool) -> None:
    # The reported bug's shape on a real file: the controller's key written as *app.
    text = read(QBT)
    aliased = text.replace("  name: qbittorrent\n", "  name: &app qbittorrent\n", 1)
    aliased = aliased.replace("      qbittorrent:\n", "      *app :\n", 1)
    if crlf:
        text, aliased = text.replace("\n", "\r\n"), aliased.replace("\n", "\r\n")
    assert load(aliased) == load(text)
    path = "spec.values.controllers.qbittorrent.containers.app.image.tag"
    out = set_value(aliased, path, "5.2.4")
    assert diff(aliased, out) == ["-              tag: 5.2.3", "+              tag: 5.2.4"]
    assert diff(text, set_value(text, path, "5.2.4")) == diff(aliased, out)


# --------------------------------------------------------------------------- GitLab CI rules


def test_gitlab_rules_keys_with_colons_and_merged_conditions() -> None:
    text = read(RULES)
    out = set_value(text, '".rules:docs:review".rules[1].when', "always")
    assert diff(text, out) == ["-      when: manual", "+      when: always"]
    # rules[0] merges its "if" from an anchored condition: overridden in that rule only
    out = set_value(text, '".rules:docs:review".rules[0].if', "$CI_COMMIT_TAG")
    assert diff(text, out) == ["+      if: $CI_COMMIT_TAG"]
    assert load(out)[".if-not-canonical-namespace"] == load(text)[".if-not-canonical-namespace"]


def test_gitlab_rules_a_widely_aliased_list() -> None:
    text = read(RULES)
    with pytest.raises(YamlEditError, match=r"\(&docs-patterns\).* and \d+ more;"):
        append_items(text, '".docs-patterns"', ["docs/**/*.md"])
    out = append_items(text, '".docs-patterns"', ["docs/**/*.md"], follow_aliases=True)
    assert diff(text, out) == ["+  - docs/**/*.md"]


# --------------------------------------------------------------------------- every leaf


@pytest.mark.parametrize("name", [COMPOSE, BAZARR, KPS, QBT, RULES])
def test_every_leaf_is_edited_exactly_or_refused_clearly(name: str) -> None:
    text = read(name)
    documents = list(YAML(typ="safe", pure=True).load_all(text))
    paths = [(n, p) for n, doc in enumerate(documents) for p in leaves(doc)]
    for n, keys in paths[:: max(1, len(paths) // 25)]:  # about 25 per file, spread out
        steps = tuple(k if isinstance(k, int) and not isinstance(k, bool) else str(k) for k in keys)
        new = "prbot-new"
        try:
            out = set_value(text, YamlPath(n, steps), new)
        except YamlEditError as exc:
            assert any(r in str(exc) for r in ("is an alias", "merge key", "shared through")), exc
        else:
            want = list(documents)
            want[n] = put(documents[n], keys, new)
            assert list(YAML(typ="safe", pure=True).load_all(out)) == want
        out = set_value(text, YamlPath(n, steps), new, follow_aliases=True)
        got = list(YAML(typ="safe", pure=True).load_all(out))[n]
        for k in keys:
            got = got[k]
        assert got == new


def leaves(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in leaves(v, (*prefix, k))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in leaves(v, (*prefix, i))]
    return [prefix]


def put(data: Any, keys: tuple[Any, ...], value: Any) -> Any:
    if not keys:
        return value
    out = dict(data) if isinstance(data, dict) else list(data)
    out[keys[0]] = put(data[keys[0]], keys[1:], value)
    return out
