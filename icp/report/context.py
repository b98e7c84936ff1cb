"""What a report notebook works with: the checked parameters and results computed once.

Every notebook of the suite opens a :class:`ReportContext` in its second cell
(``ctx = report.validate_parameters(...)``). The context loads the data, builds
snapshots and runs the analyses lazily, and keeps what it computed in the run's
work folder (``work_dir``): the accepted input tables and the snapshots as
Parquet, analysis results as pickles. The runner prepares the shared pieces once
before the notebooks start, so that no two notebooks validate the data or build
the same snapshot again; a notebook opened on its own in JupyterLab (no
``work_dir``) simply computes what it needs in memory.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import pickle
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from icp.exceptions import SchemaError
from icp.report.params import COMMON_PARAMETERS, parse_quarter, quarter_end
from icp.report.provenance import file_fingerprint

__all__ = ["ReportContext", "OPTION_RULES"]

logger = logging.getLogger(__name__)

# The notebooks' own parameters: name -> (type, check, what is expected).
OPTION_RULES: dict[str, tuple[type, Callable[[Any], bool], str]] = {
    "n_segments": (int, lambda v: v == 0 or 2 <= v <= 20, "0 (automatic) or an int in the range [2, 20]"),
    "top_n": (int, lambda v: 1 <= v <= 500, "an int in the range [1, 500]"),
    "max_actions": (int, lambda v: 3 <= v <= 5, "an int in the range [3, 5]"),
    "worksheet": (str, lambda v: v == "" or Path(v).is_file(), "empty (the default worksheet) or an existing YAML file"),
    "prospects": (str, lambda v: v == "" or Path(v).is_file(), "empty (the data's prospects table) or an existing file"),
    "outcome": (str, lambda v: v in ("value", "retention"), "'value' or 'retention'"),
    "fail": (bool, lambda v: True, "True or False"),
}

_OUTCOME_SPEC = re.compile(r"^[^=]+=.*$")


def _is_url(data: str) -> bool:
    return "://" in data


@dataclass
class ReportContext:
    """Parameters of one notebook run plus lazily computed, shared inputs.

    Create it with :func:`icp.report.validate_parameters`; see the module docstring.
    """

    data: str
    quarter: str
    as_of: dt.date
    config: str = ""
    id_column: str = ""
    churn: str = ""
    renewed: str = ""
    engine: str = "duckdb"
    work_dir: Path | None = None
    results_dir: Path | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    _memory: dict[str, Any] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ creation
    @classmethod
    def open(
        cls,
        *,
        data: str,
        quarter: str,
        config: str = "",
        id_column: str = "",
        churn: str = "",
        renewed: str = "",
        engine: str = "duckdb",
        work_dir: str = "",
        results_dir: str = "",
        options: Mapping[str, Any] | None = None,
    ) -> ReportContext:
        """Check every parameter and return the context (raises SchemaError on bad values).

        Examples
        --------
        >>> ReportContext.open(data="data/sample", quarter="2025Q4").as_of  # doctest: +SKIP
        datetime.date(2025, 12, 31)
        """
        for name, value in dict(data=data, quarter=quarter, config=config, id_column=id_column,
                                churn=churn, renewed=renewed, engine=engine, work_dir=work_dir,
                                results_dir=results_dir).items():
            if not isinstance(value, str):
                raise SchemaError(
                    f"The parameter '{name}' must be text (a str). Got {value!r} "
                    f"(a {type(value).__name__}) instead. Put the value in quotes."
                )
        parse_quarter(quarter)
        if not data:
            raise SchemaError(
                "The parameter 'data' is empty. Expected a data folder, a file or a database URL. "
                "Give the path of your data, for example data/sample."
            )
        if not _is_url(data) and not Path(data).exists():
            raise SchemaError(
                f"The data {data} does not exist. Expected a data folder, a file or a database URL. "
                "Check the path (relative paths start from the notebook's folder)."
            )
        if config and not Path(config).is_file():
            raise SchemaError(
                f"The configuration file {config} does not exist. Expected an icp.yaml file. "
                "Check the path given as 'config'."
            )
        if churn and renewed:
            raise SchemaError(
                "Both 'churn' and 'renewed' are set. Expected one outcome for the single-table form. "
                f"Found churn={churn!r} and renewed={renewed!r}. Keep only one of them."
            )
        for name, spec in (("churn", churn), ("renewed", renewed)):
            if spec and not _OUTCOME_SPEC.match(spec):
                raise SchemaError(
                    f"The parameter '{name}' must be written COLUMN=VALUE. Got {spec!r} instead. "
                    "Write it like Churn=Yes."
                )
        if bool(id_column) != bool(churn or renewed):
            raise SchemaError(
                "The single-table form needs both an id column and an outcome. "
                f"Found id_column={id_column!r}, churn={churn!r}, renewed={renewed!r}. "
                "Give id_column with churn (or renewed), or none of them for the multi-table form."
            )
        options = dict(options or {})
        for name, value in options.items():
            if name not in OPTION_RULES:
                raise SchemaError(
                    f"The notebook parameter '{name}' is not known to ICP Lens. "
                    f"Expected one of: {', '.join(sorted(OPTION_RULES))}. Found: {name}. "
                    "Check the spelling in the parameters cell."
                )
            kind, check, expected = OPTION_RULES[name]
            if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind) or not check(value):
                raise SchemaError(
                    f"The parameter '{name}' must be {expected}. Got {value!r} instead. "
                    "Change it in the parameters cell or with --param."
                )
        return cls(
            data=data,
            quarter=quarter,
            as_of=quarter_end(quarter),
            config=config,
            id_column=id_column,
            churn=churn,
            renewed=renewed,
            engine=engine,
            work_dir=Path(work_dir) if work_dir else None,
            results_dir=Path(results_dir) if results_dir else None,
            options=options,
        )

    # ------------------------------------------------------------------ facts
    @property
    def parameters(self) -> dict[str, Any]:
        """The notebook's parameters as given (common ones, then its own)."""
        common = {name: getattr(self, name) for name in COMMON_PARAMETERS}
        common["work_dir"] = str(self.work_dir or "")
        common["results_dir"] = str(self.results_dir or "")
        return {**common, **self.options}

    @property
    def single_table(self) -> bool:
        """Whether the input is in the single-table form (one row per customer)."""
        return bool(self.id_column)

    @property
    def form(self) -> str:
        """``"single"`` or ``"multi"``."""
        return "single" if self.single_table else "multi"

    def fingerprints(self) -> dict[str, str]:
        """Content fingerprints of the inputs (per table once the data was loaded)."""
        if "dataset" in self._memory or self._cache_path("dataset", "meta.pkl").exists():
            found = dict(getattr(self.dataset, "fingerprints", {}) or {})
            if found:
                return found
        if _is_url(self.data):
            return {"data": self.data}
        out = {"data": file_fingerprint(self.data)}
        if self.config:
            out["config"] = file_fingerprint(self.config)
        return out

    # ------------------------------------------------------------------ caching
    def _cache_path(self, *parts: str) -> Path:
        base = self.work_dir if self.work_dir is not None else Path("/nonexistent-icp-cache")
        return base.joinpath(*parts)

    def cached(self, name: str, compute: Callable[[], Any]) -> Any:
        """Return a result computed once per report run (kept in memory and in ``work_dir``).

        Parameters
        ----------
        name : str
            The cache key, e.g. ``"segments"``.
        compute : callable
            Called without arguments when the result is not cached yet.

        Examples
        --------
        >>> ctx = ReportContext.open(data=".", quarter="2025Q4")
        >>> ctx.cached("answer", lambda: 42)
        42
        """
        if name in self._memory:
            return self._memory[name]
        path = self._cache_path("results", f"{name}.pkl")
        value = None
        if self.work_dir is not None and path.exists():
            with path.open("rb") as fh:
                value = pickle.load(fh)
            logger.info("read %s from the report's work folder", name)
        else:
            value = compute()
            if self.work_dir is not None:
                try:
                    _atomic_write_bytes(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
                except (pickle.PicklingError, TypeError, AttributeError) as exc:
                    logger.warning("%s cannot be cached between notebooks: %s", name, exc)
        self._memory[name] = value
        return value

    def cached_frame(self, name: str, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """Like :meth:`cached` for a DataFrame, kept as Parquet.

        Examples
        --------
        >>> ctx = ReportContext.open(data=".", quarter="2025Q4")
        >>> ctx.cached_frame("t", lambda: pd.DataFrame({"a": [1]})).shape
        (1, 1)
        """
        if name in self._memory:
            return self._memory[name]
        path = self._cache_path("frames", f"{name}.parquet")
        if self.work_dir is not None and path.exists():
            frame = pd.read_parquet(path)
        else:
            frame = compute()
            if self.work_dir is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                frame.to_parquet(tmp, index=False)
                os.replace(tmp, path)
        self._memory[name] = frame
        return frame

    # ------------------------------------------------------------------ data
    @property
    def dataset(self) -> Any:
        """The loaded, validated :class:`~icp.dataset.Dataset` (validated once per run)."""
        if "dataset" not in self._memory:
            from icp.report.data import load_dataset

            self._memory["dataset"] = load_dataset(self)
        return self._memory["dataset"]

    def snapshot(self, as_of: dt.date | str | None = None) -> pd.DataFrame:
        """The point-in-time snapshot at ``as_of`` (default: the quarter's end), built once per run.

        In the single-table form this is the customers table with its outcome.
        """
        from icp.report.data import build_snapshot

        when = pd.Timestamp(as_of or self.as_of).date()
        return self.cached_frame(f"snapshot_{when.isoformat()}", lambda: build_snapshot(self, when))

    # ------------------------------------------------------------------ outputs
    def write_result(self, name: str, value: Any) -> Path | None:
        """Write one output file into ``results_dir`` (CSV for frames, JSON otherwise).

        Does nothing (returns None) when the notebook runs without a results folder.

        Examples
        --------
        >>> ctx = ReportContext.open(data=".", quarter="2025Q4")
        >>> ctx.write_result("x.csv", pd.DataFrame({"a": [1]})) is None
        True
        """
        if self.results_dir is None:
            return None
        from icp.report.data import write_file

        return write_file(self.results_dir / name, value)


def _atomic_write_bytes(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as fh:
        fh.write(payload)
    os.replace(tmp, path)
