"""The written tables: column kinds, stable CSV formatting and chunked Parquet writing.

Columns travel as numpy arrays: dates as day numbers and timestamps as seconds
since 1970 (``NAT`` = missing), numbers as floats (NaN = missing), text as object
arrays (None = missing). One kind per column fixes how it is written, so the
same values always give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

NAT = np.iinfo(np.int64).min

# table -> [(column, kind)]; kinds: str, int, f0, f1, f2, date, ts
SCHEMAS: dict[str, list[tuple[str, str]]] = {
    "accounts": [("account_id", "str"), ("name", "str"), ("industry", "str"),
                 ("employees", "int"), ("annual_revenue_usd", "f0"), ("region", "str"),
                 ("country", "str"), ("founded_year", "int"), ("acquisition_channel", "str"),
                 ("customer_since", "date"), ("account_manager", "str")],
    "contracts": [("contract_id", "str"), ("account_id", "str"), ("start_date", "date"),
                  ("end_date", "date"), ("arr_usd", "f2"), ("plan", "str"),
                  ("gross_margin_pct", "f1"), ("status", "str")],
    "invoices": [("invoice_id", "str"), ("account_id", "str"), ("issued_on", "date"),
                 ("due_on", "date"), ("paid_on", "date"), ("amount_usd", "f2"),
                 ("written_off_on", "date")],
    "tickets": [("ticket_id", "str"), ("account_id", "str"), ("opened_at", "ts"),
                ("closed_at", "ts"), ("priority", "str"), ("category", "str"), ("csat", "int")],
    "usage": [("account_id", "str"), ("date", "date"), ("active_users", "int"),
              ("events", "int")],
    "am_grades": [("account_id", "str"), ("period", "str"), ("partnerability", "int"),
                  ("reference_willing", "str"), ("eagerness", "int"), ("strategic_fit", "int"),
                  ("graded_by", "str")],
    "prospects": [("prospect_id", "str"), ("name", "str"), ("industry", "str"),
                  ("employees", "int"), ("annual_revenue_usd", "f0"), ("region", "str"),
                  ("country", "str"), ("founded_year", "int"), ("acquisition_channel", "str")],
}

_ARROW = {"str": pa.string(), "int": pa.int64(), "f0": pa.float64(), "f1": pa.float64(),
          "f2": pa.float64(), "date": pa.date32(), "ts": pa.timestamp("s")}


@dataclass
class Coded:
    """A text column stored as codes into a few labels (account ids, managers, periods).

    Millions of usage rows then carry integers, and their text is built once, in Arrow.
    """

    codes: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i: int) -> object:
        return self.labels[self.codes[i]]

    def values(self) -> np.ndarray:
        """The column as an object array of text."""
        return np.asarray(self.labels, dtype=object)[self.codes]


def plain(values: np.ndarray | Coded) -> np.ndarray:
    """A column as a plain numpy array."""
    return values.values() if isinstance(values, Coded) else np.asarray(values)


def arrow_schema(table: str) -> pa.Schema:
    """The Parquet schema of a table."""
    return pa.schema([(name, _ARROW[kind]) for name, kind in SCHEMAS[table]])


def _missing(values: np.ndarray, kind: str) -> np.ndarray:
    if kind in ("date", "ts"):
        return values == NAT
    if kind == "str":
        return pd.isna(values)
    return np.isnan(values.astype(float))


def format_column(values: np.ndarray, kind: str) -> np.ndarray:
    """Text of a column as written to CSV (empty string = missing)."""
    values = plain(values)
    missing = _missing(values, kind)
    if kind == "str":
        out = values.astype(object).copy()
        out[missing] = ""
        return out
    if kind == "int":
        text = np.where(missing, 0, values).astype(np.int64).astype(str)
    elif kind in ("f0", "f1", "f2"):
        text = np.char.mod(f"%.{kind[1]}f", np.where(missing, 0.0, values.astype(float)))
    elif kind == "date":
        text = np.datetime_as_string(np.where(missing, 0, values).astype("datetime64[D]"))
    else:
        text = np.datetime_as_string(np.where(missing, 0, values).astype("datetime64[s]"))
    out = text.astype(object)
    out[missing] = ""
    return out


def arrow_column(values: np.ndarray, kind: str) -> pa.Array:
    """A typed Arrow array of a column (nulls where missing)."""
    if isinstance(values, Coded):
        labels = pa.array(np.asarray(values.labels, dtype=object), type=pa.string())
        return pc.take(labels, pa.array(values.codes))
    values = np.asarray(values)
    missing = _missing(values, kind)
    if kind == "str":
        return pa.array(values.astype(object), type=pa.string(), from_pandas=True)
    if kind == "int":
        return pa.array(np.where(missing, 0, values).astype(np.int64), mask=missing)
    if kind in ("f0", "f1", "f2"):
        return pa.array(values.astype(float), mask=missing, type=pa.float64())
    if kind == "date":
        return pa.array(np.where(missing, 0, values).astype(np.int32), mask=missing,
                        type=pa.date32())
    return pa.array(np.where(missing, 0, values).astype(np.int64), mask=missing,
                    type=pa.timestamp("s"))


class TableWriter:
    """Appends chunks of the contract tables to CSV or Parquet files in a folder."""

    def __init__(self, out_dir: Path, fmt: str) -> None:
        self.out_dir = out_dir
        self.fmt = fmt
        self._parquet: dict[str, pq.ParquetWriter] = {}
        self._started: set[str] = set()
        self.rows: dict[str, int] = {}

    def path(self, table: str) -> Path:
        """The file a table is written to."""
        return self.out_dir / f"{table}.{'csv' if self.fmt == 'csv' else 'parquet'}"

    def write(self, table: str, columns: dict[str, np.ndarray],
              overrides: dict[tuple[int, str], str] | None = None) -> None:
        """Append one chunk. ``overrides`` sets raw CSV text of single cells (broken rows)."""
        n = len(next(iter(columns.values())))
        self.rows[table] = self.rows.get(table, 0) + n
        if self.fmt == "csv":
            frame = pd.DataFrame({name: format_column(columns[name], kind)
                                  for name, kind in SCHEMAS[table]})
            for (row, column), text in (overrides or {}).items():
                frame.loc[row, column] = text
            first = table not in self._started
            self._started.add(table)
            frame.to_csv(self.path(table), mode="w" if first else "a", header=first,
                         index=False, lineterminator="\n")
            return
        batch = pa.table({name: arrow_column(columns[name], kind)
                          for name, kind in SCHEMAS[table]}, schema=arrow_schema(table))
        if table not in self._parquet:
            self._parquet[table] = pq.ParquetWriter(self.path(table), arrow_schema(table),
                                                    compression="zstd")
        self._parquet[table].write_table(batch, row_group_size=1_000_000)

    def close(self) -> None:
        """Finish every file (an empty table still gets its header or schema)."""
        for table in SCHEMAS:
            if self.fmt == "csv" and table not in self._started:
                pd.DataFrame(columns=[c for c, _ in SCHEMAS[table]]).to_csv(
                    self.path(table), index=False, lineterminator="\n")
            if self.fmt == "parquet" and table not in self._parquet:
                pq.write_table(arrow_schema(table).empty_table(), self.path(table))
        for writer in self._parquet.values():
            writer.close()
        self._parquet.clear()
