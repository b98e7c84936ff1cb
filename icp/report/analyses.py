"""The analyses of the quarterly report, computed once per run and shared by the notebooks.

Each function takes the notebook's :class:`~icp.report.context.ReportContext`,
runs one analysis the way its ``icp`` command does, keeps the result in the run's
work folder (so that the grading and summary notebooks reuse the ICP and the risk
scores instead of recomputing them) and writes its result files into ``results/``.

Dates: the report looks at the customers active at the quarter's end (``as_of``).
What makes a customer good or risky is learned from history whose outcomes are
known by then: snapshots at the same quarter end one, two and three years
earlier (``as_of - horizon`` and before), never from the current quarter's
unknown future. The runner builds that panel once (:func:`history`, the
``history`` preparation step) and every notebook reads it.

In the single-table form (one row per customer, no dates) the table is the
history, and the current customers are its rows not marked as churned.

The churn-risk analysis lives in :mod:`icp.report.churn`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from icp.exceptions import InsufficientDataError, SchemaError
from icp.report.churn import RiskResult, churn_risk

__all__ = [
    "history",
    "current",
    "segments",
    "icp_profile",
    "churn_risk",
    "grades",
    "grade_movement",
    "prospect_scores",
    "summary",
    "overview",
    "explorer",
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
    """The customers active at the quarter's end, with the features known then (no outcomes).

    In the single-table form: the rows not marked as churned (the customers we still have).
    """
    snap = ctx.snapshot()
    if ctx.single_table:
        gone = snap["churned"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        return snap[~gone].reset_index(drop=True)
    from icp.snapshot import OUTCOME_COLUMNS

    return snap.drop(columns=[c for c in OUTCOME_COLUMNS if c in snap.columns])


def latest_history(ctx: Any) -> pd.DataFrame:
    """The most recent snapshot of :func:`history` (one row per account)."""
    panel = history(ctx)
    if "as_of" not in panel.columns:
        return panel
    return panel[panel["as_of"] == panel["as_of"].max()].reset_index(drop=True)


def _chosen(ctx: Any, name: str, default: Any) -> Any:
    """The setting a notebook of this run already used for ``name`` (e.g. ``icp_retention``), else ``default``.

    The ICP and segment notebooks take a parameter (``outcome``, ``n_segments``); the
    notebooks that reuse their results (grades, summary, explorer) ask for whichever
    one the run computed, instead of computing another with the default.
    """
    keys = [k for k in ctx._memory if k.startswith(f"{name}_")]
    if not keys and ctx.work_dir is not None:
        keys = [p.stem for p in sorted((ctx.work_dir / "results").glob(f"{name}_*.pkl"))]
    if not keys:
        return default
    value = keys[0][len(name) + 1:]
    return type(default)(value)


# ----------------------------------------------------------------------------- segments


@dataclass(frozen=True)
class SegmentResult:
    """Segments learned on the latest year with known outcomes, and this quarter's customers in them.

    Attributes
    ----------
    model : CustomerSegmenter
        Fitted on :attr:`training`; its ``segment_names_`` name the segments.
    assignments : pandas.DataFrame
        The current customers: ``account_id``, ``segment``, ``segment_name``.
    profiles : SegmentProfiles
        From :func:`icp.segment_profiles.profile_segments` on the training year: size,
        shares, churn with its Wilson interval, net revenue retention, names,
        one-sentence descriptions and distinguishing features.
    retention : SegmentRetention or None
        From :func:`icp.segment_profiles.segment_retention` (None, with
        :attr:`retention_note`, when the data has no time to churn).
    training : pandas.DataFrame
        The snapshot the segments were learned on.
    """

    model: Any
    assignments: pd.DataFrame
    profiles: Any
    retention: Any = None
    retention_note: str = ""
    training: pd.DataFrame = field(default=None, repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per segment: name, description, size, shares, churn, retention, value."""
        return self.profiles.summary

    @property
    def names(self) -> dict[int, str]:
        """Segment number -> name."""
        return dict(self.profiles.names)

    @property
    def table(self) -> pd.DataFrame:
        """The segments for a reader: name, one-sentence description, churn with its interval, retention."""
        s = self.summary
        out = pd.DataFrame({"Segment": s["segment_name"], "Who they are": s["description"]})
        if "churn_rate" in s:
            out["Churn within a year (95% interval)"] = [
                "n/a" if pd.isna(r) else f"{r:.0%} ({lo:.0%} to {hi:.0%})"
                for r, lo, hi in zip(s["churn_rate"], s["churn_ci_low"], s["churn_ci_high"], strict=True)]
        if "net_revenue_retention" in s:
            out["Net revenue retention"] = s["net_revenue_retention"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.0%}")
        return out.set_index("Segment")

    def _repr_html_(self) -> str:
        return self.profiles._repr_html_()


def segments(ctx: Any, *, n_segments: int | None = None) -> SegmentResult:
    """Fit the segments on the latest history year, profile them, assign the current customers.

    Writes ``segments.csv`` (the current customers' segments), ``segment_profiles.csv``
    and, when the data allows it, ``segment_retention.csv``. ``n_segments``: 0 chooses
    the number from the data; None reuses the segments this run already computed.

    Examples
    --------
    >>> result = segments(ctx)  # doctest: +SKIP
    >>> result.summary[["segment_name", "n_accounts", "churn_rate"]]  # doctest: +SKIP
    """

    def build() -> SegmentResult:
        from icp.segment_profiles import profile_segments, segment_retention
        from icp.segments import CustomerSegmenter

        train = latest_history(ctx)
        seed = int(ctx.dataset.config.get("random_state", 42))
        model = CustomerSegmenter(n_clusters=n_segments or "auto", random_state=seed).fit(train)
        names = dict(enumerate(model.segment_names_))
        now = current(ctx)
        assignments = pd.DataFrame({"account_id": now["account_id"].astype(str).to_numpy(),
                                    "segment": model.predict(now)})
        assignments["segment_name"] = assignments["segment"].map(lambda s: names.get(int(s), f"Segment {s}"))
        profiles = profile_segments(train, model.labels_)
        retention, note = None, ""
        try:
            retention = segment_retention(train, model.labels_, names=names, horizon_days=_horizon_days(ctx))
        except (SchemaError, InsufficientDataError) as exc:
            note = f"No retention curves: {exc}"
        return SegmentResult(model, assignments, profiles, retention, note, train)

    if n_segments is None:
        n_segments = _chosen(ctx, "segments", 0)
    result = ctx.cached(f"segments_{n_segments}", build)
    ctx.write_result("segments.csv", result.assignments)
    ctx.write_result("segment_profiles.csv", result.summary)
    if result.retention is not None:
        ctx.write_result("segment_retention.csv", result.retention.summary)
    return result


# ----------------------------------------------------------------------------- ICP


def icp_profile(ctx: Any, *, outcome: str | None = None) -> Any:
    """Discover the ICP on the history panel; write icp_rules.csv, icp_profile.json, icp_membership.csv.

    The write-offs of each snapshot's outcome horizon are added first
    (:func:`icp.evidence.add_horizon_write_offs`), so that leadership's answer
    shares out the unpaid invoices of customers outside the ICP too. ``outcome``:
    ``"value"`` or ``"retention"``; None reuses the ICP this run already found
    (else ``"value"``).

    Examples
    --------
    >>> print(icp_profile(ctx).statement)  # doctest: +SKIP
    """

    def build() -> Any:
        from icp.discovery import discover_icp
        from icp.evidence import WRITE_OFFS, add_horizon_write_offs

        panel = history(ctx)
        if not ctx.single_table and ctx.dataset.has("invoices") and WRITE_OFFS not in panel:
            panel = add_horizon_write_offs(panel, ctx.dataset.to_pandas("invoices"),
                                           horizon_days=_horizon_days(ctx))
        presale = list(ctx.dataset.presale_columns) or None
        seed = int(ctx.dataset.config.get("random_state", 42))
        result = discover_icp(panel, outcome=outcome, presale_columns=presale, random_state=seed,
                              tiers=ctx.dataset.config.get("icp_tiers"))
        result.profile.setdefault("settings", {})["source"] = str(ctx.data)
        result.profile["input_fingerprints"] = dict(ctx.dataset.fingerprints)
        return result

    if outcome is None:
        outcome = _chosen(ctx, "icp", "value")
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
    from icp.report.summary import leadership_summary

    bands = ctx.dataset.config.get("risk_bands") or {}
    result = leadership_summary(
        quarter=ctx.quarter, as_of=ctx.as_of, icp=icp_profile(ctx), risk=churn_risk(ctx),
        grades=grades(ctx), movement=grade_movement(ctx), segments=segments(ctx),
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
    rows = [("Current customers (the rows not marked as churned)" if ctx.single_table
             else "Customers active at the quarter's end", f"{len(now):,}")]
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
