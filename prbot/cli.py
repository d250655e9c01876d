"""The ``prbot`` command: the only entry point. Each subcommand is a thin shell over the core."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prbot.automation.changeset import DirRepoView, apply_to_dir, unified_diff
from prbot.automation.definitions import PrAutomation
from prbot.automation.errors import DefinitionError, InputError
from prbot.automation.loader import DefinitionSet, to_plain
from prbot.engine.boxed import load_path, render_folder
from prbot.engine.sandbox import BoxLimits, Sandbox
from prbot.errors import PrbotError, did_you_mean
from prbot.settings import core_limits, no_color, setting

EXIT_OK = 0
EXIT_USAGE = 2

MAIN_EPILOG = """\
examples (from the repository's root, on the shipped example repository):
  prbot validate automations/ examples/gitops/.prbot/
  prbot render image-bump --repo examples/gitops --set service=myapp --set env=dev \\
      --set tag=6.7.1
  prbot render automations/cluster-create.yaml --repo examples/gitops --set name=dev-eu-1 \\
      --set cloud=aws --set region=eu-west-1 --set tier=dev --write

examples that need a running prbot serve ($PRBOT_URL, $PRBOT_API_TOKEN):
  prbot promote myapp --repo acme/gitops --set tag=6.7.1 --wait
  prbot promotions 12
"""

VALIDATE_EPILOG = """\
Exit status: 0 when every definition is valid, 2 otherwise (one line per problem:
file:line: document N: field.path: what is wrong).

Also reported: a name a template reads that is not an input (context.nme), with the
line of the field and the line within the template.

examples (from the repository's root):
  prbot validate automations/
  prbot validate automations/ examples/gitops/.prbot/
  prbot validate automations/image-bump.yaml
"""

RENDER_EPILOG = """\
AUTOMATION is a definition file, or the name of a PrAutomation found in the automations
folder ($PRBOT_AUTOMATIONS_DIR, default ./automations) or in DIR/.prbot/.

Inputs come from --values (a YAML or JSON mapping) and then --set (later wins).
Exit status: 0 on success, 2 on invalid definitions, inputs or templates (nothing is
written).

examples (from the repository's root, on the shipped example repository):
  prbot render image-bump --repo examples/gitops \\
      --set service=myapp --set env=staging --set tag=6.7.1
  prbot render scale --repo examples/gitops --set service=myapp --set env=prod \\
      --set replicas=5 --set reason="peak traffic"
  prbot render cluster-create --repo examples/gitops --set name=dev-eu-1 --set cloud=aws \\
      --set region=eu-west-1 --set tier=dev --set nodeCount=3 --write
"""


SERVE_EPILOG = """\
Serves POST /webhooks/github (when WEBHOOK_SECRET is set), POST /webhooks/gitlab (when
GITLAB_WEBHOOK_SECRET is set), /healthz, /readyz, /metrics and, with PRBOT_API_TOKEN,
the internal API under /api; runs the workers and the reconciler. SIGTERM or SIGINT
stops it cleanly (exit 0). Exit status 2: the configuration is invalid (each problem
names its variable).

Rotating a webhook secret: put the old one in WEBHOOK_SECRET_PREVIOUS (or list several,
whitespace-separated, in WEBHOOK_SECRET); any of them is accepted.

{variables}

examples:
  WEBHOOK_SECRET=... GITHUB_TOKEN=... prbot serve --port 3000
  prbot serve --config /etc/prbot/prbot.toml
"""


class UsageError(PrbotError):
    """A command-line argument is wrong."""


_box: Sandbox | None = None


def box() -> Sandbox:
    """The command's sandbox: definitions are loaded and changes rendered with the limits
    ``prbot serve`` uses (PRBOT_SANDBOX_*), in one box process."""
    global _box
    if _box is None:
        limits = BoxLimits(
            seconds=setting("PRBOT_SANDBOX_SECONDS"),
            cpu_seconds=setting("PRBOT_SANDBOX_CPU_SECONDS"),
            memory_mib=setting("PRBOT_SANDBOX_MEMORY_MIB"),
            output_mib=setting("PRBOT_SANDBOX_OUTPUT_MIB"),
        )
        _box = Sandbox(limits, processes=1)
    return _box


def _load_path(path: Path, *, check_names: bool = False) -> DefinitionSet:
    if path.is_dir() or path.is_file():
        return box().run_blocking(
            f"loading {path}", load_path, str(path), core_limits(), check_names
        )
    raise UsageError(f"{path}: no such file or directory")


def _print_problems(problems: Sequence[Any], stream: Any = None) -> None:
    stream = stream or sys.stderr
    for p in problems:
        print(str(p), file=stream)


def cmd_validate(args: argparse.Namespace) -> int:
    result = DefinitionSet()
    for raw in args.paths:
        result.merge(_load_path(Path(raw), check_names=True))
    result.check_references()
    if result.problems:
        _print_problems(result.problems)
        print(f"{len(result.problems)} problem(s) found", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"ok: {len(result.automations)} automation(s), {len(result.pipelines)} pipeline(s), "
        f"{len(result.catalogs)} catalog(s)"
    )
    return EXIT_OK


def automations_dir() -> Path:
    return setting("PRBOT_AUTOMATIONS_DIR")


def find_automation(name_or_file: str, repo: Path) -> PrAutomation:
    """A definition file, or a name looked up in the automations folder and repo/.prbot/."""
    as_path = Path(name_or_file)
    if as_path.suffix in (".yaml", ".yml") or as_path.is_file():
        loaded = _load_path(as_path)
        loaded.raise_for_problems()
        if len(loaded.automations) != 1:
            raise UsageError(
                f"{name_or_file}: expected exactly one PrAutomation, found "
                f"{len(loaded.automations)}"
            )
        return next(iter(loaded.automations.values()))
    found: list[PrAutomation] = []
    broken: list[Any] = []
    searched = []
    names: list[str] = []
    for folder in (automations_dir(), repo / ".prbot"):
        if not folder.is_dir():
            continue
        searched.append(str(folder))
        loaded = _load_path(folder)
        if name_or_file in loaded.automations:
            found.append(loaded.automations[name_or_file])
        names += loaded.automations
        broken += loaded.problems
    if len(found) > 1:
        where = " and ".join(a.source_file for a in found)
        raise UsageError(f"automation {name_or_file!r} is defined twice: {where}")
    if not found:
        if broken:
            _print_problems(broken)
        hint = did_you_mean(name_or_file, names)
        if not hint and broken:
            hint = " (definitions with the problems above were not loaded)"
        where = ", ".join(searched) or "any folder"
        raise UsageError(f"no automation named {name_or_file!r} in {where}{hint}")
    return found[0]


def _read_values(path: str) -> dict[str, Any]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML(typ="safe", pure=True).load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--values {path}: {exc.strerror}") from None
    except YAMLError as exc:
        raise UsageError(f"--values {path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"--values {path}: must be a mapping of input names to values")
    return to_plain(data)


def _inputs(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for path in args.values or ():
        values.update(_read_values(path))
    for item in args.set or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected key=value")
        values[key.strip()] = value
    return values


def _extra_context(args: argparse.Namespace) -> dict[str, Any]:
    """--context a.b=c -> {"a": {"b": "c"}}: what a pipeline stage adds to the context."""
    extra: dict[str, Any] = {}
    for item in args.context or ():
        key, sep, value = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise UsageError(f"--context {item!r}: expected key=value (key may be dotted)")
        node = extra
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UsageError(f"--context {item!r}: {part} is already a value")
            node = child
        node[parts[-1]] = value
    return extra


def _print_block(heading: str, text: str, out: Any) -> None:
    """A heading, then ``text`` indented by four spaces (told apart from the diff)."""
    print(heading, file=out)
    for line in text.splitlines() or ["(empty)"]:
        print(f"    {line}".rstrip(), file=out)
    print(file=out)


def cmd_render(args: argparse.Namespace) -> int:
    repo = Path(args.repo)
    if not repo.is_dir():
        raise UsageError(f"--repo {args.repo}: not a directory")
    automation = find_automation(args.automation, repo)
    view = DirRepoView(repo)
    result = box().run_blocking(
        f"render of {automation.name}",
        render_folder,
        automation,
        _inputs(args),
        str(repo),
        _extra_context(args),
        core_limits(),
    )
    pr = result.pull_request
    out = sys.stdout
    colour = out.isatty() and not no_color()
    print(f"Automation: {automation.name}", file=out)
    print(f"Title:      {pr.title}", file=out)
    print(f"Head:       {pr.head}", file=out)
    print(f"Base:       {pr.base or '(the default branch)'}", file=out)
    if pr.labels:
        print(f"Labels:     {', '.join(pr.labels)}", file=out)
    if pr.reviewers:
        print(f"Reviewers:  {', '.join(pr.reviewers)}", file=out)
    print(file=out)
    if pr.body == pr.commit_message:
        _print_block("Commit message and PR body:", pr.body, out)
    else:
        _print_block("Commit message:", pr.commit_message, out)
        _print_block("PR body:", pr.body, out)
    if not result.changes:
        print("No changes: the repository already looks like this.", file=out)
        return EXIT_OK
    out.write(unified_diff(result.changes, view, colour=colour))
    if args.write:
        apply_to_dir(result.changes, repo)
        print(f"\nWrote {len(result.changes)} file(s) to {repo}", file=out)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from prbot.settings import ConfigError, load_settings

    try:
        settings = load_settings(config_file=args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"prbot: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from prbot.logs import setup_logging
    from prbot.serve import run

    setup_logging(settings)
    return run(settings, host=args.host, port=args.port, web_child_of=args.web_child_of)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prbot",
        description="GitOps PR automation: definitions in, pull requests out.",
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from prbot import __version__

    parser.add_argument("--version", action="version", version=f"prbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    v = sub.add_parser(
        "validate",
        help="check definition files",
        description="Check PrAutomation, Pipeline and Catalog definitions.",
        epilog=VALIDATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("paths", nargs="+", metavar="PATH", help="definition files or folders")
    v.set_defaults(func=cmd_validate)

    r = sub.add_parser(
        "render",
        help="show (or write) the change an automation makes",
        description="Render an automation against a repository folder and show the diff.",
        epilog=RENDER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("automation", metavar="AUTOMATION", help="a definition file or a name")
    r.add_argument("--repo", required=True, metavar="DIR", help="the repository folder")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="one input (repeatable)")
    r.add_argument("--values", action="append", metavar="FILE", help="inputs from YAML/JSON")
    r.add_argument(
        "--context",
        action="append",
        metavar="KEY=VALUE",
        help="extra context, as a pipeline stage adds it (pipeline.stage.name=dev)",
    )
    r.add_argument("--write", action="store_true", help="apply the change to DIR")
    r.set_defaults(func=cmd_render)

    from prbot.settings import help_table

    s = sub.add_parser(
        "serve",
        help="run the bot: webhooks, API, metrics, workers",
        description="Run prbot: receive webhooks, serve the API and metrics, run jobs.",
        epilog=SERVE_EPILOG.format(variables=help_table()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("--host", metavar="HOST", help="address to listen on (default: $HOST)")
    s.add_argument("--port", type=int, metavar="PORT", help="port to listen on (default: $PORT)")
    s.add_argument(
        "--config", metavar="FILE", help="config file, YAML or TOML (default: $PRBOT_CONFIG)"
    )
    # internal: how a parent `prbot serve` starts its other web processes
    s.add_argument("--web-child-of", type=int, metavar="FD", help=argparse.SUPPRESS)
    s.set_defaults(func=cmd_serve)

    from prbot.forge.cli import add_parser as add_forge_parser

    add_forge_parser(sub)

    from prbot.worker.cli import add_parser as add_jobs_parser

    add_jobs_parser(sub)

    from prbot.db_cli import add_parser as add_db_parser

    add_db_parser(sub)

    from prbot.promote_cli import add_parsers as add_promote_parsers

    add_promote_parsers(sub)

    from prbot.setup.cli import add_parsers as add_setup_parsers

    add_setup_parsers(sub)

    from prbot.demo.cli import add_parser as add_demo_parser

    add_demo_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (DefinitionError, InputError) as exc:
        _print_problems(exc.problems)
        return EXIT_USAGE
    except PrbotError as exc:
        print(f"prbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    finally:
        global _box
        if _box is not None:
            _box.close()
            _box = None


if __name__ == "__main__":
    sys.exit(main())
