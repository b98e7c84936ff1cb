"""Fetching a snapshot's per-account tables from the engine and lining them up.

Every per-account table of :func:`icp.snapshot_queries.account_aggregates` comes
back as Arrow (``to_pyarrow`` works on every Ibis backend and, unlike
``execute``, converts columns with nulls without a Python object per value) and
is lined up with the snapshot's accounts in Arrow and NumPy. The engine thus never
joins the per-account tables with each other (a join per source, each carrying
every column so far, cost as much as scanning the usage table), and only one row
per account and source crosses to Python.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from ibis.formats.pandas import PandasData

from icp.snapshot_queries import ACCOUNT_PREFIX, KEY_HASH

__all__ = ["Runner", "fetch_per_account"]

logger = logging.getLogger(__name__)


class Runner:
    """Executes the Ibis expressions of one snapshot, logs their timings and reports progress."""

    def __init__(self, progress: Callable[[int, int, str], None] | None, total: int):
        self.progress, self.total, self.done = progress, total, 0

    def _step(self, what: str, start: float) -> None:
        self.done += 1
        logger.debug("%s: %.2f s", what, time.perf_counter() - start)
        if self.progress is not None:
            self.progress(self.done, self.total, what)

    def __call__(self, expr: Any, what: str) -> Any:
        start = time.perf_counter()
        result = expr.execute()
        self._step(what, start)
        return result

    def arrow(self, expr: Any, what: str) -> pa.Table:
        """The result as an Arrow table: per-account results skip the row-by-row
        conversion that ``execute`` applies to columns with nulls."""
        start = time.perf_counter()
        result = expr.to_pyarrow()
        self._step(what, start)
        return result


def _numeric(column: pa.ChunkedArray) -> pa.ChunkedArray:
    # sums of integers may come back as 128-bit decimals; the pandas step wants floats
    return column.cast(pa.float64()) if pa.types.is_decimal(column.type) else column


def _positions_by_value(keys: pa.ChunkedArray, parts: list[pa.ChunkedArray]) -> list[pa.Array]:
    """For each part's keys, the row of each snapshot account in it (null when absent).

    All keys are hashed once, together, into one dictionary; the alignment is then
    integer arithmetic. An account listed twice in a part keeps its first row.
    """
    codes = pc.dictionary_encode(pa.chunked_array(
        [c for k in (keys, *parts) for c in k.cast(pa.string()).chunks], type=pa.string()
    ))
    flat = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in codes.chunks] or [[]])
    n_codes = len(codes.chunks[0].dictionary) if codes.num_chunks else 0
    sizes = np.cumsum([0, len(keys), *(len(k) for k in parts)])
    base = flat[: sizes[1]]
    out = []
    for i in range(len(parts)):
        own = flat[sizes[i + 1]: sizes[i + 2]]
        first_codes, first_rows = np.unique(own, return_index=True)
        where = np.full(n_codes, -1, dtype=np.int64)
        where[first_codes] = first_rows
        rows = where[base]
        out.append(pa.array(rows, mask=rows < 0))
    return out


def _row_positions(
    keys: pa.ChunkedArray, key_hashes: np.ndarray, parts: list[tuple[pa.ChunkedArray, np.ndarray]]
) -> list[pa.Array]:
    """For each part, the row of each snapshot account in it (null when absent).

    The engine hashes every key to 64 bits alongside its aggregates, so the
    alignment is an integer lookup; the keys taken are then compared with the
    snapshot's own, and any hash collision falls back to aligning by value.
    """
    index = pd.Index(key_hashes)
    if not index.is_unique:
        return _positions_by_value(keys, [k for k, _ in parts])
    out = []
    for part_keys, hashes in parts:
        pos = index.get_indexer(hashes)
        found = np.flatnonzero(pos >= 0)
        base_rows = pos[found]
        if len(found) and np.bincount(base_rows).max() > 1:  # an account listed twice: its first row
            base_rows, first = np.unique(base_rows, return_index=True)
            found = found[first]
        rows = np.full(len(keys), -1, dtype=np.int64)
        rows[base_rows] = found
        at = pa.array(rows, mask=rows < 0)
        taken = part_keys.cast(pa.string()).take(at)
        if not pc.all(pc.fill_null(pc.equal(taken, keys), True)).as_py():
            return _positions_by_value(keys, [k for k, _ in parts])
        out.append(at)
    return out


def _hashes(table: pa.Table) -> np.ndarray:
    return pc.fill_null(table[KEY_HASH].cast(pa.int64()), 0).to_numpy()


def fetch_per_account(exprs: Mapping[str, Any], run: Runner, label: str) -> pd.DataFrame:
    """One pandas row per account of ``exprs["contracts"]`` with the columns of every table.

    Accounts missing from a table get nulls there; the accounts table's
    attributes (under :data:`~icp.snapshot_queries.ACCOUNT_PREFIX`) keep the
    pandas types Ibis gives them, the same on every engine.
    """
    exprs = dict(exprs)
    base = run.arrow(exprs.pop("contracts"), f"{label}: contracts")
    if base.num_rows == 0:
        return pd.DataFrame()
    parts = {name: run.arrow(expr, f"{label}: {name}") for name, expr in exprs.items()}
    keys = base["account_id"].cast(pa.string())
    columns = {"account_id": keys}
    skip = ("account_id", KEY_HASH)
    columns.update({c: _numeric(base[c]) for c in base.column_names if c not in skip})
    rows = _row_positions(keys, _hashes(base), [(p["account_id"], _hashes(p)) for p in parts.values()])
    attrs = None
    for (name, part), at in zip(parts.items(), rows):
        taken = {c: part[c].take(at) for c in part.column_names if c not in skip}
        if any(c.startswith(ACCOUNT_PREFIX) for c in taken):
            schema = exprs[name].schema()
            attrs = PandasData.convert_table(pa.table(taken).to_pandas(), ibis.schema({c: schema[c] for c in taken}))
        else:
            columns.update({c: _numeric(v) for c, v in taken.items()})
    frame = pa.table(columns).to_pandas()
    return frame if attrs is None else pd.concat([frame, attrs], axis=1)
