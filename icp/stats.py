"""Small, general statistics shared by the analyses: proportion intervals and multiple testing.

Every analysis that reports a rate (churn rate of a segment, renewal rate of a
grade, churn inside and outside an ICP rule) reports it with a Wilson score
interval, which behaves well for small groups and for rates near 0 or 1, where
the textbook normal interval collapses to a width of zero or leaves [0, 1].
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["wilson_interval", "benjamini_hochberg"]


def _z(confidence: float) -> float:
    if not (isinstance(confidence, (int, float)) and 0.0 < float(confidence) < 1.0):
        raise ValueError(
            f"The confidence level must be a number strictly between 0 and 1. "
            f"Got {confidence!r} instead. Use for example 0.95 for a 95% interval."
        )
    return float(stats.norm.ppf(0.5 + float(confidence) / 2.0))


def wilson_interval(successes, n, confidence: float = 0.95):
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    successes : int or array-like of int
        Number of successes (for example churned accounts). Must lie in ``[0, n]``.
    n : int or array-like of int
        Number of trials (accounts). Where ``n`` is 0 the interval is ``(nan, nan)``.
    confidence : float, default 0.95
        Coverage of the interval, strictly between 0 and 1.

    Returns
    -------
    (low, high) : tuple of float, or tuple of numpy arrays
        Lower and upper bounds, always inside ``[0, 1]``. Scalars in give floats
        out; arrays (or pandas Series) in give arrays out, broadcast together.

    Raises
    ------
    ValueError
        When a count is negative, ``successes`` exceeds ``n``, or the confidence
        level is outside (0, 1).

    Notes
    -----
    With :math:`\\hat p = s / n` and :math:`z` the normal quantile,

    .. math:: \\frac{\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    (Wilson, 1927). Unlike the normal approximation it never leaves [0, 1] and
    keeps a useful width when no or all trials succeed.

    Examples
    --------
    >>> from icp.stats import wilson_interval
    >>> low, high = wilson_interval(12, 100)
    >>> round(low, 4), round(high, 4)
    (0.07, 0.1981)
    >>> wilson_interval(0, 20)[0]
    0.0
    """
    z = _z(confidence)
    scalar = np.ndim(successes) == 0 and np.ndim(n) == 0
    s = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    if np.any(np.isnan(s)) or np.any(np.isnan(m)):
        raise ValueError(
            "The counts for a Wilson interval must not be missing. "
            "Expected whole numbers of successes and trials. "
            "Drop or fill the missing counts first."
        )
    if np.any(s < 0) or np.any(m < 0) or np.any(s > m):
        raise ValueError(
            "The counts for a Wilson interval must satisfy 0 <= successes <= n. "
            f"Found successes={successes!r} and n={n!r}. "
            "Check that successes and trials were not swapped."
        )
    s, m = np.broadcast_arrays(s, m)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = s / m
        denom = 1.0 + z * z / m
        centre = (p + z * z / (2.0 * m)) / denom
        half = z * np.sqrt(p * (1.0 - p) / m + z * z / (4.0 * m * m)) / denom
        low = np.clip(centre - half, 0.0, 1.0)
        high = np.clip(centre + half, 0.0, 1.0)
    # exact bounds at the edges (rounding would otherwise give 1e-17)
    low = np.where(s == 0, 0.0, low)
    high = np.where(s == m, 1.0, high)
    low = np.where(m == 0, np.nan, low)
    high = np.where(m == 0, np.nan, high)
    if scalar:
        return float(low), float(high)
    return low, high


def benjamini_hochberg(p_values, *, alpha: float = 0.05):
    """Benjamini-Hochberg adjusted p-values (false discovery rate control).

    Parameters
    ----------
    p_values : array-like of float
        Raw p-values in ``[0, 1]``. Missing values stay missing and are not
        counted as tests.
    alpha : float, default 0.05
        The false discovery rate at which ``rejected`` is computed.

    Returns
    -------
    adjusted : numpy.ndarray
        Adjusted p-values (q-values), in the input order; a test is a discovery
        at rate ``alpha`` when its adjusted p-value is at most ``alpha``.
    rejected : numpy.ndarray of bool
        Whether each hypothesis is rejected at ``alpha``.

    Examples
    --------
    >>> from icp.stats import benjamini_hochberg
    >>> q, rejected = benjamini_hochberg([0.01, 0.04, 0.03, 0.20])
    >>> [round(float(v), 3) for v in q]
    [0.04, 0.053, 0.053, 0.2]
    >>> rejected.tolist()
    [True, False, False, False]
    """
    if not (0.0 < float(alpha) < 1.0):
        raise ValueError(
            f"The 'alpha' level must be strictly between 0 and 1. Got {alpha!r} instead. "
            "Use for example 0.05."
        )
    p = np.asarray(pd.Series(p_values, dtype=float).to_numpy(), dtype=float)
    if np.any((p < 0) | (p > 1)):
        raise ValueError(
            "P-values must lie between 0 and 1. "
            f"Found values from {np.nanmin(p):g} to {np.nanmax(p):g}. "
            "Check that scores or statistics were not passed instead of p-values."
        )
    adjusted = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m:
        values = p[ok]
        order = np.argsort(values, kind="mergesort")
        ranked = values[order] * m / np.arange(1, m + 1)
        # enforce monotonicity from the largest p-value down
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        out = np.empty(m)
        out[order] = np.minimum(ranked, 1.0)
        adjusted[ok] = out
    rejected = np.where(ok, adjusted <= alpha, False)
    return adjusted, rejected
