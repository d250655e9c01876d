"""Benchmark: an image bump across 10, 100 and 1,000 service overlays in one ChangeSet.

Compares render_automation (glob -> yamlEdits on every overlay, comment-preserving,
byte-surgical) with a bare ruamel.yaml round-trip load+dump of the same files, in the
same process: the edit logic should add little on top of parsing.

    .venv/bin/python bench/render.py [--sizes 10,100,1000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prbot.automation.changeset import MemoryRepoView  # noqa: E402
from prbot.automation.loader import load_view  # noqa: E402
from prbot.automation.render import render_automation  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    args = parser.parse_args()

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
        print(json.dumps({"rows": rows}))
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


if __name__ == "__main__":
    main()
