"""Asking for an automation run: the checks and the bookkeeping that ``POST /api/runs``
and the ``run`` slash-command share, so both refuse the same inputs with the same words
and store a run the same way (a Run, its ``automation.run`` job, an audit line).

Password inputs are refused: a run's inputs travel to the worker through the job queue,
which is stored, and secrets are never stored. They need a path that keeps them in memory
only (a form submitted to the process that runs it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prbot.automation.definitions import PrAutomation
from prbot.automation.errors import InputError
from prbot.automation.inputs import validate_inputs
from prbot.automation.limits import Limits
from prbot.store.base import AuditEntry, NewJob, Run, Store

RUN_JOB = "automation.run"
REPO_PATHS = {  # a repository's full path on each platform
    "github": re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"),
    "gitlab": re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+"),
}
PASSWORD_REFUSED = (
    "password inputs cannot be passed through this API yet: they would be stored in "
    "the job queue, and secrets are never stored"
)


@dataclass(frozen=True)
class CheckedInputs:
    """What ``check_inputs`` made of the inputs of a run request."""

    public: dict[str, Any]  # validated, passwords removed: what the Run shows
    for_job: dict[str, Any]  # as given, passwords removed: what the worker validates again
    errors: dict[str, str]  # "inputs.NAME" (or "inputs") -> why; empty when all is well


def target_problem(automation: PrAutomation, repo: str) -> str | None:
    """Why the automation may not run on ``repo`` (it names another), or None."""
    if automation.repository and automation.repository != repo:
        return f"automation {automation.name!r} targets {automation.repository!r}"
    return None


def check_inputs(
    automation: PrAutomation, raw_inputs: Mapping[str, Any], limits: Limits
) -> CheckedInputs:
    """The inputs checked against the automation's configuration; a value given for a
    password input (or a password default) is refused, never echoed."""
    errors: dict[str, str] = {}
    passwords = {f.name for f in automation.configuration if f.type == "password"}
    for key in raw_inputs:
        if key in passwords and raw_inputs[key] not in (None, ""):
            errors[f"inputs.{key}"] = PASSWORD_REFUSED
    public: dict[str, Any] = {}
    try:
        valid = validate_inputs(automation.configuration, raw_inputs, limits)
    except InputError as exc:
        for p in exc.problems:
            key = f"inputs.{p.field}" if p.field else "inputs"
            message = p.message
            if p.field in passwords:
                message = f"{message}, but {PASSWORD_REFUSED}"
            errors.setdefault(key, message)
    else:
        public = valid.public()
        for key in sorted(valid.password_fields & set(valid.values)):
            if valid.values[key] is not None:  # a password default would be stored too
                errors.setdefault(f"inputs.{key}", PASSWORD_REFUSED)
    for_job = {k: v for k, v in raw_inputs.items() if k not in passwords}
    return CheckedInputs(public, for_job, errors)


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
    ``request_key``, asking again is the same run, the same job and one audit line."""
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
    job = NewJob(
        kind=RUN_JOB,
        payload={"run_id": run_id, "inputs": inputs.for_job},
        dedupe_key=f"{RUN_JOB}:{run_id}",
        max_attempts=max_attempts,
    )
    [job_id] = await store.enqueue([job], now=now)
    detail: dict[str, Any] = {"run_id": run_id, "automation": automation, "via": via}
    if requested_in:
        detail["comment"] = requested_in
    # the stored run's time: a second ask for a keyed run writes the very same line, once
    entry = AuditEntry(stored.created_at, requested_by, "run_requested", repo, detail)
    await store.audit(entry, once=request_key is not None)
    return stored, job_id
