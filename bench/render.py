"""Benchmark: an image bump across 10, 100 and 1,000 service overlays in one ChangeSet.

Compares render_automation (glob -> yamlEdits on every overlay, comment-preserving,
byte-surgical) with a bare ruamel.yaml round-trip load+dump of the same files, in the
same process: the edit logic should add little on top of parsing.

A second table is what the sandbox's process boundary costs (``prbot.engine.sandbox``):
the same render, once in this process (``render_pass``, as the engine calls it) and once
in a box process (the task pickled over a pipe, rendered there, the ChangeSet pickled
back), each ``--renders`` times; median and p99 per render, and the difference. It
includes pickling both ways and the pipe; it leaves out starting the box processes (they
are started before the clock runs, as ``prbot serve`` does at start-up) and the SCM reads.

    .venv/bin/python bench/render.py [--sizes 10,100,1000] [--repeat 3] [--renders 200]
        [--box-sizes 10,100] [--json]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prbot.automation.changeset import MemoryRepoView  # noqa: E402
from prbot.automation.inputs import validate_inputs  # noqa: E402
from prbot.automation.loader import load_view  # noqa: E402
from prbot.automation.render import render_automation  # noqa: E402
from prbot.engine.boxed import render_pass  # noqa: E402
from prbot.engine.sandbox import Sandbox  # noqa: E402
from prbot.scm.port import Snapshot, TreeEntry  # noqa: E402

OVERLAY = (ROOT / "examples/gitops/bootstrap/services/myapp-dev.yaml").read_text()

AUTOMATION = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: bump-all}
spec:
  title: "Bump every dev service to {{ context.tag }}"
  configuration:
    - {name: tag, type: string}
  updates:
    yamlEdits:
      - file: "bootstrap/services/*-dev.yaml"
        path: spec.helm.values.image.tag
        value: "{{ context.tag }}"
"""


def make_repo(n: int) -> dict[str, str]:
    return {
        f"bootstrap/services/svc{i:04d}-dev.yaml": OVERLAY.replace("myapp", f"svc{i:04d}")
        for i in range(n)
    }


def prbot_render(files: dict[str, str]) -> Callable[[], int]:
    automation = load_view(MemoryRepoView({"a.yaml": AUTOMATION})).automations["bump-all"]
    view = MemoryRepoView(files)

    def run() -> int:
        result = render_automation(automation, {"tag": "6.7.1"}, view)
        return len(result.changes)

    return run


def ruamel_roundtrip(files: dict[str, str]) -> Callable[[], int]:
    texts = list(files.values())

    def run() -> int:
        yaml = YAML(typ="rt")
        for text in texts:
            out = io.StringIO()
            yaml.dump(yaml.load(text), out)
        return len(texts)

    return run


def best_time(fn: Callable[[], int], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_mib(fn: Callable[[], int]) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def boundary_row(n: int, renders: int, box: Sandbox) -> dict[str, float]:
    """One render of the image bump over ``n`` overlays, in-process and in the box."""
    files = make_repo(n)
    automation = load_view(MemoryRepoView({"a.yaml": AUTOMATION})).automations["bump-all"]
    inputs = validate_inputs(automation.configuration, {"tag": "6.7.1"})
    entries = {p: TreeEntry(p, "100644", f"{i:040x}") for i, p in enumerate(files)}
    snapshot = Snapshot("acme/gitops", "main", "a" * 40, entries)
    contents = {p: t.encode() for p, t in files.items()}
    args = (automation, inputs, snapshot, contents, None)

    def inline() -> None:
        result, missing = render_pass(*args)
        assert result is not None and len(result.changes) == n and not missing

    def boxed() -> None:
        result, missing = box.run_blocking("render of bump-all", render_pass, *args)
        assert result is not None and len(result.changes) == n and not missing

    timings: dict[str, list[float]] = {"inline": [], "box": []}
    for _ in range(5):  # warm both: templates compiled, the box's imports done
        inline()
        boxed()
    for _ in range(renders):  # interleaved, so drift on the machine hits both alike
        for name, fn in (("inline", inline), ("box", boxed)):
            start = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) * 1000 for k, v in timings.items()}
    p99 = {k: percentile(v, 0.99) * 1000 for k, v in timings.items()}
    return {
        "files": n,
        "inline_median_ms": round(med["inline"], 2),
        "inline_p99_ms": round(p99["inline"], 2),
        "box_median_ms": round(med["box"], 2),
        "box_p99_ms": round(p99["box"], 2),
        "boundary_median_ms": round(med["box"] - med["inline"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--renders", type=int, default=200, help="renders per box row")
    parser.add_argument("--box-sizes", default="10,100")
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    args = parser.parse_args()

    box = Sandbox(processes=1)
    box.start()
    try:
        box_rows = [boundary_row(int(n), args.renders, box) for n in args.box_sizes.split(",")]
    finally:
        box.close()

    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        files = make_repo(n)
        ours, base = prbot_render(files), ruamel_roundtrip(files)
        changed = ours()
        assert changed == n, f"expected {n} changed files, got {changed}"
        t_ours, t_base = best_time(ours, args.repeat), best_time(base, args.repeat)
        rows.append(
            {
                "files": n,
                "prbot_s": round(t_ours, 4),
                "ruamel_roundtrip_s": round(t_base, 4),
                "time_ratio": round(t_ours / t_base, 2),
                "prbot_peak_mib": round(peak_mib(ours), 2),
                "ruamel_peak_mib": round(peak_mib(base), 2),
            }
        )
    if args.json:
        print(json.dumps({"rows": rows, "box_rows": box_rows}))
        return
    print("image bump across N overlays: render_automation vs bare ruamel.yaml load+dump")
    header = (
        f"{'files':>6} {'prbot s':>9} {'ruamel s':>9} {'ratio':>6} "
        f"{'prbot MiB':>10} {'ruamel MiB':>11}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['files']:>6} {r['prbot_s']:>9.4f} {r['ruamel_roundtrip_s']:>9.4f} "
            f"{r['time_ratio']:>6.2f} {r['prbot_peak_mib']:>10.2f} {r['ruamel_peak_mib']:>11.2f}"
        )
    print(
        "ratio = prbot time / ruamel round-trip time (same files, same process, best of "
        f"{args.repeat})"
    )
    print()
    print(
        "the sandbox's process boundary: one render, in this process vs in a box "
        f"({args.renders} each)"
    )
    header = (
        f"{'files':>6} {'inline med ms':>14} {'p99':>7} {'box med ms':>11} {'p99':>7} "
        f"{'boundary ms':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in box_rows:
        print(
            f"{r['files']:>6} {r['inline_median_ms']:>14.2f} {r['inline_p99_ms']:>7.2f} "
            f"{r['box_median_ms']:>11.2f} {r['box_p99_ms']:>7.2f} {r['boundary_median_ms']:>12.2f}"
        )
    print(
        "boundary = box median - inline median: pickling the task and the ChangeSet, the "
        "pipe, the wake-ups (box processes started beforehand)"
    )


if __name__ == "__main__":
    main()
