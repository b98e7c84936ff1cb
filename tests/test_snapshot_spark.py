"""DuckDB and Spark give the same snapshot (PySpark in local[2])."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_snapshot import make_dataset, make_frames

from icp.snapshot import snapshot

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None,
                       reason="PySpark is not installed (pip install 'icp-lens[spark]')"),
    pytest.mark.skipif(shutil.which("java") is None and not os.environ.get("JAVA_HOME"),
                       reason="Spark needs Java (17 or 11), which was not found"),
]


def _dataset():
    if (SAMPLE / "accounts.csv").exists() or (SAMPLE / "accounts.parquet").exists():
        from icp.io import load

        return load(SAMPLE), "2025-03-31"
    return make_dataset(make_frames(seed=5, n_accounts=40)), "2024-06-30"


def test_duckdb_and_spark_give_the_same_snapshot():
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    data, as_of = _dataset()
    duck = snapshot(data, as_of=as_of)
    spark = snapshot(data, as_of=as_of, engine="local[2]")
    assert len(duck) == len(spark) > 0
    assert list(duck.columns) == list(spark.columns)
    for col in duck.columns:
        a, b = duck[col], spark[col]
        if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            pd.testing.assert_series_equal(a.astype(float), b.astype(float), check_exact=False,
                                           rtol=1e-9, atol=0.0, obj=col)
        elif pd.api.types.is_datetime64_any_dtype(a):
            pd.testing.assert_series_equal(a.astype("datetime64[us]"), b.astype("datetime64[us]"), obj=col)
        else:
            assert a.astype(object).where(a.notna(), None).tolist() == \
                b.astype(object).where(b.notna(), None).tolist(), col
