"""Runs with password inputs (``SealedRuns`` and the run handler's guard), in process: a
real SQLite store, the memory SCM, the sandbox. The process that took the request runs
the run with the values from its vault, retrying what is worth it; the stored job only
names the inputs and, when due, does nothing for a finished run and fails an unfinished
one with ``PASSWORD_GONE`` (a job the reconciler queued again too). The vault forgets
after its time, and a run is never tried without its password."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prbot.automation.limits import LIMITS
from prbot.engine.definitions import DefinitionsCache
from prbot.engine.run_requests import CheckedInputs, check_inputs, request_run
from prbot.engine.runs import AutomationRunHandler
from prbot.engine.sealed_runs import SealedRuns
from prbot.engine.vault import PASSWORD_GONE, SEALED_SECONDS, SecretVault
from prbot.errors import DescribedError
from prbot.scm.port import ScmUnavailable
from prbot.store import open_store
from prbot.store.base import NewJob, Store
from tests.support.clock import ManualClock, RecordedSleep
from tests.support.memory_scm import MemoryScm
from tests.support.waiting import wait_for

REPO = "acme/gitops"
PASSWORD = "hunter2-sealed-7731"
DEFINITION = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: creds}
spec:
  title: "Credentials for {{ context.name }}"
  message: "m"
  configuration:
    - {name: name, type: string}
    - {name: password, type: password}
  creates:
    templates:
      - {source: db.yaml, destination: "db/{{ context.name }}.yaml"}
"""


class FlakyScm(MemoryScm):
    """The memory SCM, whose default-branch reads fail ``failures`` times first."""

    failures = 0

    async def default_branch(self, repo: str) -> str:
        if self.failures:
            self.failures -= 1
            raise ScmUnavailable("503 from the platform")
        return await super().default_branch(repo)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = open_store(f"sqlite:{tmp_path / 'prbot.db'}")
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def scm() -> FlakyScm:
    memory = FlakyScm(bot="prbot")
    memory.add_repo(REPO, {"README.md": "# gitops\n"})
    return memory


@pytest.fixture
def handler(tmp_path: Path, store: Store, scm: FlakyScm) -> AutomationRunHandler:
    folder = tmp_path / "automations"
    folder.mkdir()
    (folder / "creds.yaml").write_text(DEFINITION)
    (folder / "db.yaml").write_text("password: {{ context.password }}\n")
    definitions = DefinitionsCache(folder, lambda platform: scm)
    definitions.reload()
    return AutomationRunHandler(store, definitions, lambda platform: scm, clock=ManualClock())


async def asked(store: Store, handler: AutomationRunHandler, name: str = "orders"):
    automation = await handler.definitions.lookup("github", REPO, "creds")
    inputs = check_inputs(automation, {"name": name, "password": PASSWORD}, LIMITS, sealed=True)
    assert not inputs.errors and inputs.passwords == {"password": PASSWORD}
    run, job_id = await request_run(
        store, automation="creds", repo=REPO, platform="github", requested_by="alice",
        inputs=inputs, max_attempts=8, now=handler.clock(), via="api",
    )  # fmt: skip
    return run, job_id


def sealed(handler: AutomationRunHandler, store: Store, **options) -> SealedRuns:
    return SealedRuns(handler, store, SecretVault(clock=handler.clock), **options)


async def settled(store: Store, run_id: int) -> str:
    async def done() -> str | None:
        run = await store.run(run_id)
        assert run is not None
        return run.status if run.status not in ("queued", "running") else None

    return await wait_for(done, timeout=20, what=f"run {run_id} settled")


async def test_the_process_that_took_it_runs_it_and_the_job_then_does_nothing(
    store: Store, handler: AutomationRunHandler, scm: FlakyScm
) -> None:
    run, job_id = await asked(store, handler)
    job = await store.job(job_id)
    assert job is not None
    # the job names the input, holds no value, and is not due before the vault's time
    assert job.payload == {"run_id": run.id, "inputs": {"name": "orders"}, "sealed": ["password"]}
    assert job.next_run_at == handler.clock() + SEALED_SECONDS
    assert run.inputs == {"name": "orders"}
    carrier = sealed(handler, store)
    carrier.start(run.id, job_id, {"password": PASSWORD})
    assert await settled(store, run.id) == "pr_open"
    [pr] = scm.pulls(REPO)
    assert scm.files(REPO, pr.head)["db/orders.yaml"].content == f"password: {PASSWORD}\n".encode()
    assert carrier.vault.get(run.id) is None  # dropped once done
    await handler(job)  # the job, due later in any process: the run is done
    assert (await store.run(run.id)).status == "pr_open"  # type: ignore[union-attr]


async def test_what_is_worth_it_is_tried_again_then_the_run_fails(
    store: Store, handler: AutomationRunHandler, scm: FlakyScm
) -> None:
    scm.failures = 2
    run, job_id = await asked(store, handler)
    sleep = RecordedSleep()
    sealed(handler, store, sleep=sleep).start(run.id, job_id, {"password": PASSWORD})
    assert await settled(store, run.id) == "pr_open"
    assert len(sleep.waits) == 2
    scm.failures = 10  # more than the attempts
    run, job_id = await asked(store, handler, "billing")
    sleep = RecordedSleep()
    sealed(handler, store, sleep=sleep, attempts=3).start(run.id, job_id, {"password": PASSWORD})
    assert await settled(store, run.id) == "failed"
    failed = await store.run(run.id)
    assert failed is not None and "503 from the platform" in failed.error
    assert len(sleep.waits) == 2 and PASSWORD not in failed.error


async def test_an_unfinished_sealed_run_is_failed_by_its_job_never_run(
    store: Store, handler: AutomationRunHandler, scm: FlakyScm
) -> None:
    """No process carried it out (the one that had the password restarted): the job,
    and a job the reconciler queued again for it, fail it; nothing is opened."""
    run, job_id = await asked(store, handler)
    job = await store.job(job_id)
    assert job is not None
    with pytest.raises(DescribedError) as raised:
        await handler(job)
    assert str(raised.value) == PASSWORD_GONE and raised.value.permanent
    [again_id] = await store.enqueue([NewJob("automation.run", {"run_id": run.id})], now=0)
    again = await store.job(again_id)
    assert again is not None
    with pytest.raises(DescribedError, match="the password input is gone"):
        await handler(again)
    await handler.on_dead(job, PASSWORD_GONE)
    assert (await store.run(run.id)).error == PASSWORD_GONE  # type: ignore[union-attr]
    assert scm.pulls(REPO) == []


async def test_the_vault_forgets_after_its_time() -> None:
    clock = ManualClock()
    vault = SecretVault(ttl=10, clock=clock)
    vault.put(1, {"password": PASSWORD})
    assert PASSWORD not in repr(vault)
    assert vault.get(1) == {"password": PASSWORD}
    clock.advance(10)
    assert vault.get(1) is None


async def test_passwords_are_refused_unless_sealed(handler: AutomationRunHandler) -> None:
    automation = await handler.definitions.lookup("github", REPO, "creds")
    refused = check_inputs(automation, {"name": "x", "password": PASSWORD}, LIMITS)
    assert set(refused.errors) == {"inputs.password"} and refused.passwords == {}
    assert PASSWORD not in repr(
        CheckedInputs({}, {}, {}, {"password": PASSWORD})
    )  # its repr hides the values
