"""The risk list: who is about to leave, how much ARR is at stake, and why.

:func:`risk_scores` turns a fitted :class:`~icp.churn.ChurnRiskModel` and a
snapshot of current customers into one row per account: churn probability, risk
band (cut-offs from the ``risk_bands`` setting), ARR at risk (probability x
ARR), the top reasons, and the account's segment and grade when those are given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from icp.churn import ChurnRiskModel
from icp.config import DEFAULTS
from icp.exceptions import InsufficientDataError, SchemaError
from icp.reasons import reason_strings

__all__ = ["event_outcomes", "out_of_fold_scores", "rank_risk", "risk_band", "risk_scores", "RISK_COLUMNS"]

logger = logging.getLogger(__name__)

RISK_COLUMNS = ("account_id", "churn_probability", "risk_band", "arr_usd", "arr_at_risk_usd", "reasons")


def _bands(bands: Mapping[str, float] | None) -> list[tuple[float, str]]:
    bands = dict(DEFAULTS["risk_bands"] if bands is None else bands)
    try:
        pairs = sorted((float(lower), str(name)) for name, lower in bands.items())
    except (TypeError, ValueError):
        raise SchemaError(
            "The 'risk_bands' setting must map each band name to the lowest churn probability of "
            f"the band. Found {bands!r}. Use for example risk_bands: {{low: 0.0, medium: 0.15, high: 0.3}}."
        ) from None
    if not pairs or pairs[0][0] > 0 or any(not 0 <= lower <= 1 for lower, _ in pairs):
        raise SchemaError(
            "The 'risk_bands' setting must give lower bounds between 0 and 1, the lowest band starting at 0. "
            f"Found {bands!r}. Use for example risk_bands: {{low: 0.0, medium: 0.15, high: 0.3, critical: 0.5}}."
        )
    return pairs


def risk_band(probability: Any, bands: Mapping[str, float] | None = None) -> pd.Series:
    """The risk band of each churn probability (the band whose lower bound it reaches).

    Parameters
    ----------
    probability : array-like
        Churn probabilities.
    bands : mapping, optional
        Band name -> lowest probability in the band; by default the
        ``risk_bands`` setting of ``icp/defaults.yaml``.

    Returns
    -------
    pandas.Series
        An ordered categorical, lowest risk first.

    Examples
    --------
    >>> risk_band([0.05, 0.2, 0.35, 0.9]).tolist()
    ['low', 'medium', 'high', 'critical']
    """
    pairs = _bands(bands)
    p = np.asarray(probability, dtype=float)
    lowers = np.array([lower for lower, _ in pairs])
    names = [name for _, name in pairs]
    idx = np.searchsorted(lowers, p, side="right") - 1
    index = probability.index if isinstance(probability, pd.Series) else None
    return pd.Series(
        pd.Categorical.from_codes(np.clip(idx, 0, len(names) - 1), categories=names, ordered=True),
        index=index,
        name="risk_band",
    )


def risk_scores(
    model: ChurnRiskModel,
    snapshot: pd.DataFrame,
    *,
    bands: Mapping[str, float] | None = None,
    top_reasons: int = 3,
    segments: pd.DataFrame | None = None,
    grades: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The risk list of current customers, highest ARR at risk first.

    Parameters
    ----------
    model : ChurnRiskModel
        A fitted churn model.
    snapshot : pandas.DataFrame
        The accounts to score, with the model's feature columns, ``account_id``
        and ``arr_usd`` (when absent, ARR at risk is left empty).
    bands : mapping, optional
        Risk band cut-offs (see :func:`risk_band`).
    top_reasons : int, default=3
        Drivers listed per account.
    segments, grades : pandas.DataFrame, optional
        Tables keyed by ``account_id`` whose other columns (for example
        ``segment`` or ``grade``) are joined onto the list.

    Returns
    -------
    pandas.DataFrame
        :data:`RISK_COLUMNS` plus the joined segment and grade columns.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> snap = pd.DataFrame({"account_id": [f"a{i}" for i in range(300)],
    ...                      "tenure_months": rng.integers(1, 60, 300),
    ...                      "arr_usd": rng.uniform(1e3, 5e4, 300)})
    >>> y = rng.random(300) < 1 / (1 + np.exp(snap.tenure_months / 10 - 2))
    >>> model = ChurnRiskModel(model="logistic", exclude=("arr_usd",)).fit(snap, y)
    >>> list(risk_scores(model, snap).columns)
    ['account_id', 'churn_probability', 'risk_band', 'arr_usd', 'arr_at_risk_usd', 'reasons']
    """
    if "account_id" not in snapshot.columns:
        raise SchemaError(
            "The accounts to score have no 'account_id' column. Expected a snapshot of current customers. "
            f"Found columns: {', '.join(map(str, snapshot.columns[:15]))}. Build it with icp.snapshot."
        )
    return rank_risk(_risk_rows(model, snapshot, bands, top_reasons), segments=segments, grades=grades)


def _risk_rows(model: ChurnRiskModel, snapshot: pd.DataFrame, bands: Mapping[str, float] | None,
               top_reasons: int) -> pd.DataFrame:
    """:data:`RISK_COLUMNS` of ``snapshot``'s rows in their order (positional index)."""
    frame = snapshot.reset_index(drop=True)
    p = model.predict_proba(frame)[:, 1]
    arr = (
        pd.to_numeric(frame["arr_usd"], errors="coerce").to_numpy(dtype=float)
        if "arr_usd" in frame.columns
        else np.full(len(frame), np.nan)
    )
    return pd.DataFrame(
        {
            "account_id": frame["account_id"].astype(str).to_numpy(),
            "churn_probability": p,
            "risk_band": risk_band(p, bands).astype(str).to_numpy(),
            "arr_usd": arr,
            "arr_at_risk_usd": p * arr,
            "reasons": reason_strings(model, frame, top=top_reasons).to_numpy(),
        }
    )


def rank_risk(
    scores: pd.DataFrame, *, segments: pd.DataFrame | None = None, grades: pd.DataFrame | None = None
) -> pd.DataFrame:
    """A risk list in its reading order: the most ARR at risk first (the probability without ARR).

    Parameters
    ----------
    scores : pandas.DataFrame
        Rows with ``account_id``, ``churn_probability`` and ``arr_at_risk_usd``
        (for example rows of :func:`out_of_fold_scores`).
    segments, grades : pandas.DataFrame, optional
        Tables keyed by ``account_id`` whose other columns are joined on.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> scores = pd.DataFrame({"account_id": ["a", "b"], "churn_probability": [0.1, 0.6],
    ...                        "arr_at_risk_usd": [np.nan, np.nan]})
    >>> rank_risk(scores).account_id.tolist()
    ['b', 'a']
    """
    out = scores.reset_index(drop=True)
    for extra in (segments, grades):
        if extra is None or "account_id" not in extra.columns:
            continue
        extra = extra.assign(account_id=extra["account_id"].astype(str)).drop_duplicates("account_id")
        keep = [c for c in extra.columns if c == "account_id" or c not in out.columns]
        out = out.merge(extra[keep], on="account_id", how="left")
    arr = np.nan_to_num(out["arr_at_risk_usd"].to_numpy(dtype=float), nan=-1)
    order = np.lexsort((-out["churn_probability"].to_numpy(dtype=float), -arr))
    return out.iloc[order].reset_index(drop=True)


def out_of_fold_scores(
    frame: pd.DataFrame,
    model: ChurnRiskModel,
    *,
    target: str = "churned",
    score: Any = None,
    cv: int = 5,
    random_state: int = 42,
    bands: Mapping[str, float] | None = None,
    top_reasons: int = 3,
    baseline: ChurnRiskModel | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    return_models: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, list[ChurnRiskModel]]:
    """Score every row with the cross-validation model that never saw it (single-table form).

    A model fitted on the rows it scores hands their base rate back: its
    probabilities are in-sample and look better than they are. Here each row's
    probability, and the reasons given for it, come from the one model of a
    stratified ``cv``-fold cross-validation (the folds of
    :func:`icp.backtest.cross_validate` with the same seed) whose training rows
    did not include it. With ``model="auto"`` the family chosen on the first
    fold is kept for the other folds.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per customer: ``account_id``, attributes and the outcome.
    model : ChurnRiskModel
        The unfitted model (cloned in every fold).
    target : str, default="churned"
        The outcome column.
    score : array-like of bool, optional
        The rows that get reasons (the costly part); by default the current
        customers, i.e. the rows whose outcome is not churned.
    cv : int, default=5
        Number of folds.
    random_state : int, default=42
        Seed of the folds.
    bands : mapping, optional
        Risk band cut-offs (see :func:`risk_band`).
    top_reasons : int, default=3
        Drivers listed per scored row.
    baseline : ChurnRiskModel, optional
        A reference model (for example :class:`icp.backtest.BaselineModel`)
        fitted on the same folds; its probabilities go in ``baseline_probability``.
    progress : callable, optional
        Called as ``progress(done, total, label)`` after each fold.
    return_models : bool, default=False
        Also return the fitted model of each fold.

    Returns
    -------
    pandas.DataFrame
        One row per row of ``frame`` (same index and order): ``fold``, the
        outcome, and :data:`RISK_COLUMNS` (``reasons`` empty outside ``score``),
        plus ``baseline_probability`` when a baseline is given (empty in a
        fold where it could not be fitted). With
        ``return_models``, the pair (frame, list of fitted fold models).

    Raises
    ------
    InsufficientDataError
        When either class has fewer rows than folds.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> frame = pd.DataFrame({"account_id": np.arange(400).astype(str), "usage": rng.normal(size=400)})
    >>> frame["churned"] = rng.random(400) < 1 / (1 + np.exp(1 + 2 * frame.usage))
    >>> oof = out_of_fold_scores(frame, ChurnRiskModel(model="logistic"))
    >>> bool(oof["churn_probability"].between(0, 1).all()), sorted(oof["fold"].unique().tolist())
    (True, [1, 2, 3, 4, 5])
    """
    from sklearn.base import clone

    from icp.backtest import stratified_folds

    if target not in frame.columns:
        raise SchemaError(
            f"The customers to score out of fold have no outcome column '{target}'. Expected one row per "
            f"customer with its outcome. Found columns: {', '.join(map(str, frame.columns[:15]))}. "
            "Load the single-table form with its churn column (for example --churn Churn=Yes)."
        )
    if "account_id" not in frame.columns:
        frame = frame.assign(account_id=np.arange(len(frame)).astype(str))
    y = frame[target].astype("boolean").fillna(False).to_numpy(dtype=bool)
    churned, stayed = int(y.sum()), int((~y).sum())
    if min(churned, stayed) < cv:
        raise InsufficientDataError(
            f"Scoring out of fold with {cv} folds needs at least {cv} churned and {cv} retained customers. "
            f"Found {churned} churned and {stayed} retained. Use more data or fewer folds."
        )
    wanted = ~y if score is None else np.asarray(score, dtype=bool)
    data = frame.reset_index(drop=True)
    out = pd.DataFrame(index=pd.RangeIndex(len(data)), columns=["fold", target, *RISK_COLUMNS])
    out["fold"] = 0
    out[target] = y
    out["account_id"] = data["account_id"].astype(str).to_numpy()
    out["churn_probability"] = np.nan
    if baseline is not None:
        out["baseline_probability"] = np.nan
    models: list[ChurnRiskModel] = []
    family = model.get_params().get("model", "auto")
    folds = stratified_folds(data, y, n_splits=cv, random_state=random_state)
    for i, (fit_rows, test_rows) in enumerate(folds, start=1):
        fitted = clone(model).set_params(model=family).fit(data.iloc[fit_rows], y[fit_rows])
        family = fitted.model_  # the family chosen on the first fold is kept
        models.append(fitted)
        test = data.iloc[test_rows]
        rows = _risk_rows(fitted, test, bands, top_reasons) if wanted[test_rows].any() else None
        p = fitted.predict_proba(test)[:, 1] if rows is None else rows["churn_probability"].to_numpy()
        out.loc[test_rows, "fold"] = i
        out.loc[test_rows, "churn_probability"] = p
        if rows is not None:
            mine = wanted[test_rows]
            out.loc[test_rows[mine], "reasons"] = rows["reasons"].to_numpy()[mine]
        if baseline is not None:
            try:
                reference = clone(baseline).fit(data.iloc[fit_rows], y[fit_rows])
            except (ValueError, InsufficientDataError) as exc:  # left empty: the caller sees NaN
                logger.info("the baseline could not be fitted on fold %d: %s", i, exc)
            else:
                out.loc[test_rows, "baseline_probability"] = reference.predict_proba(test)[:, 1]
        if progress:
            progress(i, cv, f"fold {i}")
    out["churn_probability"] = out["churn_probability"].astype(float)
    arr = (pd.to_numeric(data["arr_usd"], errors="coerce").to_numpy(dtype=float)
           if "arr_usd" in data.columns else np.full(len(data), np.nan))
    out["risk_band"] = risk_band(out["churn_probability"].to_numpy(), bands).astype(str).to_numpy()
    out["arr_usd"] = arr
    out["arr_at_risk_usd"] = out["churn_probability"].to_numpy() * arr
    out["fold"] = out["fold"].astype(int)
    out.index = frame.index
    return (out, models) if return_models else out


def event_outcomes(panel: pd.DataFrame, events: pd.DataFrame, *, horizon_days: int) -> pd.DataFrame:
    """Relabel a snapshot panel from dated churn events: churned = an event in ``(as_of, as_of + horizon]``.

    For data whose contract history does not show churn (for example accounts
    holding overlapping subscriptions) but that record churn events with a date.

    Parameters
    ----------
    panel : pandas.DataFrame
        Snapshot rows with ``account_id`` and ``as_of``.
    events : pandas.DataFrame
        ``account_id`` and ``churn_date``, one row per churn event.
    horizon_days : int
        The outcome horizon.

    Returns
    -------
    pandas.DataFrame
        A copy of ``panel`` with ``churned`` and ``churn_date`` replaced, and
        ``renewal_due`` set to true (every active account is in the population).

    Examples
    --------
    >>> panel = pd.DataFrame({"account_id": ["a", "b"], "as_of": pd.to_datetime(["2024-03-31"] * 2)})
    >>> events = pd.DataFrame({"account_id": ["a", "b"], "churn_date": ["2024-05-01", "2023-01-01"]})
    >>> event_outcomes(panel, events, horizon_days=365).churned.tolist()
    [True, False]
    """
    ev = pd.DataFrame(
        {
            "account_id": events["account_id"].astype(str),
            "event_date": pd.to_datetime(events["churn_date"], errors="coerce"),
        }
    ).dropna()
    keyed = panel[["account_id", "as_of"]].reset_index(drop=True).assign(
        account_id=lambda f: f["account_id"].astype(str), as_of=lambda f: pd.to_datetime(f["as_of"])
    )
    joined = keyed.reset_index().merge(ev, on="account_id")
    inside = (joined["event_date"] > joined["as_of"]) & (
        joined["event_date"] <= joined["as_of"] + pd.Timedelta(days=int(horizon_days))
    )
    first = joined[inside].groupby("index")["event_date"].min()
    out = panel.reset_index(drop=True).copy()
    out["churn_date"] = first.reindex(out.index).to_numpy()
    out["churned"] = out["churn_date"].notna()
    out["renewal_due"] = True
    # a dated event is known on its date: every row's outcome is final when its horizon ends
    out["label_final_on"] = pd.to_datetime(out["as_of"]) + pd.Timedelta(days=int(horizon_days))
    out.index = panel.index
    return out
