"""A repository's own settings for prbot: ``.prbot/config.yaml``, beside its definitions.

.. code-block:: yaml

    commands:
      permissions:        # verb -> the least permission it needs in this repository
        run: maintain
        rollback: admin   # the stricter of this and the deployment's setting wins

It is not a definition (no ``apiVersion``: the loader passes over it, and the definitions
cache hands it to ``parse_repo_config`` instead). It is read with the definitions (same
commit, same cache) and parsed in the sandbox like them: whoever can push to the default
branch wrote it. A problem in it is a problem of the repository's definitions (reported on
the commit); while its ``commands`` section is broken, commands that need a permission are
refused with the reason rather than guessing what the repository meant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from prbot.automation.errors import Problem
from prbot.automation.limits import LIMITS, Limits
from prbot.automation.yamlload import YamlLimitError, load_all
from prbot.commands.permissions import PermissionsError, parse_overrides
from prbot.commands.registry import Permission
from prbot.errors import did_you_mean

CONFIG_FILE = "config.yaml"
SECTIONS = {"commands": ("permissions",)}


@dataclass(frozen=True)
class RepoConfig:
    command_permissions: Mapping[str, Permission] = field(default_factory=dict)
    broken: str = ""  # why the commands section could not be read ("" when it could)


def parse_repo_config(
    content: bytes, display: str, limits: Limits = LIMITS
) -> tuple[RepoConfig, list[Problem]]:
    """The settings in ``content`` (the file at ``display``), and its problems."""

    def bad(message: str, where: str = "") -> tuple[RepoConfig, list[Problem]]:
        problem = Problem(message, where, display)
        return RepoConfig(broken=str(problem)), [problem]

    if len(content) > limits.max_file_bytes:
        return bad(f"is {len(content)} bytes; at most {limits.max_file_bytes} are read")
    try:
        documents = load_all(YAML(typ="safe", pure=True), content.decode("utf-8"), limits)
    except UnicodeDecodeError:
        return bad("is not UTF-8 text")
    except (YamlLimitError, YAMLError) as exc:
        return bad(f"invalid YAML: {exc}")
    documents = [d for d in documents if d is not None]
    if not documents:
        return RepoConfig(), []
    if len(documents) > 1 or not isinstance(documents[0], dict):
        return bad("must be one mapping (commands: ...)")
    data: dict[Any, Any] = documents[0]
    problems = [
        Problem(f"unknown setting{did_you_mean(str(key), SECTIONS)}", str(key), display)
        for key in data
        if key not in SECTIONS
    ]
    commands = data.get("commands") or {}
    if not isinstance(commands, dict):
        return bad("must be a mapping (permissions: ...)", "commands")
    for key in commands:
        if key not in SECTIONS["commands"]:
            hint = did_you_mean(str(key), SECTIONS["commands"])
            problems.append(Problem(f"unknown setting{hint}", f"commands.{key}", display))
    permissions = commands.get("permissions") or {}
    if not isinstance(permissions, dict):
        return bad("must be a mapping of commands to permissions", "commands.permissions")
    try:
        found = parse_overrides(permissions, f"{display}: commands.permissions")
    except PermissionsError as exc:
        return RepoConfig(broken=str(exc)), [*problems, Problem(str(exc))]
    return RepoConfig(found), problems
