"""Honest evaluation of churn models: time-ordered backtests, cross-validation, metrics.

Every number here comes from rows the model did not see while fitting. In the
multi-table form the backtest walks forward through a snapshot panel: to score
the accounts at quarter end ``q`` it trains only on snapshots dated before ``q``
whose outcome was final by ``q`` (:func:`labelled_by`: the snapshot's
``label_final_on``, the day the grace period after its churn or its last
renewal decision ended; ``as_of + horizon + grace <= q`` for panels without
that column). In the single-table form it is a stratified K-fold
cross-validation.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from icp.churn import ChurnRiskModel, model_columns
from icp.churn_pipeline import column_kinds, plain_logistic_pipeline
from icp.exceptions import DataQualityWarning, InsufficientDataError

__all__ = [
    "BacktestResult",
    "BaselineModel",
    "backtest",
    "calibration_table",
    "churn_metrics",
    "cross_validate",
    "expected_calibration_error",
    "labelled_by",
    "lift_table",
    "stratified_folds",
    "top_decile_lift",
]

ProgressCallback = Callable[[int, int, str], None]


# ---------------------------------------------------------------------- metrics
def top_decile_lift(y_true: Any, y_score: Any, *, fraction: float = 0.1) -> float:
    """Churn rate among the highest-scored ``fraction`` of rows, over the overall churn rate.

    Ties at the cut-off are broken by row order (stable sort), so the result is
    deterministic.

    Examples
    --------
    >>> top_decile_lift([1, 0, 0, 0, 0, 0, 0, 0, 0, 1], [.9, .1, .2, .1, .3, .2, .1, .1, .2, .4])
    5.0
    """
    y = np.asarray(y_true, dtype=float)
    score = np.asarray(y_score, dtype=float)
    k = max(1, int(np.ceil(len(y) * fraction)))
    top = np.argsort(-score, kind="stable")[:k]
    base = y.mean()
    return float(y[top].mean() / base) if base > 0 else float("nan")


def calibration_table(y_true: Any, y_prob: Any, *, n_bins: int = 10) -> pd.DataFrame:
    """Predicted against observed churn rate in bins of equal size (deciles by default).

    Returns
    -------
    pandas.DataFrame
        One row per bin: ``bin``, ``accounts``, ``predicted`` (mean probability),
        ``observed`` (churn rate).

    Examples
    --------
    >>> calibration_table([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.6], n_bins=2).observed.tolist()
    [0.0, 1.0]
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_prob, dtype=float)
    order = np.argsort(p, kind="stable")
    bins = np.empty(len(p), dtype=int)
    bins[order] = np.floor(np.arange(len(p)) * n_bins / max(len(p), 1)).astype(int)
    frame = pd.DataFrame({"bin": bins, "p": p, "y": y})
    table = frame.groupby("bin").agg(accounts=("y", "size"), predicted=("p", "mean"), observed=("y", "mean"))
    return table.reset_index()


def expected_calibration_error(y_true: Any, y_prob: Any, *, n_bins: int = 10) -> float:
    """Mean absolute gap between predicted and observed churn rate over equal-size bins.

    Each bin is weighted by its share of rows. Even perfectly calibrated
    probabilities score above 0 on a finite sample (binomial noise in each bin),
    so compare against the ECE of the true probabilities where those are known.

    Examples
    --------
    >>> round(expected_calibration_error([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.6], n_bins=2), 3)
    0.275
    """
    table = calibration_table(y_true, y_prob, n_bins=n_bins)
    weights = table["accounts"] / table["accounts"].sum()
    return float((weights * (table["predicted"] - table["observed"]).abs()).sum())


def churn_metrics(y_true: Any, y_prob: Any) -> dict[str, float]:
    """ROC AUC, PR AUC, Brier score, top-decile lift, ECE, churn rate and count of one set of scores.

    Examples
    --------
    >>> m = churn_metrics([0, 1, 0, 1, 0], [0.1, 0.7, 0.2, 0.6, 0.4])
    >>> m["roc_auc"], m["accounts"]
    (1.0, 5)
    """
    y = np.asarray(y_true).astype(int)
    p = np.asarray(y_prob, dtype=float)
    both = len(np.unique(y)) == 2
    return {
        "accounts": int(len(y)),
        "churn_rate": float(y.mean()) if len(y) else float("nan"),
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p, labels=[0, 1])) if len(y) else float("nan"),
        "top_decile_lift": top_decile_lift(y, p),
        "ece": expected_calibration_error(y, p),
    }


def lift_table(y_true: Any, y_score: Any, *, n_bins: int = 10) -> pd.DataFrame:
    """Churn rate and lift per score decile, highest risk first (decile 1).

    Examples
    --------
    >>> lift_table([1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3], n_bins=2).lift.tolist()
    [2.0, 0.0]
    """
    table = calibration_table(y_true, y_score, n_bins=n_bins)
    table = table.iloc[::-1].reset_index(drop=True)
    base = float(np.mean(np.asarray(y_true, dtype=float)))
    table.insert(0, "decile", np.arange(1, len(table) + 1))
    table["lift"] = table["observed"] / base if base > 0 else np.nan
    return table.drop(columns="bin")


# ---------------------------------------------------------------------- baseline
class BaselineModel(ChurnRiskModel):
    """The reference every churn model must beat: one-hot + standardised numbers + L2 logistic regression.

    No splines, no interactions, no calibration step. Same guards and column
    handling as :class:`~icp.churn.ChurnRiskModel`.
    """

    def _build(self, choice: str, train: pd.DataFrame, y: np.ndarray, seed: int, groups: Any = None) -> Any:
        return plain_logistic_pipeline(train, column_kinds(train), C=1.0)

    def _choose(self, train: pd.DataFrame, y: np.ndarray, seed: int, groups: Any = None) -> tuple[str, None]:
        return "logistic", None


# ---------------------------------------------------------------------- results
@dataclass(frozen=True)
class BacktestResult:
    """Out-of-sample scores and their metrics, for the model and the baseline.

    Attributes
    ----------
    kind : {"time", "cv"}
        Walk-forward backtest on a snapshot panel, or stratified cross-validation.
    predictions : pandas.DataFrame
        One row per scored account: ``account_id``, ``fold`` (the scored
        ``as_of`` or the fold number), ``churned``, ``model``, ``baseline``
        (probabilities).
    metrics : pandas.DataFrame
        Per fold and ``"all"`` (pooled), per model: accounts, churn rate,
        ROC AUC, PR AUC, Brier, top-decile lift, ECE.
    folds : pandas.DataFrame
        What each fold trained on: training rows, first and last training as_of.
    notes : tuple of str
        Warnings and facts about the run (skipped quarters, weak signal).
    """

    kind: str
    predictions: pd.DataFrame
    metrics: pd.DataFrame
    folds: pd.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_predictions(
        cls, kind: str, predictions: pd.DataFrame, folds: pd.DataFrame, notes: tuple[str, ...] = ()
    ) -> BacktestResult:
        """The result of out-of-sample scores made elsewhere (for example
        :func:`icp.risk.out_of_fold_scores`): metrics per fold and pooled, with the
        weak-signal warning.

        Examples
        --------
        >>> import pandas as pd
        >>> preds = pd.DataFrame({"account_id": list("abcd"), "fold": [1, 1, 2, 2],
        ...                       "churned": [True, False, True, False],
        ...                       "model": [.9, .2, .7, .1], "baseline": [.6, .4, .5, .5]})
        >>> BacktestResult.from_predictions("cv", preds, pd.DataFrame()).summary.loc["model", "roc_auc"]
        1.0
        """
        return _result(kind, predictions, folds, list(notes))

    @property
    def summary(self) -> pd.DataFrame:
        """Pooled metrics of the model and the baseline, one row each."""
        pooled = self.metrics[self.metrics["fold"] == "all"].set_index("model")
        return pooled.drop(columns="fold")

    def calibration(self, which: str = "model", *, n_bins: int = 10) -> pd.DataFrame:
        """Calibration table of the pooled out-of-sample scores of ``"model"`` or ``"baseline"``."""
        return calibration_table(self.predictions["churned"], self.predictions[which], n_bins=n_bins)

    def lift(self, which: str = "model", *, n_bins: int = 10) -> pd.DataFrame:
        """Lift per decile of the pooled out-of-sample scores."""
        return lift_table(self.predictions["churned"], self.predictions[which], n_bins=n_bins)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``model_metrics.json``."""
        def clean(frame: pd.DataFrame) -> list[dict[str, Any]]:
            out = frame.astype(object).where(frame.notna(), None)
            return [{k: _plain(v) for k, v in row.items()} for row in out.to_dict("records")]

        return {
            "kind": self.kind,
            "summary": {m: {k: _plain(v) for k, v in row.items()} for m, row in self.summary.iterrows()},
            "per_fold": clean(self.metrics),
            "folds": clean(self.folds),
            "calibration": {w: clean(self.calibration(w)) for w in ("model", "baseline")},
            "lift": {w: clean(self.lift(w)) for w in ("model", "baseline")},
            "notes": list(self.notes),
        }

    def _repr_html_(self) -> str:
        title = "Walk-forward backtest" if self.kind == "time" else "Stratified cross-validation"
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            f"<h4>{title}: out-of-sample churn metrics</h4>"
            + self.summary.round(3).to_html()
            + (f"<ul>{notes}</ul>" if notes else "")
        )


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return str(pd.Timestamp(value).date())
    return value


def _metric_rows(predictions: pd.DataFrame) -> pd.DataFrame:
    rows = []
    groups = [(str(f), g) for f, g in predictions.groupby("fold", sort=True)]
    groups.append(("all", predictions))
    for fold, group in groups:
        for which in ("model", "baseline"):
            rows.append({"fold": fold, "model": which, **churn_metrics(group["churned"], group[which])})
    return pd.DataFrame(rows)


def _target(frame: pd.DataFrame, target: str) -> np.ndarray:
    if target not in frame.columns:
        raise InsufficientDataError(
            f"The snapshot has no outcome column '{target}'. Expected the outcome columns of "
            f"icp.snapshot. Found columns: {', '.join(map(str, frame.columns[:15]))}. "
            "Build the snapshot with outcomes (an as_of before the end of the data)."
        )
    return frame[target].fillna(False).astype(bool).to_numpy()


def labelled_by(
    panel: pd.DataFrame, date: Any, *, horizon_days: int = 365, label_delay_days: int | None = None
) -> np.ndarray:
    """Which snapshot rows dated before ``date`` already had a final outcome on ``date``.

    These are the rows a model may train on when it scores ``date``: with the
    panel's ``label_final_on`` (see :data:`icp.features.OUTCOME_COLUMNS`), a
    row counts as soon as its renewal decisions are settled, so the latest
    renewals teach the model too; without it, only when the whole horizon and
    the grace period after it are over.

    Parameters
    ----------
    panel : pandas.DataFrame
        A snapshot panel with ``as_of``.
    date : date-like
        The scoring date.
    horizon_days : int, default=365
        The panel's outcome horizon (used without ``label_final_on``).
    label_delay_days : int, optional
        Days after a decision until its outcome is final (used without
        ``label_final_on``); by default the panel's ``grace_period_days``.

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> import pandas as pd
    >>> panel = pd.DataFrame({"as_of": pd.to_datetime(["2024-03-31", "2024-06-30", "2024-12-31"]),
    ...                       "label_final_on": pd.to_datetime(["2024-08-30", "2025-05-30", "2025-01-30"])})
    >>> labelled_by(panel, "2024-12-31").tolist()
    [True, False, False]
    """
    when = pd.Timestamp(date)
    as_of = pd.to_datetime(panel["as_of"])
    if "label_final_on" in panel.columns:
        final = pd.to_datetime(panel["label_final_on"])
    else:
        delay = label_delay_days if label_delay_days is not None else panel.attrs.get("grace_period_days", 0)
        final = as_of + pd.Timedelta(days=int(horizon_days) + int(delay or 0))
    return ((as_of < when) & (final <= when)).fillna(False).to_numpy(dtype=bool)


def _scoring_rows(frame: pd.DataFrame, population: str | None) -> pd.DataFrame:
    if population and population in frame.columns:
        due = frame[population].fillna(False).astype(bool)
        if due.any():
            return frame[due.to_numpy()]
    return frame


def _fit_predict(model: Any, train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray:
    fitted = clone(model).fit(train, y)
    return fitted.predict_proba(test)[:, 1]


def stratified_folds(
    frame: pd.DataFrame, y: Any, *, n_splits: int = 5, random_state: int = 42
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The shuffled, outcome-stratified folds of :func:`cross_validate`: (fit rows, scored rows) positions.

    A frame that repeats an ``account_id`` (a panel) keeps each account in one
    fold (:class:`~sklearn.model_selection.StratifiedGroupKFold`); otherwise
    :class:`~sklearn.model_selection.StratifiedKFold`. The same frame, outcome
    and seed always give the same folds, so every caller scores a row with the
    same fold's model.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows to split (only ``account_id`` is read).
    y : array-like of bool
        The outcome, one per row.
    n_splits : int, default=5
        Number of folds.
    random_state : int, default=42
        Seed of the shuffle.

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)

    Examples
    --------
    >>> frame = pd.DataFrame({"account_id": [str(i) for i in range(10)]})
    >>> folds = stratified_folds(frame, [True, False] * 5, n_splits=5)
    >>> sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(10))
    True
    """
    y = np.asarray(y, dtype=bool)
    rows = np.zeros((len(frame), 1))
    if "account_id" in frame.columns and frame["account_id"].duplicated().any():
        # a panel repeats accounts: keep each account in one fold
        splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=random_state)
        return list(splitter.split(rows, y, frame["account_id"].astype(str).to_numpy()))
    return list(StratifiedKFold(n_splits, shuffle=True, random_state=random_state).split(rows, y))


# ---------------------------------------------------------------------- backtests
def backtest(
    panel: pd.DataFrame,
    *,
    model: ChurnRiskModel | None = None,
    baseline: ChurnRiskModel | None = None,
    horizon_days: int = 365,
    target: str = "churned",
    population: str | None = "renewal_due",
    min_train_rows: int = 200,
    label_delay_days: int | None = None,
    last_quarters: int | None = None,
    exclude: tuple[str, ...] = (),
    random_state: int = 42,
    progress: ProgressCallback | None = None,
) -> BacktestResult:
    """Walk-forward backtest of a churn model on a snapshot panel.

    For each ``as_of`` quarter ``q`` in the panel (oldest first), the model is
    fitted on the earlier rows whose outcome was final by ``q``
    (:func:`labelled_by`: a churn is only confirmed when the grace period
    after the contract end has passed) and scores the rows at ``q``; quarters
    with too little labelled history are skipped.

    Parameters
    ----------
    panel : pandas.DataFrame
        A snapshot panel (``icp.snapshot`` with a list of ``as_of``), with outcomes.
    model, baseline : ChurnRiskModel, optional
        The model to test (default ``ChurnRiskModel(random_state=random_state)``)
        and the reference (default :class:`BaselineModel`).
    horizon_days : int, default=365
        The outcome horizon the panel was built with.
    target : str, default="churned"
        The outcome column.
    population : str or None, default="renewal_due"
        Train and score only rows where this column is true (accounts with a
        renewal decision in the horizon), when the column exists.
    min_train_rows : int, default=200
        Quarters with fewer closed training rows are skipped.
    label_delay_days : int, optional
        Days after the end of an outcome window until its label is final; by
        default the panel's ``grace_period_days`` (0 when absent).
    last_quarters : int, optional
        Score only the most recent scoreable quarters (all by default); each
        is still fitted only on the history before it.
    exclude : tuple of str
        Columns never used as features (``Dataset.excluded_columns``).
    random_state : int, default=42
        Seed of the default models.
    progress : callable, optional
        Called as ``progress(done, total, label)`` after each quarter.

    Returns
    -------
    BacktestResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> quarters = pd.date_range("2021-03-31", periods=12, freq="QE")
    >>> panel = pd.DataFrame({"account_id": np.tile(np.arange(300), 12).astype(str),
    ...                       "as_of": np.repeat(quarters, 300),
    ...                       "usage": rng.normal(size=3600)})
    >>> panel["churned"] = rng.random(3600) < 1 / (1 + np.exp(2 + 1.5 * panel.usage))
    >>> result = backtest(panel, model=ChurnRiskModel(model="logistic"))
    >>> bool(result.summary.loc["model", "roc_auc"] > 0.7)
    True
    """
    if "as_of" not in panel.columns:
        raise InsufficientDataError(
            "A walk-forward backtest needs a snapshot panel with an 'as_of' column. "
            f"Found columns: {', '.join(map(str, panel.columns[:15]))}. "
            "Build the panel with icp.snapshot(data, as_of=[...]) or use cross_validate for one table."
        )
    model = model if model is not None else ChurnRiskModel(random_state=random_state)
    baseline = baseline if baseline is not None else BaselineModel(random_state=random_state)
    model = clone(model).set_params(exclude=tuple({*model.exclude, *exclude}))
    baseline = clone(baseline).set_params(exclude=tuple({*baseline.exclude, *exclude}))
    as_of = pd.to_datetime(panel["as_of"])
    rows = _scoring_rows(panel, population)
    rows_as_of = pd.to_datetime(rows["as_of"])
    quarters = sorted(as_of.unique())
    if "horizon_complete" in panel.columns:
        # a quarter whose outcome window runs past the end of the data cannot be scored honestly
        complete = set(as_of[panel["horizon_complete"].fillna(False).astype(bool).to_numpy()].unique())
        quarters = [q for q in quarters if q in complete]
    delay = label_delay_days if label_delay_days is not None else panel.attrs.get("grace_period_days", 0)

    def closed_by(q: Any) -> np.ndarray:
        return labelled_by(rows, q, horizon_days=horizon_days, label_delay_days=int(delay or 0))

    if last_quarters is not None:
        scoreable = [q for q in quarters if closed_by(q).sum() >= min_train_rows]
        quarters = scoreable[-int(last_quarters):]
    preds, folds, notes = [], [], []
    for done, q in enumerate(quarters, start=1):
        closed = closed_by(q)
        train, test = rows[closed], rows[(rows_as_of == q).to_numpy()]
        y_train = _target(train, target)
        if len(train) < min_train_rows or len(np.unique(y_train)) < 2 or test.empty:
            if progress:
                progress(done, len(quarters), str(pd.Timestamp(q).date()))
            continue
        p_model = _fit_predict(model, train, y_train, test)
        p_base = _fit_predict(baseline, train, y_train, test)
        preds.append(
            pd.DataFrame(
                {
                    "account_id": test["account_id"].to_numpy() if "account_id" in test else test.index,
                    "fold": pd.Timestamp(q),
                    "churned": _target(test, target),
                    "model": p_model,
                    "baseline": p_base,
                }
            )
        )
        train_as_of = pd.to_datetime(train["as_of"])
        folds.append(
            {
                "fold": str(pd.Timestamp(q).date()),
                "train_rows": len(train),
                "train_from": str(train_as_of.min().date()),
                "train_to": str(train_as_of.max().date()),
                "scored_rows": len(test),
            }
        )
        if progress:
            progress(done, len(quarters), str(pd.Timestamp(q).date()))
    if not preds:
        raise InsufficientDataError(
            f"No quarter of the panel has {min_train_rows} or more training rows whose "
            "outcome was final before it, with both churned and retained accounts. "
            f"Found {len(quarters)} as_of date(s) from {pd.Timestamp(quarters[0]).date() if quarters else '-'} "
            f"to {pd.Timestamp(quarters[-1]).date() if quarters else '-'}. "
            "Use a longer history (more quarters) or a shorter horizon."
        )
    skipped = len(quarters) - len(preds)
    if skipped:
        notes.append(
            f"{skipped} of {len(quarters)} quarter(s) were not scored: not enough history whose "
            "outcome was final before them."
        )
    predictions = pd.concat(preds, ignore_index=True)
    predictions["fold"] = predictions["fold"].dt.date.astype(str)
    return _result("time", predictions, pd.DataFrame(folds), notes)


def cross_validate(
    frame: pd.DataFrame,
    *,
    model: ChurnRiskModel | None = None,
    baseline: ChurnRiskModel | None = None,
    target: str = "churned",
    n_splits: int = 5,
    exclude: tuple[str, ...] = (),
    random_state: int = 42,
    progress: ProgressCallback | None = None,
) -> BacktestResult:
    """Stratified K-fold cross-validation of a churn model on one row per customer.

    Parameters
    ----------
    frame : pandas.DataFrame
        The single-table form (``account_id``, attributes, ``churned``), or one snapshot.
    model, baseline : ChurnRiskModel, optional
        As in :func:`backtest`.
    target : str, default="churned"
        The outcome column.
    n_splits : int, default=5
        Number of folds (shuffled, stratified by the outcome).
    exclude : tuple of str
        Columns never used as features.
    random_state : int, default=42
        Seed of the folds and of the default models.
    progress : callable, optional
        Called as ``progress(done, total, label)`` after each fold.

    Returns
    -------
    BacktestResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> frame = pd.DataFrame({"account_id": np.arange(600).astype(str), "usage": rng.normal(size=600)})
    >>> frame["churned"] = rng.random(600) < 1 / (1 + np.exp(1 + 2 * frame.usage))
    >>> result = cross_validate(frame, model=ChurnRiskModel(model="logistic"))
    >>> list(result.summary.index)
    ['model', 'baseline']
    """
    y = _target(frame, target)
    counts = np.bincount(y.astype(int), minlength=2)
    if counts.min() < n_splits:
        raise InsufficientDataError(
            f"Cross-validation with {n_splits} folds needs at least {n_splits} churned and "
            f"{n_splits} retained customers. Found {counts[1]} churned and {counts[0]} retained. "
            "Use more data or fewer folds."
        )
    model = model if model is not None else ChurnRiskModel(random_state=random_state)
    baseline = baseline if baseline is not None else BaselineModel(random_state=random_state)
    model = clone(model).set_params(exclude=tuple({*model.exclude, *exclude}))
    baseline = clone(baseline).set_params(exclude=tuple({*baseline.exclude, *exclude}))
    features = frame[[*[c for c in ("account_id",) if c in frame], *model_columns(frame, exclude=())]]
    splits = stratified_folds(frame, y, n_splits=n_splits, random_state=random_state)
    preds, folds = [], []
    for i, (fit_idx, test_idx) in enumerate(splits, start=1):
        train, test = features.iloc[fit_idx], features.iloc[test_idx]
        preds.append(
            pd.DataFrame(
                {
                    "account_id": test["account_id"].to_numpy() if "account_id" in test else test.index,
                    "fold": i,
                    "churned": y[test_idx],
                    "model": _fit_predict(model, train, y[fit_idx], test),
                    "baseline": _fit_predict(baseline, train, y[fit_idx], test),
                }
            )
        )
        folds.append({"fold": str(i), "train_rows": len(fit_idx), "scored_rows": len(test_idx)})
        if progress:
            progress(i, n_splits, f"fold {i}")
    return _result("cv", pd.concat(preds, ignore_index=True), pd.DataFrame(folds), [])


def _result(kind: str, predictions: pd.DataFrame, folds: pd.DataFrame, notes: list[str]) -> BacktestResult:
    metrics = _metric_rows(predictions)
    pooled = metrics[(metrics["fold"] == "all") & (metrics["model"] == "model")].iloc[0]
    if np.isfinite(pooled["roc_auc"]) and pooled["roc_auc"] < 0.6:
        message = (
            f"Weak signal: the out-of-sample ROC AUC of the churn model is {pooled['roc_auc']:.3f} "
            "(0.5 = chance). Expected 0.6 or more for useful risk scores. "
            "The features barely predict churn in this data; treat the risk scores as rough "
            "and check how churn is defined."
        )
        notes.append(message)
        warnings.warn(message, DataQualityWarning, stacklevel=3)
    return BacktestResult(kind, predictions, metrics, folds, tuple(notes))
