"""Churn risk: a calibrated scikit-learn classifier on snapshot features.

:class:`ChurnRiskModel` predicts the probability that an account churns at its
next renewal decision, from the point-in-time features of a snapshot (or the
attributes of a single-table export). Outcome and key columns are never used as
features, nor are the columns that validation left out (the leakage guard), and
any feature that on its own predicts the outcome almost perfectly is dropped
with a :class:`~icp.exceptions.DataQualityWarning`.

Backtests live in :mod:`icp.backtest`, per-account reasons in :mod:`icp.reasons`,
the risk list in :mod:`icp.risk` and time to churn in :mod:`icp.survival`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_array,
    check_is_fitted,
    check_random_state,
    column_or_1d,
)
from threadpoolctl import threadpool_limits

from icp.churn_pipeline import (
    CrossFitted,
    column_kinds,
    derive_features,
    fit_calibrator,
    linear_pipeline,
    tree_pipeline,
)
from icp.exceptions import DataQualityWarning, InsufficientDataError
from icp.features import KEY_COLUMNS, OUTCOME_COLUMNS

__all__ = ["ChurnRiskModel", "KEY_COLUMNS", "OUTCOME_COLUMNS", "model_columns"]

logger = logging.getLogger(__name__)

_MODELS = ("auto", "hgb", "logistic")
# Column names that hold free text or personal identifiers, never features.
_TEXT_NAMES = ("name", "company", "email", "phone", "url", "website", "address", "description",
               "notes", "note", "comment", "comments")


def _looks_like_text(name: str) -> bool:
    low = str(name).lower()
    return low in _TEXT_NAMES or any(low.endswith(f"_{t}") for t in _TEXT_NAMES)
_CALIBRATIONS = ("auto", "isotonic", "sigmoid", None)


def model_columns(frame: pd.DataFrame, *, exclude: Iterable[str] = ()) -> list[str]:
    """The columns of a snapshot that a churn model may use as features.

    Everything but the key columns, the outcome columns and ``exclude`` (for
    example ``Dataset.excluded_columns``, the columns that validation left out).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"account_id": ["a"], "as_of": ["2024-03-31"],
    ...                       "tenure_months": [12], "churned": [False]})
    >>> model_columns(frame)
    ['tenure_months']
    """
    never = {*KEY_COLUMNS, *OUTCOME_COLUMNS, *exclude}
    return [c for c in frame.columns if c not in never]


def _single_feature_auc(x: pd.Series, y: np.ndarray, kind: str) -> float:
    """How well one column ranks the outcome on its own (0.5 = not at all, 1 = perfectly)."""
    if kind in ("numeric", "binary"):
        values = pd.to_numeric(x, errors="coerce").to_numpy(dtype=float)
        # missing values get their own rank, below all others
        values = np.where(np.isnan(values), np.nanmin(values) - 1 if np.isfinite(values).any() else 0, values)
    else:
        keys = x.astype(object).where(x.notna(), "__missing__").astype(str)
        rates = pd.Series(y, index=x.index).groupby(keys).mean()
        counts = keys.map(keys.value_counts())
        # categories seen once say nothing about the outcome; score them at the base rate
        values = np.where(counts.to_numpy() > 1, keys.map(rates).to_numpy(dtype=float), y.mean())
    if np.unique(values).size < 2:
        return 0.5
    auc = roc_auc_score(y, values)
    return max(auc, 1 - auc)


class ChurnRiskModel(ClassifierMixin, BaseEstimator):
    """Calibrated probability that an account churns at its next renewal decision.

    Parameters
    ----------
    model : {"auto", "hgb", "logistic"}, default="auto"
        ``"hgb"``: histogram gradient boosting of shallow trees with cross-fitted calibration.
        ``"logistic"``: an L2-regularised logistic regression with a cubic
        spline on each numeric feature and one-hot categories. ``"auto"``: the
        one of the two with the lower log loss in an inner stratified
        cross-validation on the training data; the fold models of that
        cross-validation are reused for calibration, so the choice costs no
        extra fit.
    calibration : {"auto", "isotonic", "sigmoid", None}, default="auto"
        How probabilities are calibrated, always on data the model was not
        fitted on (cross-fitted: one model per fold of ``cv`` stratified folds,
        each calibrated on its held-out fold, probabilities averaged; folds are
        grouped by ``account_id`` when a panel repeats accounts, so that no
        account is on both sides of a fold).
        ``"auto"``: isotonic for boosting with 1,000 rows or more, sigmoid for
        fewer; none for the logistic model without class weights (its
        probabilities are calibrated by construction), sigmoid with them.
    class_weight : {"balanced", None} or dict, default=None
        Class weights for imbalance (keys 0 = retained, 1 = churned for a dict).
        Rows are never resampled.
    C : float, default=0.1
        Inverse L2 strength of the logistic model.
    n_knots : int, default=5
        Knots (at quantiles) of the spline on each numeric feature.
    learning_rate, max_iter, max_depth, max_leaf_nodes, min_samples_leaf, l2_regularization
        Settings of the gradient boosting. Shallow trees (depth 3) by default:
        churn drivers are mostly additive with a few two-way interactions, and
        deep trees overfit panels of a few thousand renewal decisions. Early
        stopping on 15% of the rows when there are 1,000 rows or more and no
        account repeats.
    derive : bool, default=True
        Add the usage ratios of :data:`icp.churn_pipeline.DERIVED_FEATURES`
        (events per active user, share of employees active) when their inputs
        are present.
    cv : int, default=3
        Folds for calibration and for the ``"auto"`` choice.
    exclude : tuple of str, default=()
        Columns never used as features (key and outcome columns are always left out).
    leakage_threshold : float or None, default=0.98
        A feature whose single-feature ROC AUC on the training data reaches this
        is dropped with a warning (the leakage guard). None turns the check off.
    allow_leaky : tuple of str, default=()
        Features kept even when they reach ``leakage_threshold``.
    n_threads : int or None, default=1
        Threads for the boosting and linear algebra (None: the library default,
        all cores). One thread is the default because OpenMP's thread pool
        slows down by orders of magnitude on a machine whose cores are busy,
        and the data here are small.
    random_state : int, RandomState or None, default=None
        Seed for the folds and the boosting.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The outcome classes; ``classes_[1]`` is churn.
    feature_names_in_ : ndarray of str
        The columns seen in ``fit`` (when ``X`` was a DataFrame).
    n_features_in_ : int
        Number of columns seen in ``fit``.
    features_ : list of str
        The columns used as features after the guards.
    kinds_ : dict
        ``numeric`` / ``binary`` / ``categorical`` per feature.
    dropped_ : dict
        Columns not used, with the reason.
    model_ : str
        The model fitted (``"hgb"`` or ``"logistic"``).
    selection_ : pandas.DataFrame or None
        Inner cross-validated log loss and ROC AUC per candidate (``model="auto"``).
    n_iter_ : int
        Iterations of the solver (logistic) or boosting rounds (hgb).
    estimator_ : estimator
        The fitted pipeline, or a :class:`~icp.churn_pipeline.CrossFitted`
        ensemble of calibrated fold pipelines.
    reference_ : pandas.Series
        A typical account (median / most frequent value per feature), used for
        per-account reasons.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"tenure_months": rng.integers(1, 60, 400),
    ...                   "plan": rng.choice(["basic", "pro"], 400)})
    >>> y = rng.random(400) < 1 / (1 + np.exp(X.tenure_months / 12 - 1))
    >>> model = ChurnRiskModel(model="logistic", random_state=0).fit(X, y)
    >>> model.predict_proba(X).shape
    (400, 2)
    """

    def __init__(
        self,
        model: str = "auto",
        *,
        calibration: str | None = "auto",
        class_weight: str | None = None,
        C: float = 0.1,
        n_knots: int = 5,
        learning_rate: float = 0.05,
        max_iter: int = 200,
        max_depth: int | None = 3,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 40,
        l2_regularization: float = 1.0,
        cv: int = 3,
        exclude: tuple[str, ...] = (),
        leakage_threshold: float | None = 0.98,
        allow_leaky: tuple[str, ...] = (),
        derive: bool = True,
        n_threads: int | None = 1,
        random_state: Any = None,
    ):
        self.model = model
        self.calibration = calibration
        self.class_weight = class_weight
        self.C = C
        self.n_knots = n_knots
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_depth = max_depth
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.cv = cv
        self.exclude = exclude
        self.leakage_threshold = leakage_threshold
        self.allow_leaky = allow_leaky
        self.derive = derive
        self.n_threads = n_threads
        self.random_state = random_state

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.classifier_tags.multi_class = False
        return tags

    # ------------------------------------------------------------------ checks
    def _validate_params_(self) -> None:
        if self.model not in _MODELS:
            raise ValueError(
                f"The 'model' parameter of ChurnRiskModel must be one of {', '.join(map(repr, _MODELS))}. "
                f"Got {self.model!r} instead."
            )
        if self.calibration not in _CALIBRATIONS:
            raise ValueError(
                "The 'calibration' parameter of ChurnRiskModel must be one of 'auto', 'isotonic', "
                f"'sigmoid' or None. Got {self.calibration!r} instead."
            )
        if not (self.class_weight is None or self.class_weight == "balanced" or isinstance(self.class_weight, dict)):
            raise ValueError(
                "The 'class_weight' parameter of ChurnRiskModel must be 'balanced', a dict or None. "
                f"Got {self.class_weight!r} instead."
            )
        if not isinstance(self.cv, (int, np.integer)) or self.cv < 2:
            raise ValueError(
                f"The 'cv' parameter of ChurnRiskModel must be an int of at least 2. Got {self.cv!r} instead."
            )
        if not (isinstance(self.C, (int, float)) and self.C > 0):
            raise ValueError(f"The 'C' parameter of ChurnRiskModel must be a positive float. Got {self.C!r} instead.")

    def _as_frame(self, X: Any, *, reset: bool) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            if X.shape[0] == 0:
                raise ValueError(
                    f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
                )
            _check_feature_names(self, X, reset=reset)
            _check_n_features(self, X, reset=reset)
            if hasattr(self, "feature_names_in_"):
                return X
            return X.set_axis([f"x{i}" for i in range(X.shape[1])], axis=1)
        array = check_array(X, dtype=None, ensure_all_finite="allow-nan", ensure_2d=True)
        if array.dtype.kind in "fiub":
            check_array(array, ensure_all_finite="allow-nan")  # rejects infinities
        _check_feature_names(self, X, reset=reset)
        _check_n_features(self, array, reset=reset)
        if not reset and hasattr(self, "feature_names_in_"):
            names = list(self.feature_names_in_)
        else:
            names = [f"x{i}" for i in range(array.shape[1])]
        return pd.DataFrame(array, columns=names)

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any) -> ChurnRiskModel:
        """Fit the model.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Features: a snapshot (key and outcome columns are left out) or any
            table of attributes. Missing values and text categories are fine.
        y : array-like of shape (n_samples,)
            The binary outcome, for example the snapshot's ``churned``.

        Returns
        -------
        self : ChurnRiskModel
            The fitted model.
        """
        with threadpool_limits(limits=self.n_threads):
            return self._fit(X, y)

    def _fit(self, X: Any, y: Any) -> ChurnRiskModel:
        self._validate_params_()
        frame = self._as_frame(X, reset=True)
        if y is None:
            raise ValueError("ChurnRiskModel requires y to be passed, but the target y is None.")
        y_array = column_or_1d(y, warn=True)
        if len(y_array) != len(frame):
            raise ValueError(
                f"y must be one outcome per row of X. Found {len(y_array)} outcomes for {len(frame)} rows."
            )
        if y_array.dtype.kind == "f" and not np.isfinite(y_array).all():
            raise ValueError("Input y contains NaN or infinity.")
        check_classification_targets(y_array)
        classes, y_codes = np.unique(y_array, return_inverse=True)
        if len(classes) < 2:
            raise InsufficientDataError(
                f"The churn outcome has only 1 class ({classes[0]!r}) in the training rows. "
                "Expected both churned and retained accounts. "
                "Use a longer history or more snapshots so that some accounts churned."
            )
        if type_of_target(y_array) != "binary":
            raise ValueError(
                "Only binary classification is supported. "
                "ChurnRiskModel predicts a binary outcome (churned or not). "
                f"Found {len(classes)} classes: {', '.join(map(str, classes[:5]))}. "
                "Use a yes/no churn column."
            )
        self.classes_ = classes
        weights = self.class_weight
        if isinstance(weights, dict):  # keys are class labels; the pipelines see 0/1 codes
            weights = {i: weights[c] for i, c in enumerate(classes) if c in weights}
        self.class_weight_ = weights
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))

        self.dropped_ = {}
        candidates = model_columns(frame, exclude=tuple(self.exclude))
        for name in frame.columns:
            if name not in candidates:
                self.dropped_[name] = (
                    "excluded (not allowed as a feature)"
                    if name in self.exclude
                    else "key or outcome column (never a feature)"
                )
        features = frame[candidates]
        if self.derive:
            features = derive_features(features)
            candidates = list(features.columns)
        kinds = column_kinds(features)
        # a panel repeats accounts: "a different value per account" is the identifier test
        units = frame["account_id"].nunique() if "account_id" in frame.columns else len(frame)
        for name, kind in kinds.items():
            if kind == "datetime":
                self.dropped_[name] = "a date (not used as a feature)"
            elif features[name].isna().all():
                self.dropped_[name] = "empty (all values missing)"
            elif features[name].nunique(dropna=False) < 2:
                self.dropped_[name] = "constant"
            elif kind == "categorical" and _looks_like_text(name):
                self.dropped_[name] = "free text or identifier (by its name)"
            elif kind == "categorical" and units >= 20 and features[name].nunique() > 0.5 * units:
                self.dropped_[name] = "identifier-like (a different value on most rows)"
        kept = [c for c in candidates if c not in self.dropped_]
        if self.leakage_threshold is not None:
            leaky = []
            for name in kept:
                if name in self.allow_leaky:
                    continue
                auc = _single_feature_auc(features[name], y_codes, kinds[name])
                if auc >= self.leakage_threshold:
                    leaky.append((name, auc))
                    self.dropped_[name] = f"leakage guard: single-feature ROC AUC {auc:.3f}"
            if leaky:
                listed = ", ".join(f"{n} (AUC {a:.3f})" for n, a in leaky)
                warnings.warn(
                    f"{len(leaky)} column(s) predict churn almost perfectly on their own and were left "
                    f"out of the churn model: {listed}. Expected features known before the outcome. "
                    "If a column is legitimate, list it under allow_leaky in icp.yaml.",
                    DataQualityWarning,
                    stacklevel=2,
                )
        kept = [c for c in kept if c not in self.dropped_]
        if not kept:
            raise InsufficientDataError(
                "No usable feature is left for the churn model. "
                f"Expected at least one attribute besides keys and outcomes; found: "
                f"{', '.join(f'{k} ({v})' for k, v in self.dropped_.items()) or 'no columns'}. "
                "Add attributes or snapshot features to the data."
            )
        self.features_ = kept
        self.kinds_ = {c: kinds[c] for c in kept}
        train = features[kept]
        # panel rows repeat accounts: folds must keep each account on one side
        groups = None
        if "account_id" in frame.columns and frame["account_id"].duplicated().any():
            groups = frame["account_id"].astype(str).to_numpy()
        self.reference_ = _reference_row(train, self.kinds_)

        self.derived_ = [c for c in kept if c not in frame.columns]
        self.selection_ = None
        self.estimator_, self.model_, self.selection_ = self._fit_models(train, y_codes, seed, groups)
        self.n_iter_ = _iterations(self.estimator_)
        logger.info("churn model %s fitted on %d rows and %d features", self.model_, len(train), len(kept))
        return self

    def _calibration_for(self, choice: str, n_rows: int) -> str | None:
        if self.calibration != "auto":
            return self.calibration
        if choice == "hgb":
            return "isotonic" if n_rows >= 1000 else "sigmoid"
        return "sigmoid" if self.class_weight_ is not None else None

    def _splits(self, train: pd.DataFrame, y: np.ndarray, seed: int, groups: Any) -> list:
        if groups is None:
            return list(StratifiedKFold(self.cv, shuffle=True, random_state=seed).split(train, y))
        splitter = StratifiedGroupKFold(self.cv, shuffle=True, random_state=seed)
        return list(splitter.split(train, y, groups))

    def _build(self, choice: str, train: pd.DataFrame, y: np.ndarray, seed: int, groups: Any = None) -> Any:
        """An unfitted pipeline of the given kind."""
        if choice == "logistic":
            return linear_pipeline(train, self.kinds_, n_knots=self.n_knots, C=self.C, class_weight=self.class_weight_)
        params = {
            "learning_rate": self.learning_rate,
            "max_iter": self.max_iter,
            "max_depth": self.max_depth,
            "max_leaf_nodes": self.max_leaf_nodes,
            "min_samples_leaf": self.min_samples_leaf,
            "l2_regularization": self.l2_regularization,
            # the validation split of early stopping is random by row, so not with repeated accounts
            "early_stopping": groups is None,
        }
        return tree_pipeline(train, self.kinds_, params=params, class_weight=self.class_weight_, random_state=seed)

    def _candidates(self) -> tuple[str, ...]:
        return ("hgb", "logistic") if self.model == "auto" else (self.model,)

    def _fit_models(
        self, train: pd.DataFrame, y: np.ndarray, seed: int, groups: Any
    ) -> tuple[Any, str, pd.DataFrame | None]:
        """Fit the candidates fold by fold, choose one, and calibrate it on its held-out folds."""
        minority = int(np.bincount(y, minlength=2).min())
        candidates = self._candidates()
        if minority < 2 * self.cv:
            # too few churners to hold some out: the raw logistic model (or the one asked for)
            choice = "logistic" if self.model == "auto" else self.model
            return self._build(choice, train, y, seed, groups).fit(train, y), choice, None
        if len(candidates) == 1 and self._calibration_for(candidates[0], len(train)) is None:
            # calibrated by construction and nothing to choose: one fit on all rows
            return self._build(candidates[0], train, y, seed, groups).fit(train, y), candidates[0], None
        folds = self._splits(train, y, seed, groups)
        rows, fitted = [], {}
        for choice in candidates:
            pipes, score = [], np.zeros(len(y))
            for fit_idx, test_idx in folds:
                sub = None if groups is None else groups[fit_idx]
                pipe = self._build(choice, train.iloc[fit_idx], y[fit_idx], seed, sub)
                pipe.fit(train.iloc[fit_idx], y[fit_idx])
                score[test_idx] = np.asarray(pipe.decision_function(train.iloc[test_idx]), dtype=float)
                pipes.append(pipe)
            method = self._calibration_for(choice, len(train))
            fitted[choice] = (pipes, score, method)
            if len(candidates) > 1:
                pred = _held_out_probability(score, y, folds, method)
                rows.append(
                    {
                        "model": choice,
                        "log_loss": log_loss(y, np.clip(pred, 1e-6, 1 - 1e-6)),
                        "roc_auc": roc_auc_score(y, score),
                    }
                )
        table = pd.DataFrame(rows).set_index("model") if rows else None
        choice = str(table["log_loss"].idxmin()) if table is not None else candidates[0]
        pipes, score, method = fitted[choice]
        if method is None:
            # the chosen model needs no calibration: refit it once on all rows
            return self._build(choice, train, y, seed, groups).fit(train, y), choice, table
        members = [
            (pipe, fit_calibrator(score[test_idx], y[test_idx], method))
            for pipe, (_, test_idx) in zip(pipes, folds)
        ]
        return CrossFitted(members), choice, table

    # ------------------------------------------------------------------ predict
    def _features(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "estimator_")
        frame = self._as_frame(X, reset=False)
        if self.derived_:
            frame = derive_features(frame, self.derived_)
        missing = [c for c in self.features_ if c not in frame.columns]
        if missing:
            raise ValueError(
                f"X is missing {len(missing)} feature column(s) the churn model was fitted on: "
                f"{', '.join(missing[:10])}. Expected the same columns as in fit. "
                "Score a snapshot built the same way as the training snapshots."
            )
        return frame[self.features_]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of each class; column 1 is the churn probability.

        Parameters
        ----------
        X : DataFrame or array-like
            The same columns as in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, 2)
        """
        features = self._features(X)
        with threadpool_limits(limits=self.n_threads):
            return self.estimator_.predict_proba(features)

    def predict(self, X: Any) -> np.ndarray:
        """The more probable class for each row (churn when its probability exceeds 0.5).

        Parameters
        ----------
        X : DataFrame or array-like
            The same columns as in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[(proba[:, 1] > 0.5).astype(int)]

    def raw_score(self, X: Any) -> np.ndarray:
        """The uncalibrated log-odds of churn (averaged over the calibration folds).

        Per-account reasons decompose this score.

        Parameters
        ----------
        X : DataFrame or array-like
            The same columns as in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        features = self._features(X)
        with threadpool_limits(limits=self.n_threads):
            return _raw_score(self.estimator_, features)

    def probability(self, X: Any) -> pd.Series:
        """The churn probability as a Series aligned with ``X``'s index."""
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        return pd.Series(self.predict_proba(X)[:, 1], index=frame.index, name="churn_probability")

    def reasons(self, X: Any, *, top: int = 3) -> pd.Series:
        """One line per account naming its strongest churn drivers and their direction.

        See :func:`icp.reasons.reason_strings`.

        Parameters
        ----------
        X : DataFrame
            The same columns as in ``fit``.
        top : int, default=3
            Drivers per account.

        Returns
        -------
        pandas.Series
        """
        from icp.reasons import reason_strings

        return reason_strings(self, X, top=top)


def fold_pipelines(estimator: Any) -> list[Any]:
    """The fitted pipelines behind a churn model's estimator (one per calibration fold)."""
    return estimator.pipelines if isinstance(estimator, CrossFitted) else [estimator]


def _iterations(estimator: Any) -> int:
    """Iterations of the fitted solver or boosting (the most over calibration folds)."""
    found = [int(np.max(p[-1].n_iter_)) for p in fold_pipelines(estimator) if hasattr(p[-1], "n_iter_")]
    return max(found) if found else 1


def _raw_score(estimator: Any, features: pd.DataFrame) -> np.ndarray:
    return np.mean([_pipeline_logit(p, features) for p in fold_pipelines(estimator)], axis=0)


def _pipeline_logit(pipe: Any, features: pd.DataFrame) -> np.ndarray:
    return np.asarray(pipe.decision_function(features), dtype=float)


def _held_out_probability(score: np.ndarray, y: np.ndarray, folds: list, method: str | None) -> np.ndarray:
    """Calibrated probabilities of out-of-fold scores, each fold calibrated on the other folds."""
    if method is None:
        return 1.0 / (1.0 + np.exp(-score))
    pred = np.zeros(len(y))
    for fit_idx, test_idx in folds:
        calibrator = fit_calibrator(score[fit_idx], y[fit_idx], method)
        pred[test_idx] = CrossFitted([(_Constant(score[test_idx]), calibrator)]).predict_proba(None)[:, 1]
    return pred


class _Constant:
    """Stands in for a pipeline whose scores are already known."""

    def __init__(self, score: np.ndarray):
        self.score = score

    def decision_function(self, X: Any) -> np.ndarray:
        return self.score


def _reference_row(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.Series:
    values: dict[str, Any] = {}
    for name in frame.columns:
        col = frame[name]
        if kinds[name] == "categorical":
            mode = col.dropna().mode()
            values[name] = mode.iloc[0] if len(mode) else np.nan
        else:
            values[name] = float(pd.to_numeric(col, errors="coerce").median())
    return pd.Series(values, dtype=object)
