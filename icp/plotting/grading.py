"""Figures of customer grading: distribution, migration, validity and the account managers' view."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from icp.worksheet import CADENCES, GRADES

__all__ = [
    "plot_grade_distribution",
    "plot_grade_migration",
    "plot_grade_validity",
    "plot_am_comparison",
]

GRADE_COLOURS = {"A": "#1b7837", "B": "#7fbf7b", "C": "#f1a340", "D": "#b2182b"}


def _axes(ax: Axes | None, size: tuple[float, float] = (6.4, 4.0)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def plot_grade_distribution(result: Any, *, by: str = "accounts", ax: Axes | None = None,
                            **kwargs: Any) -> Axes:
    """Stacked bars of accounts (or ARR) per grade, one bar per cadence.

    Parameters
    ----------
    result : GradeResult
        From :func:`icp.grading.grade_accounts`.
    by : {"accounts", "arr"}, default "accounts"
        Share of accounts or share of ARR.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.
    **kwargs
        Passed to ``Axes.bar``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.grading import grade_accounts
    >>> from icp.plotting.grading import plot_grade_distribution
    >>> snap = pd.DataFrame({"account_id": list("abcd"), "arr_usd": [4, 3, 2, 1]})
    >>> ax = plot_grade_distribution(grade_accounts(snap))
    """
    ax = _axes(ax)
    column = {"accounts": "share_of_accounts", "arr": "share_of_arr"}[by]
    table = result.summary.pivot(index="cadence", columns="grade", values=column)
    table = table.reindex(index=list(CADENCES), columns=list(GRADES)).fillna(0.0)
    bottom = np.zeros(len(table))
    for grade in GRADES:
        values = table[grade].to_numpy()
        ax.bar(table.index, values, bottom=bottom, color=GRADE_COLOURS[grade], label=grade, **kwargs)
        for x, (b, v) in enumerate(zip(bottom, values)):
            if v >= 0.05:
                ax.text(x, b + v / 2, f"{v:.0%}", ha="center", va="center", fontsize=8)
        bottom += values
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of ARR" if by == "arr" else "share of accounts")
    ax.set_xlabel("grade")
    ax.set_title("How customers are graded" + (" (by ARR)" if by == "arr" else ""))
    ax.legend(title="grade", bbox_to_anchor=(1.01, 1), loc="upper left")
    return ax


def plot_grade_migration(migration: Any, *, value: str = "counts", ax: Axes | None = None,
                         **kwargs: Any) -> Axes:
    """Heat-map of the grade-migration matrix between two gradings.

    Parameters
    ----------
    migration : GradeMigration
        From :func:`icp.grading.grade_migration`.
    value : {"counts", "arr"}, default "counts"
        Number of accounts or ARR in each cell.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.
    **kwargs
        Passed to ``Axes.imshow``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.grading import grade_migration
    >>> from icp.plotting.grading import plot_grade_migration
    >>> m = grade_migration(pd.Series({"x": "A", "y": "C"}), pd.Series({"x": "B", "y": "C"}))
    >>> ax = plot_grade_migration(m)
    """
    ax = _axes(ax, (5.6, 4.6))
    matrix = migration.arr if value == "arr" else migration.counts
    data = matrix.to_numpy(dtype=float)
    image = ax.imshow(data, cmap=kwargs.pop("cmap", "Blues"), aspect="auto", **kwargs)
    peak = data.max() if data.size and data.max() > 0 else 1.0
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            text = f"${data[i, j] / 1e3:,.0f}k" if value == "arr" else f"{int(data[i, j]):,}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if data[i, j] > peak * 0.6 else "black")
    ax.set_xticks(range(len(matrix.columns)), [str(c) for c in matrix.columns])
    ax.set_yticks(range(len(matrix.index)), [str(i) for i in matrix.index])
    ax.set_xlabel("grade after")
    ax.set_ylabel("grade before")
    what = "ARR" if value == "arr" else "accounts"
    ax.set_title(f"How {migration.cadence} grades moved ({what})")
    ax.figure.colorbar(image, ax=ax, label="ARR (USD)" if value == "arr" else "accounts")
    return ax


def plot_grade_validity(validity: Any, *, metric: str | None = None, cadence: str | None = None,
                        ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Bars of an outcome per grade with their intervals (the validity backtest).

    Parameters
    ----------
    validity : GradeValidity
        From :func:`icp.grading.grade_validity`.
    metric : str, optional
        The metric to show; the verdict metric (renewal rate when known) when None.
    cadence : str, optional
        One cadence; all cadences side by side when None.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.
    **kwargs
        Passed to ``Axes.bar``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.grading import grade_validity
    >>> from icp.plotting.grading import plot_grade_validity
    >>> g = pd.DataFrame({"account_id": list("abcd"), "annual_grade": list("AADD")})
    >>> o = pd.DataFrame({"account_id": list("abcd"), "churned": [False, False, True, False]})
    >>> ax = plot_grade_validity(grade_validity(g, o))
    """
    ax = _axes(ax)
    table = validity.table
    metric = metric or (validity.verdicts["metric"].iloc[0] if len(validity.verdicts)
                        else table["metric"].iloc[0])
    table = table[table["metric"] == metric]
    cadences = [cadence] if cadence else [c for c in CADENCES if c in set(table["cadence"])]
    width = 0.8 / max(len(cadences), 1)
    x = np.arange(len(GRADES))
    for k, name in enumerate(cadences):
        rows = table[table["cadence"] == name].set_index("grade").reindex(list(GRADES))
        value = rows["value"].to_numpy(dtype=float)
        err = np.vstack([value - rows["low"].to_numpy(dtype=float),
                         rows["high"].to_numpy(dtype=float) - value])
        ax.bar(x + (k - (len(cadences) - 1) / 2) * width, value, width, yerr=err, capsize=3,
               label=name, alpha=0.85, **kwargs)
    ax.set_xticks(x, list(GRADES))
    ax.set_xlabel("grade at the grading date")
    label = metric.replace("_", " ")
    ax.set_ylabel(label)
    ax.set_title(f"Do better grades do better afterwards? ({label}, 95% intervals)")
    if len(cadences) > 1:
        ax.legend(title="cadence")
    return ax


def plot_am_comparison(comparison: Any, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Scatter of the analytical total against the account managers' eagerness.

    Parameters
    ----------
    comparison : AMComparison
        From :func:`icp.grading.compare_with_account_managers`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.
    **kwargs
        Passed to ``Axes.scatter``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.grading import grade_accounts, compare_with_account_managers
    >>> from icp.plotting.grading import plot_am_comparison
    >>> snap = pd.DataFrame({"account_id": list("abcd"), "arr_usd": [4, 3, 2, 1],
    ...                      "am_eagerness": [5, 3, 4, 1]})
    >>> ax = plot_am_comparison(compare_with_account_managers(grade_accounts(snap), snap))
    """
    ax = _axes(ax)
    points = comparison.points
    # A little jitter: eagerness is a 1-5 score and the dots would hide each other.
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(points))
    size = kwargs.pop("s", 12)
    for grade in GRADES:
        mask = (points["grade"] == grade).to_numpy()
        ax.scatter(points.loc[mask, "am_eagerness"] + jitter[mask],
                   points.loc[mask, "analytical_total"], s=size,
                   color=GRADE_COLOURS[grade], label=grade, alpha=0.6, **kwargs)
    rho = comparison.overall["spearman"]
    ax.set_xlabel("account manager's eagerness to call on them (1-5)")
    ax.set_ylabel(f"analytical {comparison.cadence} score (0-100)")
    ax.set_title(f"Analytical grade against the account managers' view (Spearman {rho:.2f})")
    ax.legend(title="grade")
    return ax
