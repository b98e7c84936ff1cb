"""Customer grading: quarterly, annual and strategic A/B/C/D grades from a worksheet.

The worksheet (:mod:`icp.worksheet`, default ``icp/worksheet.yaml``) says which
snapshot column each criterion reads, how it becomes points from 0 to 100, and
its weight in each cadence. :func:`grade_accounts` applies it to one snapshot;
:mod:`icp.grade_review` holds what is done with grades afterwards (migration
between quarters, the account managers' view, the validity backtest), re-exported
here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from icp.exceptions import SchemaError
from icp.worksheet import CADENCES, GRADES, Criterion, Worksheet, default_worksheet, normalise_name

__all__ = [
    "GradeResult",
    "grade_accounts",
    "GRADE_COLUMNS",
    "ICP_FIT_COLUMN",
    "CHURN_PROBABILITY_COLUMN",
]

logger = logging.getLogger(__name__)

GRADE_COLUMNS: Mapping[str, str] = {c: f"{c}_grade" for c in CADENCES}
TOTAL_COLUMNS: Mapping[str, str] = {c: f"{c}_total" for c in CADENCES}
# The columns under which the optional inputs of grade_accounts join the snapshot.
ICP_FIT_COLUMN = "icp_fit_score"
CHURN_PROBABILITY_COLUMN = "churn_probability"

# Text values that mean yes or no (am_reference_willing may arrive as "yes"/"no").
_TRUTHY: Mapping[str, float] = {"yes": 1.0, "y": 1.0, "true": 1.0, "no": 0.0, "n": 0.0, "false": 0.0}


@dataclass(frozen=True)
class GradeResult:
    """Grades of every account in one snapshot, with the worksheet that made them.

    Attributes
    ----------
    grades : pandas.DataFrame
        One row per account: ``account_id``, ``quarterly_grade``, ``annual_grade``,
        ``strategic_grade``, ``score_<criterion>`` (0..100) for every criterion used,
        and ``quarterly_total``, ``annual_total``, ``strategic_total`` (0..100).
    criteria : pandas.DataFrame
        One row per worksheet criterion: the column read, whether it was used or
        skipped (and why), and its renormalised weight per cadence.
    worksheet : Worksheet
        The worksheet applied.
    as_of : pandas.Timestamp or None
        The grading date (the snapshot's ``as_of``), when known.
    arr : pandas.Series
        ARR per account at grading (``arr_usd``), for ARR-weighted views; empty
        when the snapshot has no ARR.
    notes : tuple of str
        Plain-language notes: skipped criteria, renormalised weights, accounts
        that could not be graded.
    """

    grades: pd.DataFrame
    criteria: pd.DataFrame
    worksheet: Worksheet
    as_of: pd.Timestamp | None = None
    arr: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    notes: tuple[str, ...] = ()

    @property
    def skipped(self) -> pd.DataFrame:
        """The criteria that were skipped, with the reason."""
        out = self.criteria.loc[self.criteria["status"] == "skipped", ["criterion", "label", "reason"]]
        return out.reset_index(drop=True)

    @property
    def summary(self) -> pd.DataFrame:
        """Accounts, share of accounts, ARR and share of ARR per cadence and grade."""
        rows = []
        for cadence, column in GRADE_COLUMNS.items():
            graded = self.grades[["account_id", column]].dropna()
            arr = self.arr.reindex(graded["account_id"]).fillna(0.0).to_numpy()
            total_arr = arr.sum()
            for grade in GRADES:
                mask = (graded[column] == grade).to_numpy()
                rows.append({
                    "cadence": cadence,
                    "grade": grade,
                    "accounts": int(mask.sum()),
                    "share_of_accounts": mask.mean() if len(mask) else np.nan,
                    "arr_usd": float(arr[mask].sum()),
                    "share_of_arr": float(arr[mask].sum() / total_arr) if total_arr > 0 else np.nan,
                })
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        as_of = f" as of {self.as_of.date()}" if self.as_of is not None else ""
        table = self.summary.pivot(index="grade", columns="cadence", values="accounts")
        notes = "".join(f"<li>{n}</li>" for n in self.notes)
        return (
            f"<h4>Grades of {len(self.grades)} accounts{as_of}</h4>"
            f"{table[list(CADENCES)].to_html()}"
            + (f"<ul>{notes}</ul>" if notes else "")
        )


def _as_series(value: Any, name: str, columns: tuple[str, ...]) -> pd.Series:
    """An optional per-account input as a Series indexed by account_id."""
    if isinstance(value, pd.DataFrame):
        frame = value.set_index("account_id") if "account_id" in value.columns else value
        found = [c for c in columns if c in frame.columns]
        if not found:
            raise SchemaError(
                f"The {name} input has no column {' or '.join(columns)}. "
                f"Expected a Series indexed by account_id or a frame with one of those columns. "
                f"Found columns: {', '.join(map(str, frame.columns))}. "
                f"Pass for example membership.set_index('account_id')['{columns[0]}']."
            )
        value = frame[found[0]]
    if not isinstance(value, pd.Series):
        raise SchemaError(
            f"The {name} input must be a pandas Series indexed by account_id. "
            f"Found a {type(value).__name__}. Pass for example scores.set_index('account_id')['{columns[0]}']."
        )
    series = pd.to_numeric(value, errors="coerce")
    series.index = series.index.astype(str)
    return series[~series.index.duplicated(keep="last")]


def _numeric(values: pd.Series) -> pd.Series:
    if values.dtype == bool or str(values.dtype) == "boolean":
        return values.astype("Float64").astype(float)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    text = values.astype("string").str.strip().str.lower()
    mapped = text.map(_TRUTHY)
    return mapped.where(mapped.notna(), pd.to_numeric(text, errors="coerce")).astype(float)


def _prepare(snapshot: pd.DataFrame) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    if not isinstance(snapshot, pd.DataFrame):
        raise SchemaError(
            "grade_accounts needs a snapshot as a pandas DataFrame. "
            f"Found a {type(snapshot).__name__}. Build one with icp.snapshot(data, as_of=...)."
        )
    frame = snapshot.copy()
    if "account_id" not in frame.columns:
        if frame.index.name != "account_id":
            raise SchemaError(
                "The snapshot has no 'account_id' column. Expected one row per account with an "
                f"account_id. Found columns: {', '.join(map(str, frame.columns[:12]))}. "
                "Pass the frame that icp.snapshot returns."
            )
        frame = frame.reset_index()
    as_of = None
    if "as_of" in frame.columns:
        dates = pd.to_datetime(frame["as_of"]).dropna().unique()
        if len(dates) > 1:
            raise SchemaError(
                f"The snapshot holds {len(dates)} dates (a panel). Expected the snapshot of one "
                f"date. Found as_of from {min(dates).date()} to {max(dates).date()}. "
                "Grade one date at a time: snapshot[snapshot['as_of'] == date]."
            )
        as_of = pd.Timestamp(dates[0]) if len(dates) else None
    frame["account_id"] = frame["account_id"].astype(str)
    duplicated = frame["account_id"].duplicated()
    if duplicated.any():
        raise SchemaError(
            f"The snapshot has {int(duplicated.sum())} duplicated account ids. Expected one row per "
            f"account. Found for example '{frame.loc[duplicated, 'account_id'].iloc[0]}' twice. "
            "Remove the duplicates or grade one date at a time."
        )
    return frame.set_index("account_id"), as_of


def _resolve(criterion: Criterion, frame: pd.DataFrame) -> tuple[pd.Series | None, str, str]:
    """The values a criterion reads, the column used, and why it is skipped ('' when used)."""
    by_key = {normalise_name(c): c for c in frame.columns}
    column = next((by_key[normalise_name(c)] for c in criterion.columns
                   if normalise_name(c) in by_key), None)
    if column is None:
        return None, "", f"no column {' or '.join(criterion.columns)} in the data"
    values = _numeric(frame[column])
    if values.notna().sum() == 0:
        what = "empty" if frame[column].isna().all() else "not numeric"
        return None, column, f"column {column} is {what} for every account"
    if criterion.per is not None:
        per = by_key.get(normalise_name(criterion.per))
        if per is None:
            return None, column, f"no column {criterion.per} in the data to divide {column} by"
        denominator = _numeric(frame[per])
        values = values / denominator.where(denominator > 0)
        if values.notna().sum() == 0:
            return None, column, f"{column} per {per} is missing for every account"
        column = f"{column} / {per}"
    return values, column, ""


def _grade_by_score(total: pd.Series, cutoffs: Mapping[str, float]) -> pd.Series:
    grades = pd.Series("D", index=total.index, dtype=object)
    for grade in ("C", "B", "A"):
        grades[total >= cutoffs[grade]] = grade
    return grades.where(total.notna())


def _grade_by_share(total: pd.Series, cutoffs: Mapping[str, float]) -> pd.Series:
    valid = total.dropna()
    # Best total first; ties broken by account id so that the grades are reproducible.
    order = valid.to_frame("t").assign(k=valid.index).sort_values(["t", "k"], ascending=[False, True])
    position = pd.Series(np.arange(len(order)) / max(len(order), 1), index=order.index)
    bounds = np.cumsum([cutoffs["A"], cutoffs["B"], cutoffs["C"]])
    labels = np.asarray(GRADES)[np.searchsorted(bounds, position.to_numpy(), side="right")]
    return pd.Series(labels, index=position.index, dtype=object).reindex(total.index)


GRADE_METHODS = {"score": _grade_by_score, "share": _grade_by_share}


def grade_accounts(
    snapshot: pd.DataFrame,
    *,
    worksheet: Worksheet | None = None,
    icp_fit: pd.Series | pd.DataFrame | None = None,
    churn_probability: pd.Series | pd.DataFrame | None = None,
) -> GradeResult:
    """Grade every account of a snapshot A to D in three cadences.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        One row per account (``icp.snapshot(data, as_of=...)``), with ``account_id``.
    worksheet : Worksheet, optional
        The worksheet to apply; the default (``icp/worksheet.yaml``) when None.
    icp_fit : pandas.Series or DataFrame, optional
        ICP fit score (0..100) per account_id, from ``icp discover``
        (``icp_membership.csv``'s ``fit_score``). Joined as ``icp_fit_score``.
    churn_probability : pandas.Series or DataFrame, optional
        Churn probability per account_id, from ``icp risk`` (``risk_scores.csv``).

    Returns
    -------
    GradeResult
        Grades, criterion scores and totals per account, the criteria used and
        skipped (a criterion whose column is absent or empty is skipped and the
        weights of the others renormalised), and notes.

    Raises
    ------
    SchemaError
        When the snapshot has no account_id, duplicated accounts, or several dates.

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.grading import grade_accounts
    >>> snap = pd.DataFrame({"account_id": ["a", "b", "c", "d", "e"],
    ...                      "arr_usd": [90_000, 40_000, 25_000, 12_000, 3_000],
    ...                      "gross_margin_pct": [70, 60, 50, 40, 20]})
    >>> result = grade_accounts(snap)
    >>> result.grades[["annual_total", "annual_grade"]].values.tolist()
    [[90.0, 'A'], [70.0, 'A'], [50.0, 'C'], [30.0, 'D'], [10.0, 'D']]
    >>> result.skipped["criterion"].tolist()[:3]
    ['longevity', 'payment_timeliness', 'late_payments']
    """
    worksheet = worksheet if worksheet is not None else default_worksheet()
    frame, as_of = _prepare(snapshot)
    notes: list[str] = []
    for name, value, columns in (("ICP fit", icp_fit, (ICP_FIT_COLUMN, "fit_score")),
                                 ("churn probability", churn_probability,
                                  (CHURN_PROBABILITY_COLUMN,))):
        if value is None:
            continue
        series = _as_series(value, name, columns)
        frame[columns[0]] = series.reindex(frame.index)
        unmatched = int(frame[columns[0]].isna().sum())
        if unmatched:
            notes.append(f"{unmatched} of {len(frame)} accounts have no {name}; they are graded "
                         "on the other criteria.")

    scores: dict[str, pd.Series] = {}
    rows = []
    for criterion in worksheet.criteria:
        values, column, reason = _resolve(criterion, frame)
        row = {"criterion": criterion.name, "label": criterion.label, "column": column,
               "method": criterion.method, "direction": criterion.direction,
               "status": "skipped" if reason else "used", "reason": reason}
        if not reason:
            scores[criterion.name] = criterion.score(values)
        rows.append(row)
    used = {c.name: c for c in worksheet.criteria if c.name in scores}

    out = pd.DataFrame(index=frame.index)
    for cadence in CADENCES:
        weights = pd.Series({n: c.weights[cadence] for n, c in used.items()}, dtype=float)
        weights = weights[weights > 0]
        if weights.empty:
            out[TOTAL_COLUMNS[cadence]] = np.nan
            notes.append(f"The {cadence} grade could not be given: none of its criteria is in "
                         "the data.")
            continue
        points = pd.DataFrame({n: scores[n] for n in weights.index})
        present = points.notna()
        weight_sum = present.mul(weights, axis=1).sum(axis=1)
        total = points.fillna(0.0).mul(weights, axis=1).sum(axis=1) / weight_sum.where(weight_sum > 0)
        out[TOTAL_COLUMNS[cadence]] = total
        full = sum(c.weights[cadence] for c in worksheet.criteria)
        for row in rows:
            row[f"weight_{cadence}"] = (weights.get(row["criterion"], 0.0) / weights.sum())
            row[f"worksheet_weight_{cadence}"] = worksheet.criterion(row["criterion"]).weights[cadence]
        lost = full - weights.sum()
        if lost > 0:
            notes.append(f"The {cadence} grade uses {weights.sum() / full:.0%} of the worksheet's "
                         f"weight; the weights of its {len(weights)} available criteria were "
                         "renormalised.")
        ungraded = int(total.isna().sum())
        if ungraded:
            notes.append(f"{ungraded} accounts have no value for any {cadence} criterion and get "
                         f"no {cadence} grade.")
    criteria = pd.DataFrame(rows)
    for cadence in CADENCES:
        for prefix in ("weight_", "worksheet_weight_"):
            if f"{prefix}{cadence}" not in criteria:
                criteria[f"{prefix}{cadence}"] = 0.0
    skipped = criteria.loc[criteria["status"] == "skipped"]
    if len(skipped):
        listed = "; ".join(f"{r.criterion} ({r.reason})" for r in skipped.itertuples())
        notes.insert(0, f"Skipped {len(skipped)} of {len(criteria)} criteria: {listed}.")

    grade_method = GRADE_METHODS[worksheet.grade_method]
    grades = pd.DataFrame(index=frame.index)
    for cadence in CADENCES:
        grades[GRADE_COLUMNS[cadence]] = grade_method(out[TOTAL_COLUMNS[cadence]],
                                                     worksheet.cutoffs[cadence])
    for name, series in scores.items():
        grades[f"score_{name}"] = series
    for cadence in CADENCES:
        grades[TOTAL_COLUMNS[cadence]] = out[TOTAL_COLUMNS[cadence]]
    grades = grades.rename_axis("account_id").reset_index()

    arr_column = {normalise_name(c): c for c in frame.columns}.get("arrusd")
    arr = _numeric(frame[arr_column]) if arr_column else pd.Series(dtype=float)
    for note in notes:
        logger.info(note)
    return GradeResult(grades=grades, criteria=criteria, worksheet=worksheet, as_of=as_of,
                       arr=arr, notes=tuple(notes))


def __getattr__(name: str) -> Any:
    # The review functions live in icp.grade_review, which imports this module; they are
    # served from here lazily so that either module can be imported first.
    if name in {"grade_migration", "compare_with_account_managers", "grade_validity",
                "GradeMigration", "AMComparison", "GradeValidity"}:
        from icp import grade_review

        return getattr(grade_review, name)
    raise AttributeError(f"module 'icp.grading' has no attribute {name!r}")
