"""Loading and caching the report's inputs, and writing its output files.

The runner validates the data once and keeps the accepted rows of every table as
Parquet in the run's work folder; every notebook then reopens them on its own
DuckDB connection without validating again (see :class:`~icp.report.context.ReportContext`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["load_dataset", "build_snapshot", "write_file", "to_jsonable"]

logger = logging.getLogger(__name__)


def _load_fresh(ctx: Any) -> Any:
    from icp.config import load_config
    from icp.io import load

    data_dir = ctx.data if Path(ctx.data).is_dir() else None
    config = load_config(ctx.config or None, data_dir=data_dir)
    return load(
        ctx.data,
        config=config,
        id_column=ctx.id_column or None,
        churn=ctx.churn or None,
        renewed=ctx.renewed or None,
        engine=ctx.engine or "duckdb",
    )


def load_dataset(ctx: Any) -> Any:
    """Load the data once per report run; later notebooks reopen the cached tables.

    Parameters
    ----------
    ctx : ReportContext
        Gives the data, the single-table options and the work folder.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> from icp.report import validate_parameters
    >>> load_dataset(validate_parameters(data="data/sample", quarter="2025Q4")).form  # doctest: +SKIP
    'multi'
    """
    if ctx.work_dir is None:
        return _load_fresh(ctx)
    folder = Path(ctx.work_dir) / "dataset"
    meta_path = folder / "meta.pkl"
    if meta_path.exists():
        return _reopen(folder)
    dataset = _load_fresh(ctx)
    try:
        _store(dataset, folder)
    except Exception as exc:  # noqa: BLE001 - caching is an optimisation, never a failure
        logger.warning("the loaded data could not be cached for the other notebooks: %s", exc)
    return dataset


def _store(dataset: Any, folder: Path) -> None:
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".dataset-"))
    for name, table in dataset.tables.items():
        frame = dataset.backend.execute(table) if not isinstance(table, pd.DataFrame) else table
        frame.to_parquet(staging / f"{name}.parquet", index=False)
    meta = dataclasses.replace(dataset, tables={name: None for name in dataset.tables}, backend=None)
    with (staging / "meta.pkl").open("wb") as fh:
        pickle.dump(meta, fh, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        os.replace(staging, folder)
    except OSError:  # another notebook stored it first
        import shutil

        shutil.rmtree(staging, ignore_errors=True)


def _reopen(folder: Path) -> Any:
    import ibis

    with (folder / "meta.pkl").open("rb") as fh:
        meta = pickle.load(fh)
    con = ibis.duckdb.connect()
    tables = {name: con.read_parquet(folder / f"{name}.parquet", table_name=name) for name in meta.tables}
    return dataclasses.replace(meta, tables=tables, backend=con)


def build_snapshot(ctx: Any, when: dt.date) -> pd.DataFrame:
    """The snapshot at ``when`` (the single-table form: the customers table).

    Examples
    --------
    >>> from icp.report import validate_parameters
    >>> ctx = validate_parameters(data="data/sample", quarter="2025Q4")  # doctest: +SKIP
    >>> build_snapshot(ctx, ctx.as_of).shape[0] > 0  # doctest: +SKIP
    True
    """
    from icp.snapshot import snapshot

    horizon = f"{int(ctx.dataset.config.get('horizon_days', 365))}d"
    return snapshot(ctx.dataset, as_of=pd.Timestamp(when), horizon=horizon)


def to_jsonable(value: Any) -> Any:
    """Convert results (dataclasses, numpy and pandas values, dates) to plain JSON types.

    Examples
    --------
    >>> to_jsonable({"a": np.float64(0.5), "b": float("nan"), "d": dt.date(2025, 1, 1)})
    {'a': 0.5, 'b': None, 'd': '2025-01-01'}
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not f.name.startswith("_")}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [to_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return to_jsonable(value.to_dict())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT or (value is not None and not isinstance(value, str | bytes | dict | list) and pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp | dt.date | dt.datetime):
        return value.isoformat()[:10] if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def write_file(path: str | Path, value: Any) -> Path:
    """Write a result file atomically: a DataFrame as CSV, anything else as JSON.

    Examples
    --------
    >>> import tempfile
    >>> p = write_file(Path(tempfile.mkdtemp()) / "x.json", {"share": np.float64(0.25)})
    >>> json.loads(p.read_text())
    {'share': 0.25}
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    if isinstance(value, pd.DataFrame):
        value.to_csv(tmp, index=False)
    elif hasattr(value, "to_json") and not isinstance(value, dict | list):
        Path(tmp).write_text(value.to_json(), encoding="utf-8")
    else:
        Path(tmp).write_text(json.dumps(to_jsonable(value), indent=2, sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)
    return path
