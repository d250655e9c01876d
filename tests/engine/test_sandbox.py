"""The sandbox with real processes: each limit stops a task with an error that names it,
the process is replaced, other tasks and the event loop go on meanwhile, and nothing is
left running after."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

import pytest

from prbot.automation.errors import InputError, Problem
from prbot.engine.sandbox import BoxLimitExceeded, BoxLimits, Sandbox
from prbot.errors import is_permanent

# -- what the tests run in the box (module level: pickled by name) ---------------------------


def spin_forever() -> None:
    while True:
        pass


def sleep_forever() -> None:
    while True:
        time.sleep(1)


def eat_memory() -> int:
    hoard = []
    while True:
        hoard.append(bytearray(64 * 1024 * 1024))


def big_answer(size: int) -> bytes:
    return b"x" * size


def refuse_input() -> None:
    raise InputError([Problem("must be a semantic version", "tag")])


def burn(seconds: float) -> float:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return seconds


def environment() -> dict[str, str]:
    return dict(os.environ)


def add(a: int, b: int) -> int:
    return a + b


def pid() -> int:
    return os.getpid()


@pytest.fixture
async def box() -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(BoxLimits(seconds=1.0, cpu_seconds=5, memory_mib=256, output_mib=1), 2)
    sandbox.start()
    yield sandbox
    sandbox.close()


def alive(pids: list[int]) -> list[int]:
    living = []
    for p in pids:
        try:
            os.kill(p, 0)
        except ProcessLookupError:
            continue
        living.append(p)
    return living


async def test_an_answer_comes_back(box: Sandbox) -> None:
    assert await box.run("addition", add, 2, 3) == 5
    assert await box.run("a pid", pid) in box.pids()
    assert os.getpid() not in box.pids()


async def test_no_credential_reaches_the_box(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_box_must_not_see_this")
    monkeypatch.setenv("WEBHOOK_SECRET", "box-must-not-see-this-either")
    sandbox = Sandbox(BoxLimits(seconds=10), 1)
    try:
        seen = await sandbox.run("the environment", environment)
    finally:
        sandbox.close()
    assert "GITHUB_TOKEN" not in seen and "WEBHOOK_SECRET" not in seen
    assert "ghp_box_must_not_see_this" not in repr(seen)
    assert "PATH" in seen


async def test_errors_come_back_as_themselves(box: Sandbox) -> None:
    with pytest.raises(InputError) as caught:
        await box.run("render of bump", refuse_input)
    assert caught.value.problems == [Problem("must be a semantic version", "tag")]


async def test_the_deadline_kills_and_replaces(box: Sandbox) -> None:
    before = box.pids()
    started = time.monotonic()
    with pytest.raises(BoxLimitExceeded, match=r"^render of loop exceeded 1 s$") as caught:
        await box.run("render of loop", sleep_forever)
    assert time.monotonic() - started < 1.0 + 2.0  # the deadline plus a margin
    assert is_permanent(caught.value)
    after = box.pids()
    assert len(after) == len(before) == 2
    assert set(before) - set(after), "the process that went over was not replaced"
    assert await box.run("addition", add, 1, 1) == 2


async def test_cpu_time_is_limited(tmp_path) -> None:
    sandbox = Sandbox(BoxLimits(seconds=30, cpu_seconds=1, memory_mib=256), 1)
    try:
        with pytest.raises(BoxLimitExceeded, match=r"^render of spin exceeded 1 s of CPU$"):
            await sandbox.run("render of spin", spin_forever)
        assert await sandbox.run("addition", add, 1, 2) == 3
    finally:
        sandbox.close()


async def test_cpu_time_is_per_task_not_per_process() -> None:
    """A reused process may spend more CPU in all than one task may: 3 x 0.6 s under a
    1 s limit per task all succeed, in the same process."""
    sandbox = Sandbox(BoxLimits(seconds=30, cpu_seconds=1, memory_mib=256), 1)
    try:
        first = await sandbox.run("a pid", pid)
        for _ in range(3):
            assert await sandbox.run("render of burn", burn, 0.6) == 0.6
        assert await sandbox.run("a pid", pid) == first
    finally:
        sandbox.close()


async def test_memory_is_limited(box: Sandbox) -> None:
    with pytest.raises(BoxLimitExceeded, match=r"^loading acme/x/.prbot/ exceeded 256 MiB$"):
        await box.run("loading acme/x/.prbot/", eat_memory)
    assert await box.run("addition", add, 2, 2) == 4


async def test_answers_are_capped(box: Sandbox) -> None:
    assert len(await box.run("small", big_answer, 1000)) == 1000
    with pytest.raises(BoxLimitExceeded, match=r"^render of big exceeded 1 MiB of output$"):
        await box.run("render of big", big_answer, 2 * 1024 * 1024)


async def test_the_loop_and_other_tasks_go_on_meanwhile(box: Sandbox) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    tick = asyncio.create_task(ticker())
    stuck = asyncio.create_task(box.run("render of loop", spin_forever))
    await asyncio.sleep(0.1)
    assert await box.run("addition", add, 20, 22) == 42  # the second process answers
    with pytest.raises(BoxLimitExceeded):
        await stuck
    tick.cancel()
    assert ticks > 20  # the event loop ran all along (about 100 ticks in a second)


async def test_nothing_is_left_running_after_close() -> None:
    sandbox = Sandbox(BoxLimits(seconds=1), 2)
    sandbox.start()
    pids = sandbox.pids()
    assert len(alive(pids)) == 2
    with pytest.raises(BoxLimitExceeded):
        await sandbox.run("render of loop", spin_forever)
    pids += sandbox.pids()
    sandbox.close()
    await asyncio.sleep(0.1)
    assert alive(pids) == []
