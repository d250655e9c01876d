"""Who may use which command: overrides read and checked, a repository's override winning
over the deployment's (the stricter for rollback), approve left to the gate, and every
permission level against every verb's default."""

from __future__ import annotations

import pytest

from prbot.commands.permissions import (
    LEAST_TO_ACT,
    STRICTER_WINS,
    PermissionsError,
    allowed,
    parse_overrides,
    required,
)
from prbot.commands.registry import APPROVER, PERMISSIONS, VERBS, at_least

SETTING = "PRBOT_COMMAND_PERMISSIONS"
CONFIG = "acme/gitops: .prbot/config.yaml: commands"
OVERRIDABLE = [v.name for v in VERBS if v.permission != APPROVER]
OPEN = [v.name for v in VERBS if v.permission == "none"]  # help, status: nothing changes


# -- reading overrides --------------------------------------------------------------


def test_overrides_are_read():
    assert parse_overrides({"rollback": "admin", "run": "maintain"}, SETTING) == {
        "rollback": "admin",
        "run": "maintain",
    }
    assert parse_overrides({}, SETTING) == {}


@pytest.mark.parametrize("name", OVERRIDABLE)
@pytest.mark.parametrize("level", PERMISSIONS)
def test_every_verb_but_approve_takes_every_level_that_may_act(name, level):
    if name in OPEN or at_least(level, LEAST_TO_ACT):
        assert parse_overrides({name: level}, CONFIG) == {name: level}
    else:
        with pytest.raises(PermissionsError) as caught:
            parse_overrides({name: level}, CONFIG)
        assert str(caught.value).startswith(f"{CONFIG}: {name}: needs at least {LEAST_TO_ACT}")


def test_read_only_users_may_only_use_the_open_verbs():
    assert OPEN == ["help", "status"]
    assert LEAST_TO_ACT == "triage"
    assert parse_overrides({"help": "none", "status": "read"}, SETTING)
    with pytest.raises(PermissionsError, match=r"^PRBOT_COMMAND_PERMISSIONS: rollback: "):
        parse_overrides({"rollback": "read"}, SETTING)


@pytest.mark.parametrize("where", [SETTING, CONFIG])
def test_an_unknown_verb_names_the_place_and_the_verb(where):
    with pytest.raises(PermissionsError) as caught:
        parse_overrides({"run": "write", "rollbak": "admin"}, where)
    assert str(caught.value).startswith(f"{where}: ")
    assert "'rollbak'" in str(caught.value)
    assert "(did you mean 'rollback'?)" in str(caught.value)


@pytest.mark.parametrize("level", ["owner", "Admin", "developer", "", 3, None, ["admin"]])
@pytest.mark.parametrize("where", [SETTING, CONFIG])
def test_an_unknown_level_names_the_place_the_verb_and_the_levels(where, level):
    with pytest.raises(PermissionsError) as caught:
        parse_overrides({"rollback": level}, where)
    message = str(caught.value)
    assert message.startswith(f"{where}: rollback: {level!r} ")
    assert ", ".join(PERMISSIONS) in message


@pytest.mark.parametrize("where", [SETTING, CONFIG])
def test_approve_is_not_overridable(where):
    with pytest.raises(PermissionsError) as caught:
        parse_overrides({"approve": "write"}, where)
    assert str(caught.value).startswith(f"{where}: approve")
    assert "approvers" in str(caught.value)


def test_permissions_error_is_a_value_error():
    assert issubclass(PermissionsError, ValueError)


# -- which override wins ------------------------------------------------------------


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: v.name)
def test_without_overrides_the_default(verb):
    assert required(verb.name) == verb.permission
    assert required(verb.name, {}, {}) == verb.permission


def test_the_deployment_overrides_the_default():
    assert required("run", {"run": "admin"}) == "admin"
    assert required("run", {"run": "read"}) == "read"
    assert required("run", {"hold": "admin"}) == "write"  # another verb's override


@pytest.mark.parametrize("name", [n for n in OVERRIDABLE if n not in STRICTER_WINS])
def test_the_repository_wins_over_the_deployment_both_ways(name):
    looser, stricter = ("none", "admin") if name in OPEN else (LEAST_TO_ACT, "admin")
    assert required(name, {name: stricter}, {name: looser}) == looser
    assert required(name, {name: looser}, {name: stricter}) == stricter
    assert required(name, None, {name: looser}) == looser  # over the default too
    assert required(name, None, {name: stricter}) == stricter


def test_rollback_is_stricter_wins_only():
    assert {"rollback"} == STRICTER_WINS


def test_rollback_the_stricter_of_deployment_and_repository_wins_both_ways():
    # the repository may raise it
    assert required("rollback", {"rollback": "write"}, {"rollback": "admin"}) == "admin"
    # but not lower it below the deployment's
    assert required("rollback", {"rollback": "admin"}, {"rollback": "write"}) == "admin"
    assert required("rollback", {"rollback": "admin"}, {"rollback": "admin"}) == "admin"


def test_rollback_without_a_deployment_override_the_default_is_the_floor():
    assert required("rollback", None, {"rollback": "triage"}) == "maintain"
    assert required("rollback", None, {"rollback": "admin"}) == "admin"
    # a deployment may lower it; the repository then may not go below that
    assert required("rollback", {"rollback": "write"}, {"rollback": "triage"}) == "write"
    assert required("rollback", {"rollback": "write"}) == "write"


@pytest.mark.parametrize("deployment", [None, {"approve": "read"}])
@pytest.mark.parametrize("repository", [None, {"approve": "none"}, {"approve": "admin"}])
def test_approve_is_the_gates_whatever_the_mappings_say(deployment, repository):
    assert required("approve", deployment, repository) == APPROVER


# -- allowed -------------------------------------------------------------------------


def rank(level: str) -> int:
    return PERMISSIONS.index(level)


@pytest.mark.parametrize(
    "verb", [v for v in VERBS if v.permission != APPROVER], ids=lambda v: v.name
)
@pytest.mark.parametrize("have", PERMISSIONS)
def test_allowed_each_level_against_each_default(verb, have):
    need = required(verb.name)
    assert allowed(need, have) is (rank(have) >= rank(verb.permission))


@pytest.mark.parametrize("have", PERMISSIONS)
def test_allowed_to_approve_a_listed_approver_or_maintain(have):
    need = required("approve")
    assert allowed(need, have, approver=True) is True
    assert allowed(need, have) is (rank(have) >= rank("maintain"))


@pytest.mark.parametrize("need", PERMISSIONS)
def test_being_an_approver_changes_nothing_elsewhere(need):
    for have in PERMISSIONS:
        assert allowed(need, have, approver=True) is allowed(need, have)


def test_none_lets_anyone_and_admin_can_do_all():
    assert all(allowed(need, "none") is (need == "none") for need in PERMISSIONS)
    assert all(allowed(need, "admin") for need in (*PERMISSIONS, APPROVER))


def test_the_shipped_defaults():
    defaults = {v.name: v.permission for v in VERBS}
    assert defaults == {
        "help": "none",
        "run": "write",
        "promote": "write",
        "status": "none",
        "approve": APPROVER,
        "hold": "write",
        "resume": "write",
        "retry": "write",
        "rollback": "maintain",
        "cancel": "write",
    }
