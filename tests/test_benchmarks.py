"""The benchmark scripts' reports render from their committed results."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_snapshot_benchmark_markdown_interpolates_every_value():
    bench = _module("bench_snapshot")
    result = json.loads((BENCH / "results" / "bench_snapshot.json").read_text())
    text = bench._markdown(result)
    assert not re.search(r"\{[a-z_]+[\[(]", text), "a line of the report was not an f-string"
    assert "Median of 3 rounds" in text
