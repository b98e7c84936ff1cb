"""Turning a snapshot's mixed columns into the numeric space in which segments are found.

Numbers: missing values are filled with the median, skewed non-negative amounts
and counts (money, tickets, events) are log-transformed, extreme values are
clipped to the 0.5th and 99.5th percentiles, and the result is standardised.
Booleans become 0/1 and are standardised like numbers. Categories are one-hot
encoded (the most frequent ones, the rest pooled as "other"; missing is its own
level) and scaled so that each categorical column carries the same total
variance as one numeric column: no column dominates because it has many levels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["SegmentPreprocessor", "column_kind", "is_skewed"]

OTHER = "(other)"
MISSING = "(missing)"


def column_kind(series: pd.Series) -> str:
    """Classify a column as ``"bool"``, ``"numeric"``, ``"datetime"`` or ``"categorical"``."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        return "datetime"
    if pd.api.types.is_object_dtype(dtype):
        sample = series.dropna().head(50)
        if len(sample) and all(isinstance(v, bool | np.bool_) for v in sample):
            return "bool"
        if len(sample) and all(hasattr(v, "year") and hasattr(v, "month") for v in sample):
            return "datetime"
    return "categorical"


def is_skewed(values: np.ndarray) -> bool:
    """Whether a non-negative column is skewed enough to be analysed on a log scale.

    True for non-negative values whose sample skewness exceeds 1 (money, counts,
    durations); such columns are compared and clustered as ``log1p(x)``.
    """
    v = values[np.isfinite(values)]
    if v.size < 3 or v.min() < 0:
        return False
    sd = v.std()
    if sd == 0:
        return False
    skew = float(np.mean(((v - v.mean()) / sd) ** 3))
    return skew > 1.0


class SegmentPreprocessor(TransformerMixin, BaseEstimator):
    """Mixed-type preprocessing for segmentation: impute, log, clip, scale, one-hot.

    Parameters
    ----------
    log_transform : {"auto", True, False}, default "auto"
        ``"auto"`` log-transforms (``log1p``) the non-negative numeric columns
        whose skewness exceeds 1; ``True`` every non-negative numeric column;
        ``False`` none.
    clip_quantile : float, default 0.005
        Numeric values are clipped to the ``[q, 1 - q]`` quantiles learned in
        ``fit``, so that a few extreme accounts do not form clusters of their own.
    max_categories : int, default 8
        The most frequent levels kept per categorical column; rarer ones are
        pooled into one level.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        Input columns.
    kinds_ : dict
        Column -> ``"numeric"``, ``"bool"`` or ``"categorical"``.
    log_columns_ : list of str
        Numeric columns analysed as ``log1p``.

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.segment_preprocessing import SegmentPreprocessor
    >>> frame = pd.DataFrame({"arr_usd": [1e3, 2e3, 5e4, None], "plan": ["a", "b", "a", "a"]})
    >>> SegmentPreprocessor().fit_transform(frame).shape
    (4, 3)
    """

    def __init__(self, *, log_transform="auto", clip_quantile: float = 0.005, max_categories: int = 8):
        self.log_transform = log_transform
        self.clip_quantile = clip_quantile
        self.max_categories = max_categories

    def fit(self, X: pd.DataFrame, y=None):
        """Learn medians, log flags, clip bounds, scales and category levels from ``X``."""
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.kinds_: dict[str, str] = {}
        self.log_columns_: list[str] = []
        self._numeric: dict[str, tuple] = {}
        self._categorical: dict[str, tuple] = {}
        for name, col in zip(self.feature_names_in_, frame.columns):
            series = frame[col]
            kind = column_kind(series)
            if kind == "datetime":
                raise ValueError(
                    f"The column '{name}' holds dates, which cannot be clustered directly. "
                    "Expected numbers, booleans or categories. "
                    "Use a derived number such as tenure_months instead."
                )
            self.kinds_[name] = kind
            if kind == "categorical":
                self._categorical[name] = self._fit_categorical(series)
            else:
                self._numeric[name] = self._fit_numeric(name, series)
        return self

    def _fit_numeric(self, name: str, series: pd.Series) -> tuple:
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return (False, 0.0, 0.0, 0.0, 0.0, 1.0)
        use_log = bool(
            (self.log_transform is True and finite.min() >= 0)
            or (self.log_transform == "auto" and is_skewed(finite))
        )
        if use_log:
            self.log_columns_.append(name)
            finite = np.log1p(finite)
        q = float(self.clip_quantile)
        low, high = (np.quantile(finite, [q, 1 - q]) if q > 0 else (finite.min(), finite.max()))
        clipped = np.clip(finite, low, high)
        median = float(np.median(clipped))
        mean = float(clipped.mean())
        sd = float(clipped.std())
        return (use_log, float(low), float(high), median, mean, sd if sd > 0 else 1.0)

    def _fit_categorical(self, series: pd.Series) -> tuple:
        text = series.astype("string").fillna(MISSING)
        counts = text.value_counts(sort=True)
        counts = counts.sort_index(kind="mergesort").sort_values(ascending=False, kind="mergesort")
        kept = [str(v) for v in counts.index[: int(self.max_categories)]]
        shares = counts.reindex(kept).to_numpy(dtype=float) / max(len(text), 1)
        levels = list(kept)
        if len(counts) > len(kept):
            levels.append(OTHER)
            shares = np.append(shares, 1.0 - shares.sum())
        total_var = float(np.sum(shares * (1 - shares)))
        weight = 1.0 / np.sqrt(total_var) if total_var > 0 else 0.0
        return (levels, shares, weight)

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        """Output columns: one per numeric/boolean input, one per kept level of a category."""
        check_is_fitted(self, "kinds_")
        names = []
        for name, kind in self.kinds_.items():
            if kind == "categorical":
                names.extend(f"{name}={level}" for level in self._categorical[name][0])
            else:
                names.append(name)
        return np.asarray(names, dtype=object)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Map ``X`` (a frame with the fitted columns) to the standardised numeric space."""
        check_is_fitted(self, "kinds_")
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=self.feature_names_in_)
        blocks = []
        for name, kind in self.kinds_.items():
            col = frame[name] if name in frame.columns else frame[self._position(frame, name)]
            if kind == "categorical":
                levels, _, weight = self._categorical[name]
                text = col.astype("string").fillna(MISSING)
                known = levels[:-1] if levels and levels[-1] == OTHER else levels
                codes = pd.Categorical(text, categories=known).codes.astype(np.int64)
                if levels and levels[-1] == OTHER:
                    codes = np.where(codes < 0, len(levels) - 1, codes)
                block = np.zeros((len(frame), len(levels)))
                rows = np.flatnonzero(codes >= 0)
                block[rows, codes[rows]] = weight
                blocks.append(block)
            else:
                use_log, low, high, median, mean, sd = self._numeric[name]
                values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                values = np.where(np.isfinite(values), values, np.nan)
                if use_log:
                    with np.errstate(invalid="ignore"):
                        values = np.log1p(np.clip(values, 0, None))
                values = np.clip(values, low, high)
                values = np.where(np.isnan(values), median, values)
                blocks.append(((values - mean) / sd)[:, None])
        if not blocks:
            return np.zeros((len(frame), 0))
        return np.hstack(blocks)

    def _position(self, frame: pd.DataFrame, name: str):
        index = list(self.feature_names_in_).index(name)
        return frame.columns[index]

    def inverse_numeric(self, name: str, z: np.ndarray) -> np.ndarray:
        """Map standardised values of numeric column ``name`` back to its original unit."""
        use_log, _, _, _, mean, sd = self._numeric[name]
        values = np.asarray(z, dtype=float) * sd + mean
        return np.expm1(values) if use_log else values

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags
