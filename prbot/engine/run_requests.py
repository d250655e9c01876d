"""Asking for an automation run: the checks and the bookkeeping that ``POST /api/runs``,
the catalog's form and the ``run`` slash-command share, so all refuse the same inputs
with the same words and store a run the same way (a Run, its ``automation.run`` job, an
audit line).

Password inputs never reach the store: a run's inputs travel to the worker through the
job queue, which is stored. Where the request can hand them over in memory (the API and
the form: ``check_inputs(..., sealed=True)``), their values stay in ``CheckedInputs
.passwords`` and the run is carried out by the process that took the request
(``prbot.engine.sealed_runs``); its job only names them. Elsewhere (a comment, a
promotion) they are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prbot.automation.definitions import PrAutomation
from prbot.automation.errors import InputError
from prbot.automation.inputs import validate_inputs
from prbot.automation.limits import Limits
from prbot.engine.vault import SEALED_SECONDS
from prbot.store.base import AuditEntry, NewJob, Run, Store

RUN_JOB = "automation.run"
REPO_PATHS = {  # a repository's full path on each platform
    "github": re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"),
    "gitlab": re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+"),
}
PASSWORD_REFUSED = (
    "password inputs cannot be passed this way: they would be stored in the job queue, "
    "and secrets are never stored (use the catalog's form or POST /api/runs)"
)


@dataclass(frozen=True)
class CheckedInputs:
    """What ``check_inputs`` made of the inputs of a run request."""

    public: dict[str, Any]  # validated, passwords removed: what the Run shows
    for_job: dict[str, Any]  # as given, passwords removed: what the worker validates again
    errors: dict[str, str]  # "inputs.NAME" (or "inputs") -> why; empty when all is well
    # sealed requests only: the password values given, for the vault (never stored)
    passwords: dict[str, str] = field(default_factory=dict, repr=False)


def target_problem(automation: PrAutomation, repo: str) -> str | None:
    """Why the automation may not run on ``repo`` (it names another), or None."""
    if automation.repository and automation.repository != repo:
        return f"automation {automation.name!r} targets {automation.repository!r}"
    return None


def check_inputs(
    automation: PrAutomation,
    raw_inputs: Mapping[str, Any],
    limits: Limits,
    *,
    sealed: bool = False,
) -> CheckedInputs:
    """The inputs checked against the automation's configuration. A value given for a
    password input is never echoed: refused, unless ``sealed`` (the caller hands it to
    ``sealed_runs``), then kept apart in ``passwords``."""
    errors: dict[str, str] = {}
    passwords = {f.name for f in automation.configuration if f.type == "password"}
    for key in raw_inputs:
        if key in passwords and raw_inputs[key] not in (None, "") and not sealed:
            errors[f"inputs.{key}"] = PASSWORD_REFUSED
    public: dict[str, Any] = {}
    try:
        valid = validate_inputs(automation.configuration, raw_inputs, limits)
    except InputError as exc:
        for p in exc.problems:
            key = f"inputs.{p.field}" if p.field else "inputs"
            message = p.message
            if p.field in passwords and not sealed:
                message = f"{message}, but {PASSWORD_REFUSED}"
            errors.setdefault(key, message)
    else:
        public = valid.public()
        for key in sorted(valid.password_fields & set(valid.values)):
            given = raw_inputs.get(key) not in (None, "")
            # a password default would be stored too; a given one only when not sealed
            if valid.values[key] is not None and not (sealed and given):
                errors.setdefault(f"inputs.{key}", PASSWORD_REFUSED)
    for_job = {k: v for k, v in raw_inputs.items() if k not in passwords}
    given = {
        k: v for k, v in raw_inputs.items() if k in passwords and v not in (None, "") and sealed
    }
    kept = {k: v for k, v in given.items() if isinstance(v, str)}  # else refused above
    return CheckedInputs(public, for_job, errors, kept)


async def request_run(
    store: Store,
    *,
    automation: str,
    repo: str,
    platform: str,
    requested_by: str,
    inputs: CheckedInputs,
    max_attempts: int,
    now: float,
    via: str,
    request_key: str | None = None,
    requested_in: str = "",
) -> tuple[Run, int]:
    """Store the run and queue its job; the run as stored, and the job's id. With
    ``request_key``, asking again is the same run, the same job and one audit line.

    With password values (``inputs.passwords``), the job is a guard that names them and
    waits ``SEALED_SECONDS``: the caller must hand the run to ``SealedRuns.start``."""
    run = Run(
        id=0,
        automation=automation,
        repo=repo,
        platform=platform,
        requested_by=requested_by,
        inputs=inputs.public,
        status="queued",
        created_at=now,
        updated_at=now,
        request_key=request_key,
        requested_in=requested_in,
    )
    run_id = await store.create_run(run)
    stored = await store.run(run_id) or run
    # should the enqueue below fail, the reconciler finds the queued run without a job and
    # enqueues one; the raw inputs (no passwords), so the worker validates exactly what
    # was asked, against the definitions it loads
    payload: dict[str, Any] = {"run_id": run_id, "inputs": inputs.for_job}
    if inputs.passwords:  # the names only: the values are in this process's vault
        payload["sealed"] = sorted(inputs.passwords)
    job = NewJob(
        kind=RUN_JOB,
        payload=payload,
        dedupe_key=f"{RUN_JOB}:{run_id}",
        max_attempts=max_attempts,
        run_at=now + SEALED_SECONDS if inputs.passwords else 0.0,
    )
    [job_id] = await store.enqueue([job], now=now)
    detail: dict[str, Any] = {"run_id": run_id, "automation": automation, "via": via}
    if requested_in:
        detail["comment"] = requested_in
    # the stored run's time: a second ask for a keyed run writes the very same line, once
    entry = AuditEntry(stored.created_at, requested_by, "run_requested", repo, detail)
    await store.audit(entry, once=request_key is not None)
    return stored, job_id
