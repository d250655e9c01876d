"""Definition documents: PrAutomation, Pipeline and Catalog, as typed immutable values.

``parse_document`` turns one YAML document (already loaded) into a definition or a list
of located problems. Field names follow Plural's PrAutomation where the meaning is the
same; Plural's upper-case enum spellings (``STRING``, ``EQ``) are accepted too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from prbot.automation import regex
from prbot.automation.errors import Problem
from prbot.automation.inputs import (
    FIELD_TYPES,
    OPERATIONS,
    CoercionError,
    Condition,
    ConfigField,
    check_constraints,
    coerce,
)
from prbot.automation.schema import (
    AnyValue,
    Bool,
    Field,
    Int,
    ListOf,
    Located,
    MapOf,
    Obj,
    Str,
    validate,
)

API_VERSION = "prbot.dev/v1alpha1"
KINDS = ("PrAutomation", "Pipeline", "Catalog")
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
FIELD_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REPOSITORY_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
HOURS_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# ---------------------------------------------------------------- values


@dataclass(frozen=True)
class TemplateFile:
    """One template file's bytes, loaded with the definition (``relpath`` within a folder)."""

    relpath: str
    content: bytes
    executable: bool = False


@dataclass(frozen=True)
class TemplateSpec:
    source: str
    destination: str
    condition: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    is_folder: bool = False
    files: tuple[TemplateFile, ...] = ()  # filled by the loader


@dataclass(frozen=True)
class RegexReplacement:
    file: str
    regex: str
    replacement: str


@dataclass(frozen=True)
class YamlOverlay:
    file: str
    yaml: str
    list_merge: str = "overwrite"
    follow_aliases: bool = False  # change anchored nodes (and so every alias of them)
    create: bool = True  # False: every key of the overlay must already be in the file


@dataclass(frozen=True)
class YamlEdit:
    file: str
    path: str
    value: Any
    follow_aliases: bool = False  # change anchored nodes (and so every alias of them)
    create: bool = True  # False: the path must already be in the file


@dataclass(frozen=True)
class Confirmation:
    text: str = ""
    checklist: tuple[str, ...] = ()


@dataclass(frozen=True)
class PrAutomation:
    name: str
    title: str
    message: str
    repository: str | None = None
    base: str | None = None
    head: str | None = None
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    catalog: str = ""
    category: str = ""
    description: str = ""
    documentation: str = ""
    icon: str = ""
    configuration: tuple[ConfigField, ...] = ()
    confirmation: Confirmation | None = None
    templates: tuple[TemplateSpec, ...] = ()
    regex_replacements: tuple[RegexReplacement, ...] = ()
    yaml_overlays: tuple[YamlOverlay, ...] = ()
    yaml_edits: tuple[YamlEdit, ...] = ()
    delete_files: tuple[str, ...] = ()
    delete_folders: tuple[str, ...] = ()
    source_file: str = ""  # where it was loaded from, for error messages
    kind: str = "PrAutomation"
    # (field path, line in source_file) of each templated field, for messages
    field_lines: tuple[tuple[str, int], ...] = ()

    def line_of(self, path: str) -> int | None:
        return next((line for p, line in self.field_lines if p == path), None)


@dataclass(frozen=True)
class ApprovalGate:
    users: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    count: int = 1


@dataclass(frozen=True)
class WindowGate:
    days: tuple[str, ...] = DAYS
    hours: str = "00:00-24:00"
    timezone: str = "UTC"


@dataclass(frozen=True)
class Health:
    checks: tuple[str, ...] = ()
    deployment: str = ""
    soak_seconds: int = 0
    timeout_seconds: int | None = None


@dataclass(frozen=True)
class Stage:
    name: str
    automation: str
    context: dict[str, Any] = field(default_factory=dict)
    health: Health = field(default_factory=Health)
    gates: tuple[ApprovalGate | WindowGate, ...] = ()
    on_failure: str = "hold"


@dataclass(frozen=True)
class Pipeline:
    name: str
    stages: tuple[Stage, ...]
    description: str = ""
    source_file: str = ""
    kind: str = "Pipeline"


@dataclass(frozen=True)
class Catalog:
    name: str
    description: str = ""
    category: str = ""
    icon: str = ""
    source_file: str = ""
    kind: str = "Catalog"


Definition = PrAutomation | Pipeline | Catalog


# ---------------------------------------------------------------- field checks


def _regex_ok(value: str) -> str | None:
    """validation.regex: run on RE2 (linear time); what RE2 cannot run is named here."""
    return regex.check(value)


def _replacement_regex_ok(value: str) -> str | None:
    """regexReplacements[].regex, matched line by line (multi-line mode). A pattern that is
    a template is checked when it is rendered, with the same message."""
    return None if regex.is_template(value) else regex.check(value, multiline=True)


def parse_duration(text: str) -> int:
    """'90s', '10m', '1h30m', '2d' -> seconds. Raises ValueError."""
    m = DURATION_RE.fullmatch(text.strip())
    if not text.strip() or not m or not any(m.groups()):
        raise ValueError(f"{text!r} is not a duration like 30s, 10m, 1h30m or 2d")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


def _duration_ok(value: str) -> str | None:
    try:
        parse_duration(value)
    except ValueError as exc:
        return str(exc)
    return None


def _name_ok(value: str) -> str | None:
    if len(value) > 63 or not NAME_RE.match(value):
        return "must be lower-case letters, digits and '-', at most 63 characters"
    return None


def _timezone_ok(value: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{value!r} is not a known time zone (e.g. UTC, Europe/Berlin)"
    return None


def _checklist_item_ok(value: Any) -> str | None:
    if isinstance(value, str) or (
        isinstance(value, dict) and set(value) == {"label"} and isinstance(value["label"], str)
    ):
        return None
    return "must be a string or a mapping with a label"


STR = Str()
STR_LIST = ListOf(STR)

CONDITION = Obj(
    {
        "field": Field(STR, required=True),
        "operation": Field(Str(OPERATIONS, case_insensitive=True), required=True),
        "value": Field(AnyValue()),
    }
)
CONFIG_FIELD = Obj(
    {
        "name": Field(
            Str(check=lambda v: None if FIELD_NAME_RE.match(v) else "must be an identifier"),
            required=True,
        ),
        "type": Field(Str(FIELD_TYPES, case_insensitive=True), required=True),
        "displayName": Field(STR),
        "documentation": Field(STR),
        "placeholder": Field(STR),
        "default": Field(AnyValue()),
        "optional": Field(Bool()),
        "values": Field(ListOf(AnyValue())),
        "validation": Field(Obj({"regex": Field(Str(check=_regex_ok)), "json": Field(Bool())})),
        "condition": Field(CONDITION),
    }
)
TEMPLATE = Obj(
    {
        "source": Field(STR, required=True),
        "destination": Field(STR, required=True),
        "condition": Field(STR),
        "context": Field(MapOf()),
    }
)
PR_AUTOMATION_SPEC = Obj(
    {
        "repository": Field(
            Str(check=lambda v: None if REPOSITORY_RE.match(v) else "must look like owner/name")
        ),
        "base": Field(STR),
        "head": Field(STR),
        "title": Field(STR, required=True),
        "message": Field(STR),
        "labels": Field(STR_LIST),
        "reviewers": Field(STR_LIST),
        "catalog": Field(STR),
        "category": Field(STR),
        "description": Field(STR),
        "documentation": Field(STR),
        "icon": Field(STR),
        "configuration": Field(ListOf(CONFIG_FIELD)),
        "confirmation": Field(
            Obj(
                {
                    "text": Field(STR),
                    "checklist": Field(ListOf(AnyValue(check=_checklist_item_ok))),
                }
            )
        ),
        "creates": Field(Obj({"templates": Field(ListOf(TEMPLATE))})),
        "updates": Field(
            Obj(
                {
                    "regexReplacements": Field(
                        ListOf(
                            Obj(
                                {
                                    "file": Field(STR, required=True),
                                    "regex": Field(Str(check=_replacement_regex_ok), required=True),
                                    "replacement": Field(STR, required=True),
                                }
                            )
                        )
                    ),
                    "yamlOverlays": Field(
                        ListOf(
                            Obj(
                                {
                                    "file": Field(STR, required=True),
                                    "yaml": Field(STR, required=True),
                                    "listMerge": Field(Str(("overwrite", "append"))),
                                    "followAliases": Field(Bool()),
                                    "create": Field(Bool()),
                                }
                            )
                        )
                    ),
                    "yamlEdits": Field(
                        ListOf(
                            Obj(
                                {
                                    "file": Field(STR, required=True),
                                    "path": Field(STR, required=True),
                                    "value": Field(AnyValue(), required=True),
                                    "followAliases": Field(Bool()),
                                    "create": Field(Bool()),
                                }
                            )
                        )
                    ),
                }
            )
        ),
        "deletes": Field(Obj({"files": Field(STR_LIST), "folders": Field(STR_LIST)})),
    }
)
GATE = Obj(
    {
        "approval": Field(
            Obj(
                {
                    "users": Field(STR_LIST),
                    "teams": Field(STR_LIST),
                    "count": Field(Int(minimum=1)),
                }
            )
        ),
        "window": Field(
            Obj(
                {
                    "days": Field(ListOf(Str(DAYS, case_insensitive=True))),
                    "hours": Field(
                        Str(check=lambda v: None if HOURS_RE.match(v) else "must be HH:MM-HH:MM")
                    ),
                    "timezone": Field(Str(check=_timezone_ok)),
                }
            )
        ),
    },
    one_of=("approval", "window"),
)
STAGE = Obj(
    {
        "name": Field(Str(check=_name_ok), required=True),
        "automation": Field(STR, required=True),
        "context": Field(MapOf()),
        "health": Field(
            Obj(
                {
                    "checks": Field(STR_LIST),
                    "deployment": Field(STR),
                    "soak": Field(Str(check=_duration_ok)),
                    "timeout": Field(Str(check=_duration_ok)),
                }
            )
        ),
        "gates": Field(ListOf(GATE)),
        "onFailure": Field(Str(("hold", "rollback"))),
    }
)
PIPELINE_SPEC = Obj({"description": Field(STR), "stages": Field(ListOf(STAGE), required=True)})
CATALOG_SPEC = Obj(
    {
        "name": Field(STR),
        "description": Field(STR),
        "category": Field(STR),
        "icon": Field(STR),
    }
)
SPECS = {"PrAutomation": PR_AUTOMATION_SPEC, "Pipeline": PIPELINE_SPEC, "Catalog": CATALOG_SPEC}
METADATA = Obj(
    {
        "name": Field(Str(check=_name_ok), required=True),
        "namespace": Field(STR),
        "labels": Field(MapOf(STR)),
        "annotations": Field(MapOf(STR)),
    }
)


def _envelope(kind: str) -> Obj:
    return Obj(
        {
            "apiVersion": Field(Str((API_VERSION,)), required=True),
            "kind": Field(Str(KINDS), required=True),
            "metadata": Field(METADATA, required=True),
            "spec": Field(SPECS.get(kind, Obj()), required=True),
        }
    )


# ---------------------------------------------------------------- building values


def parse_document(data: Any, where: Located) -> tuple[Definition | None, list[Problem]]:
    """Validate one loaded YAML document and build its definition value."""
    if not isinstance(data, dict):
        return None, [where.problem("", "a definition must be a mapping")]
    if str(data.get("apiVersion", "")).startswith("deployments.plural.sh/"):
        return None, [
            where.problem(
                "apiVersion",
                f"this is a Plural definition; prbot reads apiVersion {API_VERSION} "
                "(templates are Jinja, not Liquid)",
            )
        ]
    kind = data.get("kind")
    problems = validate(data, _envelope(kind if isinstance(kind, str) else ""), "", where)
    if problems:
        return None, problems
    name = data["metadata"]["name"]
    spec = data["spec"] or {}
    if kind == "PrAutomation":
        return _automation(name, spec, where)
    if kind == "Pipeline":
        return _pipeline(name, spec, where)
    return (
        Catalog(
            name=name,
            description=spec.get("description") or "",
            category=spec.get("category") or "",
            icon=spec.get("icon") or "",
            source_file=where.file,
        ),
        [],
    )


def _config_field(raw: dict[str, Any]) -> ConfigField:
    cond = raw.get("condition")
    validation = raw.get("validation") or {}
    return ConfigField(
        name=raw["name"],
        type=raw["type"].lower(),
        display_name=raw.get("displayName") or "",
        documentation=raw.get("documentation") or "",
        placeholder=raw.get("placeholder") or "",
        default=raw.get("default"),
        optional=bool(raw.get("optional")),
        values=tuple(str(v) for v in raw.get("values") or ()),
        regex=validation.get("regex"),
        json=bool(validation.get("json")),
        condition=Condition(cond["field"], cond["operation"].lower(), cond.get("value"))
        if cond
        else None,
    )


def _check_configuration(fields: tuple[ConfigField, ...], where: Located) -> list[Problem]:
    problems: list[Problem] = []
    by_name: dict[str, int] = {}
    for i, f in enumerate(fields):
        path = f"spec.configuration[{i}]"
        if f.name in by_name:
            problems.append(where.problem(f"{path}.name", f"duplicate input name {f.name!r}"))
        by_name.setdefault(f.name, i)
        if f.type == "enum" and not f.values:
            problems.append(where.problem(f"{path}.values", "an enum needs a list of values"))
        if f.type != "enum" and f.values:
            problems.append(where.problem(f"{path}.values", "only enum inputs take values"))
        if f.json and f.type not in ("string", "password"):
            problems.append(
                where.problem(f"{path}.validation.json", "applies to string inputs only")
            )
        if f.default is not None:
            if f.type == "password":
                problems.append(
                    where.problem(f"{path}.default", "a password input cannot have a default")
                )
            else:
                try:
                    check_constraints(f, coerce(f, f.default))
                except CoercionError as exc:
                    problems.append(where.problem(f"{path}.default", str(exc)))
    for i, f in enumerate(fields):
        cond = f.condition
        if cond is None:
            continue
        path = f"spec.configuration[{i}].condition"
        if cond.field == f.name:
            problems.append(where.problem(f"{path}.field", "a field cannot depend on itself"))
        elif cond.field not in by_name:
            from prbot.errors import did_you_mean

            hint = did_you_mean(cond.field, list(by_name))
            problems.append(where.problem(f"{path}.field", f"no input named {cond.field!r}{hint}"))
        if cond.operation in ("gt", "lt", "gte", "lte"):
            try:
                float(cond.value)
            except (TypeError, ValueError):
                problems.append(where.problem(f"{path}.value", f"{cond.operation} needs a number"))
        elif cond.operation in ("eq", "prefix", "suffix") and cond.value is None:
            problems.append(where.problem(f"{path}.value", f"{cond.operation} needs a value"))
    # cycles: follow each chain; a chain longer than the field count loops
    names = {f.name: f for f in fields}
    for i, f in enumerate(fields):
        seen = {f.name}
        cur = f
        while cur.condition and cur.condition.field in names:
            cur = names[cur.condition.field]
            if cur.name in seen:
                problems.append(
                    where.problem(
                        f"spec.configuration[{i}].condition",
                        f"conditions form a cycle through {cur.name!r}",
                    )
                )
                break
            seen.add(cur.name)
    return problems


def _automation(name: str, spec: dict[str, Any], where: Located):
    fields = tuple(_config_field(c) for c in spec.get("configuration") or ())
    problems = _check_configuration(fields, where)
    creates = spec.get("creates") or {}
    updates = spec.get("updates") or {}
    deletes = spec.get("deletes") or {}
    confirmation = spec.get("confirmation")
    automation = PrAutomation(
        name=name,
        title=spec["title"],
        message=spec.get("message") or spec["title"],
        repository=spec.get("repository"),
        base=spec.get("base"),
        head=spec.get("head"),
        labels=tuple(spec.get("labels") or ()),
        reviewers=tuple(spec.get("reviewers") or ()),
        catalog=spec.get("catalog") or "",
        category=spec.get("category") or "",
        description=spec.get("description") or "",
        documentation=spec.get("documentation") or "",
        icon=spec.get("icon") or "",
        configuration=fields,
        confirmation=Confirmation(
            confirmation.get("text") or "",
            tuple(
                c if isinstance(c, str) else c["label"] for c in confirmation.get("checklist") or ()
            ),
        )
        if confirmation
        else None,
        templates=tuple(
            TemplateSpec(
                source=t["source"],
                destination=t["destination"],
                condition=(t.get("condition") or "").strip(),
                context=dict(t.get("context") or {}),
            )
            for t in creates.get("templates") or ()
        ),
        regex_replacements=tuple(
            RegexReplacement(r["file"], r["regex"], r["replacement"])
            for r in updates.get("regexReplacements") or ()
        ),
        yaml_overlays=tuple(
            YamlOverlay(
                o["file"],
                o["yaml"],
                o.get("listMerge") or "overwrite",
                bool(o.get("followAliases")),
                o.get("create") is not False,
            )
            for o in updates.get("yamlOverlays") or ()
        ),
        yaml_edits=tuple(
            YamlEdit(
                e["file"],
                e["path"],
                e["value"],
                bool(e.get("followAliases")),
                e.get("create") is not False,
            )
            for e in updates.get("yamlEdits") or ()
        ),
        delete_files=tuple(deletes.get("files") or ()),
        delete_folders=tuple(deletes.get("folders") or ()),
        source_file=where.file,
    )
    return (None if problems else automation), problems


def _pipeline(name: str, spec: dict[str, Any], where: Located):
    problems: list[Problem] = []
    stages: list[Stage] = []
    seen: set[str] = set()
    for i, raw in enumerate(spec["stages"]):
        if raw["name"] in seen:
            problems.append(
                where.problem(f"spec.stages[{i}].name", f"duplicate stage {raw['name']!r}")
            )
        seen.add(raw["name"])
        health = raw.get("health") or {}
        gates: list[ApprovalGate | WindowGate] = []
        for g in raw.get("gates") or ():
            if "approval" in g:
                a = g["approval"] or {}
                gates.append(
                    ApprovalGate(
                        tuple(a.get("users") or ()), tuple(a.get("teams") or ()), a.get("count", 1)
                    )
                )
            else:
                w = g["window"] or {}
                gates.append(
                    WindowGate(
                        tuple(d.lower() for d in w.get("days") or DAYS),
                        w.get("hours") or "00:00-24:00",
                        w.get("timezone") or "UTC",
                    )
                )
        stages.append(
            Stage(
                name=raw["name"],
                automation=raw["automation"],
                context=dict(raw.get("context") or {}),
                health=Health(
                    checks=tuple(health.get("checks") or ()),
                    deployment=health.get("deployment") or "",
                    soak_seconds=parse_duration(health["soak"]) if health.get("soak") else 0,
                    timeout_seconds=parse_duration(health["timeout"])
                    if health.get("timeout")
                    else None,
                ),
                gates=tuple(gates),
                on_failure=raw.get("onFailure") or "hold",
            )
        )
    if not stages:
        problems.append(where.problem("spec.stages", "a pipeline needs at least one stage"))
    pipeline = Pipeline(name, tuple(stages), spec.get("description") or "", where.file)
    return (None if problems else pipeline), problems
