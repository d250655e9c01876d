"""The service catalog as plain data: catalogs and the automations a person may run, each
with the JSON Schema of its inputs (``prbot.automation.input_schema``). Shared by
``GET /api/catalog`` and the catalog pages, so both show the same thing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prbot.automation.definitions import Catalog, PrAutomation
from prbot.automation.input_schema import inputs_schema
from prbot.automation.limits import LIMITS, Limits


def catalog_entry(catalog: Catalog, source: str) -> dict[str, Any]:
    return {
        "name": catalog.name,
        "description": catalog.description,
        "category": catalog.category,
        "icon": catalog.icon,
        "source": source,
    }


def automation_entry(
    automation: PrAutomation, source: str, limits: Limits = LIMITS
) -> dict[str, Any]:
    """One automation for the catalog; ``source`` is "deployment" or "repository"."""
    confirm = automation.confirmation
    return {
        "name": automation.name,
        "title": automation.title,  # the PR title's template, as written
        "description": automation.description,
        "documentation": automation.documentation,
        "catalog": automation.catalog or None,
        "category": automation.category,
        "icon": automation.icon,
        "repository": automation.repository,  # the one repository it targets, if any
        "source": source,
        "inputs": inputs_schema(automation.configuration, limits),
        "confirm": {"text": confirm.text, "checklist": list(confirm.checklist)}
        if confirm
        else None,
    }


def catalog_view(
    sources: Iterable[tuple[str, Mapping[str, Catalog], Mapping[str, PrAutomation]]],
    *,
    repo: str | None = None,
    limits: Limits = LIMITS,
) -> dict[str, Any]:
    """``{"catalogs": [...], "automations": [...]}`` from (source, catalogs, automations)
    triples, each sorted by name. With ``repo``, automations pinned to another repository
    are left out: the catalog lists what may run there. The first source to name a
    catalog or automation wins (the deployment comes first, as in a run's lookup)."""
    catalogs: dict[str, dict[str, Any]] = {}
    automations: dict[str, dict[str, Any]] = {}
    for source, found_catalogs, found_automations in sources:
        for name, catalog in found_catalogs.items():
            catalogs.setdefault(name, catalog_entry(catalog, source))
        for name, automation in found_automations.items():
            pinned = automation.repository
            if repo and pinned and pinned.lower() != repo.lower():
                continue
            if name not in automations:
                automations[name] = automation_entry(automation, source, limits)
    return {
        "catalogs": [catalogs[n] for n in sorted(catalogs)],
        "automations": [automations[n] for n in sorted(automations)],
    }
