"""The loaded, validated input of every analysis: a :class:`Dataset`.

A Dataset holds the accepted rows of each contract table as Ibis tables on one
backend (DuckDB by default), with the contract's column names and types, plus
what validation found. The large tables stay where they are (files read out of
core, or a database) until an analysis aggregates them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import ibis
import pandas as pd

from icp.config import Config
from icp.exceptions import SchemaError

__all__ = ["Dataset", "MULTI", "SINGLE", "SINGLE_TABLE_NAME"]

MULTI = "multi"
SINGLE = "single"
# In the single-table form the one table is called "customers"; its id column is
# renamed to account_id and its outcome to a boolean column "churned".
SINGLE_TABLE_NAME = "customers"


def file_states(paths: Any) -> tuple[tuple[str, int, int], ...]:
    """``(path, size, modified time in ns)`` of each file; a missing file has size -1."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((str(p), int(st.st_size), int(st.st_mtime_ns)))
        except OSError:
            out.append((str(p), -1, -1))
    return tuple(out)


@dataclass(frozen=True)
class Dataset:
    """Accepted input tables, ready for snapshots and analyses.

    Attributes
    ----------
    form : {"multi", "single"}
        The multi-table data contract, or one row per customer.
    tables : Mapping[str, ibis.Table]
        Accepted rows per contract table (``accounts``, ``contracts``, ...), or
        ``customers`` in the single-table form.
    backend : ibis backend
        The engine that holds ``tables``.
    config : Config
        The project settings.
    source : str
        What was read (a folder, a file or a database URL), for provenance.
    fingerprints : Mapping[str, str]
        A content hash per input table, for provenance and reproducibility.
    validation : Any
        The validation report (``icp.io.ValidationReport``), when validation ran.
    excluded_columns : Mapping[str, str]
        Columns left out of modelling, with the reason (leakage, identifier, free text).
    presale_columns : tuple of str
        Attributes known before a deal is signed: the only ones ICP rules and
        prospect scoring may use.
    engine : str
        Where aggregations should run: "duckdb" (default), "spark" or a Spark
        master URL (as given with ``--engine``). Validation always runs in DuckDB.
    live_files : Mapping[str, tuple]
        Per table read from its files at every query (a large Parquet table), the
        files' (and their folder's) ``(path, size, modified time)`` at load:
        :meth:`check_files` refuses to go on when they changed, as the rows
        validation kept apart would no longer be the rows of the files.
    """

    form: Literal["multi", "single"]
    tables: Mapping[str, Any]
    backend: Any
    config: Config = field(default_factory=Config)
    source: str = "<memory>"
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    validation: Any = None
    excluded_columns: Mapping[str, str] = field(default_factory=dict)
    presale_columns: tuple[str, ...] = ()
    engine: str = "duckdb"
    live_files: Mapping[str, tuple[tuple[str, int, int], ...]] = field(default_factory=dict)

    def check_files(self) -> None:
        """Raise a clear error when a file that a table reads at every query changed after load."""
        for name, files in self.live_files.items():
            now = file_states(f for f, _, _ in files)
            if now != tuple(files):
                changed = [Path(f).name for (f, *was), (_, *is_) in zip(files, now) if was != is_]
                raise SchemaError(
                    f"The {name} table's {', '.join(changed)} changed after the data was loaded. "
                    "Expected the files as they were when validated (the rows it quarantined are known by "
                    "their place in the files). Load the data again (icp.io.load, or run the command again)."
                )

    def has(self, name: str) -> bool:
        """Whether the table ``name`` is present."""
        return name in self.tables

    def table(self, name: str) -> Any:
        """Return the Ibis table ``name``; raise a clear error when it is absent."""
        if name not in self.tables:
            raise SchemaError(
                f"The table '{name}' is needed here but was not found in {self.source}. "
                f"Found tables: {', '.join(sorted(self.tables)) or 'none'}. "
                f"Add a file named {name}.csv (or map one in icp.yaml under tables: {name})."
            )
        self.check_files()
        return self.tables[name]

    def to_pandas(self, name: str) -> pd.DataFrame:
        """Materialise one table as pandas (fine for small tables; the large ones stay in the engine)."""
        return self.backend.execute(self.table(name))

    @classmethod
    def from_frames(
        cls,
        frames: Mapping[str, pd.DataFrame],
        *,
        form: Literal["multi", "single"] = MULTI,
        config: Config | None = None,
        backend: Any = None,
        presale_columns: tuple[str, ...] = (),
        source: str = "<memory>",
    ) -> Dataset:
        """Build a Dataset from pandas frames that already follow the contract (no validation).

        Meant for tests and for data that was validated elsewhere.

        Examples
        --------
        >>> import pandas as pd
        >>> from icp.dataset import Dataset
        >>> ds = Dataset.from_frames({"accounts": pd.DataFrame({"account_id": ["a1"],
        ...     "industry": ["Retail"], "employees": [12]})})
        >>> ds.to_pandas("accounts").shape
        (1, 3)
        """
        con = backend if backend is not None else ibis.duckdb.connect()
        tables = {}
        for name, frame in frames.items():
            con.create_table(name, frame, overwrite=True)
            tables[name] = con.table(name)
        return cls(
            form=form,
            tables=tables,
            backend=con,
            config=config or Config(),
            source=source,
            presale_columns=tuple(presale_columns),
        )
