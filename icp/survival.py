"""Time to churn: Kaplan-Meier curves by risk band and a Cox proportional-hazards model.

Durations are counted from each snapshot's ``as_of``: an account that churned
in the horizon has an event at ``churn_date``; the others are censored at the
end of the horizon (or at the end of the data, when that comes first).

The Cox model is made robust against lifelines' known convergence failures:
constant and collinear columns are dropped before fitting, a ridge penalizer is
always used (and raised when the fit still fails), and the proportional-hazards
assumption is checked with the Schoenfeld-residual test, summarised per covariate.
"""

from __future__ import annotations

import html
import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from icp.churn_pipeline import column_kinds
from icp.exceptions import InsufficientDataError

__all__ = ["CoxResult", "SurvivalByBand", "churn_durations", "fit_cox", "kaplan_meier_by_band"]

logger = logging.getLogger(__name__)


def churn_durations(snapshot: pd.DataFrame, *, horizon_days: int | None = None) -> pd.DataFrame:
    """Days from ``as_of`` to churn (event) or to the end of observation (censored).

    Parameters
    ----------
    snapshot : pandas.DataFrame
        A snapshot or panel with ``as_of``, ``churned`` and ``churn_date``.
    horizon_days : int, optional
        The outcome horizon; by default ``snapshot.attrs["horizon_days"]`` or 365.

    Returns
    -------
    pandas.DataFrame
        ``duration_days`` (float, > 0) and ``event`` (bool), same index as ``snapshot``.

    Examples
    --------
    >>> import pandas as pd
    >>> snap = pd.DataFrame({"as_of": pd.to_datetime(["2024-03-31", "2024-03-31"]),
    ...                      "churned": [True, False],
    ...                      "churn_date": pd.to_datetime(["2024-06-30", None])})
    >>> churn_durations(snap).duration_days.tolist()
    [91.0, 365.0]
    """
    for column in ("as_of", "churned"):
        if column not in snapshot.columns:
            raise InsufficientDataError(
                f"Time to churn needs the snapshot column '{column}'. "
                f"Found columns: {', '.join(map(str, snapshot.columns[:15]))}. "
                "Use a multi-table snapshot with outcomes (icp.snapshot with an as_of date)."
            )
    horizon = int(horizon_days or snapshot.attrs.get("horizon_days", 365))
    as_of = pd.to_datetime(snapshot["as_of"])
    event = snapshot["churned"].fillna(False).astype(bool).to_numpy()
    end = as_of + pd.Timedelta(days=horizon)
    data_end = snapshot.attrs.get("data_end")
    if data_end:
        end = end.clip(upper=pd.Timestamp(data_end))
    censor = (end - as_of).dt.days.to_numpy(dtype=float)
    if "churn_date" in snapshot.columns:
        churn = (pd.to_datetime(snapshot["churn_date"]) - as_of).dt.days.to_numpy(dtype=float)
    else:
        churn = np.full(len(snapshot), np.nan)
    duration = np.where(event & np.isfinite(churn), churn, censor)
    # an event on the as_of day itself still needs a positive duration
    duration = np.clip(np.nan_to_num(duration, nan=float(horizon)), 0.5, None)
    return pd.DataFrame({"duration_days": duration, "event": event}, index=snapshot.index)


@dataclass(frozen=True)
class SurvivalByBand:
    """Kaplan-Meier retention curves per risk band.

    Attributes
    ----------
    curves : pandas.DataFrame
        ``risk_band``, ``days``, ``retained`` (share still a customer), ``lower``, ``upper``
        (95% confidence interval).
    summary : pandas.DataFrame
        Per band: accounts, churned, retained at the end of the horizon, median days to churn.
    """

    curves: pd.DataFrame
    summary: pd.DataFrame

    def _repr_html_(self) -> str:
        return "<h4>Retention by churn-risk band (Kaplan-Meier)</h4>" + self.summary.round(3).to_html()


def kaplan_meier_by_band(
    snapshot: pd.DataFrame, bands: Any, *, horizon_days: int | None = None
) -> SurvivalByBand:
    """Kaplan-Meier retention curves of the accounts in each risk band.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        Scored accounts with outcomes (``as_of``, ``churned``, ``churn_date``).
    bands : array-like
        The risk band of each row (for example ``icp.risk.risk_band(p)``).
    horizon_days : int, optional
        The outcome horizon.

    Returns
    -------
    SurvivalByBand

    Examples
    --------
    >>> import pandas as pd
    >>> snap = pd.DataFrame({"as_of": pd.to_datetime(["2024-03-31"] * 4),
    ...                      "churned": [True, False, True, False],
    ...                      "churn_date": pd.to_datetime(["2024-05-01", None, "2024-09-01", None])})
    >>> kaplan_meier_by_band(snap, ["high", "low", "high", "low"]).summary.churned.tolist()
    [2, 0]
    """
    from lifelines import KaplanMeierFitter

    durations = churn_durations(snapshot, horizon_days=horizon_days)
    band = pd.Series(np.asarray(bands), index=snapshot.index)
    categories = list(band.cat.categories) if isinstance(band.dtype, pd.CategoricalDtype) else None
    order = categories or sorted(band.dropna().unique(), key=str)
    curves, rows = [], []
    for name in order:
        mask = (band == name).to_numpy()
        if not mask.any():
            continue
        d = durations[mask]
        km = KaplanMeierFitter().fit(d["duration_days"], d["event"], label=str(name))
        sf = km.survival_function_.iloc[:, 0]
        ci = km.confidence_interval_survival_function_
        curves.append(
            pd.DataFrame(
                {
                    "risk_band": str(name),
                    "days": sf.index.to_numpy(dtype=float),
                    "retained": sf.to_numpy(),
                    "lower": ci.iloc[:, 0].to_numpy(),
                    "upper": ci.iloc[:, 1].to_numpy(),
                }
            )
        )
        median = km.median_survival_time_
        rows.append(
            {
                "risk_band": str(name),
                "accounts": int(mask.sum()),
                "churned": int(d["event"].sum()),
                "retained_at_end": float(sf.iloc[-1]),
                "median_days_to_churn": float(median) if np.isfinite(median) else None,
            }
        )
    return SurvivalByBand(pd.concat(curves, ignore_index=True), pd.DataFrame(rows))


@dataclass(frozen=True)
class CoxResult:
    """A penalised Cox model of time to churn and its proportional-hazards check.

    Attributes
    ----------
    summary : pandas.DataFrame
        Per covariate: ``hazard_ratio`` (per standard deviation, or vs the most
        frequent category), its 95% interval, ``p`` and ``ph_p`` (the
        proportional-hazards test; small = the effect changes over time).
    concordance : float
        Harrell's C on the fitted rows.
    penalizer : float
        The ridge penalizer used.
    dropped : Mapping[str, str]
        Columns left out, with the reason (constant, collinear).
    violations : tuple of str
        Covariates whose proportional-hazards test has p < 0.05.
    notes : tuple of str
        What happened on the way (retries, failures of the assumption check).
    """

    summary: pd.DataFrame
    concordance: float
    penalizer: float
    dropped: dict[str, str] = field(default_factory=dict)
    violations: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            f"<h4>Time to churn: Cox model (concordance {self.concordance:.3f}, "
            f"penalizer {self.penalizer:g})</h4>"
            + self.summary.round(3).to_html()
            + (f"<ul>{notes}</ul>" if notes else "")
        )


def _design(frame: pd.DataFrame, max_categories: int = 8) -> pd.DataFrame:
    """Numbers standardised (median-imputed), categories as dummies against the most frequent one."""
    kinds = column_kinds(frame)
    parts = {}
    for name, kind in kinds.items():
        col = frame[name]
        if kind in ("numeric", "binary"):
            x = pd.to_numeric(col, errors="coerce").astype(float)
            x = x.fillna(x.median())
            sd = x.std()
            parts[name] = (x - x.mean()) / sd if sd > 0 else x * 0.0
        elif kind == "categorical":
            values = col.astype(object).where(col.notna(), "missing").astype(str)
            top = values.value_counts().index[: max_categories + 1]
            for level in top[1:]:
                parts[f"{name}={level}"] = (values == level).astype(float)
    return pd.DataFrame(parts, index=frame.index)


def _drop_degenerate(design: pd.DataFrame, threshold: float = 0.95) -> tuple[pd.DataFrame, dict[str, str]]:
    dropped: dict[str, str] = {}
    keep = [c for c in design.columns if design[c].std() > 1e-12 and design[c].sum() >= 0]
    for c in design.columns:
        if c not in keep:
            dropped[c] = "constant"
    design = design[keep]
    corr = design.corr().abs().to_numpy() if design.shape[1] > 1 else np.zeros((1, 1))
    chosen: list[int] = []
    for j in range(design.shape[1]):
        partner = next((i for i in chosen if corr[i, j] > threshold), None)
        if partner is None:
            chosen.append(j)
        else:
            dropped[design.columns[j]] = f"collinear with {design.columns[partner]}"
    design = design.iloc[:, chosen]
    # exact linear dependence among several columns: drop until full rank
    while design.shape[1] > 1 and np.linalg.matrix_rank(design.to_numpy()) < design.shape[1]:
        _, r = np.linalg.qr(design.to_numpy())
        weakest = int(np.argmin(np.abs(np.diag(r))))
        dropped[design.columns[weakest]] = "linear combination of other columns"
        design = design.drop(columns=design.columns[weakest])
    return design, dropped


def fit_cox(
    snapshot: pd.DataFrame,
    features: list[str],
    *,
    horizon_days: int | None = None,
    penalizer: float = 0.1,
) -> CoxResult:
    """Fit a ridge-penalised Cox model of time to churn and check proportional hazards.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        Accounts with outcomes (``as_of``, ``churned``, ``churn_date``) and features.
    features : list of str
        Columns to use as covariates (for example ``model.features_`` of a churn model).
    horizon_days : int, optional
        The outcome horizon.
    penalizer : float, default=0.1
        Ridge penalizer; multiplied by 10 (up to twice) when lifelines fails to converge.

    Returns
    -------
    CoxResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> snap = pd.DataFrame({"as_of": pd.Timestamp("2024-03-31"), "usage": rng.normal(size=300),
    ...                      "constant": 1.0})
    >>> snap["churned"] = rng.random(300) < 1 / (1 + np.exp(1 + snap.usage))
    >>> snap["churn_date"] = pd.Timestamp("2024-03-31") + pd.to_timedelta(
    ...     np.where(snap.churned, rng.integers(1, 365, 300), 0), unit="D")
    >>> result = fit_cox(snap, ["usage", "constant"])
    >>> result.dropped, bool(result.summary.loc["usage", "hazard_ratio"] < 1)
    ({'constant': 'constant'}, True)
    """
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    durations = churn_durations(snapshot, horizon_days=horizon_days)
    if durations["event"].sum() < 5:
        raise InsufficientDataError(
            f"A Cox model of time to churn needs at least 5 churn events. Found {int(durations['event'].sum())}. "
            "Use more snapshots or a longer history."
        )
    design, dropped = _drop_degenerate(_design(snapshot[features]))
    if design.shape[1] == 0:
        raise InsufficientDataError(
            "No covariate is left for the Cox model after dropping constant and collinear columns. "
            f"Found: {', '.join(f'{k} ({v})' for k, v in dropped.items())}. Use more varied features."
        )
    data = design.assign(duration_days=durations["duration_days"], event=durations["event"].astype(int))
    notes: list[str] = []
    cph, used = None, penalizer
    for attempt in range(3):
        used = penalizer * 10**attempt
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cph = CoxPHFitter(penalizer=used).fit(data, "duration_days", "event")
            break
        except Exception as exc:  # noqa: BLE001 - lifelines raises several kinds on divergence
            notes.append(f"Cox fit with penalizer {used:g} failed ({type(exc).__name__}); retried stronger.")
            cph = None
    if cph is None:
        raise InsufficientDataError(
            "The Cox model of time to churn did not converge, even with a strong penalizer. "
            f"Expected a stable fit on {design.shape[1]} covariates; found {int(durations['event'].sum())} events. "
            "Use fewer features or more history."
        )
    summary = pd.DataFrame(
        {
            "hazard_ratio": cph.summary["exp(coef)"],
            "lower_95": cph.summary["exp(coef) lower 95%"],
            "upper_95": cph.summary["exp(coef) upper 95%"],
            "p": cph.summary["p"],
        }
    )
    summary.index.name = "covariate"
    violations: tuple[str, ...] = ()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            test = proportional_hazard_test(cph, data, time_transform="rank")
        ph = test.summary["p"]
        ph.index = [i if isinstance(i, str) else i[0] for i in ph.index]
        summary["ph_p"] = ph.reindex(summary.index).to_numpy()
        violations = tuple(summary.index[summary["ph_p"] < 0.05])
        if violations:
            notes.append(
                f"The proportional-hazards assumption looks violated for {len(violations)} covariate(s) "
                f"(Schoenfeld test p < 0.05): {', '.join(violations)}. Their hazard ratios are averages over time."
            )
    except Exception as exc:  # noqa: BLE001 - the check is a diagnostic, never fatal
        summary["ph_p"] = np.nan
        notes.append(f"The proportional-hazards check could not run ({type(exc).__name__}).")
    summary = summary.sort_values("p")
    logger.info("Cox model on %d covariates, concordance %.3f", design.shape[1], cph.concordance_index_)
    return CoxResult(summary, float(cph.concordance_index_), float(used), dropped, violations, tuple(notes))
