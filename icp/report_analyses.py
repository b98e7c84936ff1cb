"""The analyses of the quarterly report, computed once per run and shared by the notebooks.

Each function takes the notebook's :class:`~icp.report_context.ReportContext`,
runs one analysis the way its ``icp`` command does, keeps the result in the run's
work folder (so that the grading and summary notebooks reuse the ICP and the risk
scores instead of recomputing them) and writes its result files into ``results/``.

Dates: the report looks at the customers active at the quarter's end (``as_of``).
What makes a customer good or risky is learned from history whose outcomes are
known by then: snapshots at the same quarter end one, two and three years
earlier (``as_of - horizon`` and before), never from the current quarter's
unknown future.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from icp.exceptions import InsufficientDataError

__all__ = [
    "history",
    "current",
    "segments",
    "icp_profile",
    "churn_risk",
    "grades",
    "prospect_scores",
    "RiskResult",
    "SegmentResult",
]

logger = logging.getLogger(__name__)


def _horizon_days(ctx: Any) -> int:
    return int(ctx.dataset.config.get("horizon_days", 365) or 365)


def history_dates(ctx: Any, *, years: int = 3) -> list[dt.date]:
    """Quarter ends one to ``years`` years before ``as_of`` whose outcomes are known by ``as_of``.

    Examples
    --------
    >>> from icp.report import validate_parameters
    >>> history_dates(validate_parameters(data="data/sample", quarter="2025Q4"))  # doctest: +SKIP
    [datetime.date(2022, 12, 31), datetime.date(2023, 12, 31), datetime.date(2024, 12, 31)]
    """
    horizon = dt.timedelta(days=_horizon_days(ctx))
    out = []
    for back in range(1, 12):
        when = (pd.Timestamp(ctx.as_of) - pd.DateOffset(years=back)).date()
        when = (pd.Timestamp(when) + pd.offsets.QuarterEnd(0)).date()
        if when + horizon <= ctx.as_of:
            out.append(when)
        if len(out) == years:
            break
    return sorted(out)


def history(ctx: Any) -> pd.DataFrame:
    """The panel of past snapshots (outcomes known) that the analyses learn from.

    In the single-table form: the customers table with its outcome.
    """
    if ctx.single_table:
        return ctx.snapshot()

    def build() -> pd.DataFrame:
        from icp.snapshot import snapshot

        frames = []
        for when in history_dates(ctx):
            try:
                frames.append(snapshot(ctx.dataset, as_of=when, horizon=f"{_horizon_days(ctx)}d"))
            except InsufficientDataError:
                logger.info("no account was active at %s; left out of the history", when)
        if not frames:
            raise InsufficientDataError(
                f"No history with known outcomes before {ctx.as_of}. Expected accounts active one "
                f"to three years before the quarter. Found none. Report a later quarter or load "
                "a longer contract history."
            )
        panel = pd.concat(frames, ignore_index=True)
        panel.attrs = dict(frames[-1].attrs)
        return panel

    return ctx.cached_frame("history", build)


def current(ctx: Any) -> pd.DataFrame:
    """The customers active at the quarter's end, with the features known then (no outcomes)."""
    snap = ctx.snapshot()
    if ctx.single_table:
        return snap
    from icp.snapshot import OUTCOME_COLUMNS

    return snap.drop(columns=[c for c in OUTCOME_COLUMNS if c in snap.columns])


def latest_history(ctx: Any) -> pd.DataFrame:
    """The most recent snapshot of :func:`history` (one row per account)."""
    panel = history(ctx)
    if "as_of" not in panel.columns:
        return panel
    return panel[panel["as_of"] == panel["as_of"].max()].reset_index(drop=True)


# ----------------------------------------------------------------------------- segments


@dataclass(frozen=True)
class SegmentResult:
    """Segments of the current customers, learned on the latest year with known outcomes."""

    model: Any
    assignments: pd.DataFrame
    profiles: pd.DataFrame
    training: pd.DataFrame = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per segment: size, churn and value."""
        return self.profiles

    def _repr_html_(self) -> str:
        return self.profiles.to_html(index=False, float_format=lambda v: f"{v:,.2f}")


def _profiles(frame: pd.DataFrame, labels: np.ndarray, names: dict[int, str]) -> pd.DataFrame:
    from icp.stats import wilson_interval

    data = frame.assign(segment=labels)
    rows = []
    total_arr = float(data["arr_usd"].sum()) if "arr_usd" in data else np.nan
    for seg, part in data.groupby("segment", sort=True):
        churned = part["churned"].astype("boolean").fillna(False).astype(bool) if "churned" in part else None
        row = {"segment": int(seg), "segment_name": names.get(int(seg), f"Segment {seg}"),
               "accounts": len(part), "share_accounts": len(part) / len(data)}
        if "arr_usd" in part:
            row["share_arr"] = float(part["arr_usd"].sum()) / total_arr if total_arr else np.nan
        if churned is not None:
            low, high = wilson_interval(int(churned.sum()), len(part))
            row.update(churn_rate=float(churned.mean()), churn_ci_low=float(low), churn_ci_high=float(high))
        for col in ("customer_value_usd", "gross_margin_pct", "tickets_per_quarter", "days_late_mean",
                    "active_users"):
            if col in part:
                row[f"mean_{col}"] = float(pd.to_numeric(part[col], errors="coerce").mean())
        rows.append(row)
    return pd.DataFrame(rows)


def segments(ctx: Any, *, n_segments: int = 0) -> SegmentResult:
    """Fit the segments on the latest history year, profile them, assign current customers.

    Examples
    --------
    >>> result = segments(ctx)  # doctest: +SKIP
    >>> result.profiles[["segment_name", "accounts", "churn_rate"]]  # doctest: +SKIP
    """

    def build() -> SegmentResult:
        from icp.segments import CustomerSegmenter

        train = latest_history(ctx)
        seed = int(ctx.dataset.config.get("random_state", 42))
        model = CustomerSegmenter(n_clusters=n_segments or "auto", random_state=seed).fit(train)
        names = dict(enumerate(getattr(model, "segment_names_", None) or []))
        now = current(ctx)
        labels_now = model.predict(now)
        assignments = pd.DataFrame({"account_id": now["account_id"].astype(str), "segment": labels_now})
        assignments["segment_name"] = assignments["segment"].map(
            lambda s: names.get(int(s), f"Segment {s}"))
        return SegmentResult(model, assignments, _profiles(train, model.labels_, names), train)

    result = ctx.cached(f"segments_{n_segments}", build)
    ctx.write_result("segments.csv", result.assignments)
    ctx.write_result("segment_profiles.csv", result.profiles)
    return result


# ----------------------------------------------------------------------------- ICP


def icp_profile(ctx: Any, *, outcome: str = "value") -> Any:
    """Discover the ICP on the history panel; write icp_rules.csv, icp_profile.json, icp_membership.csv.

    Examples
    --------
    >>> print(icp_profile(ctx).statement)  # doctest: +SKIP
    """

    def build() -> Any:
        from icp.discovery import discover_icp

        panel = history(ctx)
        presale = list(ctx.dataset.presale_columns) or None
        seed = int(ctx.dataset.config.get("random_state", 42))
        result = discover_icp(panel, outcome=outcome, presale_columns=presale, random_state=seed)
        result.profile.setdefault("settings", {})["source"] = str(ctx.data)
        result.profile["input_fingerprints"] = dict(ctx.dataset.fingerprints)
        return result

    result = ctx.cached(f"icp_{outcome}", build)
    if ctx.results_dir is not None:
        result.save(ctx.results_dir)
    return result


def current_fit(ctx: Any) -> pd.DataFrame:
    """ICP fit score, tier and reasons of every current customer (pre-sale attributes only)."""
    from icp.fit import score_prospects

    result = icp_profile(ctx)
    now = current(ctx)
    return ctx.cached("current_fit", lambda: score_prospects(now, result.profile))


def prospect_scores(ctx: Any) -> pd.DataFrame:
    """Score the prospects table (or the ``prospects`` file option) against the ICP profile."""
    from icp.fit import score_prospects

    result = icp_profile(ctx)
    file = ctx.options.get("prospects") or ""
    if file:
        from icp.io.readers import open_source  # noqa: F401 - same readers as the data

        prospects = pd.read_csv(file) if str(file).endswith(".csv") else pd.read_parquet(file)
    else:
        prospects = ctx.dataset.to_pandas("prospects")
    scores = score_prospects(prospects, result.profile)
    ctx.write_result("prospect_scores.csv", scores)
    return scores


# ----------------------------------------------------------------------------- churn risk


@dataclass(frozen=True)
class RiskResult:
    """Churn risk of the current customers, with the model's out-of-time check."""

    scores: pd.DataFrame
    metrics: dict
    model: Any = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        """Accounts and ARR at risk per risk band."""
        return (self.scores.groupby("risk_band", observed=True)
                .agg(accounts=("account_id", "size"), arr_usd=("arr_usd", "sum"),
                     arr_at_risk_usd=("arr_at_risk_usd", "sum"),
                     expected_churners=("churn_probability", "sum"))
                .reset_index())

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False, float_format=lambda v: f"{v:,.0f}")


def _band(p: pd.Series, bands: dict[str, float]) -> pd.Series:
    ordered = sorted(bands.items(), key=lambda kv: kv[1])
    labels = [name for name, _ in ordered]
    edges = [low for _, low in ordered] + [1.0000001]
    return pd.Series(pd.cut(p, bins=edges, labels=labels, right=False, include_lowest=True), index=p.index)


def _decided(frame: pd.DataFrame) -> pd.DataFrame:
    if "renewal_due" in frame.columns:
        frame = frame[frame["renewal_due"].astype("boolean").fillna(False).astype(bool)]
    return frame[frame["churned"].notna()]


def _model(ctx: Any, model: str = "auto") -> Any:
    from icp.churn import ChurnRiskModel

    # company names and the columns validation set aside never explain churn
    exclude = tuple(sorted({"name", *dict(getattr(ctx.dataset, "excluded_columns", {}) or {})}))
    return ChurnRiskModel(model=model, exclude=exclude,
                          random_state=int(ctx.dataset.config.get("random_state", 42)))


def _oot_metrics(ctx: Any, panel: pd.DataFrame) -> dict:
    """Train on the earlier history dates, score the latest one: out-of-time quality."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    if ctx.single_table or "as_of" not in panel.columns or panel["as_of"].nunique() < 2:
        from sklearn.model_selection import StratifiedKFold

        data = _decided(panel)
        y = data["churned"].astype(bool).to_numpy()
        p = np.zeros(len(data))
        folds = StratifiedKFold(5, shuffle=True, random_state=42)
        chosen = "auto"
        for tr, te in folds.split(data, y):
            model = _model(ctx, chosen).fit(data.iloc[tr], y[tr])
            chosen = getattr(model, "model_", "auto")  # choose the family once, on the first fold
            p[te] = model.predict_proba(data.iloc[te])[:, 1]
        scheme = "5-fold stratified cross-validation"
    else:
        data = _decided(panel)
        last = data["as_of"].max()
        train, test = data[data["as_of"] < last], data[data["as_of"] == last]
        model = _model(ctx).fit(train, train["churned"].astype(bool))
        chosen = getattr(model, "model_", "auto")
        y = test["churned"].astype(bool).to_numpy()
        p = model.predict_proba(test)[:, 1]
        scheme = f"trained before {pd.Timestamp(last).date()}, scored the renewals after it"
    order = np.argsort(-p)
    top = order[: max(1, len(p) // 10)]
    return {
        "evaluation": scheme,
        "n_decisions": int(len(y)),
        "churn_rate": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, p)) if 0 < y.mean() < 1 else None,
        "brier_score": float(brier_score_loss(y, p)),
        "top_decile_lift": float(y[top].mean() / y.mean()) if y.mean() > 0 else None,
        "mean_predicted": float(p.mean()),
        "model_chosen": chosen,
    }


def churn_risk(ctx: Any) -> RiskResult:
    """Fit the churn model on history, score the current customers; write risk_scores.csv, model_metrics.json.

    Examples
    --------
    >>> churn_risk(ctx).summary  # doctest: +SKIP
    """

    def build() -> RiskResult:
        panel = history(ctx)
        metrics = _oot_metrics(ctx, panel)
        train = _decided(panel)
        # the model family chosen on the earlier years is refitted on all of them
        model = _model(ctx, metrics.pop("model_chosen")).fit(train, train["churned"].astype(bool))
        # the model was fitted on snapshots with their outcome columns (which it never uses):
        # score the same columns, the unknown outcomes blanked out
        now = current(ctx).reindex(columns=train.columns)
        scores = pd.DataFrame({"account_id": now["account_id"].astype(str).to_numpy()})
        scores["churn_probability"] = model.predict_proba(now)[:, 1]
        arr = now["arr_usd"] if "arr_usd" in now else pd.Series(np.nan, index=now.index)
        scores["arr_usd"] = pd.to_numeric(arr, errors="coerce").to_numpy()
        scores["arr_at_risk_usd"] = scores["churn_probability"] * scores["arr_usd"]  # NaN without ARR
        bands = dict(ctx.dataset.config.get("risk_bands") or {"low": 0, "medium": .15, "high": .3, "critical": .5})
        scores["risk_band"] = _band(scores["churn_probability"], bands)
        if hasattr(model, "reasons"):
            scores["reasons"] = list(model.reasons(now))
        metrics["model"] = getattr(model, "model_", "")
        metrics["features"] = list(getattr(model, "features_", []))
        key = "churn_probability" if scores["arr_usd"].isna().all() else "arr_at_risk_usd"
        return RiskResult(scores.sort_values(key, ascending=False).reset_index(drop=True), metrics, model)

    result = ctx.cached("risk", build)
    ctx.write_result("risk_scores.csv", result.scores)
    ctx.write_result("model_metrics.json", result.metrics)
    return result


# ----------------------------------------------------------------------------- grades


def grades(ctx: Any) -> Any:
    """Grade the current customers (with ICP fit and churn risk); write grades.csv.

    Examples
    --------
    >>> grades(ctx).summary  # doctest: +SKIP
    """
    from icp.grading import grade_accounts

    def build() -> Any:
        worksheet = None
        if ctx.options.get("worksheet"):
            from icp.worksheet import load_worksheet

            worksheet = load_worksheet(ctx.options["worksheet"])
        fit = current_fit(ctx)
        id_col = "account_id" if "account_id" in fit else fit.columns[0]
        fit_score = fit.set_index(fit[id_col].astype(str))["fit_score"]
        risk = churn_risk(ctx).scores.set_index("account_id")["churn_probability"]
        snap = current(ctx)
        return grade_accounts(snap, worksheet=worksheet, icp_fit=fit_score, churn_probability=risk)

    result = ctx.cached("grades", build)
    ctx.write_result("grades.csv", result.grades.reset_index() if "account_id" not in result.grades
                     else result.grades)
    return result


def grade_movement(ctx: Any) -> Any:
    """Quarterly grade migration from the previous quarter's end to this one (multi-table form)."""
    from icp.grade_review import grade_migration
    from icp.grading import grade_accounts
    from icp.snapshot import snapshot

    if ctx.single_table:
        return None

    def build() -> Any:
        previous = (pd.Timestamp(ctx.as_of) - pd.offsets.QuarterEnd(1)).date()
        before = grade_accounts(snapshot(ctx.dataset, as_of=previous))
        after = grade_accounts(current(ctx))
        return grade_migration(before, after, cadence="quarterly")

    result = ctx.cached("grade_movement", build)
    return result


# ----------------------------------------------------------------------------- summary


def summary(ctx: Any, *, max_actions: int = 5, top_n: int = 10) -> Any:
    """The leadership summary from the other analyses; writes leadership_summary.json.

    Examples
    --------
    >>> summary(ctx).actions  # doctest: +SKIP
    """
    from icp.summary import leadership_summary

    bands = ctx.dataset.config.get("risk_bands") or {}
    result = leadership_summary(
        quarter=ctx.quarter, as_of=ctx.as_of, icp=icp_profile(ctx), risk=churn_risk(ctx),
        grades=grades(ctx), movement=grade_movement(ctx), segments=segments(ctx, n_segments=0),
        outcomes=history(ctx)[["account_id", "churned"]],
        top_n=top_n, max_actions=max_actions, critical_cutoff=float(bands.get("critical", 0.5)),
    )
    ctx.write_result("leadership_summary.json", result.to_dict())
    return result


def overview(ctx: Any) -> pd.DataFrame:
    """The quarter's customer base in a few numbers (accounts, ARR, tenure, churn history).

    Examples
    --------
    >>> overview(ctx)  # doctest: +SKIP
    """
    now = current(ctx)
    rows = [("Customers active at the quarter's end", f"{len(now):,}")]
    if "arr_usd" in now:
        rows.append(("Annual recurring revenue (ARR)", f"${pd.to_numeric(now['arr_usd']).sum():,.0f}"))
    if "tenure_months" in now:
        rows.append(("Median time as a customer", f"{pd.to_numeric(now['tenure_months']).median():.0f} months"))
    past = history(ctx)
    if "churned" in past:
        churned = past["churned"].astype("boolean").fillna(False).astype(bool)
        label = "Share of customers who churned" + ("" if ctx.single_table else " within a year, in the history")
        rows.append((label, f"{churned.mean():.1%}"))
    rows.append(("Input form", "one table per customer" if ctx.single_table else "multi-table contract"))
    return pd.DataFrame(rows, columns=["measure", "value"])


def explorer(ctx: Any) -> Any:
    """The interactive cluster explorer on this quarter's customers (see :class:`icp.explorer.ClusterExplorer`).

    Examples
    --------
    >>> explorer(ctx).widget  # doctest: +SKIP
    """
    from icp.explorer import ClusterExplorer
    from icp.worksheet import default_worksheet

    found = icp_profile(ctx)
    risk = churn_risk(ctx)
    graded = grades(ctx)
    grade_frame = graded.grades.reset_index() if "account_id" not in graded.grades else graded.grades
    return ClusterExplorer(current(ctx), churn_probability=risk.scores.set_index("account_id")["churn_probability"],
                           grades=grade_frame, icp_rule=found.icp, worksheet=default_worksheet(),
                           snapshot_for_grades=current(ctx),
                           random_state=int(ctx.dataset.config.get("random_state", 42)))
