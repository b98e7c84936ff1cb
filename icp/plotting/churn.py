"""Figures of the churn-risk model: calibration, lift by decile, retention by band, drivers."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["plot_calibration", "plot_lift", "plot_retention_by_band", "plot_drivers"]


def _ax(ax: Any) -> Any:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_calibration(result: Any, *, ax: Any = None, n_bins: int = 10) -> Any:
    """Predicted against observed churn rate for the model and the baseline (a BacktestResult).

    Examples
    --------
    >>> plot_calibration(result)  # doctest: +SKIP
    """
    ax = _ax(ax)
    for which, style in (("model", "o-"), ("baseline", "s--")):
        table = result.calibration(which, n_bins=n_bins)
        ax.plot(table["predicted"], table["observed"], style, label=which)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, label="perfect")
    ax.set(title="Are the churn probabilities right?", xlabel="Predicted churn probability",
           ylabel="Share that actually churned")
    ax.legend()
    return ax


def plot_lift(result: Any, *, ax: Any = None) -> Any:
    """Churn rate per risk decile against the average (a BacktestResult).

    Examples
    --------
    >>> plot_lift(result)  # doctest: +SKIP
    """
    ax = _ax(ax)
    table = result.lift("model")
    ax.bar(table["decile"], table["observed"], color="tab:red")
    ax.axhline(result.predictions["churned"].mean(), color="grey", ls="--", label="average churn rate")
    ax.set(title="Churn rate by risk decile (1 = highest risk)", xlabel="Risk decile", ylabel="Churn rate")
    ax.legend()
    return ax


def plot_retention_by_band(survival: Any, *, ax: Any = None) -> Any:
    """Kaplan-Meier retention curves per risk band (a SurvivalByBand).

    Examples
    --------
    >>> plot_retention_by_band(km)  # doctest: +SKIP
    """
    ax = _ax(ax)
    for band, curve in survival.curves.groupby("risk_band", sort=False):
        ax.step(curve["days"], curve["retained"], where="post", label=str(band))
        ax.fill_between(curve["days"], curve["lower"], curve["upper"], step="post", alpha=0.15)
    ax.set(title="Customers still with us, by risk band", xlabel="Days after scoring",
           ylabel="Share retained", ylim=(0, 1.02))
    ax.legend(title="Risk band")
    return ax


def plot_drivers(drivers: pd.DataFrame, *, ax: Any = None, top: int = 12) -> Any:
    """The strongest overall churn drivers (from icp.reasons.drivers).

    Examples
    --------
    >>> plot_drivers(drivers(model, snapshot))  # doctest: +SKIP
    """
    ax = _ax(ax)
    table = drivers.head(top).iloc[::-1]
    colors = ["tab:red" if "raises" in str(d) else "tab:blue" if "lowers" in str(d) else "grey"
              for d in table["direction"]]
    ax.barh(table["label"], table["importance"], color=colors)
    ax.set(title="What drives churn risk", xlabel="Average push on the churn score (log-odds)", ylabel="")
    return ax
