"""The report's churn-risk analysis: an honest quality check and the risk list, fitting as little as possible.

Fitting :class:`~icp.churn.ChurnRiskModel` is the slowest step of the report, so
each form fits it as few times as an honest answer allows, and the model family
(gradient boosting or spline logistic) is chosen once, by the first fit, and
kept for the others:

multi-table form (a history panel of year-end snapshots)
    One out-of-time check: fitted on the earlier years, scored on the renewals of
    the latest year (two fits in all with the final one). Then one final fit on
    every year, which scores the customers active at the quarter's end.
single-table form (one row per customer, no dates)
    A model fitted on the same rows it scores would simply hand the base rate
    back as "expected to churn". Every customer is scored out of fold instead
    (5-fold stratified cross-validation, five fits in all): each probability,
    and each reason, comes from a model that never saw that customer. The same
    out-of-fold probabilities give the quality check. The current customers are
    the rows not marked as churned.

The risk list itself is :func:`icp.risk.risk_scores` (probability, band, ARR at
risk and the top reasons from :meth:`icp.churn.ChurnRiskModel.reasons`), out of
fold :func:`icp.risk.out_of_fold_scores` (shared with ``icp risk``); the
metrics are :func:`icp.backtest.churn_metrics`, with the plain logistic
:class:`~icp.backtest.BaselineModel` scored on the same rows for comparison.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from icp.exceptions import InsufficientDataError

__all__ = ["RiskResult", "churn_risk", "N_FOLDS"]

logger = logging.getLogger(__name__)

N_FOLDS = 5


@dataclass(frozen=True)
class RiskResult:
    """Churn risk of the current customers, with the model's out-of-sample check.

    Attributes
    ----------
    scores : pandas.DataFrame
        The risk list (:data:`icp.risk.RISK_COLUMNS`), the most ARR at risk first.
    metrics : dict
        Out-of-sample quality (``roc_auc``, ``pr_auc``, ``brier_score``,
        ``top_decile_lift``, ``ece``, the baseline's ``baseline_roc_auc``...),
        ``evaluation`` (how it was measured), ``scoring`` (how the current
        customers were scored), ``model`` and ``features``.
    model : ChurnRiskModel
        The model that scored the current customers (in the single-table form,
        the model of the first fold; each fold's model scored its own customers).
    """

    scores: pd.DataFrame
    metrics: dict
    model: Any = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        """Accounts and ARR at risk per risk band."""
        return (self.scores.groupby("risk_band", observed=True, sort=False)
                .agg(accounts=("account_id", "size"), arr_usd=("arr_usd", "sum"),
                     arr_at_risk_usd=("arr_at_risk_usd", "sum"),
                     expected_churners=("churn_probability", "sum"))
                .reindex(self._band_order()).dropna(how="all").reset_index())

    def _band_order(self) -> list[str]:
        bands = self.metrics.get("risk_bands") or {}
        order = [name for name, _ in sorted(bands.items(), key=lambda kv: kv[1])]
        return order or sorted(self.scores["risk_band"].astype(str).unique())

    @property
    def quality(self) -> pd.DataFrame:
        """How far the scores can be trusted, in plain language (one row per fact)."""
        m = self.metrics

        def num(key: str, fmt: str) -> str:
            value = m.get(key)
            return "n/a" if value is None else format(value, fmt)

        rows = [
            ("How the quality was measured", m.get("evaluation", "")),
            ("How the current customers were scored", m.get("scoring", "")),
            ("Renewal decisions checked", f"{m.get('n_decisions', 0):,}"),
            ("Share that churned", num("churn_rate", ".1%")),
            ("Ranking quality (ROC AUC; 0.5 is chance)", num("roc_auc", ".3f")),
            ("The same for a plain logistic baseline", num("baseline_roc_auc", ".3f")),
            ("Churn rate in the riskiest tenth, over the average (lift)", num("top_decile_lift", ".2f")),
            ("Calibration error (ECE; 0 is perfect)", num("ece", ".3f")),
            ("Average predicted churn probability", num("mean_predicted", ".1%")),
            ("Model", m.get("model", "")),
        ]
        return pd.DataFrame(rows, columns=["measure", "value"])

    def top(self, n: int = 20) -> pd.DataFrame:
        """The ``n`` accounts with the most ARR at risk, with the reasons of each score.

        Examples
        --------
        >>> risk.top(5)[["account_id", "reasons"]]  # doctest: +SKIP
        """
        columns = [c for c in ("account_id", "churn_probability", "risk_band", "arr_usd", "arr_at_risk_usd",
                               "reasons") if c in self.scores]
        shown = self.scores.head(n)[columns]
        if "arr_usd" in shown and shown["arr_usd"].isna().all():
            shown = shown.drop(columns=["arr_usd", "arr_at_risk_usd"])
        return shown.reset_index(drop=True)

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False, float_format=lambda v: f"{v:,.0f}")


def _decided(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows whose outcome is a decision: a renewal was due (multi-table form) and is known."""
    if "renewal_due" in frame.columns:
        frame = frame[frame["renewal_due"].astype("boolean").fillna(False).astype(bool)]
    return frame[frame["churned"].notna()]


def _horizon(frame: pd.DataFrame) -> int:
    return int(frame.attrs.get("horizon_days", 365))


def _target(frame: pd.DataFrame) -> np.ndarray:
    return frame["churned"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def _model(ctx: Any, family: str = "auto") -> Any:
    from icp.churn import ChurnRiskModel

    config = ctx.dataset.config
    # company names and the columns validation set aside never explain churn
    exclude = tuple(sorted({"name", *dict(getattr(ctx.dataset, "excluded_columns", {}) or {}),
                            *(config.get("exclude") or [])}))
    return ChurnRiskModel(model=family, exclude=exclude,
                          allow_leaky=tuple(config.get("allow_leaky") or ()),
                          leakage_threshold=float(config.get("leakage_auc_threshold", 0.98)),
                          random_state=int(config.get("random_state", 42)))


def _baseline(ctx: Any, train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray | None:
    """The plain logistic baseline's probabilities on ``test`` (None when it cannot be fitted)."""
    from icp.backtest import BaselineModel

    base = _model(ctx)
    try:
        fitted = BaselineModel(**base.get_params()).fit(train, y)
    except (ValueError, InsufficientDataError) as exc:
        logger.info("the baseline could not be fitted: %s", exc)
        return None
    return fitted.predict_proba(test)[:, 1]


def _metrics(y: np.ndarray, p: np.ndarray, baseline: np.ndarray | None) -> dict[str, Any]:
    from icp.backtest import churn_metrics

    m = churn_metrics(y, p)
    out = {"n_decisions": m["accounts"], "churn_rate": m["churn_rate"], "roc_auc": m["roc_auc"],
           "pr_auc": m["pr_auc"], "brier_score": m["brier"], "top_decile_lift": m["top_decile_lift"],
           "ece": m["ece"], "mean_predicted": float(np.mean(p))}
    if baseline is not None:
        b = churn_metrics(y, baseline)
        out.update(baseline_roc_auc=b["roc_auc"], baseline_brier_score=b["brier"])
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in out.items()}


def _out_of_fold(ctx: Any, data: pd.DataFrame, y: np.ndarray, bands: dict, score: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray | None, pd.DataFrame, Any]:
    """Probabilities of every row and the risk list of the rows in ``score``, all out of fold.

    The shared :func:`icp.risk.out_of_fold_scores` (which ``icp risk`` uses too):
    each row is scored, and its reasons given, by the fold model that never saw it.
    Returns the probabilities, the baseline's (None when it could not be fitted),
    the ranked risk list and the first fold's model.
    """
    from icp.backtest import BaselineModel
    from icp.risk import RISK_COLUMNS, out_of_fold_scores, rank_risk

    seed = int(ctx.dataset.config.get("random_state", 42))
    model = _model(ctx)
    wanted = np.zeros(len(y), dtype=bool) if score is None else np.asarray(score, dtype=bool)
    scored, models = out_of_fold_scores(
        data.assign(churned=y), model, score=wanted, cv=N_FOLDS, random_state=seed, bands=bands,
        baseline=BaselineModel(**model.get_params()), return_models=True)
    base = scored["baseline_probability"].to_numpy(dtype=float)
    return (scored["churn_probability"].to_numpy(dtype=float), None if np.isnan(base).any() else base,
            rank_risk(scored[wanted][list(RISK_COLUMNS)]), models[0])


def _single_table(ctx: Any, panel: pd.DataFrame, bands: dict) -> tuple[pd.DataFrame, dict, Any]:
    data = _decided(panel).reset_index(drop=True)
    y = _target(data)
    p, base, scores, model = _out_of_fold(ctx, data, y, bands, score=~y)
    metrics = _metrics(y, p, base)
    metrics["evaluation"] = (f"{N_FOLDS}-fold stratified cross-validation: every customer scored by a model "
                             "that never saw it")
    metrics["scoring"] = (f"out of fold: the {int((~y).sum()):,} current customers (not marked as churned) "
                          f"were each scored by the one of the {N_FOLDS} cross-validation models that did not "
                          "see them, so 'expected to churn' is not the base rate handed back")
    return scores, metrics, model


def _multi_table(ctx: Any, panel: pd.DataFrame, now: pd.DataFrame, bands: dict) -> tuple[pd.DataFrame, dict, Any]:
    from icp.backtest import labelled_by
    from icp.risk import risk_scores

    data = _decided(panel).reset_index(drop=True)
    # only the renewals whose outcome was final at the quarter's end (the last weeks' decisions
    # are still inside their grace period)
    data = data[labelled_by(data, ctx.as_of, horizon_days=_horizon(panel))].reset_index(drop=True)
    y = _target(data)
    dates = pd.to_datetime(data["as_of"]) if "as_of" in data else None
    if dates is not None and dates.nunique() >= 2:
        last = dates.max()
        # trained only on the earlier renewals whose outcome was final when the latest year began
        early = labelled_by(data, last, horizon_days=_horizon(panel))
        first = _model(ctx).fit(data[early], y[early])
        scored = (dates == last).to_numpy()
        p = first.predict_proba(data[scored])[:, 1]
        metrics = _metrics(y[scored], p, _baseline(ctx, data[early], y[early], data[scored]))
        metrics["evaluation"] = (f"out of time: trained on the {int(early.sum()):,} renewals whose outcome was "
                                 f"known by {last.date()}, scored the {int(scored.sum()):,} renewals of the "
                                 "year after it")
    else:  # a single year of history: cross-validation is the honest fallback
        p, base, _, first = _out_of_fold(ctx, data, y, bands, score=None)
        metrics = _metrics(y, p, base)
        metrics["evaluation"] = (f"{N_FOLDS}-fold stratified cross-validation on the one year of history "
                                 "(too short for an out-of-time check)")
    # the family chosen on the earlier years, refitted on all of them
    model = _model(ctx, first.model_).fit(data, y)
    metrics["scoring"] = (f"a model fitted on the {len(data):,} renewal decisions of the history scored the "
                          f"{len(now):,} customers active at the quarter's end")
    # the model was fitted on snapshots with their outcome columns (which it never uses):
    # score the same columns, the unknown outcomes blanked out
    scores = risk_scores(model, now.reindex(columns=data.columns), bands=bands)
    return scores, metrics, model


def churn_risk(ctx: Any) -> RiskResult:
    """Score the current customers' churn risk with reasons; write risk_scores.csv and model_metrics.json.

    See the module docstring for how each form is fitted and checked.

    Examples
    --------
    >>> risk = churn_risk(ctx)  # doctest: +SKIP
    >>> risk.top(5)  # doctest: +SKIP
    """
    from icp.report.analyses import current, history

    def build() -> RiskResult:
        bands = dict(ctx.dataset.config.get("risk_bands") or {"low": 0, "medium": .15, "high": .3, "critical": .5})
        if ctx.single_table:
            scores, metrics, model = _single_table(ctx, history(ctx), bands)
        else:
            scores, metrics, model = _multi_table(ctx, history(ctx), current(ctx), bands)
        metrics.update(model=getattr(model, "model_", ""), features=list(getattr(model, "features_", [])),
                       risk_bands=bands)
        return RiskResult(scores, metrics, model)

    result = ctx.cached("risk", build)
    ctx.write_result("risk_scores.csv", result.scores)
    ctx.write_result("model_metrics.json", result.metrics)
    return result
