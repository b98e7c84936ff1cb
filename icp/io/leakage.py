"""Which attributes must stay out of modelling: leaks of the outcome, identifiers and free text."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

__all__ = ["column_roles", "leakage_flags", "single_feature_auc"]

_LABEL_NAME = re.compile(r"churn|cancel|attrition|terminat|defect|lost_reason|closed_lost|renewed")
_SCORE_NAME = re.compile(r"(churn|risk|propensity|health).*(score|prob)|(score|prob).*(churn|risk)")


def column_roles(frame: pd.DataFrame, columns: Iterable[str]) -> dict[str, str]:
    """Identifier-like, free-text and empty columns among ``columns``, with the reason.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"code": [f"X{i:04d}" for i in range(50)], "size": range(50)})
    >>> column_roles(f, ["code", "size"])
    {'code': 'identifier-like: 50 distinct values in 50 rows'}
    """
    out = {}
    for c in columns:
        s = frame[c].dropna()
        n = len(s)
        if n == 0:
            out[c] = "empty: no value in any row"
            continue
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
            continue
        distinct = s.nunique()
        is_text = pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)
        id_name = re.search(r"(^|_)id$|^id|uuid|guid", c.lower()) is not None
        if is_text:
            text = s.astype(str)
            words = text.str.split().str.len().mean()
            if words >= 4 or (text.str.len().mean() >= 40 and distinct > 0.2 * n):
                out[c] = f"free text: {words:.1f} words per value on average"
            elif n >= 20 and distinct >= 0.95 * n:
                out[c] = f"identifier-like: {distinct:,} distinct values in {n:,} rows"
        elif id_name and pd.api.types.is_integer_dtype(s) and distinct >= 0.95 * n and n >= 20:
            out[c] = f"identifier-like: {distinct:,} distinct values in {n:,} rows"
    return out


def single_feature_auc(x: pd.Series, y: pd.Series, *, random_state: int = 42) -> float:
    """ROC AUC of one attribute on its own, oriented so that 0.5 is no signal and 1.0 a perfect one.

    Text values are target-encoded out of fold (5 folds), so that a column with
    many values is not rewarded for memorising. Missing values count as a value
    of their own.

    Examples
    --------
    >>> import pandas as pd
    >>> y = pd.Series([0, 0, 1, 1] * 10)
    >>> single_feature_auc(pd.Series([1.0, 2.0, 3.0, 4.0] * 10), y)
    1.0
    """
    y = y.astype(int).to_numpy()
    if len(np.unique(y)) < 2:
        return 0.5
    if pd.api.types.is_datetime64_any_dtype(x):
        x = x.astype("int64").where(x.notna())
    if pd.api.types.is_bool_dtype(x):
        x = x.astype(float)
    if pd.api.types.is_numeric_dtype(x):
        v = pd.to_numeric(x, errors="coerce").astype(float)
        fill = v.min() - 1 if v.notna().any() else 0.0
        score = v.fillna(fill).to_numpy()
    else:
        keys = x.astype(object).where(x.notna(), "__missing__").astype(str).to_numpy()
        rng = np.random.default_rng(random_state)
        folds = rng.integers(0, 5, size=len(keys))
        prior = y.mean()
        score = np.empty(len(keys))
        for k in range(5):
            train = folds != k
            rates = pd.Series(y[train]).groupby(keys[train]).agg(["sum", "count"])
            smoothed = (rates["sum"] + prior * 10) / (rates["count"] + 10)
            score[~train] = pd.Series(keys[~train]).map(smoothed).fillna(prior).to_numpy()
    auc = roc_auc_score(y, score)
    return float(max(auc, 1 - auc))


def leakage_flags(
    frame: pd.DataFrame,
    y: pd.Series | None,
    columns: Iterable[str],
    *,
    threshold: float = 0.98,
    random_state: int = 42,
) -> dict[str, str]:
    """Attributes that look like the outcome itself: by name, or by predicting it almost perfectly.

    Parameters
    ----------
    frame : DataFrame
        One row per account.
    y : Series of bool, optional
        The outcome per row (churned); without it only names are checked.
    columns : iterable of str
        The attributes to check.
    threshold : float
        A single-feature ROC AUC at or above this flags the attribute.
    random_state : int
        Seed of the out-of-fold target encoding.

    Returns
    -------
    dict
        ``{column: reason}`` for every flagged attribute.
    """
    out = {}
    for c in columns:
        low = c.lower()
        if _SCORE_NAME.search(low):
            out[c] = "looks like another model's churn score (by its name)"
            continue
        if _LABEL_NAME.search(low):
            kind = "date" if "date" in low or low.endswith(("_at", "_on")) else (
                "reason" if "reason" in low else "label")
            out[c] = f"looks like a churn {kind} (by its name)"
            continue
        if y is not None and frame[c].notna().any():
            auc = single_feature_auc(frame[c], y, random_state=random_state)
            if auc >= threshold:
                out[c] = f"predicts the outcome almost perfectly on its own (ROC AUC {auc:.3f})"
    return out
