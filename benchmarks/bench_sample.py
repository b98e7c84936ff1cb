"""Benchmark: generate a large sample as chunked Parquet; wall time and peak memory.

The default is the scale the product promises: 1,000,000 accounts with weekly usage,
which gives about 100 million usage rows. The data go to benchmarks/data/ (not
committed); the measurements to benchmarks/results/bench_sample.json.

    python benchmarks/bench_sample.py                      # the full run
    python benchmarks/bench_sample.py --accounts 50000     # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "bench_sample.json"

CHILD = """
import sys
from icp.synth import make_sample
out, accounts, years, grain, chunk = sys.argv[1:6]
make_sample(out, accounts=int(accounts), years=int(years), seed=42, fmt="parquet",
            usage_grain=grain, chunk_size=int(chunk))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--grain", choices=["month", "week", "day"], default="week")
    parser.add_argument("--chunk-size", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=HERE / "data" / "sample_large")
    parser.add_argument("--keep", action="store_true",
                        help="keep the generated data (other benchmarks can read it)")
    args = parser.parse_args()

    if args.out.exists():
        shutil.rmtree(args.out)
    started = time.perf_counter()
    # a child process, so that its peak resident memory is measured on its own
    subprocess.run([sys.executable, "-c", CHILD, str(args.out), str(args.accounts),
                    str(args.years), args.grain, str(args.chunk_size)], check=True)
    wall = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

    rows, size = {}, {}
    for path in sorted(args.out.glob("*.parquet")):
        rows[path.stem] = pq.ParquetFile(path).metadata.num_rows
        size[path.stem] = path.stat().st_size
    result = {
        "benchmark": "bench_sample",
        "accounts": args.accounts,
        "years": args.years,
        "usage_grain": args.grain,
        "chunk_size": args.chunk_size,
        "rows": rows,
        "total_rows": sum(rows.values()),
        "parquet_mb": round(sum(size.values()) / 1e6, 1),
        "wall_seconds": round(wall, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "rows_per_second": round(sum(rows.values()) / wall),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    if not args.keep:
        shutil.rmtree(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
