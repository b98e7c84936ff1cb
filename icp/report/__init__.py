"""The quarterly report: a suite of thin notebooks run with papermill, and what they share.

``icp report DATA --quarter 2025Q4`` runs the notebooks in ``notebooks/`` with
:func:`run_report` and writes ``reports/2025Q4/``. The package is laid out by role:

=====================  ==================================================================
``params``             the quarter (``YYYYQn``), strict notebook parameters and the lint
                       every committed notebook passes
``provenance``         versions, git commit, input fingerprints (each notebook's last cell)
``context``            :class:`~icp.report.context.ReportContext`: a notebook's checked
                       parameters and the inputs and results shared within one run
``data``               loading the data once per run, result files written atomically
``analyses``           the analyses the notebooks show, computed once per run
``churn``              the churn-risk analysis: out-of-time (or out-of-fold) quality and
                       the risk list, fitting the model as few times as possible
``charts``             the report's charts in plain language
``summary``            the leadership summary and its recommended actions
``runner``             running the suite: parallel notebooks, progress, manifest
``prepare``            the shared steps computed before the notebooks start
``worker``             what a worker process does: execute one notebook, export HTML
``build``              the report folder, written atomically
``html``, ``deck``     HTML without code, ``index.html`` and the leadership deck
``suite.yaml``         which notebooks the suite runs, in what order, for which form
``templates/``         the Jinja templates of ``index.html`` and the deck
=====================  ==================================================================

Every notebook opens its :class:`~icp.report.context.ReportContext` with
:func:`validate_parameters` right after its ``parameters`` cell and ends with
:func:`provenance`. This module stays light (the notebooks and every worker import it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from icp.report.params import (
    COMMON_PARAMETERS,
    NotebookParameter,
    check_notebook,
    coerce_parameters,
    lint_notebook,
    parse_quarter,
    quarter_end,
    read_parameters,
)
from icp.report.provenance import Provenance, file_fingerprint, git_commit, provenance, versions

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
        The notebook's own parameters, checked against :data:`icp.report.context.OPTION_RULES`.

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
    from icp.report.context import ReportContext

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
    """Run the notebook suite and write ``<out>/<quarter>/``; see :func:`icp.report.runner.run_report`.

    Examples
    --------
    >>> result = run_report("data/sample", quarter="2025Q4", out="reports")  # doctest: +SKIP
    >>> result.status  # doctest: +SKIP
    'complete'
    """
    from icp.report.runner import run_report as _run

    return _run(data, quarter=quarter, **kwargs)
