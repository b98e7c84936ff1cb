"""Run every benchmark in this folder, one after the other, and index their results.

Each ``bench_*.py`` writes its own JSON (and often Markdown) into ``results/``;
this script runs them in separate processes so that each one's peak memory is
its own, then writes ``results/index.md`` with the status and wall time of each.
Pass benchmark names to run only those: ``python benchmarks/run_all.py snapshot``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        wanted = {f"bench_{name.removeprefix('bench_').removesuffix('.py')}.py" for name in argv}
        scripts = [s for s in scripts if s.name in wanted]
    RESULTS.mkdir(exist_ok=True)
    rows = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        seconds = time.perf_counter() - start
        rows.append((script.name, "ok" if code == 0 else f"failed ({code})", seconds))
    lines = ["# Benchmark runs", "", "| benchmark | status | wall time |", "|---|---|---|"]
    lines += [f"| {name} | {status} | {seconds:.0f} s |" for name, status, seconds in rows]
    (RESULTS / "index.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0 if all(status == "ok" for _, status, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
