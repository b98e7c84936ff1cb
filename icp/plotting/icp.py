"""Figures of ICP discovery: the churn evidence per rule and the fit-score tiers."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_rule_evidence", "plot_tier_coverage"]


def plot_rule_evidence(result, *, ax=None, **kwargs):
    """Churn rate with its Wilson 95% interval for each confirmed rule, against everyone else.

    Parameters
    ----------
    result : IcpResult
        Output of ``icp.discover_icp``.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when absent.
    **kwargs
        Passed to ``ax.barh``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    rules = result.rules[result.rules["confirmed"]] if len(result.rules) else result.rules
    if rules.empty or "churn_rate" not in rules:
        ax.text(0.5, 0.5, "Not enough evidence: no rule held up", ha="center", va="center")
        ax.set_axis_off()
        return ax
    y = np.arange(len(rules))
    rate = rules["churn_rate"].to_numpy()
    err = np.vstack([rate - rules["churn_ci_low"], rules["churn_ci_high"] - rate])
    colours = np.where(rules["side"] == "icp", "tab:green", "tab:red")
    ax.barh(y, rate, xerr=err, color=colours, alpha=0.8, **kwargs)
    ax.axvline(float(result.membership.shape[0] and rules["rest_churn_rate"].iloc[0]), color="grey",
               linestyle="--", label="everyone else (first rule)")
    ax.set_yticks(y, [t if len(t) < 60 else t[:57] + "..." for t in rules["rule"]])
    ax.invert_yaxis()
    ax.set_xlabel("Share of accounts that churned (95% interval)")
    ax.set_title("Who churns: ICP rules (green) and anti-ICP rules (red)")
    ax.legend(loc="lower right")
    return ax


def plot_tier_coverage(result, *, ax=None, **kwargs):
    """Renewal rate with its interval per fit-score tier, on accounts the score was not fitted on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    cov = result.coverage[result.coverage["tier"].isin(list("ABCD"))]
    if "renewal_rate" not in cov:
        ax.text(0.5, 0.5, "No renewal outcome", ha="center", va="center")
        ax.set_axis_off()
        return ax
    rate = cov["renewal_rate"].to_numpy()
    err = np.vstack([rate - cov["renewal_ci_low"], cov["renewal_ci_high"] - rate])
    ax.bar(cov["tier"], rate, yerr=err, color="tab:blue", alpha=0.8, **kwargs)
    for x, (share, r) in enumerate(zip(cov["share_accounts"], rate)):
        ax.annotate(f"{100 * share:.0f}% of accounts", (x, r), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 8), textcoords="offset points")
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("Fit tier")
    ax.set_ylabel("Renewal rate (95% interval)")
    ax.set_title("Higher fit tiers renew more often")
    return ax
