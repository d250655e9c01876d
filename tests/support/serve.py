"""``prbot serve`` as a real process for end-to-end tests: started on a free port on
127.0.0.1 with only the environment given, ready when /readyz says so, stopped with
SIGTERM (killed if it hangs), its output kept for the assertions."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from prbot.demo.stack import free_port, stop_serve
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServeProcess:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    exit_code: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@asynccontextmanager
async def serve_process(
    tmp_path: Path,
    env: Mapping[str, str],
    *,
    port: int | None = None,
    ready_timeout: float = 20.0,
) -> AsyncIterator[ServeProcess]:
    """Run ``prbot serve`` with ``env`` (HOST and PORT are set here: ``port``, else a free
    one) until the block ends."""
    port = port or free_port()
    full_env = {"PATH": os.environ["PATH"], **env, "HOST": "127.0.0.1", "PORT": str(port)}
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prbot.cli", "serve"],
            env=full_env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    served = ServeProcess(proc, port, log_path)
    try:
        async with httpx.AsyncClient(base_url=served.base_url, timeout=5) as http:

            async def ready() -> bool:
                if proc.poll() is not None:
                    raise AssertionError(f"prbot serve exited: {served.output()[-3000:]}")
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(ready, timeout=ready_timeout, every=0.1, what="prbot serve to be ready")
        yield served
    finally:
        served.exit_code = await stop_serve(proc, timeout=25)


def children_of(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command may hold spaces and parentheses: the fields follow the last ")"
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def rss_bytes(pids: list[int]) -> int:
    """Resident memory of these processes together."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except OSError:
            continue
    return total
