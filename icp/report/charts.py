"""Charts of the report notebooks, in plain language for leadership.

Every function follows the house shape ``plot_x(data, *, ax=None) -> Axes``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["plot_missing_share", "plot_segment_churn", "plot_outside_icp", "plot_risk_bands",
           "plot_top_risks", "plot_tiers", "table"]


def _axes(ax: Any, size: tuple[float, float] = (7.5, 4.0)) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)[1]


def _finish(ax: Any, title: str, xlabel: str, ylabel: str = "") -> Any:
    ax.set_title(title, loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_missing_share(frame: pd.DataFrame, *, top: int = 15, ax: Any = None) -> Any:
    """Share of missing values per column (the most incomplete first).

    Examples
    --------
    >>> plot_missing_share(pd.DataFrame({"a": [1, None], "b": [1, 2]})).get_title(loc="left")
    'How complete is the data? Share of customers with no value'
    """
    share = frame.isna().mean().sort_values(ascending=False).head(top)[::-1]
    ax = _axes(ax)
    ax.barh(share.index.astype(str), share.to_numpy(), color="#1e5aa8")
    ax.set_xlim(0, max(0.05, float(share.max()) * 1.2))
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    return _finish(ax, "How complete is the data? Share of customers with no value", "Share missing")


def plot_segment_churn(profiles: pd.DataFrame, *, ax: Any = None) -> Any:
    """Churn rate per segment with its 95% interval.

    Examples
    --------
    >>> p = pd.DataFrame({"segment_name": ["A"], "churn_rate": [.2], "churn_ci_low": [.1], "churn_ci_high": [.3]})
    >>> plot_segment_churn(p).get_xlabel()
    'Share of accounts that churned within a year (95% interval)'
    """
    p = profiles.sort_values("churn_rate")
    ax = _axes(ax)
    err = [p["churn_rate"] - p["churn_ci_low"], p["churn_ci_high"] - p["churn_rate"]]
    ax.barh(p["segment_name"].astype(str), p["churn_rate"], xerr=err, color="#1e5aa8", capsize=3)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    return _finish(ax, "Which segments leave? Churn rate by segment",
                   "Share of accounts that churned within a year (95% interval)")


def plot_outside_icp(leadership: pd.DataFrame, *, ax: Any = None) -> Any:
    """Share of accounts, ARR, churned ARR, write-offs and tickets outside the ICP.

    Examples
    --------
    >>> lead = pd.DataFrame({"measure": ["ARR"], "outside_icp": [.4], "anti_icp": [.1]})
    >>> plot_outside_icp(lead).get_title(loc="left")
    'What the customers outside our ICP cost us'
    """
    lead = leadership.set_index("measure")[::-1]
    ax = _axes(ax)
    ax.barh(lead.index.astype(str), lead["outside_icp"], color="#b42318", label="outside the ICP")
    if "anti_icp" in lead:
        ax.barh(lead.index.astype(str), lead["anti_icp"], color="#7a1a12", label="of which anti-ICP")
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _finish(ax, "What the customers outside our ICP cost us", "Share of the company-wide total")


def plot_risk_bands(scores: pd.DataFrame, *, ax: Any = None) -> Any:
    """ARR expected to churn per risk band, riskiest band on top (expected churners when there is no ARR).

    Examples
    --------
    >>> s = pd.DataFrame({"risk_band": ["low", "high"], "churn_probability": [.1, .4],
    ...                   "arr_at_risk_usd": [10.0, 50.0]})
    >>> plot_risk_bands(s).get_ylabel()
    'Churn-risk band'
    """
    money = "arr_at_risk_usd" in scores and scores["arr_at_risk_usd"].notna().any()
    key = "arr_at_risk_usd" if money else "churn_probability"
    grouped = scores.groupby(scores["risk_band"].astype(str))
    by = grouped[key].sum()
    if "churn_probability" in scores:  # the bands in order of risk, whatever their names
        by = by.reindex(grouped["churn_probability"].mean().sort_values().index)
    ax = _axes(ax)
    ax.barh(by.index, by.to_numpy(), color="#c2410c")
    if money:
        ax.xaxis.set_major_formatter(lambda v, _: f"${v / 1e3:,.0f}k")
        return _finish(ax, "How much ARR could we lose? Expected loss by risk band",
                       "ARR at risk (churn probability x ARR)", "Churn-risk band")
    return _finish(ax, "How many customers could we lose? Expected churners by risk band",
                   "Expected churners (sum of the churn probabilities)", "Churn-risk band")


def table(frame: pd.DataFrame, *, index: bool = False) -> Any:
    """A table for readers: every text shown in full, shares as percentages, money in dollars.

    Columns named like ``*_usd`` are shown in dollars; ``*probability*``, ``*share*``
    and ``*_rate`` as percentages.

    Examples
    --------
    >>> html = table(pd.DataFrame({"account_id": ["a"], "churn_probability": [.25]})).to_html()
    >>> "25%" in html
    True
    """
    formats: dict[str, Any] = {}
    for col in frame.columns:
        name = str(col).lower()
        if not pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col]):
            continue
        if name.endswith("_usd"):
            formats[col] = lambda v: "n/a" if pd.isna(v) else f"${v:,.0f}"
        elif "probability" in name or "share" in name or name.endswith("_rate"):
            formats[col] = lambda v: "n/a" if pd.isna(v) else f"{v:.0%}"
    styled = frame.style.format(formats, precision=2, thousands=",")
    styled = styled.set_properties(**{"text-align": "left", "white-space": "normal"})
    return styled if index else styled.hide(axis="index")


def plot_top_risks(scores: pd.DataFrame, *, top: int = 15, ax: Any = None) -> Any:
    """The accounts with the most ARR at risk (the highest churn probability when the data has no ARR).

    Examples
    --------
    >>> s = pd.DataFrame({"account_id": ["a"], "arr_at_risk_usd": [5.0]})
    >>> plot_top_risks(s).get_title(loc="left")
    'The accounts with the most ARR at risk'
    >>> s = pd.DataFrame({"account_id": ["a"], "churn_probability": [.4], "arr_at_risk_usd": [None]})
    >>> plot_top_risks(s).get_xlabel()
    'Churn probability'
    """
    money = "arr_at_risk_usd" in scores and scores["arr_at_risk_usd"].notna().any()
    key = "arr_at_risk_usd" if money else "churn_probability"
    s = scores.nlargest(top, key)[::-1]
    ax = _axes(ax, (7.5, 0.3 * len(s) + 1.2))
    ax.barh(s["account_id"].astype(str), s[key], color="#c2410c")
    if money:
        ax.xaxis.set_major_formatter(lambda v, _: f"${v / 1e3:,.0f}k")
        return _finish(ax, "The accounts with the most ARR at risk", "ARR at risk (USD)", "Account")
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    return _finish(ax, "The customers most likely to churn", "Churn probability", "Customer")


def plot_tiers(scores: pd.DataFrame, *, ax: Any = None) -> Any:
    """How many accounts or prospects fall in each ICP-fit tier.

    Examples
    --------
    >>> plot_tiers(pd.DataFrame({"tier": ["A", "B", "B"]})).get_xlabel()
    'ICP-fit tier (A fits best)'
    """
    counts = scores["tier"].astype(str).value_counts().sort_index()
    ax = _axes(ax)
    ax.bar(counts.index, counts.to_numpy(), color="#1e5aa8")
    return _finish(ax, "How well do they fit our ICP?", "ICP-fit tier (A fits best)", "Number")
