"""Benchmark: segment a 1,000,000-account snapshot-like frame; wall time and peak memory.

Target: at most 120 s on 2 cores for ``CustomerSegmenter().fit`` with its defaults
(automatic k from 2 to 8, 8 bootstrap refits per k on a 20,000-row subsample, the
final k-means as MiniBatchKMeans on every row). The frame has four planted
behavioural segments (tests/_segment_frames.py), so the run also reports how well
they are recovered (adjusted Rand index) and the bootstrap stability; profiling
(names, Wilson intervals) is timed separately. Results go to
benchmarks/results/bench_segments.json.

    python benchmarks/bench_segments.py                   # the full run
    python benchmarks/bench_segments.py --accounts 100000 # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
RESULTS = HERE / "results" / "bench_segments.json"
TARGET_SECONDS = 120.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--method", choices=["kmeans", "gmm"], default="kmeans")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from _segment_frames import snapshot_like
    from sklearn.metrics import adjusted_rand_score

    from icp.segment_profiles import profile_segments
    from icp.segments import CustomerSegmenter

    start = time.perf_counter()
    frame, truth = snapshot_like(args.accounts, seed=42)
    generate_s = time.perf_counter() - start

    start = time.perf_counter()
    seg = CustomerSegmenter(method=args.method, random_state=42).fit(frame)
    fit_s = time.perf_counter() - start

    start = time.perf_counter()
    profiles = profile_segments(frame, seg.labels_)
    profile_s = time.perf_counter() - start

    result = {
        "benchmark": "bench_segments",
        "accounts": args.accounts,
        "method": args.method,
        "model": type(seg.model_).__name__,
        "features": seg.features_,
        "fit_seconds": round(fit_s, 1),
        "profile_seconds": round(profile_s, 1),
        "segment_seconds_total": round(fit_s + profile_s, 1),
        "target_seconds": TARGET_SECONDS,
        "within_target": fit_s + profile_s <= TARGET_SECONDS,
        "generate_seconds": round(generate_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "n_clusters": seg.n_clusters_,
        "stability": round(seg.stability_, 4),
        "adjusted_rand_index_vs_planted": round(float(adjusted_rand_score(truth, seg.labels_)), 4),
        "selection": [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
                      for row in seg.selection_.round(4).to_dict(orient="records")],
        "segment_names": list(profiles.names.values()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(),
                    "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("accounts", "fit_seconds", "profile_seconds",
                                              "within_target", "n_clusters", "stability",
                                              "adjusted_rand_index_vs_planted", "peak_rss_mb")}))
    return 0 if result["within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
