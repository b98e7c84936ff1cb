"""Where the snapshot's aggregations run: the Dataset's own backend, Spark, or another Ibis backend.

The queries in :mod:`icp.snapshot` are written once with Ibis. This module
gives them the tables on the chosen engine:

* ``None`` or ``"duckdb"``: the Dataset's backend (DuckDB reads CSV and Parquet
  out of core); a Dataset on another backend is copied to DuckDB through Parquet.
  While the tables are in use, one DuckDB optimizer that multiplies scans of
  sorted Parquet files is switched off (see ``_DUCKDB_OFF``), results need not
  keep the input's row order, and :class:`DuckDBCursors` lets independent
  queries run at the same time.
* ``"spark"`` (PySpark in local mode on all cores) or a Spark master URL
  (``"local[2]"``, ``"spark://host:7077"``, ``"yarn"``, ``"k8s://..."``): the tables
  are written to Parquet in a temporary folder and read by Spark through
  ``ibis.pyspark``. For a real cluster the folder must be on storage that the
  cluster can read (set ``ICP_SPARK_TMP``), or pass a backend that already holds
  the data instead.
* an Ibis backend (``ibis.pyspark.connect(session)``, a warehouse connection, ...)
  that already holds tables with the contract's names, or a ``SparkSession``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import ibis
import ibis.expr.operations as ops

from icp.exceptions import SchemaError

__all__ = ["engine_tables", "spark_session", "is_spark_engine", "DuckDBCursors", "duckdb_cursors"]

logger = logging.getLogger(__name__)

_SPARK_PREFIXES = ("local", "spark://", "yarn", "k8s://", "mesos://")


def is_spark_engine(engine: Any) -> bool:
    """Whether ``engine`` names Spark (``"spark"`` or a master URL)."""
    return isinstance(engine, str) and (engine == "spark" or engine.startswith(_SPARK_PREFIXES))


def spark_session(master: str = "local[*]") -> Any:
    """Return a SparkSession on ``master`` set up for the snapshot (UTC, small shuffles).

    Parameters
    ----------
    master : str
        A Spark master URL; ``"local[2]"`` runs Spark inside this machine on 2 cores.

    Returns
    -------
    pyspark.sql.SparkSession

    Examples
    --------
    >>> from icp.engines import spark_session
    >>> spark = spark_session("local[2]")  # doctest: +SKIP
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - depends on the installation
        raise SchemaError(
            "The Spark engine needs PySpark, which is not installed. "
            "Expected the 'spark' extra of icp-lens. "
            "Install it with: pip install 'icp-lens[spark]', or use --engine duckdb."
        ) from None
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    try:
        return (
            SparkSession.builder.master(master)
            .appName("icp-snapshot")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", os.environ.get("ICP_SPARK_PARTITIONS", "8"))
            .config("spark.driver.memory", os.environ.get("ICP_SPARK_DRIVER_MEMORY", "2g"))
            .getOrCreate()
        )
    except Exception as exc:  # Java missing, master unreachable, ...
        raise SchemaError(
            f"Could not start Spark on '{master}': {type(exc).__name__}: {str(exc).splitlines()[0]}. "
            "Expected a working Java 17 (or 11) and a reachable Spark master. "
            "Check JAVA_HOME, or use --engine duckdb."
        ) from None


def _backend_name(backend: Any) -> str:
    return str(getattr(backend, "name", type(backend).__name__)).lower()


# DuckDB 2's "partitioned_execution" optimizer splits an aggregation grouped by a
# key whose Parquet row groups are sorted (usage exported account by account) into
# key ranges, and then reads the whole file once per range when the aggregation
# also filters on dates: ten scans instead of one (26 s instead of 4 s for the
# usage features of 1M accounts). The snapshot switches it off while it runs.
_DUCKDB_OFF = ("partitioned_execution",)


# Settings the snapshot applies while it runs, restored after. Its per-account
# results are lined up by key, so they need not keep the input's row order.
_DUCKDB_SETTINGS = {"preserve_insertion_order": "false"}


@contextlib.contextmanager
def _duckdb_tuned(backend: Any) -> Iterator[None]:
    """Disable the optimizers of :data:`_DUCKDB_OFF` and apply :data:`_DUCKDB_SETTINGS` on a
    DuckDB backend, restoring the settings after."""
    con = getattr(backend, "con", None)
    if _backend_name(backend) != "duckdb" or con is None:
        yield
        return
    try:
        names = ["disabled_optimizers", *_DUCKDB_SETTINGS]
        before = dict(zip(names, con.execute(
            "SELECT " + ", ".join(f"current_setting('{n}')" for n in names)).fetchall()[0]))
        known = {r[0] for r in con.execute("SELECT name FROM duckdb_optimizers()").fetchall()}
    except Exception:  # noqa: BLE001 - an older or restricted DuckDB: run as configured
        yield
        return
    current = [o.strip() for o in (before["disabled_optimizers"] or "").split(",") if o.strip()]
    wanted = current + [o for o in _DUCKDB_OFF if o in known and o not in current]
    changed = {n: v for n, v in _DUCKDB_SETTINGS.items() if str(before[n]).lower() != v}
    if wanted != current:
        changed["disabled_optimizers"] = ",".join(wanted)
    for name, value in changed.items():
        con.execute(f"SET {name} = ?", [value])
    try:
        yield
    finally:
        for name in changed:
            con.execute(f"SET {name} = ?", [before[name] if before[name] is not None else ""])


class DuckDBCursors:
    """Runs independent Ibis expressions of one DuckDB backend at the same time, each on a cursor.

    A hash aggregation over a million accounts gains less from a second thread
    (its per-thread tables are merged at the end) than from a second query run
    beside it, and the fetch of one result overlaps the next query. A cursor is
    its own connection to the same database: it sees the database's tables and
    views, and gets copies of the backend's temporary views over files; a query
    on a table it cannot see (a registered DataFrame) runs on the backend itself.

    Parameters
    ----------
    backend : ibis DuckDB backend
    """

    def __init__(self, backend: Any):
        self.backend = backend
        self.workers = self._threads()
        self._local = threading.local()
        self._compile = threading.Lock()
        self._own = threading.Lock()
        # read now: the backend's own connection is not to be used while cursors run
        self._views, self._seen = self._temp_views(), self._persistent()
        self._cursors: list[Any] = []

    def _threads(self) -> int:
        try:
            return int(self.backend.con.execute("SELECT current_setting('threads')").fetchall()[0][0])
        except Exception:  # noqa: BLE001 - a restricted connection: one query at a time
            return 1

    def _temp_views(self) -> dict[str, str]:
        """The definitions of the backend's temporary views, for its cursors to recreate."""
        rows = self.backend.con.execute(
            "SELECT view_name, sql FROM duckdb_views() WHERE temporary AND NOT internal").fetchall()
        return dict(rows)

    def _persistent(self) -> set[str]:
        rows = self.backend.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary UNION ALL "
            "SELECT view_name FROM duckdb_views() WHERE NOT temporary AND NOT internal").fetchall()
        return {r[0] for r in rows}

    def _cursor_for(self, expr: Any) -> Any | None:
        """This thread's cursor, with the temporary views ``expr`` reads; None when it cannot see them
        (a view over a registered DataFrame, a temporary table)."""
        local = self._local
        if getattr(local, "cursor", None) is None:
            local.cursor, local.views = self.backend.con.cursor(), set()
            self._cursors.append(local.cursor)
        for name in {t.name for t in expr.op().find(ops.DatabaseTable)}:
            if name in local.views or (name in self._seen and name not in self._views):
                continue
            if name not in self._views:
                return None
            try:
                local.cursor.execute(self._views[name])
            except Exception:  # noqa: BLE001 - a view over a Python object: not for a cursor
                return None
            local.views.add(name)
        return local.cursor

    def to_pyarrow(self, expr: Any) -> Any:
        """``expr.to_pyarrow()``, on this thread's cursor when it can see every table of ``expr``."""
        from ibis.backends.duckdb.converter import DuckDBPyArrowData

        cur = self._cursor_for(expr)
        if cur is None:
            with self._own:
                return expr.to_pyarrow()
        with self._compile:  # compiling is pure Python: one thread at a time, beside the queries
            sql = self.backend.compile(expr.as_table())
            memtables = [(m.name, m.data.to_pyarrow(m.schema)) for m in expr.op().find(ops.InMemoryTable)]
        for name, data in memtables:
            cur.register(name, data)
        try:
            table = cur.sql(sql).to_arrow_table()
        finally:
            for name, _ in memtables:
                cur.unregister(name)
        return expr.__pyarrow_result__(table, data_mapper=DuckDBPyArrowData)

    @contextlib.contextmanager
    def side_by_side(self) -> Iterator[None]:
        """While queries run side by side, one per worker, each runs on one DuckDB thread
        (the setting is restored after): the same number of threads in all, and no merging
        of per-thread hash tables (measured: 9.6 s instead of 10.3 s with two threads each)."""
        self.backend.con.execute("SET threads = 1")
        try:
            yield
        finally:
            self.backend.con.execute(f"SET threads = {self.workers}")

    def close(self) -> None:
        """Close the cursors (their temporary views go with them)."""
        for cur in self._cursors:
            cur.close()
        self._cursors.clear()


@contextlib.contextmanager
def duckdb_cursors(tables: Mapping[str, Any]) -> Iterator[DuckDBCursors | None]:
    """A :class:`DuckDBCursors` for the backend of ``tables`` when it is DuckDB with several
    threads (None otherwise), closed on exit."""
    try:
        backend = next(iter(tables.values()))._find_backend()
    except Exception:  # noqa: BLE001 - no tables, or tables of several backends
        backend = None
    cursors = None
    if backend is not None and _backend_name(backend) == "duckdb" and getattr(backend, "con", None) is not None:
        cursors = DuckDBCursors(backend)
    if cursors is None or cursors.workers < 2:
        yield None
        return
    try:
        yield cursors
    finally:
        cursors.close()


@contextlib.contextmanager
def _exported(data: Any, connect) -> Iterator[Mapping[str, Any]]:
    """Write the Dataset's tables to Parquet in a temporary folder and read them with ``connect()``."""
    tmp = tempfile.mkdtemp(prefix="icp-snapshot-", dir=os.environ.get("ICP_SPARK_TMP"))
    try:
        con = connect()
        tables = {}
        for name, table in data.tables.items():
            path = os.path.join(tmp, f"{name}.parquet")
            data.backend.to_parquet(table, path)
            tables[name] = con.read_parquet(path, table_name=f"icp_{name}")
        with _duckdb_tuned(con):
            yield tables
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def engine_tables(data: Any, engine: Any = None) -> Iterator[Mapping[str, Any]]:
    """Yield the Dataset's tables as Ibis tables on ``engine`` (see the module docstring).

    Parameters
    ----------
    data : Dataset
        The input whose tables are needed.
    engine : None, str, Ibis backend or SparkSession
        Where the tables should be: see the module docstring.

    Yields
    ------
    Mapping[str, ibis.Table]

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.dataset import Dataset
    >>> from icp.engines import engine_tables
    >>> ds = Dataset.from_frames({"accounts": pd.DataFrame({"account_id": ["a1"]})})
    >>> with engine_tables(ds) as tables:
    ...     tables["accounts"].count().execute()
    1
    """
    data.check_files()
    if engine is None or (engine == "duckdb" and _backend_name(data.backend) == "duckdb"):
        with _duckdb_tuned(data.backend):
            yield data.tables
    elif engine == "duckdb":
        with _exported(data, ibis.duckdb.connect) as tables:
            yield tables
    elif is_spark_engine(engine):
        session = spark_session("local[*]" if engine == "spark" else engine)
        with _exported(data, lambda: ibis.pyspark.connect(session)) as tables:
            yield tables
    elif isinstance(engine, str):
        raise SchemaError(
            f"Unknown engine '{engine}'. Expected duckdb, spark, or a Spark master URL "
            "such as local[2] or spark://host:7077. Check the --engine option."
        )
    elif type(engine).__name__ == "SparkSession":
        with _exported(data, lambda: ibis.pyspark.connect(engine)) as tables:
            yield tables
    elif hasattr(engine, "table"):
        missing = []
        tables = {}
        for name in data.tables:
            try:
                tables[name] = engine.table(name)
            except Exception:  # noqa: BLE001 - any backend's "no such table"
                missing.append(name)
        if missing:
            raise SchemaError(
                f"The engine {_backend_name(engine)} does not hold the tables {', '.join(missing)}. "
                "Expected every table of the Dataset under its contract name. "
                "Load them there first, or use engine='spark' to copy them."
            )
        yield tables
    else:
        raise SchemaError(
            f"Unknown engine of type {type(engine).__name__}. Expected None, 'duckdb', 'spark', "
            "a Spark master URL, an Ibis backend or a SparkSession. Check the engine argument."
        )
