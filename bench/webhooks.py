"""Benchmark: signed GitHub webhook deliveries per second, prbot vs Probot vs bare aiohttp.

Drives each server, one at a time, on 127.0.0.1 with wrk (``--latency``), at 8 and 32
connections, after one short warm-up, with the same signed body. N below is
``--prbot-web-processes`` (default: the cores there are). Rows (``--servers`` picks them):

- ``prbot``: ``prbot serve`` with N web processes, PRBOT_WORKERS=0 (intake only;
  ``--prbot-workers default`` runs the jobs beside it), a fresh data dir (SQLite),
  WEBHOOK_SECRET set, no SCM credentials: verify, dedupe, store, then answer. The
  default durability, SQLite synchronous=NORMAL: an answered delivery survives a crash
  of prbot, not a power loss (or an OS crash).
- ``prbot-full``: the same with PRBOT_DATABASE_URL ``sqlite:///…/prbot.db?synchronous=full``:
  each commit (the WAL, the body file and, when one is created, the bodies folder) is
  fsync'ed before the answer, so an answered delivery survives a power loss too.
- ``prbot-1``: as shipped, PRBOT_WEB_PROCESSES=1 (one process, one core), NORMAL.
- ``probot-cluster``: the Probot app below in N processes: node's ``cluster`` module
  (``bench/webhooks/probot_cluster.mjs``: a primary that forks N workers, each running
  ``probot run ./app.js`` on the same port; the primary hands out connections round-robin).
  The like-for-like row for ``prbot``.
- ``probot``: npm ``probot@14`` with a no-op ``pull_request`` handler, run by Probot's own
  server (``probot run``), one process; installed on first use into
  ``bench/webhooks/.probot`` (npm). Probot stores nothing: there is no durability to name.
- ``prbot-pg-1`` / ``prbot-pg-3``: 1 and 3 ``prbot serve`` replicas (one web process
  each) on one PostgreSQL database, durable (``bench/webhooks_pg.py``); with 3, wrk runs
  against every replica at once with a third of the connections each. The 2 cores are
  shared by the replicas, PostgreSQL and wrk: 3 replicas show contention, not scale-out.
- ``aiohttp-verify-only``: ``bench/webhooks/verify_only.py``, one process, one aiohttp
  handler that verifies the signature with gidgethub and answers 200; nothing stored (a
  ceiling for an aiohttp + gidgethub intake).

After the runs each prbot row's SQLite file is opened read-only to check that every
delivery wrk saw answered 2xx is stored.

Payload: ``tests/fixtures/webhooks/github/pull_request.closed.merged.json`` in this
repository, event ``pull_request``, signed once with HMAC-SHA256. Every request carries a
unique ``X-GitHub-Delivery`` (``bench/webhooks/wrk_signed.lua``: per-run prefix + thread +
counter), so prbot's dedupe never short-circuits. wrk is the Debian package ``wrk``
(installed with apt-get when missing and the bench runs as root).

Columns: deliveries/s, then per process (divided by the server's processes) and per core
(divided by the CPU cores the server's processes actually used during the run). Each row
also shows the CPU (in cores) used by the server, by wrk and by other processes: the
machine has two cores, so a busy neighbour makes every number low (the bench says so).
Every process the bench starts it stops, also on Ctrl-C and errors; everything listens on
127.0.0.1 only. Whole default run: about 2.5 minutes (six servers, 22 s of wrk each).

    .venv/bin/python bench/webhooks.py [--duration 10] [--warmup 2] [--connections 8,32]
        [--servers prbot,prbot-full,prbot-1,probot-cluster,probot,aiohttp-verify-only]
        [--prbot-web-processes N] [--prbot-workers 0|default] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "bench" / "webhooks"
LUA = HERE / "wrk_signed.lua"
PROBOT_DIR = HERE / ".probot"
PAYLOAD = ROOT / "tests/fixtures/webhooks/github/pull_request.closed.merged.json"
EVENT = "pull_request"
SECRET = "bench-webhook-secret-not-a-real-one"
SERVERS = (
    "prbot",
    "prbot-full",
    "prbot-1",
    "prbot-pg-1",
    "prbot-pg-3",
    "probot-cluster",
    "probot",
    "aiohttp-verify-only",
)
PRBOT_ROWS = ("prbot", "prbot-full", "prbot-1")
# what an answered delivery survives, per row (Probot and the aiohttp baseline keep nothing)
NORMAL = "NORMAL: crash"  # SQLite synchronous=NORMAL, prbot's default
FULL = "FULL: power loss"  # ?synchronous=full
NONE = "none (not kept)"
BAR_CONNECTIONS = 32
BAR_P99_MS = 50.0
# Only what a server needs: no SCM credentials, tokens or proxies leak in from the shell.
PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


class BenchError(Exception):
    """Something the bench needs is missing or a server misbehaved."""


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# -- wrk ------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests: int  # answered requests (any status)
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int  # wrk's "Non-2xx or 3xx responses"
    socket_errors: int  # connect + read + write + timeout
    sent: int  # requests built by the Lua script (answered + in flight at the end)

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _duration_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise BenchError(f"cannot read wrk duration {text!r}")
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


def parse_wrk(out: str) -> WrkResult:
    """Read wrk's ``--latency`` report (and the Lua script's ``sent=`` line)."""

    def need(pattern: str) -> re.Match[str]:
        m = re.search(pattern, out, re.MULTILINE)
        if not m:
            raise BenchError(f"wrk output has no {pattern!r}:\n{out}")
        return m

    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", out, re.MULTILINE))
    if "50" not in percentiles or "99" not in percentiles:
        raise BenchError(f"wrk output has no latency distribution:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    sent = re.search(r"^prbot-bench sent=(\d+)", out, re.MULTILINE)
    return WrkResult(
        requests=int(need(r"^\s*(\d+) requests in ").group(1)),
        rps=float(need(r"^Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=_duration_ms(percentiles["50"]),
        p99_ms=_duration_ms(percentiles["99"]),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        sent=int(sent.group(1)) if sent else 0,
    )


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: apt-get install -y wrk")
        cmd = ["apt-get", "install", "-y", "-q", "wrk"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
        if found:
            return found
    raise BenchError(
        "wrk is not installed and the bench cannot install it (needs root and apt-get): "
        "run `sudo apt-get install wrk` (Debian/Ubuntu) and try again"
    )


def run_wrk(
    wrk: str, url: str, *, connections: int, seconds: float, body: Path, signature: str, prefix: str
) -> WrkResult:
    cmd = [
        wrk,
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(LUA),
        url,
        "--",
        str(body),
        signature,
        EVENT,
        prefix,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if proc.returncode != 0:
        raise BenchError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    return parse_wrk(proc.stdout)


# -- CPU accounting -------------------------------------------------------------------
# Two cores are shared by wrk, the server and whatever else runs on the machine; the CPU
# each used during a run tells a CPU-bound server from a starved one.

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class CpuSnap:
    at: float
    machine_busy: float  # seconds of CPU, all cores, since boot
    server: float  # seconds of CPU used by the server process
    children: float  # seconds of CPU used by the bench's waited-for children (wrk)


def _machine_busy() -> float:
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / TICK


def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()  # fields from the state on (index 0)


def _process_cpu(pid: int | None) -> float:
    """CPU seconds of the server process and its children (more web processes)."""
    if pid is None:
        return 0.0
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry.name)
        if fields is None or (int(entry.name) != pid and fields[1] != str(pid)):
            continue  # fields[1]: the parent's pid
        total += (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    return total


def cpu_snap(pid: int | None) -> CpuSnap:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSnap(time.monotonic(), _machine_busy(), _process_cpu(pid), ru.ru_utime + ru.ru_stime)


def cpu_used(a: CpuSnap, b: CpuSnap) -> dict[str, float]:
    """Cores used between two snapshots: by the server, by wrk, by everything else."""
    secs = max(b.at - a.at, 1e-6)
    server = (b.server - a.server) / secs
    wrk = (b.children - a.children) / secs
    busy = (b.machine_busy - a.machine_busy) / secs
    return {
        "server_cores": round(server, 2),
        "wrk_cores": round(wrk, 2),
        "other_cores": round(max(0.0, busy - server - wrk), 2),
    }


def machine_load(seconds: float = 1.0) -> float:
    """Cores busy over ``seconds`` (before a server starts: other people's work)."""
    a = _machine_busy()
    time.sleep(seconds)
    return (_machine_busy() - a) / seconds


def filesystem_of(path: Path) -> str:
    """The file system type the prbot data dirs are on (fsync costs depend on it)."""
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    target = str(path.resolve())
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = parts[1].replace("\\040", " ")
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, kind = mount, parts[2]
    return kind


# -- processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    cmd: list[str]
    env: dict[str, str]
    port: int
    path: str
    cwd: Path | None = None
    note: str = ""
    processes: int = 1  # processes serving the port (the CPU columns count them all)
    durability: str = NONE
    listeners: int = 1  # listening sockets on the port once every process serves
    ready_line: str = ""  # a line the server logs once every process serves
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@contextlib.contextmanager
def running(server: Server, workdir: Path, body: bytes, signature: str) -> Iterator[Server]:
    """Start the server in its own process group, wait until a signed POST gets 2xx, and
    stop it (SIGTERM, then SIGKILL after 10 s) whatever happens."""
    server.log_path = workdir / f"{server.name}.log"
    with server.log_path.open("wb") as out:
        server.proc = subprocess.Popen(
            server.cmd,
            env=server.env,
            cwd=server.cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(server, body, signature)
        yield server
    finally:
        stop(server.proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    # The server leads its own process group (start_new_session): signal that group only.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        log(f"pid {proc.pid} ignored SIGTERM for 10 s: SIGKILL")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def post_signed(server: Server, body: bytes, signature: str, delivery: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(
            "POST",
            server.path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "X-GitHub-Event": EVENT,
                "X-GitHub-Delivery": delivery,
                "X-Hub-Signature-256": signature,
            },
        )
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def wait_ready(server: Server, body: bytes, signature: str, timeout: float = 60.0) -> None:
    assert server.proc is not None
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise BenchError(
                f"{server.name} exited with {server.proc.returncode} while starting:\n"
                f"{server.log_tail()}"
            )
        try:
            status = post_signed(server, body, signature, f"bench-ready-{uuid.uuid4().hex}")
        except OSError as exc:
            last = str(exc)
        else:
            if 200 <= status < 300:
                if all_serving(server):
                    return
                last = "answering, but not every process serves yet"
            else:
                raise BenchError(
                    f"{server.name} answered {status} to a signed POST {server.url}:\n"
                    f"{server.log_tail()}"
                )
        time.sleep(0.2)
    raise BenchError(
        f"{server.name} not ready after {timeout:.0f} s ({last}):\n{server.log_tail()}"
    )


def listening_sockets(port: int) -> int:
    """Listening TCP sockets on 127.0.0.1:``port`` (one per process with SO_REUSEPORT)."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return -1  # not Linux: cannot tell
    want = f"0100007F:{port:04X}"
    return sum(1 for line in lines if line.split()[1] == want and line.split()[3] == "0A")


def all_serving(server: Server) -> bool:
    """Every process of the server serves: otherwise the first runs would measure fewer
    (with SO_REUSEPORT the kernel gives connections only to the sockets bound so far)."""
    if server.listeners > 1:
        found = listening_sockets(server.port)
        if 0 <= found < server.listeners:
            return False
    if server.ready_line:
        log_path = server.log_path
        if log_path is None or server.ready_line not in log_path.read_text(errors="replace"):
            return False
    return True


def base_env(**extra: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
    env.update(extra)
    return env


# -- the three servers ----------------------------------------------------------------


def prbot_command() -> list[str]:
    script = Path(sys.executable).parent / "prbot"
    if script.exists():
        return [str(script)]
    found = shutil.which("prbot")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from prbot.cli import main; sys.exit(main())"]


def prbot_available() -> str | None:
    """None if ``prbot serve`` exists, else why not."""
    try:
        proc = subprocess.run(
            [*prbot_command(), "serve", "--help"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if proc.returncode != 0:
        return (proc.stderr or proc.stdout).strip().splitlines()[-1]
    return None


def prbot_server(
    name: str,
    data_dir: Path,
    workers: str | None,
    log_level: str | None,
    web_processes: int,
    synchronous: str,
) -> Server:
    port = free_port()
    extra = {
        "WEBHOOK_SECRET": SECRET,
        "PRBOT_DATA_DIR": str(data_dir),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PRBOT_WEB_PROCESSES": str(web_processes),
    }
    if synchronous == "full":
        # an absolute path after "sqlite://" makes the three slashes (prbot/store/url.py)
        extra["PRBOT_DATABASE_URL"] = f"sqlite://{data_dir / 'prbot.db'}?synchronous=full"
        store = "PRBOT_DATABASE_URL=sqlite:///<data dir>/prbot.db?synchronous=full"
    else:
        store = "PRBOT_DATABASE_URL unset (sqlite:$PRBOT_DATA_DIR/prbot.db, synchronous=NORMAL)"
    if workers is not None:
        extra["PRBOT_WORKERS"] = workers
    if log_level is not None:
        extra["LOG_LEVEL"] = log_level
    unset_workers = "unset (default 4: event jobs run beside intake, in the first process)"
    note = (
        f"PRBOT_WEB_PROCESSES={web_processes}, PRBOT_WORKERS={workers or unset_workers}, "
        f"LOG_LEVEL={log_level or 'unset (default info)'}, log to a file, {store}"
    )
    return Server(
        name,
        [*prbot_command(), "serve"],
        base_env(**extra),
        port,
        "/webhooks/github",
        cwd=ROOT,
        note=f"{note}, a fresh data dir, no SCM credentials",
        processes=web_processes,
        durability=FULL if synchronous == "full" else NORMAL,
        listeners=web_processes,
    )


def verify_only_server() -> Server:
    port = free_port()
    return Server(
        "aiohttp-verify-only",
        [sys.executable, str(HERE / "verify_only.py"), "--port", str(port)],
        base_env(WEBHOOK_SECRET=SECRET),
        port,
        "/webhooks/github",
        note="gidgethub Event.from_http + 200, nothing stored",
    )


def ensure_probot() -> Path:
    """Install npm probot@14 into bench/webhooks/.probot once; returns its CLI."""
    cli = PROBOT_DIR / "node_modules" / ".bin" / "probot"
    pkg = PROBOT_DIR / "node_modules" / "probot" / "package.json"
    PROBOT_DIR.mkdir(parents=True, exist_ok=True)
    manifest = PROBOT_DIR / "package.json"
    if not manifest.exists() or json.loads(manifest.read_text()).get("type") != "module":
        manifest.write_text(
            json.dumps({"name": "prbot-bench-probot", "private": True, "type": "module"})
        )
    installed = pkg.exists() and json.loads(pkg.read_text()).get("version", "").startswith("14.")
    if not (installed and cli.exists()):
        npm = shutil.which("npm")
        if not npm or not shutil.which("node"):
            raise BenchError("probot needs Node.js and npm (apt-get install nodejs npm)")
        log(f"installing probot@14 into {PROBOT_DIR} (npm, once)")
        proc = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "probot@14"],
            cwd=PROBOT_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0 or not cli.exists():
            raise BenchError(f"npm install probot@14 failed:\n{proc.stderr[-3000:]}")
    shutil.copyfile(HERE / "probot_app.js", PROBOT_DIR / "app.js")
    return cli


def throwaway_key(path: Path) -> None:
    """A fresh RSA key for APP_ID=1: Probot wants one at start; it signs nothing here."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def probot_env(workdir: Path, port: int) -> dict[str, str]:
    key = workdir / "probot-app-key.pem"
    if not key.exists():
        throwaway_key(key)
    return base_env(
        APP_ID="1",
        PRIVATE_KEY_PATH=str(key),
        WEBHOOK_SECRET=SECRET,
        HOST="127.0.0.1",
        PORT=str(port),
        LOG_LEVEL="fatal",
        NODE_ENV="production",
    )


def probot_version() -> str:
    return json.loads((PROBOT_DIR / "node_modules/probot/package.json").read_text())["version"]


def probot_server(workdir: Path) -> Server:
    cli = ensure_probot()
    port = free_port()
    return Server(
        "probot",
        [str(cli), "run", "./app.js"],
        probot_env(workdir, port),
        port,
        "/api/github/webhooks",
        cwd=PROBOT_DIR,
        note=f"probot {probot_version()}, no-op app.on('pull_request'), LOG_LEVEL=fatal",
    )


def probot_cluster_server(workdir: Path, processes: int) -> Server:
    cli = ensure_probot()
    node = shutil.which("node")
    if not node:
        raise BenchError("probot-cluster needs Node.js (apt-get install nodejs)")
    port = free_port()
    return Server(
        "probot-cluster",
        [node, str(HERE / "probot_cluster.mjs"), str(processes), str(cli), "run", "./app.js"],
        probot_env(workdir, port),
        port,
        "/api/github/webhooks",
        cwd=PROBOT_DIR,
        note=(
            f"probot {probot_version()}, the same app in {processes} node:cluster workers "
            "(probot run ./app.js each) on one port, round-robin from the primary "
            "(its CPU counted too)"
        ),
        processes=processes,  # the workers; the primary only hands out connections
        ready_line=f"probot-cluster: {processes} workers listening",
    )


# -- the store check ------------------------------------------------------------------


def sqlite_files(data_dir: Path) -> list[Path]:
    found = []
    for path in sorted(data_dir.rglob("*")):
        if path.is_file() and not path.name.endswith(("-wal", "-shm", "-journal")):
            with path.open("rb") as f:
                if f.read(16) == b"SQLite format 3\x00":
                    found.append(path)
    return found


def count_stored(data_dir: Path, prefixes: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Deliveries stored per wrk run prefix, and jobs by state, read from prbot's SQLite
    file read-only."""
    for db in sqlite_files(data_dir):
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
        try:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            candidates = [
                t
                for t in sorted(tables, key=lambda t: t != "deliveries")
                if "delivery_id" in {c[1] for c in conn.execute(f'PRAGMA table_info("{t}")')}
            ]
            if not candidates:
                continue
            table = candidates[0]
            query = f'SELECT count(*) FROM "{table}" WHERE substr(delivery_id, 1, ?) = ?'
            stored = {p: conn.execute(query, (len(p) + 1, p + "-")).fetchone()[0] for p in prefixes}
            jobs: dict[str, int] = {}
            if "jobs" in tables:
                jobs = dict(conn.execute("SELECT state, count(*) FROM jobs GROUP BY state"))
            return stored, jobs
        finally:
            conn.close()
    raise BenchError(f"no SQLite table with a delivery_id column under {data_dir}")


# -- the bench ------------------------------------------------------------------------


@dataclass
class Row:
    server: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    requests: int
    sent: int
    server_cores: float = 0.0  # CPU the server used during the run, in cores
    wrk_cores: float = 0.0
    other_cores: float = 0.0  # CPU used by everything else on the machine
    stored: int | None = None
    processes: int = 1
    durability: str = NONE
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def per_process(self) -> float:
        return self.rps / self.processes

    @property
    def per_core(self) -> float | None:
        """Deliveries/s per core the server actually used (None if it used next to none)."""
        return self.rps / self.server_cores if self.server_cores >= 0.05 else None


def measure(
    server: Server,
    wrk: str,
    args: argparse.Namespace,
    payload: Path,
    signature: str,
    run_id: str,
) -> tuple[list[Row], dict[str, tuple[int, int]]]:
    rows: list[Row] = []
    prefixes: dict[str, tuple[int, int]] = {}  # prefix -> (2xx answers, sent), for the store
    if args.warmup > 0:
        # one warm-up per server (JIT, caches, the database's first pages), at the most
        # connections; every measured run opens its connections anew
        conns = max(args.connections)
        prefix = f"{run_id}-{server.name}-w{conns}"
        log(f"{server.name}: warm-up {args.warmup:g} s at {conns} connections")
        warm = run_wrk(
            wrk,
            server.url,
            connections=conns,
            seconds=args.warmup,
            body=payload,
            signature=signature,
            prefix=prefix,
        )
        prefixes[prefix] = (warm.ok, warm.sent)
    for conns in args.connections:
        prefix = f"{run_id}-{server.name}-c{conns}"
        # every server starts its measured run with no dirty pages left to write back:
        # the kernel's writeback of an earlier run's data (bodies, WAL) would land in
        # this one (seen here: 20-30% slower runs while a gigabyte was being written)
        os.sync()
        log(f"{server.name}: {args.duration:g} s at {conns} connections")
        pid = server.proc.pid if server.proc is not None else None
        before = cpu_snap(pid)
        res = run_wrk(
            wrk,
            server.url,
            connections=conns,
            seconds=args.duration,
            body=payload,
            signature=signature,
            prefix=prefix,
        )
        cpu = cpu_used(before, cpu_snap(pid))
        prefixes[prefix] = (res.ok, res.sent)
        if server.proc is not None and server.proc.poll() is not None:
            raise BenchError(f"{server.name} died during the run:\n{server.log_tail()}")
        rows.append(
            Row(
                server.name,
                conns,
                res.rps,
                res.p50_ms,
                res.p99_ms,
                res.non_2xx,
                res.socket_errors,
                res.requests,
                res.sent,
                **cpu,
                processes=server.processes,
                durability=server.durability,
                extra={"prefix": prefix},
            )
        )
    return rows, prefixes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds (2)")
    parser.add_argument("--connections", default="8,32", help="comma-separated (8,32)")
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset")
    parser.add_argument(
        "--prbot-workers",
        default="0",
        help="PRBOT_WORKERS for prbot serve (0, the default: intake only, as Probot's no-op "
        "app does no work either; the jobs stay queued, durably. 'default': prbot's "
        "default of 4, so event jobs run beside intake on the same cores)",
    )
    parser.add_argument(
        "--prbot-web-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="PRBOT_WEB_PROCESSES for the prbot and prbot-full rows, and the workers of the "
        "probot-cluster row (default: the cores there are); prbot-1 is always 1",
    )
    parser.add_argument(
        "--prbot-log-level",
        default="default",
        help="LOG_LEVEL for prbot serve ('default': unset, prbot's default of info)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, db)")
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    args = parser.parse_args(argv)
    args.connections = [int(c) for c in args.connections.split(",") if c.strip()]
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(args.servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown server(s): {', '.join(sorted(unknown))}")
    if not args.connections or min(args.connections) < 1 or args.prbot_web_processes < 1:
        parser.error("--connections and --prbot-web-processes need values >= 1")
    return args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM to the bench unwinds like Ctrl-C, so every server is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    if not PAYLOAD.exists():
        raise BenchError(f"payload not found: {PAYLOAD} (the repository's test fixtures)")
    body = PAYLOAD.read_bytes()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    wrk = ensure_wrk()
    run_id = f"bench-{uuid.uuid4().hex[:10]}"

    workdir = Path(tempfile.mkdtemp(prefix="prbot-bench-webhooks-"))
    rows: list[Row] = []
    notes: dict[str, str] = {}
    problems: list[str] = []
    durability: dict[str, dict[str, object]] = {}
    fs = filesystem_of(workdir)
    # bench/webhooks_pg.py builds on this module's pieces: run as a script, this module is
    # __main__, so it is registered under its package name too (not imported twice)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sys.modules.setdefault("bench.webhooks", sys.modules[__name__])
    from bench import webhooks_pg

    postgres = webhooks_pg.Postgres()
    try:
        for name in args.servers:
            try:
                data_dir = workdir / f"{name}-data"
                if name in webhooks_pg.PG_ROWS:
                    workers = None if args.prbot_workers == "default" else args.prbot_workers
                    level = None if args.prbot_log_level == "default" else args.prbot_log_level
                    url = postgres.database()
                    group = webhooks_pg.servers(name, url, workers, level)
                    notes[name] = group[0].note
                    log(f"starting {name}: {len(group)} replica(s) on {url}")
                    with webhooks_pg.all_running(group, workdir, body, signature):
                        got, pg_prefixes = webhooks_pg.measure(
                            name, group, wrk, args, PAYLOAD, signature, run_id, postgres.pid()
                        )
                    stored, jobs = webhooks_pg.count_stored(url, pg_prefixes)
                    for row in got:
                        row.stored = sum(stored[p] for p in row.extra["prefixes"])  # type: ignore[union-attr]
                    rows += got
                    durability[name] = {
                        "ok_answers": sum(r.requests - r.non_2xx for r in got),
                        "stored": sum(r.stored or 0 for r in got),
                        "sent": sum(r.sent for r in got),
                        "every_2xx_stored": all(
                            r.requests - r.non_2xx <= (r.stored or 0) <= r.sent for r in got
                        ),
                        "jobs_by_state": jobs,
                    }
                    continue
                if name in PRBOT_ROWS:
                    why = prbot_available()
                    if why:
                        raise BenchError(f"`prbot serve` is not available: {why}")
                    data_dir.mkdir()
                    workers = None if args.prbot_workers == "default" else args.prbot_workers
                    level = None if args.prbot_log_level == "default" else args.prbot_log_level
                    server = prbot_server(
                        name,
                        data_dir,
                        workers,
                        level,
                        1 if name == "prbot-1" else args.prbot_web_processes,
                        "full" if name == "prbot-full" else "normal",
                    )
                elif name == "aiohttp-verify-only":
                    server = verify_only_server()
                elif name == "probot-cluster":
                    server = probot_cluster_server(workdir, args.prbot_web_processes)
                else:
                    server = probot_server(workdir)
                notes[name] = server.note
                load = machine_load(0.5)
                if load > 0.3:
                    log(f"other processes are using {load:.1f} cores: results will be low")
                log(f"starting {name}: {' '.join(server.cmd)} (port {server.port})")
                with running(server, workdir, body, signature):
                    got, prefixes = measure(server, wrk, args, PAYLOAD, signature, run_id)
                rows += got
                if name in PRBOT_ROWS:
                    # Read after the server stopped (graceful shutdown flushes the writer).
                    stored, jobs = count_stored(data_dir, list(prefixes))
                    for row in got:
                        row.stored = stored[str(row.extra["prefix"])]
                    durability[name] = {
                        "ok_answers": sum(ok for ok, _ in prefixes.values()),
                        "stored": sum(stored.values()),
                        "sent": sum(sent for _, sent in prefixes.values()),
                        "every_2xx_stored": all(
                            ok <= stored[p] <= sent for p, (ok, sent) in prefixes.items()
                        ),
                        "jobs_by_state": jobs,
                    }
                    if not args.keep:  # the next rows do not share its disk space
                        shutil.rmtree(data_dir, ignore_errors=True)
            except BenchError as exc:
                problems.append(f"{name}: {exc}")
                log(f"{name}: NOT MEASURED: {exc}")
    except KeyboardInterrupt:
        log("interrupted: servers stopped")
        return 130
    finally:
        postgres.stop()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    report(rows, notes, problems, durability, fs, args)
    return 1 if problems else 0


def rps_of(rows: list[Row], server: str, conns: int) -> Row | None:
    return next((r for r in rows if r.server == server and r.connections == conns), None)


def rps_ratio(rows: list[Row], a: str, b: str, conns: int) -> float | None:
    ra, rb = rps_of(rows, a, conns), rps_of(rows, b, conns)
    return ra.rps / rb.rps if ra and rb and rb.rps else None


def per_core_ratio(rows: list[Row], a: str, b: str, conns: int) -> float | None:
    ra, rb = rps_of(rows, a, conns), rps_of(rows, b, conns)
    if not ra or not rb or ra.per_core is None or not rb.per_core:
        return None
    return ra.per_core / rb.per_core


# (key, a, b, what it compares); "N" is --prbot-web-processes
RATIOS = (
    ("prbot/probot-cluster", "prbot", "probot-cluster", "like-for-like, N processes each"),
    ("prbot-full/probot-cluster", "prbot-full", "probot-cluster", "like-for-like, N each"),
    ("prbot-1/probot", "prbot-1", "probot", "like-for-like, 1 process each"),
    ("prbot/probot", "prbot", "probot", "N prbot processes vs 1 Probot process"),
    ("prbot/aiohttp-verify-only", "prbot", "aiohttp-verify-only", "N vs 1 process"),
    ("prbot-1/aiohttp-verify-only", "prbot-1", "aiohttp-verify-only", "1 process each"),
    ("prbot-pg-1/prbot-1", "prbot-pg-1", "prbot-1", "PostgreSQL vs SQLite, 1 process each"),
    ("prbot-pg-3/prbot-pg-1", "prbot-pg-3", "prbot-pg-1", "3 replicas vs 1, on 2 cores"),
)


def bar_verdict(rows: list[Row]) -> tuple[str, str]:
    """Like-for-like: prbot with N processes against Probot with N processes."""
    prbot = rps_of(rows, "prbot", BAR_CONNECTIONS)
    probot = rps_of(rows, "probot-cluster", BAR_CONNECTIONS)
    if not prbot or not probot:
        return "FAIL", (
            f"not measured (prbot and probot-cluster at {BAR_CONNECTIONS} connections are "
            "both needed)"
        )
    ok = prbot.rps >= probot.rps and prbot.p99_ms < BAR_P99_MS and prbot.non_2xx == 0
    why = (
        f"prbot {prbot.rps:,.0f}/s vs probot-cluster {probot.rps:,.0f}/s, "
        f"{prbot.processes} processes each, prbot p99 {prbot.p99_ms:.1f} ms, "
        f"{prbot.non_2xx} non-2xx"
    )
    return ("PASS" if ok else "FAIL"), why


def fmt_opt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def report(
    rows: list[Row],
    notes: dict[str, str],
    problems: list[str],
    durability: dict[str, dict[str, object]],
    fs: str,
    args: argparse.Namespace,
) -> None:
    verdict, why = bar_verdict(rows)
    ratios = {
        str(c): {key: rps_ratio(rows, a, b, c) for key, a, b, _ in RATIOS} for c in args.connections
    }
    per_core = {
        str(c): {
            key: per_core_ratio(rows, a, b, c)
            for key, a, b, _ in RATIOS
            if key in ("prbot/probot-cluster", "prbot-1/probot")
        }
        for c in args.connections
    }
    if args.json:
        out = []
        for r in rows:
            d = asdict(r)
            d.pop("extra")
            d["rps"] = round(r.rps, 1)
            d["per_process"] = round(r.per_process, 1)
            d["per_core"] = None if r.per_core is None else round(r.per_core, 1)
            d["p50_ms"] = round(r.p50_ms, 3)
            d["p99_ms"] = round(r.p99_ms, 3)
            out.append(d)
        doc = {
            "rows": out,
            "ratios": ratios,
            "per_core_ratios": per_core,
            "bar": {"verdict": verdict, "detail": why},
            "durability": durability,
            "filesystem": fs,
            "problems": problems,
        }
        print(json.dumps(doc))
        return

    print(
        f"Signed GitHub webhook deliveries per second (wrk on 127.0.0.1, {args.duration:g} s "
        f"per run after one {args.warmup:g} s warm-up per server; payload {PAYLOAD.name}, "
        f"{PAYLOAD.stat().st_size:,} bytes, event {EVENT})"
    )
    print(
        "Every request carries a unique X-GitHub-Delivery (per-run prefix + counter), so "
        "prbot's dedupe never short-circuits: each one is verified and stored as new."
    )
    header = (
        f"{'server':<20}{'procs':>5}  {'durability':<17}{'conns':>5}{'rps':>8}{'/proc':>7}"
        f"{'/core':>7}{'p50 ms':>8}{'p99 ms':>8}{'non-2xx':>8}{'sockerr':>8}{'stored':>8}"
        f"{'srv cpu':>8}{'wrk cpu':>8}{'others':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        stored = "" if r.stored is None else f"{r.stored:,}"
        print(
            f"{r.server:<20}{r.processes:>5}  {r.durability:<17}{r.connections:>5}"
            f"{r.rps:>8,.0f}{r.per_process:>7,.0f}{fmt_opt(r.per_core, ',.0f'):>7}"
            f"{r.p50_ms:>8.2f}{r.p99_ms:>8.2f}{r.non_2xx:>8}{r.socket_errors:>8}{stored:>8}"
            f"{r.server_cores:>8.2f}{r.wrk_cores:>8.2f}{r.other_cores:>7.2f}"
        )
    print()
    n = args.prbot_web_processes
    print(f"Ratios of deliveries/s (N = {n}):")
    for c in args.connections:
        parts = [
            f"{key} {fmt_opt(ratios[str(c)][key], '.2f')}x ({what})"
            for key, _, _, what in RATIOS
            if ratios[str(c)][key] is not None
        ]
        print(f"{c:>4} connections: " + ("; ".join(parts) or "n/a (rows missing)"))
        cores = [
            f"{key} {value:.2f}x" for key, value in per_core[str(c)].items() if value is not None
        ]
        if cores:
            print(f"{'':>4}             per core used: " + "; ".join(cores))
    print(
        "/proc: rps divided by the processes serving requests; /core: rps divided by the CPU "
        "cores the server's processes used in the run (srv cpu)."
    )
    print(
        "cpu columns: cores used in the measured run by the server (all its processes; for "
        "prbot-pg rows the replicas and the PostgreSQL server), by wrk, "
        f"and by everything else on this {os.cpu_count()}-core machine"
    )
    print(
        f"durability: what an answered delivery survives. {NORMAL}: SQLite synchronous=NORMAL "
        f"(prbot's default), a crash of prbot but not a power loss or OS crash; {FULL}: "
        "?synchronous=full, WAL, body file and new body folder entries fsync'ed before the "
        f"answer; {NONE}: Probot and the aiohttp baseline store nothing. prbot data dirs on "
        f"{fs}."
    )
    busy = [r for r in rows if r.other_cores > 0.2]
    if busy:
        print(
            "WARNING: other processes used CPU during "
            + ", ".join(f"{r.server}@{r.connections} ({r.other_cores:.2f} cores)" for r in busy)
            + ": those numbers are low; rerun on a quiet machine"
        )
    for name, note in notes.items():
        print(f"  {name}: {note}")
    for name, check in durability.items():
        ok, stored, sent = check["ok_answers"], check["stored"], check["sent"]
        assert isinstance(ok, int) and isinstance(stored, int) and isinstance(sent, int)
        where = "PostgreSQL" if name.startswith("prbot-pg") else "SQLite opened read-only"
        print(
            f"{name} store check ({where} after shutdown; "
            f"{'measured runs' if name.startswith('prbot-pg') else 'warm-up included'}): "
            f"{stored:,} deliveries stored, {ok:,} 2xx answers seen by wrk, {sent:,} requests "
            f"sent. Every run: 2xx <= stored <= sent (stored beyond 2xx: answered after wrk "
            f"stopped): {'yes' if check['every_2xx_stored'] else 'NO'}"
        )
        jobs = check.get("jobs_by_state") or {}
        if isinstance(jobs, dict) and jobs:
            total = sum(jobs.values())
            print(
                f"{name} jobs at shutdown: {total:,} enqueued, "
                + ", ".join(f"{n:,} {state}" for state, n in sorted(jobs.items()))
                + " (how far the workers kept up with intake)"
            )
    print(
        f"Bar (like-for-like): prbot >= probot-cluster rps with p99 < {BAR_P99_MS:g} ms at "
        f"{BAR_CONNECTIONS} connections: {verdict} ({why})"
    )
    for p in problems:
        print(f"NOT MEASURED: {p}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench/webhooks.py: {exc}", file=sys.stderr)
        sys.exit(2)
