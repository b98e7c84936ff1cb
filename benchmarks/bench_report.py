"""`icp report` on data/sample/: wall time of the whole run and of each notebook.

Target: at most 90 s on a 2-core machine. Runs the real command (a subprocess, as
a user would), then reads each notebook's time from manifest.json. Writes
benchmarks/results/bench_report.json.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGET_S = 90.0


def main() -> int:
    out = Path(tempfile.mkdtemp(prefix="bench-report-"))
    icp = Path(sys.executable).with_name("icp")
    command = [str(icp), "report", str(ROOT / "data" / "sample"), "--quarter", "2025Q4", "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    folder = out / "2025Q4" if (out / "2025Q4").exists() else out / "2025Q4.failed"
    manifest = json.loads((folder / "manifest.json").read_text()) if (folder / "manifest.json").exists() else {}
    result = {
        "benchmark": "icp report data/sample --quarter 2025Q4",
        "status": manifest.get("status", "no manifest"),
        "exit_code": done.returncode,
        "wall_seconds": round(wall, 1),
        "target_seconds": TARGET_S,
        "meets_target": done.returncode == 0 and wall <= TARGET_S,
        "timings": manifest.get("timings", {}),
        "notebooks": {r["notebook"]: {"status": r["status"], "seconds": r.get("seconds"),
                                      "html_seconds": r.get("html_seconds")}
                      for r in manifest.get("notebooks", [])},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1m": round(os.getloadavg()[0], 2)},
    }
    if done.returncode != 0:
        result["stderr_tail"] = done.stderr[-2000:]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_report.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
