"""Where the snapshot's aggregations run: the Dataset's own backend, Spark, or another Ibis backend.

The queries in :mod:`icp.snapshot` are written once with Ibis. This module
gives them the tables on the chosen engine:

* ``None`` or ``"duckdb"``: the Dataset's backend (DuckDB reads CSV and Parquet
  out of core); a Dataset on another backend is copied to DuckDB through Parquet.
  While the tables are in use, one DuckDB optimizer that multiplies scans of
  sorted Parquet files is switched off (see ``_DUCKDB_OFF``).
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
from collections.abc import Iterator, Mapping
from typing import Any

import ibis

from icp.exceptions import SchemaError

__all__ = ["engine_tables", "spark_session", "is_spark_engine"]

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


@contextlib.contextmanager
def _duckdb_tuned(backend: Any) -> Iterator[None]:
    """Disable the optimizers of :data:`_DUCKDB_OFF` on a DuckDB backend, restoring the setting after."""
    con = getattr(backend, "con", None)
    if _backend_name(backend) != "duckdb" or con is None:
        yield
        return
    try:
        before = con.execute("SELECT current_setting('disabled_optimizers')").fetchall()[0][0] or ""
        known = {r[0] for r in con.execute("SELECT name FROM duckdb_optimizers()").fetchall()}
    except Exception:  # noqa: BLE001 - an older or restricted DuckDB: run as configured
        yield
        return
    current = [o.strip() for o in before.split(",") if o.strip()]
    wanted = current + [o for o in _DUCKDB_OFF if o in known and o not in current]
    if wanted == current:
        yield
        return
    con.execute("SET disabled_optimizers = ?", [",".join(wanted)])
    try:
        yield
    finally:
        con.execute("SET disabled_optimizers = ?", [before])


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
