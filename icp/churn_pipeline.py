"""The preprocessing and model pipelines behind :class:`icp.churn.ChurnRiskModel`.

Kept apart from the estimator so that each stays short. Every transformer here
works one input column at a time, so that the outputs of the fitted pipeline can
be traced back to the business feature they came from (needed for exact
per-account reasons of the linear model).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, SplineTransformer, StandardScaler

__all__ = [
    "CrossFitted",
    "DERIVED_FEATURES",
    "FrameCaster",
    "column_kinds",
    "derive_features",
    "fit_calibrator",
    "linear_pipeline",
    "plain_logistic_pipeline",
    "tree_pipeline",
]

# Categories seen fewer times than this in training are pooled as "infrequent",
# so that one-hot columns are not fitted on a handful of rows.
MIN_CATEGORY_COUNT = 10

# Ratios that account-health analyses read off usage, added when both inputs are
# present: intensity of use per seat and adoption across the company. Trees cannot
# form a ratio of two columns on their own. name -> (numerator, denominator).
DERIVED_FEATURES: dict[str, tuple[str, str]] = {
    "events_per_active_user": ("events_90d", "active_users"),
    "active_user_share": ("active_users", "employees"),
}


def derive_features(frame: pd.DataFrame, names: Any = None) -> pd.DataFrame:
    """A new frame with the :data:`DERIVED_FEATURES` whose inputs are present (or those in ``names``).

    A ratio is missing where its denominator is zero or missing.

    Examples
    --------
    >>> frame = pd.DataFrame({"events_90d": [300.0, 10.0], "active_users": [3.0, 0.0]})
    >>> derive_features(frame)["events_per_active_user"].tolist()
    [100.0, nan]
    """
    out = {}
    for name, (num, den) in DERIVED_FEATURES.items():
        if names is not None and name not in names:
            continue
        if num in frame.columns and den in frame.columns and name not in frame.columns:
            a = pd.to_numeric(frame[num], errors="coerce").to_numpy(dtype=float)
            b = pd.to_numeric(frame[den], errors="coerce").to_numpy(dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[name] = np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)
    return frame.assign(**out) if out else frame


# Pseudo-rows at the overall churn rate added to each block of the isotonic calibration:
# one, the least that keeps a block without churners from saying 0%.
ISOTONIC_PSEUDO_ROWS = 1.0


def fit_calibrator(score: np.ndarray, y: np.ndarray, method: str) -> Any:
    """Map raw log-odds scores to probabilities: isotonic regression or Platt's sigmoid.

    Isotonic regression gives each block of scores its observed churn rate, so a
    block without a single churner says 0% (and one of churners only, 100%),
    which no finite sample supports and which log loss punishes without limit.
    Each block's rate is therefore smoothed towards the overall rate by
    :data:`ISOTONIC_PSEUDO_ROWS` pseudo-rows, ``(churners + m * rate) / (rows + m)``,
    and the smoothed rates are made monotone again.
    """
    if method == "isotonic":
        y = np.asarray(y, dtype=float)
        fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(score, y).predict(score)
        blocks = pd.DataFrame({"block": fitted, "y": y}).groupby("block")["y"].agg(["sum", "size"])
        m = ISOTONIC_PSEUDO_ROWS
        smoothed = (blocks["sum"] + m * y.mean()) / (blocks["size"] + m)
        target = pd.Series(fitted).map(smoothed).to_numpy(dtype=float)
        return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(score, target)
    return LogisticRegression(C=1e6).fit(score.reshape(-1, 1), y)


def _apply(calibrator: Any, score: np.ndarray) -> np.ndarray:
    if isinstance(calibrator, IsotonicRegression):
        return calibrator.predict(score)
    return calibrator.predict_proba(score.reshape(-1, 1))[:, 1]


class CrossFitted:
    """Cross-fitted calibration: one model per fold, each calibrated on the rows it did not see.

    The probability is the mean over the folds (as scikit-learn's
    ``CalibratedClassifierCV(ensemble=True)``); built from fits the model choice
    already made, so calibration costs no extra fit.

    Parameters
    ----------
    members : list of (pipeline, calibrator)
        Fitted pipelines and the calibrators fitted on their held-out scores.
    """

    def __init__(self, members: list[tuple[Any, Any]]):
        self.members = members

    @property
    def pipelines(self) -> list[Any]:
        """The fold pipelines."""
        return [pipe for pipe, _ in self.members]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Mean calibrated probability over the folds, as two columns."""
        p = np.mean(
            [_apply(cal, np.asarray(pipe.decision_function(X), dtype=float)) for pipe, cal in self.members],
            axis=0,
        )
        p = np.clip(p, 0.0, 1.0)
        return np.column_stack([1 - p, p])

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Mean raw log-odds over the folds."""
        return np.mean([np.asarray(pipe.decision_function(X), dtype=float) for pipe in self.pipelines], axis=0)


def column_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """Classify each column as ``numeric``, ``binary`` (numeric with two values) or ``categorical``.

    Booleans, strings and categories are categorical; datetimes are ``datetime``
    (not modelled).
    """
    kinds: dict[str, str] = {}
    for name in frame.columns:
        col = frame[name]
        first = col.dropna().iloc[0] if col.notna().any() else None
        if isinstance(first, (dt.date, pd.Timestamp, np.datetime64)):
            kinds[name] = "datetime"
        elif pd.api.types.is_bool_dtype(col):
            kinds[name] = "categorical"
        elif pd.api.types.is_datetime64_any_dtype(col) or isinstance(
            col.dtype, pd.PeriodDtype
        ):
            kinds[name] = "datetime"
        elif pd.api.types.is_numeric_dtype(col):
            values = pd.to_numeric(col, errors="coerce").dropna().unique()
            kinds[name] = "binary" if len(values) <= 2 else "numeric"
        elif col.dtype == object:
            converted = pd.to_numeric(col, errors="coerce")
            # an object column of numbers (e.g. from a numpy object array) is numeric
            if converted.notna().sum() == col.notna().sum() and col.notna().any():
                values = converted.dropna().unique()
                kinds[name] = "binary" if len(values) <= 2 else "numeric"
            else:
                kinds[name] = "categorical"
        else:
            kinds[name] = "categorical"
    return kinds


class FrameCaster(TransformerMixin, BaseEstimator):
    """Select the modelling columns and give them one type each: float or string.

    Numeric columns become float64 (missing as NaN); categorical columns become
    Python strings (missing as NaN), which the encoders treat as a category.

    Parameters
    ----------
    numeric : tuple of str
        Columns to cast to float.
    categorical : tuple of str
        Columns to cast to strings.
    """

    def __init__(self, numeric: tuple[str, ...] = (), categorical: tuple[str, ...] = ()):
        self.numeric = numeric
        self.categorical = categorical

    def fit(self, X: pd.DataFrame, y: Any = None) -> FrameCaster:
        """Nothing to learn; remember the output column order."""
        self.columns_ = [*self.numeric, *self.categorical]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Return a new frame with the selected columns cast."""
        out = {}
        for name in self.numeric:
            out[name] = pd.to_numeric(X[name], errors="coerce").astype("float64").to_numpy()
        for name in self.categorical:
            col = X[name]
            values = np.asarray(col.astype(object), dtype=object)
            missing = pd.isna(col).to_numpy()
            text = values.astype(str).astype(object)  # str() of each value, in C
            text[missing] = np.nan
            out[name] = text
        return pd.DataFrame(out, index=X.index, columns=self.columns_)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The selected columns."""
        return np.asarray(self.columns_, dtype=object)


def _knots(values: np.ndarray, n_knots: int) -> np.ndarray | None:
    """Quantile knots without duplicates, or None when a spline would not fit."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    knots = np.unique(np.quantile(finite, np.linspace(0, 1, n_knots)))
    if knots.size < 3:
        return None
    return knots.reshape(-1, 1)


def linear_pipeline(
    frame: pd.DataFrame,
    kinds: dict[str, str],
    *,
    n_knots: int,
    C: float,
    class_weight: Any,
    max_iter: int = 5000,
) -> Pipeline:
    """Regularised logistic regression with a cubic spline on each numeric feature.

    One transformer per input column (named ``f<i>``), so that the outputs map
    back onto business features.
    """
    numeric = tuple(c for c in frame.columns if kinds[c] in ("numeric", "binary"))
    categorical = tuple(c for c in frame.columns if kinds[c] == "categorical")
    transformers = []
    for i, name in enumerate(numeric):
        x = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        knots = _knots(x, n_knots) if kinds[name] == "numeric" else None
        steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
        if knots is not None:
            steps.append(("spline", SplineTransformer(knots=knots, degree=3)))
        transformers.append((f"f{i}", Pipeline(steps), [name]))
        if np.isnan(x).any():
            transformers.append((f"m{i}", MissingIndicator(features="all"), [name]))
    offset = len(numeric)
    for j, name in enumerate(categorical):
        encoder = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            min_frequency=MIN_CATEGORY_COUNT,
            sparse_output=False,
        )
        transformers.append((f"f{offset + j}", encoder, [name]))
    columns = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
    return Pipeline(
        [
            ("cast", FrameCaster(numeric, categorical)),
            ("columns", columns),
            ("scale", StandardScaler()),
            (
                "classifier",
                LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter),
            ),
        ]
    )


def plain_logistic_pipeline(
    frame: pd.DataFrame, kinds: dict[str, str], *, C: float = 1.0, max_iter: int = 5000
) -> Pipeline:
    """The baseline: one-hot categoricals, standardised numbers, an L2 logistic regression."""
    numeric = tuple(c for c in frame.columns if kinds[c] in ("numeric", "binary"))
    categorical = tuple(c for c in frame.columns if kinds[c] == "categorical")
    transformers = []
    if numeric:
        transformers.append(
            (
                "num",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                list(numeric),
            )
        )
    if categorical:
        transformers.append(
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                list(categorical),
            )
        )
    return Pipeline(
        [
            ("cast", FrameCaster(numeric, categorical)),
            ("columns", ColumnTransformer(transformers, sparse_threshold=0.0)),
            ("classifier", LogisticRegression(C=C, max_iter=max_iter)),
        ]
    )


def tree_pipeline(
    frame: pd.DataFrame,
    kinds: dict[str, str],
    *,
    params: dict[str, Any],
    class_weight: Any,
    random_state: int,
) -> Pipeline:
    """Histogram gradient boosting on raw numbers and ordinal-coded categories.

    Missing numbers are handled natively by the trees; categories are native
    categorical splits.
    """
    numeric = tuple(c for c in frame.columns if kinds[c] in ("numeric", "binary"))
    categorical = tuple(c for c in frame.columns if kinds[c] == "categorical")
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(("num", "passthrough", list(numeric)))
    if categorical:
        transformers.append(
            (
                "cat",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                    max_categories=250,
                ),
                list(categorical),
            )
        )
    mask = [False] * len(numeric) + [True] * len(categorical)
    n_rows = len(frame)
    classifier = HistGradientBoostingClassifier(
        learning_rate=params["learning_rate"],
        max_iter=params["max_iter"],
        max_leaf_nodes=params["max_leaf_nodes"],
        max_depth=params.get("max_depth"),
        min_samples_leaf=max(1, min(params["min_samples_leaf"], n_rows // 20)),
        l2_regularization=params["l2_regularization"],
        categorical_features=mask if any(mask) else None,
        class_weight=class_weight,
        # early stopping needs a validation split that holds both classes
        early_stopping=params.get("early_stopping", True) and n_rows >= 1000,
        validation_fraction=0.15,
        n_iter_no_change=20,
        random_state=random_state,
    )
    return Pipeline(
        [
            ("cast", FrameCaster(numeric, categorical)),
            ("columns", ColumnTransformer(transformers, sparse_threshold=0.0)),
            ("classifier", classifier),
        ]
    )
