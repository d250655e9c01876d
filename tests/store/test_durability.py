"""An acknowledged delivery survives the process being SIGKILLed mid-stream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from prbot.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]

# records deliveries from 16 concurrent tasks forever, printing each id once its
# record_delivery has returned (= acknowledged to the webhook sender)
WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from prbot.store.base import Delivery, NewJob
    from prbot.store.sqlite import SqliteStore

    async def main(path, round_):
        store = SqliteStore(path)
        await store.open()
        print("ready", flush=True)

        async def submitter(n):
            i = 0
            while True:
                d = Delivery("github", f"{round_}-{n}-{i}", "push", 1.0, b"x" * 2000)
                await store.record_delivery(d, [], [NewJob("event", {"d": d.delivery_id})])
                print(d.delivery_id, flush=True)
                i += 1

        await asyncio.gather(*(submitter(n) for n in range(16)))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def run_and_kill(db_path: Path, round_: int, acks: int) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db_path), str(round_)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    acked: list[str] = []
    try:
        assert proc.stdout.readline().strip() == "ready"
        while len(acked) < acks:
            line = proc.stdout.readline()
            assert line, "the writer process died on its own"
            acked.append(line.strip())
    finally:
        # no close(), no atexit: the process dies in the middle of a batch
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return acked


async def test_acknowledged_deliveries_survive_sigkill(db_path: Path) -> None:
    # the second round opens a database whose writer was killed: an ordinary open
    acked = run_and_kill(db_path, 1, 3000) + run_and_kill(db_path, 2, 3000)

    async with SqliteStore(db_path) as store:
        stored = {d.delivery_id for d in await store.deliveries(limit=1_000_000)}
        jobs = await store.queue_depth()
    assert [d for d in acked if d not in stored] == []
    assert jobs["queued"] == len(stored)  # every stored delivery has its job, nothing half
