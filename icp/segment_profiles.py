"""Segment profiles, retention curves and migration: what each segment is worth and how it moves.

:func:`profile_segments` judges segments by their outcomes (churn with a Wilson
interval, net revenue retention, margin, cost to serve) and names them from
what sets them apart; :func:`segment_retention` gives Kaplan-Meier curves per
segment with a log-rank test; :func:`segment_migration` follows accounts from
one ``as_of`` date to another.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from icp.exceptions import InsufficientDataError, SchemaError
from icp.segment_features import add_derived_features
from icp.segment_names import distinguishing_features, load_vocabulary, name_segments
from icp.stats import wilson_interval

__all__ = [
    "SegmentProfiles",
    "SegmentRetention",
    "SegmentMigration",
    "profile_segments",
    "segment_retention",
    "segment_migration",
]

# summary column -> snapshot column averaged per segment (reported when present)
_MEANS = {
    "gross_margin_pct": "gross_margin_pct",
    "days_late_mean": "days_late_mean",
    "late_payment_share": "late_payment_share",
    "written_off_usd": "written_off_usd",
    "tickets_per_quarter": "tickets_per_quarter",
    "tickets_per_10k_arr": "tickets_per_10k_arr",
    "cost_to_serve_usd": "cost_to_serve_usd",
    "active_users": "active_users",
    "events_90d": "events_90d",
    "usage_trend_90d": "usage_trend_90d",
    "customer_value_usd": "customer_value_usd",
}


def _html(title: str, frame: pd.DataFrame, note: str = "") -> str:
    return f"<h4>{title}</h4>{f'<p>{note}</p>' if note else ''}{frame.to_html(index=False, float_format=lambda v: f'{v:,.3g}')}"


@dataclass(frozen=True)
class SegmentProfiles:
    """Segment profiles: one row per segment in ``summary``, plus what sets each apart.

    Attributes
    ----------
    summary : pandas.DataFrame
        Per segment: ``segment``, ``segment_name``, ``description``,
        ``n_accounts``, ``account_share``, ``arr_share``, ``churn_rate`` with
        ``churn_ci_low``/``churn_ci_high`` (Wilson 95%), ``net_revenue_retention``,
        and the means of margin, payment, support and usage columns present.
    distinguishing : pandas.DataFrame
        The output of :func:`icp.segment_names.distinguishing_features`.
    names : dict
        Segment -> name.
    overall : dict
        Base-wide churn rate and net revenue retention, for comparison.
    """

    summary: pd.DataFrame
    distinguishing: pd.DataFrame
    names: dict
    overall: dict = field(default_factory=dict)

    def _repr_html_(self) -> str:
        return _html("Customer segments", self.summary)


def _churn_flags(snapshot: pd.DataFrame) -> np.ndarray | None:
    if "churned" not in snapshot.columns:
        return None
    flags = snapshot["churned"]
    return flags.astype("boolean").to_numpy(dtype=float, na_value=np.nan)


def _describe(row: dict, traits: pd.DataFrame, overall_churn: float, vocab) -> str:
    parts = [f"{row['n_accounts']:,} accounts ({row['account_share']:.0%} of accounts"]
    if not np.isnan(row.get("arr_share", np.nan)):
        parts[0] += f", {row['arr_share']:.0%} of ARR"
    parts[0] += ")"
    churn = row.get("churn_rate", np.nan)
    if churn is not None and not np.isnan(churn):
        parts.append(f"churn {churn:.0%} against {overall_churn:.0%} overall")
    shown = []
    for t in traits.itertuples():
        if len(shown) == 3:
            break
        if (t.kind == "numeric" and t.strength >= vocab["min_effect"]
                and abs(t.typical_shift) >= vocab["min_effect"] and t.typical_shift * t.effect > 0):
            word = "higher" if t.effect > 0 else "lower"
            shown.append(f"{word} {t.feature.replace('_', ' ')} (median {t.segment_median:,.3g} vs {t.rest_median:,.3g})")
        elif t.kind == "categorical" and t.share_in_segment >= vocab["min_category_share"] and t.effect >= vocab["min_category_lift"]:
            shown.append(f"{t.share_in_segment:.0%} {t.feature.replace('_', ' ')} {t.value}")
    text = "; ".join(parts)
    if shown:
        text += "; they stand out for " + ", ".join(shown)
    return text + "."


def profile_segments(snapshot: pd.DataFrame, labels, *, vocabulary=None) -> SegmentProfiles:
    """Profile, name and describe each segment of a snapshot.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The segmented snapshot, with outcomes when available (``churned``,
        ``arr_next_usd``) and ``arr_usd`` for shares of ARR.
    labels : array-like of int
        Segment of each row (for example ``CustomerSegmenter.labels_``).
    vocabulary : mapping, optional
        Overrides of the naming vocabulary (``icp/segment_names.yaml``).

    Returns
    -------
    SegmentProfiles

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.segment_profiles import profile_segments
    >>> frame = pd.DataFrame({"tickets_per_quarter": [1.0, 1.2, 0.9, 8.0, 9.0, 7.5],
    ...                       "churned": [False, False, True, True, True, False]})
    >>> p = profile_segments(frame, [0, 0, 0, 1, 1, 1])
    >>> p.summary[["segment", "n_accounts", "churn_rate"]].round(2).to_dict("list")
    {'segment': [0, 1], 'n_accounts': [3, 3], 'churn_rate': [0.33, 0.67]}
    """
    labels = np.asarray(labels)
    if len(labels) != len(snapshot):
        raise ValueError(
            f"There are {len(labels)} segment labels for {len(snapshot)} accounts. "
            "Expected one label per row of the snapshot. Pass the labels of this snapshot."
        )
    if len(snapshot) == 0:
        raise InsufficientDataError(
            "The snapshot to profile has no rows. Expected at least one account. "
            "Check the as_of date."
        )
    vocab = load_vocabulary(vocabulary)
    # the per-user and per-employee intensities the segmenter uses describe segments too
    snapshot = add_derived_features(snapshot)
    table = distinguishing_features(snapshot, labels)
    names = name_segments(snapshot, labels, distinguishing=table, vocabulary=vocabulary)
    churn = _churn_flags(snapshot)
    arr = pd.to_numeric(snapshot["arr_usd"], errors="coerce").to_numpy(float, na_value=np.nan) if "arr_usd" in snapshot else None
    arr_next = (pd.to_numeric(snapshot["arr_next_usd"], errors="coerce").to_numpy(float, na_value=np.nan)
                if "arr_next_usd" in snapshot and arr is not None else None)
    overall_churn = float(np.nanmean(churn)) if churn is not None and np.isfinite(churn).any() else np.nan
    n = len(snapshot)
    rows = []
    for s in np.unique(labels):
        inside = labels == s
        row = {"segment": int(s), "segment_name": names[int(s)], "n_accounts": int(inside.sum()),
               "account_share": float(inside.mean())}
        if arr is not None:
            row["arr_usd"] = float(np.nansum(arr[inside]))
            row["arr_share"] = float(np.nansum(arr[inside]) / np.nansum(arr)) if np.nansum(arr) > 0 else np.nan
        if churn is not None:
            known = inside & np.isfinite(churn)
            k, m = int(np.nansum(churn[known])), int(known.sum())
            low, high = wilson_interval(k, m) if m else (np.nan, np.nan)
            row.update(churned=k, churn_rate=k / m if m else np.nan, churn_ci_low=low, churn_ci_high=high)
        if arr_next is not None:
            both = inside & np.isfinite(arr) & np.isfinite(arr_next)
            base = arr[both].sum()
            row["net_revenue_retention"] = float(arr_next[both].sum() / base) if base > 0 else np.nan
        for out, col in _MEANS.items():
            if col in snapshot.columns:
                values = pd.to_numeric(snapshot.loc[inside, col], errors="coerce")
                row[out] = float(values.mean()) if values.notna().any() else np.nan
        row["description"] = _describe(row, table[table["segment"] == s], overall_churn, vocab)
        rows.append(row)
    summary = pd.DataFrame(rows)
    front = ["segment", "segment_name", "description"]
    summary = summary[front + [c for c in summary.columns if c not in front]]
    overall = {"n_accounts": n, "churn_rate": overall_churn}
    if arr is not None and arr_next is not None:
        both = np.isfinite(arr) & np.isfinite(arr_next)
        overall["net_revenue_retention"] = float(arr_next[both].sum() / arr[both].sum()) if arr[both].sum() > 0 else np.nan
    return SegmentProfiles(summary=summary, distinguishing=table, names=names, overall=overall)


# ---------------------------------------------------------------- retention
@dataclass(frozen=True)
class SegmentRetention:
    """Kaplan-Meier retention per segment with a log-rank test.

    Attributes
    ----------
    summary : pandas.DataFrame
        Per segment: accounts, churn events, retention at the end of the
        observation window with its 95% interval.
    curves : pandas.DataFrame
        Long form: ``segment``, ``segment_name``, ``time``, ``retention``,
        ``ci_low``, ``ci_high``.
    logrank_p_value, logrank_statistic : float
        Multivariate log-rank test that all segments share one retention curve.
    time_unit : str
        ``"days since as_of"`` or the unit of the duration column used.
    """

    summary: pd.DataFrame
    curves: pd.DataFrame
    logrank_p_value: float
    logrank_statistic: float
    time_unit: str

    def _repr_html_(self) -> str:
        return _html("Retention by segment", self.summary,
                     f"Log-rank test: p = {self.logrank_p_value:.3g} (time in {self.time_unit}).")


def _durations(snapshot: pd.DataFrame, duration, horizon_days: int):
    if duration is not None:
        if duration not in snapshot.columns:
            raise SchemaError(
                f"The duration column '{duration}' is not in the snapshot. "
                f"Expected one of its columns; found: {', '.join(map(str, snapshot.columns[:30]))}. "
                "Check the name passed as duration."
            )
        return pd.to_numeric(snapshot[duration], errors="coerce").to_numpy(float, na_value=np.nan), duration
    if {"churn_date", "as_of"} <= set(snapshot.columns):
        days = (pd.to_datetime(snapshot["churn_date"]) - pd.to_datetime(snapshot["as_of"])).dt.days
        days = days.to_numpy(float, na_value=np.nan)
        return np.where(np.isnan(days), float(horizon_days), np.clip(days, 0, horizon_days)), "days since as_of"
    for col in ("tenure_months", *[c for c in snapshot.columns if isinstance(c, str) and "tenure" in c.lower()]):
        if col in snapshot.columns and pd.api.types.is_numeric_dtype(snapshot[col]):
            return pd.to_numeric(snapshot[col], errors="coerce").to_numpy(float, na_value=np.nan), col
    raise SchemaError(
        "Retention curves need a time to churn. Expected 'churn_date' with 'as_of' (a snapshot) "
        "or a tenure column; found neither. Pass duration='<column>'."
    )


def segment_retention(snapshot: pd.DataFrame, labels, *, names=None, duration: str | None = None,
                      horizon_days: int = 365) -> SegmentRetention:
    """Kaplan-Meier retention curve per segment, with a log-rank test.

    Time runs from ``as_of`` to ``churn_date`` (censored at ``horizon_days``)
    in a snapshot; in the single-table form a tenure column is the duration
    and ``churned`` the event (or pass ``duration=``).

    Parameters
    ----------
    snapshot : pandas.DataFrame
        With ``churned`` and either ``churn_date`` + ``as_of`` or a duration column.
    labels : array-like of int
        Segment of each row.
    names : dict, optional
        Segment -> name, for the curves' labels.
    duration : str, optional
        A column holding the time observed.
    horizon_days : int, default 365
        The outcome horizon of the snapshot (censoring time).

    Returns
    -------
    SegmentRetention

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.segment_profiles import segment_retention
    >>> frame = pd.DataFrame({"tenure": [1, 5, 9, 20, 30, 40, 2, 3],
    ...                       "churned": [True, True, False, False, False, True, True, True]})
    >>> r = segment_retention(frame, [0, 0, 0, 1, 1, 1, 0, 0], duration="tenure")
    >>> r.summary["n_accounts"].tolist()
    [5, 3]
    """
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    labels = np.asarray(labels)
    churn = _churn_flags(snapshot)
    if churn is None:
        raise SchemaError(
            "Retention curves need the outcome column 'churned'. Expected a snapshot with outcomes; "
            "found none. Build the snapshot with a horizon that has passed."
        )
    time, unit = _durations(snapshot, duration, horizon_days)
    ok = np.isfinite(time) & np.isfinite(churn)
    names = names or {}
    rows, curves = [], []
    for s in np.unique(labels[ok]):
        inside = ok & (labels == s)
        kmf = KaplanMeierFitter().fit(time[inside], churn[inside].astype(bool))
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_survival_function_
        curves.append(pd.DataFrame({
            "segment": int(s), "segment_name": names.get(int(s), f"Segment {s}"),
            "time": sf.index.to_numpy(float), "retention": sf.to_numpy(),
            "ci_low": ci.iloc[:, 0].to_numpy(), "ci_high": ci.iloc[:, 1].to_numpy(),
        }))
        rows.append({"segment": int(s), "segment_name": names.get(int(s), f"Segment {s}"),
                     "n_accounts": int(inside.sum()), "churn_events": int(churn[inside].sum()),
                     "retention_end": float(sf.iloc[-1]), "retention_end_ci_low": float(ci.iloc[-1, 0]),
                     "retention_end_ci_high": float(ci.iloc[-1, 1])})
    if len(rows) > 1:
        with warnings.catch_warnings():  # lifelines' own pandas deprecations, not ours
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            test = multivariate_logrank_test(time[ok], labels[ok], churn[ok].astype(bool))
        p_value, statistic = float(test.p_value), float(test.test_statistic)
    else:
        p_value = statistic = float("nan")
    return SegmentRetention(summary=pd.DataFrame(rows), curves=pd.concat(curves, ignore_index=True),
                            logrank_p_value=p_value, logrank_statistic=statistic, time_unit=unit)


# ---------------------------------------------------------------- migration
@dataclass(frozen=True)
class SegmentMigration:
    """Movement of accounts between segments from one ``as_of`` date to a later one.

    Attributes
    ----------
    summary : pandas.DataFrame
        Counts matrix: rows are segments at the first date, columns at the
        second; the row ``(new)`` counts accounts only in the second snapshot
        and the column ``(gone)`` those only in the first.
    moved : pandas.DataFrame
        The accounts whose segment changed (or that appeared or left):
        ``account_id``, ``segment_from``, ``segment_to`` and their names.
    """

    summary: pd.DataFrame
    moved: pd.DataFrame

    def _repr_html_(self) -> str:
        return _html("Segment migration (accounts)", self.summary.reset_index(),
                     f"{len(self.moved):,} accounts changed segment, appeared or left.")


def segment_migration(snap_a: pd.DataFrame, snap_b: pd.DataFrame, segmenter, *, names=None) -> SegmentMigration:
    """Which accounts moved between segments from ``snap_a`` to ``snap_b``.

    Both snapshots are assigned with the same fitted ``segmenter`` (fitted on
    ``snap_a`` here when it is not fitted yet), so segments mean the same at
    both dates.

    Parameters
    ----------
    snap_a, snap_b : pandas.DataFrame
        Snapshots at an earlier and a later ``as_of``, with ``account_id``.
    segmenter : CustomerSegmenter
        A fitted segmenter, or an unfitted one to fit on ``snap_a``.
    names : dict, optional
        Segment -> name for the ``moved`` table.

    Returns
    -------
    SegmentMigration

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from icp.segments import CustomerSegmenter
    >>> from icp.segment_profiles import segment_migration
    >>> a = pd.DataFrame({"account_id": list("abcdef"), "tickets_per_quarter": [1, 1.1, 0.9, 8, 9, 8.5]})
    >>> b = a.assign(tickets_per_quarter=[1, 8.2, 0.9, 8, 9, 8.5])
    >>> seg = CustomerSegmenter(n_clusters=2, features=["tickets_per_quarter"], n_bootstrap=0,
    ...                         random_state=0)
    >>> segment_migration(a, b, seg).moved["account_id"].tolist()
    ['b']
    """
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    for name, frame in (("first", snap_a), ("second", snap_b)):
        if "account_id" not in frame.columns:
            raise SchemaError(
                f"The {name} snapshot has no 'account_id' column. Expected snapshots from icp.snapshot. "
                "Keep the key columns when filtering."
            )
    try:
        check_is_fitted(segmenter, "model_")
    except NotFittedError:
        segmenter.fit(snap_a)
    la = pd.Series(segmenter.predict(snap_a), index=snap_a["account_id"].astype(str).to_numpy())
    lb = pd.Series(segmenter.predict(snap_b), index=snap_b["account_id"].astype(str).to_numpy())
    la, lb = la[~la.index.duplicated()], lb[~lb.index.duplicated()]
    both = pd.DataFrame({"segment_from": la, "segment_to": lb})
    both.index.name = "account_id"
    gone, new = "(gone)", "(new)"
    frm = both["segment_from"].map(lambda v: gone if pd.isna(v) else int(v))
    to = both["segment_to"].map(lambda v: gone if pd.isna(v) else int(v))
    frm = frm.where(both["segment_from"].notna(), new)
    counts = pd.crosstab(frm.astype(str), to.astype(str))
    counts.index.name, counts.columns.name = "segment_from", "segment_to"
    order = [str(s) for s in range(int(segmenter.n_clusters_))]
    counts = counts.reindex(index=order + ([new] if new in counts.index else []),
                            columns=order + ([gone] if gone in counts.columns else []), fill_value=0)
    changed = both[(both["segment_from"] != both["segment_to"])].reset_index()
    names = names or {}
    for side in ("from", "to"):
        values = changed[f"segment_{side}"]
        changed[f"segment_{side}"] = values.astype("Int64")
        changed[f"segment_name_{side}"] = values.map(lambda v: names.get(int(v), f"Segment {int(v)}")
                                                     if pd.notna(v) else None)
    changed = changed.sort_values("account_id", kind="mergesort").reset_index(drop=True)
    return SegmentMigration(summary=counts, moved=changed)
