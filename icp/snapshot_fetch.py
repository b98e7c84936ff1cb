"""Fetching a snapshot's per-account tables from the engine and lining them up.

Every per-account table of :func:`icp.snapshot_queries.account_aggregates` comes
back as Arrow (``to_pyarrow`` works on every Ibis backend and, unlike
``execute``, converts columns with nulls without a Python object per value) and
is lined up with the snapshot's accounts in Arrow and NumPy. The engine thus never
joins the per-account tables with each other (a join per source, each carrying
every column so far, cost as much as scanning the usage table), and only one row
per account and source crosses to Python. On DuckDB the per-source queries run
side by side on cursors (:class:`icp.engines.DuckDBCursors`), mostly the largest first.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
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

# The order in which the sources start (after the snapshot's own accounts) when queries
# run side by side: the longest first, except the accounts table, whose attributes take
# longest to convert to pandas: started early, it is converted while the engine works,
# instead of after the last query.
_START_ORDER = ("usage", "accounts", "tickets", "am_grades", "renewals and revenue", "invoices")


class Runner:
    """Executes the Ibis expressions of one snapshot, logs their timings and reports progress.

    ``cursors`` (a :class:`icp.engines.DuckDBCursors`) lets :meth:`arrow_each` run
    independent expressions at the same time; without it they run one by one.
    """

    def __init__(self, progress: Callable[[int, int, str], None] | None, total: int, cursors: Any = None):
        self.progress, self.total, self.done = progress, total, 0
        self.cursors = cursors
        self._lock = threading.Lock()

    def _step(self, what: str, start: float) -> None:
        with self._lock:  # steps may end on worker threads
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
        result = expr.to_pyarrow() if self.cursors is None else self.cursors.to_pyarrow(expr)
        self._step(what, start)
        return result

    def arrow_each(self, exprs: Mapping[str, Any], label: str) -> Iterator[tuple[str, pa.Table]]:
        """Each expression's name and result as Arrow, as they finish: side by side when possible,
        the first of ``exprs`` and then the others in :data:`_START_ORDER`."""
        first, *rest = exprs
        names = [first, *sorted(rest, key=lambda n: _START_ORDER.index(n) if n in _START_ORDER
                                else len(_START_ORDER))]
        if self.cursors is None or len(names) < 2:
            for n in names:
                yield n, self.arrow(exprs[n], f"{label}: {n}")
            return
        with self.cursors.side_by_side(), ThreadPoolExecutor(min(self.cursors.workers, len(names))) as pool:
            futures = {pool.submit(self.arrow, exprs[n], f"{label}: {n}"): n for n in names}
            try:
                for future in as_completed(futures):
                    yield futures[future], future.result()
            finally:  # stopped early (no account, or an error): the queries not started are not run
                for future in futures:
                    future.cancel()


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


class _Aligner:
    """The row of each snapshot account (``keys``) in a per-account table, by 64-bit key hash.

    The engine hashes every key alongside its aggregates, so the alignment is an
    integer lookup; the keys taken are then compared with the snapshot's own, and
    a hash collision falls back to aligning by value.
    """

    def __init__(self, keys: pa.ChunkedArray, key_hashes: np.ndarray):
        self.keys, self.index = keys, pd.Index(key_hashes)
        self.unique = self.index.is_unique

    def __call__(self, part_keys: pa.ChunkedArray, hashes: np.ndarray) -> pa.Array:
        keys = self.keys
        if not self.unique:
            return _positions_by_value(keys, [part_keys])[0]
        pos = self.index.get_indexer(hashes)
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
            return _positions_by_value(keys, [part_keys])[0]
        return at


def _row_positions(
    keys: pa.ChunkedArray, key_hashes: np.ndarray, parts: list[tuple[pa.ChunkedArray, np.ndarray]]
) -> list[pa.Array]:
    """For each part, the row of each snapshot account in it (null when absent): see :class:`_Aligner`."""
    align = _Aligner(keys, key_hashes)
    return [align(part_keys, hashes) for part_keys, hashes in parts]


def _hashes(table: pa.Table) -> np.ndarray:
    return pc.fill_null(table[KEY_HASH].cast(pa.int64()), 0).to_numpy()


def _aligned(column: pa.ChunkedArray, at: pa.Array, rows: np.ndarray) -> Any:
    """``column`` taken at ``rows`` (-1: absent): numbers as float64 NumPy with NaN, others by Arrow."""
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        return column.take(at)
    absent = rows < 0
    if len(column) == 0:
        return np.full(len(rows), np.nan)
    values = column.cast(pa.float64()).to_numpy()  # nulls become NaN
    out = values[np.where(absent, 0, rows)]
    out[absent] = np.nan
    return out


def fetch_per_account(exprs: Mapping[str, Any], run: Runner, label: str) -> pd.DataFrame:
    """One pandas row per account of ``exprs["contracts"]`` with the columns of every table.

    Accounts missing from a table get nulls there (numbers arrive as float64);
    the accounts table's attributes (under :data:`~icp.snapshot_queries.ACCOUNT_PREFIX`)
    keep the pandas types Ibis gives them, the same on every engine. Each table is
    lined up as it arrives, while the engine computes the next ones.
    """
    exprs = {"contracts": exprs["contracts"], **exprs}
    skip = ("account_id", KEY_HASH)
    columns: dict[str, Any] = {}
    numbers: dict[str, np.ndarray] = {}
    parts: dict[str, Any] = {}
    attrs, waiting, align = None, [], None
    with contextlib.closing(run.arrow_each(exprs, label)) as results:
        for name, table in results:
            if name == "contracts":
                if table.num_rows == 0:
                    return pd.DataFrame()
                keys = table["account_id"].cast(pa.string())
                columns = {"account_id": keys, **{c: _numeric(table[c]) for c in table.column_names if c not in skip}}
                align = _Aligner(keys, _hashes(table))
            else:
                waiting.append((name, table))
            if align is None:
                continue
            for part_name, part in waiting:
                at = align(part["account_id"], _hashes(part))
                if any(c.startswith(ACCOUNT_PREFIX) for c in part.column_names):
                    taken = {c: part[c].take(at) for c in part.column_names if c not in skip}
                    schema = exprs[part_name].schema()
                    attrs = PandasData.convert_table(
                        pa.table(taken).to_pandas(), ibis.schema({c: schema[c] for c in taken}))
                    continue
                where = pc.fill_null(at, -1).to_numpy()
                parts[part_name] = {c: _aligned(part[c], at, where) for c in part.column_names if c not in skip}
            waiting = []
    for name in exprs:  # the tables' columns in their order, whatever order they came in; a later one wins
        for c, value in parts.get(name, {}).items():
            numbers.pop(c, None), columns.pop(c, None)
            (numbers if isinstance(value, np.ndarray) else columns)[c] = value
    frames = [pa.table(columns).to_pandas()]
    if numbers:
        # one block per column (copy=False): stacking them into one 2D block would copy them all
        frames.append(pd.DataFrame(numbers, index=frames[0].index, copy=False))
    if attrs is not None:
        frames.append(attrs)
    return frames[0] if len(frames) == 1 else pd.concat(frames, axis=1)
