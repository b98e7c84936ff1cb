"""What is done with grades once they exist: migration, the account managers' view, validity.

- :func:`grade_migration`: how accounts moved between two gradings (counts and ARR).
- :func:`compare_with_account_managers`: the analytical ranking against the account
  managers' eagerness to call on each account.
- :func:`grade_validity`: a backtest of the grades on outcomes after the grading date.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from icp.exceptions import InsufficientDataError, SchemaError
from icp.grading import GRADE_COLUMNS, TOTAL_COLUMNS, GradeResult
from icp.stats import wilson_interval
from icp.worksheet import CADENCES, GRADES, default_worksheet, normalise_name

__all__ = [
    "GradeMigration",
    "AMComparison",
    "GradeValidity",
    "grade_migration",
    "compare_with_account_managers",
    "grade_validity",
    "VALIDITY_METRICS",
    "validity_outcomes",
    "features_only",
    "ENTERED",
    "LEFT",
]

ENTERED = "entered"  # row of the migration matrix: not graded at the first date
LEFT = "left"  # column of the migration matrix: not graded at the second date

# Outcome metrics of the validity backtest, as data. kind "rate": share of `column`
# among rows where `among` is true (all rows when None), with a Wilson interval;
# kind "mean": the mean of `column` with a t interval. `better` says which way is
# good, for the verdict. The first metric found in the outcomes is the verdict's.
VALIDITY_METRICS: Mapping[str, Mapping[str, Any]] = {
    "renewal_rate": {"kind": "rate", "column": "renewed", "among": "renewal_due", "better": "higher",
                     "label": "renewal rate"},
    "retention_rate": {"kind": "rate", "column": "churned", "among": None, "better": "higher",
                       "invert": True, "label": "retention rate (not churned)"},
    "realised_gross_profit_usd": {"kind": "mean", "column": "realised_gross_profit_usd",
                                  "better": "higher", "label": "realised gross profit (USD)"},
    "customer_value_usd": {"kind": "mean", "column": "customer_value_usd", "better": "higher",
                           "label": "customer value (USD per account-year)"},
    "realised_margin_pct": {"kind": "mean", "column": "realised_gross_profit_usd",
                            "per": "revenue_horizon_usd", "scale": 100.0, "better": "higher",
                            "label": "realised gross margin (% of revenue)"},
    "support_tickets_per_quarter": {"kind": "mean", "column": "support_tickets_per_quarter_next",
                                    "better": "lower",
                                    "label": "support tickets per quarter in the following year"},
}


def _grades_frame(grades: Any, what: str) -> pd.DataFrame:
    if isinstance(grades, GradeResult):
        return grades.grades
    if isinstance(grades, pd.DataFrame):
        frame = grades if "account_id" in grades.columns else grades.reset_index()
        if "account_id" not in frame.columns:
            raise SchemaError(
                f"The {what} have no 'account_id' column. Expected the grades frame that "
                f"grade_accounts returns. Found columns: {', '.join(map(str, frame.columns[:10]))}. "
                "Pass the GradeResult itself."
            )
        frame = frame.copy()
        frame["account_id"] = frame["account_id"].astype(str)
        return frame
    raise SchemaError(
        f"The {what} must be a GradeResult or a grades DataFrame. Found a "
        f"{type(grades).__name__}. Pass what grade_accounts returns."
    )


def _grade_series(grades: Any, cadence: str, what: str) -> pd.Series:
    if isinstance(grades, pd.Series):
        series = grades.copy()
        series.index = series.index.astype(str)
        return series
    frame = _grades_frame(grades, what)
    column = GRADE_COLUMNS.get(cadence)
    if column not in frame.columns:
        raise SchemaError(
            f"The {what} have no '{column}' column. Expected one of: "
            f"{', '.join(GRADE_COLUMNS.values())}. Found columns: "
            f"{', '.join(map(str, frame.columns[:10]))}. Check the cadence name."
        )
    return frame.set_index("account_id")[column]


@dataclass(frozen=True)
class GradeMigration:
    """How accounts moved between two gradings.

    Attributes
    ----------
    counts : pandas.DataFrame
        Accounts by grade at the first date (rows: A..D and ``entered``, for
        accounts not graded then) and at the second (columns: A..D and ``left``).
    arr : pandas.DataFrame
        The same matrix in ARR (USD).
    totals : pandas.DataFrame
        Per grade: accounts and ARR graded at each date, against the matrix's row
        and column sums (they reconcile by construction; shown for the reader).
    movers : pandas.DataFrame
        The accounts that moved most (most grades, then most ARR).
    cadence : str
    """

    counts: pd.DataFrame
    arr: pd.DataFrame
    totals: pd.DataFrame
    movers: pd.DataFrame
    cadence: str

    @property
    def summary(self) -> pd.DataFrame:
        """The count matrix with row and column totals."""
        table = self.counts.copy()
        table["total"] = table.sum(axis=1)
        table.loc["total"] = table.sum(axis=0)
        return table

    @property
    def shares(self) -> Mapping[str, float]:
        """Share of accounts graded at both dates that moved up, down or stayed."""
        kept = self.counts.loc[list(GRADES), list(GRADES)].to_numpy()
        total = kept.sum()
        if total == 0:
            return {"upgraded": np.nan, "downgraded": np.nan, "unchanged": np.nan}
        return {"upgraded": float(np.triu(kept, 1).sum() / total),
                "downgraded": float(np.tril(kept, -1).sum() / total),
                "unchanged": float(np.trace(kept) / total)}

    def _repr_html_(self) -> str:
        s = self.shares
        return (f"<h4>{self.cadence.title()} grade migration</h4>{self.summary.to_html()}"
                f"<p>Upgraded {s['upgraded']:.0%}, downgraded {s['downgraded']:.0%}, "
                f"unchanged {s['unchanged']:.0%}.</p>")


def grade_migration(
    grades_a: Any,
    grades_b: Any,
    *,
    arr: pd.Series | None = None,
    cadence: str = "quarterly",
    top: int = 20,
) -> GradeMigration:
    """Migration matrix of grades between two gradings (counts and ARR).

    Parameters
    ----------
    grades_a, grades_b : GradeResult, DataFrame or Series
        The earlier and the later grading (a Series holds grades indexed by account_id).
    arr : pandas.Series, optional
        ARR per account_id for the ARR matrix. By default the ARR at the earlier
        grading, and at the later one for accounts that entered.
    cadence : str, default "quarterly"
        Which grade to compare, when GradeResults or frames are given.
    top : int, default 20
        Number of movers to list.

    Returns
    -------
    GradeMigration

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.grading import grade_migration
    >>> a = pd.Series({"x": "A", "y": "B", "z": "D"})
    >>> b = pd.Series({"x": "B", "y": "B", "w": "C"})
    >>> m = grade_migration(a, b)
    >>> int(m.counts.loc["A", "B"]), int(m.counts.loc["D", "left"]), int(m.counts.loc["entered", "C"])
    (1, 1, 1)
    """
    a = _grade_series(grades_a, cadence, "first grades").dropna()
    b = _grade_series(grades_b, cadence, "second grades").dropna()
    for series, what in ((a, "first"), (b, "second")):
        bad = sorted(set(series.unique()) - set(GRADES))
        if bad:
            raise SchemaError(
                f"The {what} grades hold values other than A, B, C and D. Expected grades only. "
                f"Found {bad}. Pass the grades that grade_accounts returns."
            )
    if arr is None:
        parts = [g.arr for g in (grades_a, grades_b) if isinstance(g, GradeResult)]
        arr = pd.concat(parts) if parts else pd.Series(dtype=float)
        arr = arr[~arr.index.duplicated(keep="first")]
    arr = pd.to_numeric(arr, errors="coerce")
    arr.index = arr.index.astype(str)
    accounts = a.index.union(b.index)
    moves = pd.DataFrame({"from_grade": a.reindex(accounts).fillna(ENTERED),
                          "to_grade": b.reindex(accounts).fillna(LEFT),
                          "arr_usd": arr.reindex(accounts).fillna(0.0)})
    rows, cols = [*GRADES, ENTERED], [*GRADES, LEFT]
    counts = (moves.groupby(["from_grade", "to_grade"]).size().unstack(fill_value=0)
              .reindex(index=rows, columns=cols, fill_value=0).astype(int))
    arr_matrix = (moves.groupby(["from_grade", "to_grade"])["arr_usd"].sum().unstack(fill_value=0.0)
                  .reindex(index=rows, columns=cols, fill_value=0.0))
    for m in (counts, arr_matrix):
        m.index.name, m.columns.name = "grade_before", "grade_after"
    arr_a = moves.loc[a.index, "arr_usd"]
    arr_b = moves.loc[b.index, "arr_usd"]
    totals = pd.DataFrame({
        "accounts_before": a.value_counts().reindex(list(GRADES), fill_value=0),
        "matrix_row_sum": counts.loc[list(GRADES)].sum(axis=1),
        "accounts_after": b.value_counts().reindex(list(GRADES), fill_value=0),
        "matrix_column_sum": counts[list(GRADES)].sum(axis=0),
        "arr_before_usd": arr_a.groupby(a).sum().reindex(list(GRADES), fill_value=0.0),
        "arr_after_usd": arr_b.groupby(b).sum().reindex(list(GRADES), fill_value=0.0),
    }).rename_axis("grade")
    both = moves[moves["from_grade"].isin(GRADES) & moves["to_grade"].isin(GRADES)].copy()
    rank = {g: i for i, g in enumerate(GRADES)}
    both["grades_moved"] = both["to_grade"].map(rank) - both["from_grade"].map(rank)
    both = both[both["grades_moved"] != 0]
    both["direction"] = np.where(both["grades_moved"] < 0, "up", "down")
    both["grades_moved"] = both["grades_moved"].abs()
    for g, label in ((grades_a, "total_before"), (grades_b, "total_after")):
        if isinstance(g, GradeResult | pd.DataFrame):
            frame = _grades_frame(g, "grades")
            if TOTAL_COLUMNS[cadence] in frame.columns:
                both[label] = frame.set_index("account_id")[TOTAL_COLUMNS[cadence]].reindex(both.index)
    movers = (both.rename_axis("account_id").reset_index()
              .sort_values(["grades_moved", "arr_usd", "account_id"], ascending=[False, False, True])
              .head(top).reset_index(drop=True))
    return GradeMigration(counts=counts, arr=arr_matrix, totals=totals, movers=movers,
                          cadence=cadence)


def _column(frame: pd.DataFrame, *names: str) -> str | None:
    by_key = {normalise_name(c): c for c in frame.columns}
    return next((by_key[normalise_name(n)] for n in names if normalise_name(n) in by_key), None)


@dataclass(frozen=True)
class AMComparison:
    """The analytical ranking set beside the account managers' eagerness ranking.

    Attributes
    ----------
    overall : pandas.Series
        Spearman correlation over all accounts: ``accounts``, ``spearman``, ``p_value``.
    per_manager : pandas.DataFrame
        The same per account manager.
    disagreements : pandas.DataFrame
        The biggest disagreements: ``a_but_avoided`` (analytically A, eagerness
        at most the worksheet's ``avoided_at_most``) and ``d_but_favourite``
        (analytically D, eagerness at least ``favourite_at_least``).
    points : pandas.DataFrame
        Per account: analytical total, grade, eagerness, manager (for the scatter plot).
    cadence : str
    """

    overall: pd.Series
    per_manager: pd.DataFrame
    disagreements: pd.DataFrame
    points: pd.DataFrame
    cadence: str

    @property
    def summary(self) -> pd.DataFrame:
        """Spearman correlation per account manager, with the overall row last."""
        overall = pd.DataFrame([{"account_manager": "(all)", **self.overall.to_dict()}])
        return pd.concat([self.per_manager, overall], ignore_index=True)

    def _repr_html_(self) -> str:
        return (f"<h4>{self.cadence.title()} analytical ranking against the account managers' "
                f"eagerness</h4>{self.summary.to_html(index=False)}"
                f"<p>{len(self.disagreements)} strong disagreements.</p>")


def _spearman(x: pd.Series, y: pd.Series) -> dict[str, float]:
    n = int(len(x))
    if n < 3 or x.nunique() < 2 or y.nunique() < 2:
        return {"accounts": n, "spearman": np.nan, "p_value": np.nan}
    rho, p = sps.spearmanr(x, y)
    return {"accounts": n, "spearman": float(rho), "p_value": float(p)}


def compare_with_account_managers(
    grades: GradeResult | pd.DataFrame,
    snapshot: pd.DataFrame,
    *,
    cadence: str | None = None,
    top: int = 10,
) -> AMComparison:
    """Spearman correlation between the analytical ranking and the AM eagerness ranking.

    Parameters
    ----------
    grades : GradeResult or DataFrame
        Grades from :func:`grade_accounts`.
    snapshot : pandas.DataFrame
        The snapshot graded, with ``am_eagerness`` (1..5) and ``account_manager``
        (or ``am_graded_by``).
    cadence : str, optional
        Whose total is the analytical ranking; the worksheet's
        ``am_comparison.cadence`` (default "annual") when None.
    top : int, default 10
        Disagreements listed per kind.

    Returns
    -------
    AMComparison

    Raises
    ------
    InsufficientDataError
        When the snapshot has no eagerness grades, or fewer than 3 accounts have both.

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.grading import grade_accounts, compare_with_account_managers
    >>> snap = pd.DataFrame({"account_id": list("abcdef"), "arr_usd": [6, 5, 4, 3, 2, 1],
    ...                      "am_eagerness": [5, 4, 4, 2, 1, 1], "account_manager": "Ann"})
    >>> cmp = compare_with_account_managers(grade_accounts(snap), snap)
    >>> round(float(cmp.overall["spearman"]), 2)
    0.97
    """
    settings = grades.worksheet.am_comparison if isinstance(grades, GradeResult) \
        else default_worksheet().am_comparison
    cadence = cadence or settings["cadence"]
    if cadence not in CADENCES:
        raise SchemaError(f"The cadence must be one of {', '.join(CADENCES)}. Found {cadence!r}. "
                          "Use for example cadence='annual'.")
    frame = _grades_frame(grades, "grades").set_index("account_id")
    snap = snapshot if "account_id" in snapshot.columns else snapshot.reset_index()
    eagerness = _column(snap, "am_eagerness", "eagerness")
    if eagerness is None or pd.to_numeric(snap[eagerness], errors="coerce").notna().sum() == 0:
        raise InsufficientDataError(
            "The account managers' view cannot be compared: the snapshot has no eagerness grades. "
            "Expected a column am_eagerness (from the am_grades table). Found none with values. "
            "Add an am_grades table with an eagerness column (1..5) to compare."
        )
    manager = _column(snap, "account_manager", "am_graded_by", "graded_by")
    snap = snap.assign(account_id=snap["account_id"].astype(str)).set_index("account_id")
    points = pd.DataFrame({
        "analytical_total": frame[TOTAL_COLUMNS[cadence]],
        "grade": frame[GRADE_COLUMNS[cadence]],
        "am_eagerness": pd.to_numeric(snap[eagerness], errors="coerce").reindex(frame.index),
        "account_manager": (snap[manager].reindex(frame.index).astype("string")
                            if manager else pd.Series("(unknown)", index=frame.index)),
        "arr_usd": grades.arr.reindex(frame.index) if isinstance(grades, GradeResult) else np.nan,
    }).dropna(subset=["analytical_total", "am_eagerness"])
    points["account_manager"] = points["account_manager"].fillna("(unknown)")
    if len(points) < 3:
        raise InsufficientDataError(
            "The account managers' view cannot be compared: too few accounts have both a "
            f"{cadence} total and an eagerness grade. Expected at least 3. Found {len(points)}. "
            "Check that the am_grades table covers the graded accounts."
        )
    overall = pd.Series(_spearman(points["analytical_total"], points["am_eagerness"]))
    per_manager = pd.DataFrame([
        {"account_manager": name, **_spearman(g["analytical_total"], g["am_eagerness"])}
        for name, g in points.groupby("account_manager", sort=True)
    ])
    avoided = points[(points["grade"] == "A") & (points["am_eagerness"] <= settings["avoided_at_most"])]
    favourite = points[(points["grade"] == "D")
                       & (points["am_eagerness"] >= settings["favourite_at_least"])]
    disagreements = pd.concat([
        avoided.sort_values(["analytical_total", "am_eagerness"], ascending=[False, True])
        .head(top).assign(disagreement="a_but_avoided"),
        favourite.sort_values(["analytical_total", "am_eagerness"], ascending=[True, False])
        .head(top).assign(disagreement="d_but_favourite"),
    ]).rename_axis("account_id").reset_index()
    return AMComparison(overall=overall, per_manager=per_manager, disagreements=disagreements,
                        points=points.rename_axis("account_id").reset_index(), cadence=cadence)


@dataclass(frozen=True)
class GradeValidity:
    """Outcomes after the grading date, per grade: does the worksheet discriminate?

    Attributes
    ----------
    table : pandas.DataFrame
        One row per cadence, grade and metric: ``accounts``, ``value``, ``low`` and
        ``high`` (the 95% interval: Wilson for rates, t for means).
    verdicts : pandas.DataFrame
        Per cadence: A against D on the verdict metric, ``discriminates`` (the
        intervals do not overlap, A better), and a plain ``message``.
    """

    table: pd.DataFrame
    verdicts: pd.DataFrame
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> pd.DataFrame:
        """Value per grade (columns) for every cadence and metric (rows)."""
        return self.table.pivot_table(index=["cadence", "metric"], columns="grade",
                                      values="value", sort=False)

    @property
    def messages(self) -> tuple[str, ...]:
        """One plain sentence per cadence, then the notes."""
        return (*self.verdicts["message"], *self.notes)

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{m}</li>" for m in self.messages)
        return f"<h4>Grade validity</h4><ul>{items}</ul>{self.summary.to_html()}"


def _metric_rows(values: pd.Series, grade: pd.Series, spec: Mapping[str, Any],
                 confidence: float) -> list[dict[str, Any]]:
    rows = []
    for g in GRADES:
        v = values[(grade == g).to_numpy()].dropna()
        n = int(len(v))
        if spec["kind"] == "rate":
            hits = int(v.sum())
            low, high = wilson_interval(hits, n, confidence) if n else (np.nan, np.nan)
            value = hits / n if n else np.nan
        else:
            value = float(v.mean()) if n else np.nan
            half = (sps.t.ppf(0.5 + confidence / 2, n - 1) * v.std(ddof=1) / np.sqrt(n)
                    if n > 1 else np.nan)
            low, high = value - half, value + half
        rows.append({"grade": g, "accounts": n, "value": value, "low": low, "high": high})
    return rows


def _verdict(cadence: str, name: str, rows: pd.DataFrame, spec: Mapping[str, Any],
             confidence: float) -> dict[str, Any]:
    a, d = rows.set_index("grade").loc["A"], rows.set_index("grade").loc["D"]
    sign = 1 if spec["better"] == "higher" else -1
    fmt = "{:.0%}" if spec["kind"] == "rate" else "{:,.0f}"
    level = f"{confidence:.0%}"

    def show(r: pd.Series) -> str:
        return f"{fmt.format(r['value'])} ({level} CI {fmt.format(r['low'])} to {fmt.format(r['high'])}, n={int(r['accounts'])})"

    if a["accounts"] == 0 or d["accounts"] == 0:
        missing = "A" if a["accounts"] == 0 else "D"
        discriminates = False
        message = (f"The {cadence} grade cannot be checked on {spec['label']}: no {missing} account "
                   "has that outcome, so the worksheet does not discriminate as far as this data "
                   "can show.")
    else:
        better_bound = a["low"] if sign > 0 else -a["high"]
        worse_bound = d["high"] if sign > 0 else -d["low"]
        discriminates = bool(better_bound > worse_bound)
        if discriminates:
            message = (f"The {cadence} grade discriminates: A accounts' {spec['label']} was "
                       f"{show(a)} against {show(d)} for D accounts.")
        else:
            message = (f"For the {cadence} grade, A accounts' {spec['label']} was {show(a)} against "
                       f"{show(d)} for D accounts: the worksheet does not discriminate.")
    return {"cadence": cadence, "metric": name, "a_value": a["value"], "d_value": d["value"],
            "difference": a["value"] - d["value"], "discriminates": discriminates,
            "message": message}


def grade_validity(
    grades: GradeResult | pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    metrics: Mapping[str, Mapping[str, Any]] | None = None,
    confidence: float = 0.95,
) -> GradeValidity:
    """Backtest grades on outcomes after the grading date: renewal, margin and support per grade.

    Parameters
    ----------
    grades : GradeResult or DataFrame
        Grades made at a date ``as_of`` with features known before it.
    outcomes : pandas.DataFrame
        Per account_id, outcomes observed after ``as_of`` only: the outcome columns of
        ``icp.snapshot(data, as_of=...)`` (``renewal_due``, ``renewed``, ``churned``,
        ``realised_gross_profit_usd``, ``revenue_horizon_usd``, ``customer_value_usd``)
        and optionally ``support_tickets_per_quarter_next`` (see :func:`validity_outcomes`).
    metrics : Mapping, optional
        The metrics to compute (default :data:`VALIDITY_METRICS`); those whose
        columns are absent are left out. The first present one gives the verdict.
    confidence : float, default 0.95
        Coverage of the intervals.

    Returns
    -------
    GradeValidity
        Per cadence and grade: each metric with its interval, and a verdict that
        says plainly when A does not beat D ("the worksheet does not discriminate").

    Raises
    ------
    SchemaError
        When the outcomes were observed at another date than the grades, or hold
        none of the metric columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.grading import grade_validity
    >>> g = pd.DataFrame({"account_id": list("abcd"), "annual_grade": list("AADD")})
    >>> o = pd.DataFrame({"account_id": list("abcd"), "churned": [False, False, True, False]})
    >>> grade_validity(g, o).verdicts["discriminates"].tolist()
    [False]
    """
    metrics = metrics or VALIDITY_METRICS
    frame = _grades_frame(grades, "grades").set_index("account_id")
    out = outcomes if "account_id" in outcomes.columns else outcomes.reset_index()
    if "account_id" not in out.columns:
        raise SchemaError("The outcomes have no 'account_id' column. Expected the snapshot's "
                          f"outcome columns per account. Found: {', '.join(map(str, out.columns[:10]))}. "
                          "Pass the snapshot taken at the grading date.")
    if isinstance(grades, GradeResult) and grades.as_of is not None and "as_of" in out.columns:
        dates = set(pd.to_datetime(out["as_of"]).dropna().unique())
        if dates and dates != {grades.as_of}:
            raise SchemaError(
                f"The outcomes were observed from {sorted(dates)[0].date()}, but the grades were "
                f"made at {grades.as_of.date()}. Expected outcomes after the grading date. "
                "Found another date. Take the outcomes from the snapshot at the grading date.")
    out = out.assign(account_id=out["account_id"].astype(str)).set_index("account_id")
    out = out[~out.index.duplicated(keep="last")].reindex(frame.index)
    cadences = [c for c in CADENCES if GRADE_COLUMNS[c] in frame.columns]
    table, verdicts = [], []
    for cadence in cadences:
        grade = frame[GRADE_COLUMNS[cadence]]
        first = None
        for name, spec in metrics.items():
            column = _column(out, spec["column"])
            if column is None:
                continue
            values = pd.to_numeric(out[column].astype("Float64") if out[column].dtype == bool
                                   else out[column], errors="coerce").astype(float)
            if spec.get("invert"):
                values = 1.0 - values
            if spec.get("among"):
                among = _column(out, spec["among"])
                if among is None:
                    continue
                values = values.where(out[among].fillna(False).astype(bool))
            if spec.get("per"):
                per = _column(out, spec["per"])
                if per is None:
                    continue
                denominator = pd.to_numeric(out[per], errors="coerce")
                values = values / denominator.where(denominator > 0) * spec.get("scale", 1.0)
            if values.notna().sum() == 0:
                continue
            rows = pd.DataFrame(_metric_rows(values, grade, spec, confidence))
            table.append(rows.assign(cadence=cadence, metric=name))
            if first is None:
                first = name
                verdicts.append(_verdict(cadence, name, rows, spec, confidence))
    if not table:
        raise SchemaError(
            "The outcomes hold none of the validity metrics. Expected some of: "
            f"{', '.join(sorted({s['column'] for s in metrics.values()}))}. Found columns: "
            f"{', '.join(map(str, out.columns[:12]))}. Pass the snapshot's outcome columns.")
    table_frame = pd.concat(table, ignore_index=True)[
        ["cadence", "metric", "grade", "accounts", "value", "low", "high"]]
    notes = []
    if "horizon_complete" in out.columns:
        incomplete = int((out["horizon_complete"] == False).sum())  # noqa: E712 - may hold NA
        if incomplete:
            notes.append(f"The outcomes of {incomplete} graded accounts are incomplete: the data "
                         "ends within the horizon, so rates there are provisional.")
    return GradeValidity(table=table_frame, verdicts=pd.DataFrame(verdicts), notes=tuple(notes))


class _DropIncompleteHorizon(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "outcomes at" not in record.getMessage()


@contextlib.contextmanager
def features_only() -> Iterator[None]:
    """Silence the snapshot's note that outcomes are incomplete, for snapshots whose outcomes are not read.

    Grading reads a snapshot's features only; at the end of the data its outcomes are
    always incomplete, which is no news to the user.
    """
    quiet = logging.getLogger("icp.snapshot")
    hush = _DropIncompleteHorizon()
    quiet.addFilter(hush)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        quiet.removeFilter(hush)


def validity_outcomes(
    data: Any,
    snapshot: pd.DataFrame,
    *,
    horizon: Any = None,
    engine: Any = None,
) -> pd.DataFrame:
    """Outcomes after a grading date for :func:`grade_validity`, support load included.

    The snapshot's outcome columns say what happened in ``(as_of, as_of + horizon]``.
    The support load of that year is read from a second snapshot at
    ``as_of + horizon`` (its ``tickets_per_quarter`` counts the tickets of the 12
    months before it: exactly the horizon), for the accounts still active then.

    Parameters
    ----------
    data : Dataset
        The loaded input.
    snapshot : pandas.DataFrame
        The snapshot at the grading date (one date).
    horizon : str or int, optional
        The outcome horizon; the project's ``horizon_days`` when None.
    engine : optional
        Where the aggregations run (as for ``icp.snapshot``).

    Returns
    -------
    pandas.DataFrame
        ``account_id``, ``as_of``, the outcome columns, and
        ``support_tickets_per_quarter_next`` where it could be measured.

    Examples
    --------
    >>> from icp.grade_review import validity_outcomes  # doctest: +SKIP
    >>> outcomes = validity_outcomes(data, snap)        # doctest: +SKIP
    """
    from icp.features import OUTCOME_COLUMNS
    from icp.snapshot import parse_horizon
    from icp.snapshot import snapshot as take_snapshot

    keep = ["account_id", "as_of", *[c for c in OUTCOME_COLUMNS if c in snapshot.columns]]
    out = snapshot[[c for c in keep if c in snapshot.columns]].copy()
    out["account_id"] = out["account_id"].astype(str)
    if "as_of" not in out.columns or getattr(data, "form", "multi") == "single":
        return out
    days = parse_horizon(data.config.get("horizon_days", 365) if horizon is None else horizon)
    as_of = pd.Timestamp(pd.to_datetime(out["as_of"]).max())
    later_date = (as_of + pd.Timedelta(days=days)).date()
    try:
        with features_only():
            later = take_snapshot(data, as_of=later_date, horizon=days, engine=engine)
    except InsufficientDataError:
        return out
    if "tickets_per_quarter" in later.columns and "tickets" in getattr(data, "tables", {}):
        load = later.assign(account_id=later["account_id"].astype(str)).set_index("account_id")
        out["support_tickets_per_quarter_next"] = (
            out["account_id"].map(load["tickets_per_quarter"]).astype(float))
    return out
