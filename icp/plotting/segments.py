"""Figures for customer segments: the 2-D map, retention curves and the profile heat-map."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["plot_segment_map", "plot_segment_retention", "plot_segment_profiles"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 6))
    return ax


def plot_segment_map(data: pd.DataFrame, *, segmenter: Any, ax=None, color_by: str = "segment",
                     method: str = "pca", names: dict | None = None, max_points: int = 5000,
                     random_state: int = 0, **kwargs):
    """A 2-D map of the accounts in the segmentation space, coloured by segment or by churn.

    Parameters
    ----------
    data : pandas.DataFrame
        A snapshot holding the segmenter's features (and ``churned`` to colour by churn).
    segmenter : CustomerSegmenter
        A fitted segmenter.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when absent.
    color_by : {"segment", "churn"}, default "segment"
        Colour the accounts by segment, or by whether they churned.
    method : {"pca", "tsne"}, default "pca"
        PCA (fast, axes keep their meaning) or t-SNE (local neighbourhoods).
    names : dict, optional
        Segment -> name for the legend.
    max_points : int, default 5000
        A seeded subsample is drawn when there are more accounts.
    random_state : int, default 0
        Seed of the subsample and of t-SNE.
    **kwargs
        Passed to ``Axes.scatter``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from icp.segments import CustomerSegmenter
    >>> from icp.plotting.segments import plot_segment_map
    >>> frame = pd.DataFrame({"a": np.r_[np.zeros(20), np.ones(20)] + np.linspace(0, .1, 40),
    ...                       "b": np.linspace(0, 1, 40)})
    >>> seg = CustomerSegmenter(n_clusters=2, features=["a", "b"], n_bootstrap=0, random_state=0)
    >>> ax = plot_segment_map(frame, segmenter=seg.fit(frame))
    >>> ax.get_xlabel()
    'First principal component'
    """
    if color_by not in ("segment", "churn"):
        raise ValueError(f"color_by must be 'segment' or 'churn'. Got {color_by!r} instead.")
    if method not in ("pca", "tsne"):
        raise ValueError(f"method must be 'pca' or 'tsne'. Got {method!r} instead.")
    ax = _axes(ax)
    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(len(data), size=max_points, replace=False)) if len(data) > max_points else np.arange(len(data))
    frame = data.iloc[rows]
    Z = segmenter.transform(frame)
    if method == "pca":
        from sklearn.decomposition import PCA

        xy = PCA(n_components=2, random_state=random_state).fit_transform(Z)
        xlabel, ylabel = "First principal component", "Second principal component"
    else:
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits

        # one thread: t-SNE's OpenMP threads spin badly on a shared machine
        with threadpool_limits(limits=1):
            xy = TSNE(n_components=2, random_state=random_state, init="pca",
                      perplexity=min(30.0, max(5.0, (len(Z) - 1) / 3))).fit_transform(Z)
        xlabel, ylabel = "t-SNE 1", "t-SNE 2"
    kwargs.setdefault("s", 8)
    kwargs.setdefault("alpha", 0.7)
    if color_by == "segment":
        labels = segmenter.predict(frame)
        names = names or {}
        for s in np.unique(labels):
            inside = labels == s
            ax.scatter(xy[inside, 0], xy[inside, 1], label=names.get(int(s), f"Segment {s}"), **kwargs)
        ax.set_title("Customer segments")
    else:
        if "churned" not in frame.columns:
            raise ValueError(
                "Colouring by churn needs the column 'churned'. Expected a snapshot with outcomes. "
                "Use color_by='segment' instead."
            )
        churned = frame["churned"].astype("boolean").fillna(False).to_numpy(bool)
        ax.scatter(xy[~churned, 0], xy[~churned, 1], label="Stayed", color="#9ab", **kwargs)
        ax.scatter(xy[churned, 0], xy[churned, 1], label="Churned", color="#c33", **kwargs)
        ax.set_title("Who churned, on the segment map")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", fontsize="small", markerscale=2)
    return ax


def plot_segment_retention(data, *, ax=None, show_ci: bool = True, **kwargs):
    """Kaplan-Meier retention curves per segment (from :func:`icp.segment_profiles.segment_retention`).

    Parameters
    ----------
    data : SegmentRetention
        From :func:`icp.segment_profiles.segment_retention`.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when absent.
    show_ci : bool, default True
        Shade the 95% confidence band.
    **kwargs
        Passed to ``Axes.step``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.segment_profiles import segment_retention
    >>> from icp.plotting.segments import plot_segment_retention
    >>> frame = pd.DataFrame({"tenure": [1, 5, 9, 20, 30, 40], "churned": [1, 1, 0, 0, 0, 1]})
    >>> ax = plot_segment_retention(segment_retention(frame, [0, 0, 0, 1, 1, 1], duration="tenure"))
    >>> ax.get_ylabel()
    'Share of accounts still customers'
    """
    ax = _axes(ax)
    for (_, name), curve in data.curves.groupby(["segment", "segment_name"], sort=True):
        line = ax.step(curve["time"], curve["retention"], where="post", label=name, **kwargs)[0]
        if show_ci:
            ax.fill_between(curve["time"], curve["ci_low"], curve["ci_high"], step="post",
                            alpha=0.15, color=line.get_color())
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"Time ({data.time_unit})")
    ax.set_ylabel("Share of accounts still customers")
    p = data.logrank_p_value
    ax.set_title("Retention by segment" + (f" (log-rank p = {p:.2g})" if np.isfinite(p) else ""))
    ax.legend(loc="lower left", fontsize="small")
    return ax


def plot_segment_profiles(data, *, ax=None, max_features: int = 12, **kwargs):
    """Heat-map of what sets each segment apart (standardised differences against the rest).

    Parameters
    ----------
    data : SegmentProfiles
        From :func:`icp.segment_profiles.profile_segments`.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when absent.
    max_features : int, default 12
        The numeric features with the largest differences are shown.
    **kwargs
        Passed to ``Axes.imshow``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.segment_profiles import profile_segments
    >>> from icp.plotting.segments import plot_segment_profiles
    >>> frame = pd.DataFrame({"tickets_per_quarter": [1.0, 1.2, 0.9, 8.0, 9.0, 7.5],
    ...                       "events_90d": [10, 12, 11, 30, 2, 9]})
    >>> ax = plot_segment_profiles(profile_segments(frame, [0, 0, 0, 1, 1, 1]))
    >>> ax.get_title()
    'What sets each segment apart'
    """
    ax = _axes(ax)
    numeric = data.distinguishing[data.distinguishing["kind"] == "numeric"]
    grid = numeric.pivot_table(index="segment", columns="feature", values="effect")
    order = grid.abs().max().sort_values(ascending=False, kind="mergesort").index[:max_features]
    grid = grid[order]
    kwargs.setdefault("cmap", "RdBu_r")
    image = ax.imshow(grid.to_numpy(), aspect="auto", vmin=-2, vmax=2, **kwargs)
    ax.set_xticks(range(len(order)), [c.replace("_", " ") for c in order], rotation=45, ha="right")
    ax.set_yticks(range(len(grid)), [data.names.get(int(s), f"Segment {s}") for s in grid.index])
    for (i, j), value in np.ndenumerate(grid.to_numpy()):
        if np.isfinite(value):
            ax.text(j, i, f"{value:+.1f}", ha="center", va="center", fontsize="x-small",
                    color="white" if abs(value) > 1.2 else "black")
    ax.figure.colorbar(image, ax=ax, label="Difference from the other accounts (standard deviations)")
    ax.set_title("What sets each segment apart")
    return ax
