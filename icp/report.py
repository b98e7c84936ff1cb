"""The quarterly report: parameters, notebook checks and provenance.

The report is a suite of thin notebooks in ``notebooks/`` run with papermill by
:func:`run_report` (see :mod:`icp.report_runner`). This module holds what the
notebooks and the runner share:

* the quarter (``YYYYQn``) and its end date, the analysis date ``as_of``;
* strict parameters: each notebook declares its parameters in exactly one cell
  tagged ``parameters`` (literal, annotated defaults with a help comment); a
  parameter that a notebook does not declare, or a value of the wrong type, is an
  error, never a warning;
* :func:`lint_notebook`, the check every committed notebook passes (no outputs,
  exactly one parameters cell, literal annotated defaults, help comments);
* :func:`validate_parameters`, called by every notebook right after its
  parameters cell, which returns the :class:`~icp.report_context.ReportContext`;
* :func:`provenance`, the last cell of every notebook.

Parameters and lint live in :mod:`icp.report_params`, provenance in
:mod:`icp.report_provenance`; both are re-exported here.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from icp.exceptions import SchemaError
from icp.report_params import (
    COMMON_PARAMETERS,
    NotebookParameter,
    check_notebook,
    coerce_parameters,
    lint_notebook,
    read_parameters,
)
from icp.report_provenance import Provenance, file_fingerprint, git_commit, provenance, versions

__all__ = [
    "COMMON_PARAMETERS",
    "NotebookParameter",
    "Provenance",
    "check_notebook",
    "coerce_parameters",
    "file_fingerprint",
    "git_commit",
    "lint_notebook",
    "parse_quarter",
    "provenance",
    "quarter_end",
    "read_parameters",
    "run_report",
    "validate_parameters",
    "versions",
]

QUARTER_PATTERN = re.compile(r"^(\d{4})Q([1-4])$")

# --------------------------------------------------------------------------- quarters


def parse_quarter(quarter: str) -> tuple[int, int]:
    """Split a fiscal quarter ``YYYYQn`` into its year and number.

    Parameters
    ----------
    quarter : str
        For example ``"2025Q2"``.

    Returns
    -------
    tuple of int
        ``(year, quarter_number)``.

    Examples
    --------
    >>> parse_quarter("2025Q2")
    (2025, 2)
    """
    match = QUARTER_PATTERN.match(str(quarter).strip()) if isinstance(quarter, str) else None
    if match is None:
        raise SchemaError(
            f"The quarter must be written as YYYYQn with n from 1 to 4. Got {quarter!r} instead. "
            "Write it like 2025Q2 (the second quarter of 2025)."
        )
    return int(match.group(1)), int(match.group(2))


def quarter_end(quarter: str) -> dt.date:
    """The last day of a fiscal quarter: the report's analysis date ``as_of``.

    Examples
    --------
    >>> quarter_end("2025Q2")
    datetime.date(2025, 6, 30)
    >>> quarter_end("2024Q4")
    datetime.date(2024, 12, 31)
    """
    year, number = parse_quarter(quarter)
    first_of_next = dt.date(year + (number == 4), 1 if number == 4 else 3 * number + 1, 1)
    return first_of_next - dt.timedelta(days=1)


# --------------------------------------------------------------------------- in the notebook


def validate_parameters(
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
    **options: Any,
) -> Any:
    """Check a notebook's parameters and open the report context (the second cell of every notebook).

    Parameters
    ----------
    data, quarter, config, id_column, churn, renewed, engine, work_dir, results_dir : str
        The common parameters of the suite (see the notebooks' parameters cell).
    **options
        The notebook's own parameters, checked against :data:`icp.report_context.OPTION_RULES`.

    Returns
    -------
    ReportContext
        Gives the data, snapshots and analysis results, computed once per report run.

    Examples
    --------
    >>> ctx = validate_parameters(data="data/sample", quarter="2025Q4")  # doctest: +SKIP
    >>> ctx.as_of  # doctest: +SKIP
    datetime.date(2025, 12, 31)
    """
    from icp.report_context import ReportContext

    return ReportContext.open(
        data=data,
        quarter=quarter,
        config=config,
        id_column=id_column,
        churn=churn,
        renewed=renewed,
        engine=engine,
        work_dir=work_dir,
        results_dir=results_dir,
        options=options,
    )


def run_report(data: str | Path, *, quarter: str, **kwargs: Any) -> Any:
    """Run the notebook suite and write ``<out>/<quarter>/``; see :func:`icp.report_runner.run_report`.

    Examples
    --------
    >>> result = run_report("data/sample", quarter="2025Q4", out="reports")  # doctest: +SKIP
    >>> result.status  # doctest: +SKIP
    'complete'
    """
    from icp.report_runner import run_report as _run

    return _run(data, quarter=quarter, **kwargs)
