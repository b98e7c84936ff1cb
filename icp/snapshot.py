"""Point-in-time customer snapshots: what we knew about each account at a date, and what happened next.

:func:`snapshot` returns one row per account active at ``as_of`` (or per
account and date, for a panel). Features use only rows dated strictly before
``as_of``; outcomes only what happened in ``(as_of, as_of + horizon]``. The
heavy aggregations are Ibis expressions (:mod:`icp.snapshot_queries`) that run
where the data is (:mod:`icp.engines`), one per source table, each reading its
table once; the per-account results come back as Arrow and are lined up
(:mod:`icp.snapshot_fetch`) into pandas, where the cheap ratios and bands are
computed the same way for every engine. Column meanings are in
:data:`FEATURE_DICTIONARY`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from icp import snapshot_queries as q
from icp.engines import duckdb_cursors, engine_tables
from icp.exceptions import InsufficientDataError, SchemaError
from icp.features import (
    EMPLOYEE_BANDS,
    FEATURE_COLUMNS,
    FEATURE_DICTIONARY,
    KEY_COLUMNS,
    OUTCOME_COLUMNS,
    REVENUE_BANDS,
)
from icp.snapshot_fetch import Runner, fetch_per_account

__all__ = [
    "snapshot",
    "quarter_ends",
    "parse_horizon",
    "parse_as_of",
    "KEY_COLUMNS",
    "OUTCOME_COLUMNS",
    "FEATURE_COLUMNS",
    "FEATURE_DICTIONARY",
]

logger = logging.getLogger(__name__)


DAYS_PER_MONTH = 30.4375
_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*$")
_HORIZON = re.compile(r"^\s*(\d+)\s*([dwmy]?)\s*$", re.IGNORECASE)


def _quarter(text: str) -> tuple[int, int]:
    m = _QUARTER.match(text)
    if not m:
        raise SchemaError(
            f"'{text}' is not a quarter. Expected the form YYYYQn, such as 2025Q2. "
            "Write quarter ranges as 2023Q1:2025Q2."
        )
    return int(m.group(1)), int(m.group(2))


def _quarter_end(year: int, quarter: int) -> dt.date:
    month = quarter * 3
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def quarter_ends(spec: str) -> list[dt.date]:
    """Return the last day of each quarter in a range such as ``"2023Q1:2025Q2"``.

    Parameters
    ----------
    spec : str
        One quarter (``"2025Q2"``) or an inclusive range ``"FIRST:LAST"``.

    Returns
    -------
    list of datetime.date

    Examples
    --------
    >>> from icp.snapshot import quarter_ends
    >>> [d.isoformat() for d in quarter_ends("2024Q4:2025Q2")]
    ['2024-12-31', '2025-03-31', '2025-06-30']
    """
    first, _, last = str(spec).partition(":")
    y0, q0 = _quarter(first)
    y1, q1 = _quarter(last or first)
    i0, i1 = y0 * 4 + q0 - 1, y1 * 4 + q1 - 1
    if i1 < i0:
        raise SchemaError(
            f"The quarter range '{spec}' ends before it starts. Expected FIRST:LAST with FIRST "
            "not after LAST. Swap the two quarters."
        )
    return [_quarter_end(i // 4, i % 4 + 1) for i in range(i0, i1 + 1)]


def parse_horizon(horizon: str | int | dt.timedelta) -> int:
    """Return a horizon in days: ``"365d"``, ``"52w"``, ``"12m"``, ``"1y"``, an int or a timedelta.

    Examples
    --------
    >>> from icp.snapshot import parse_horizon
    >>> parse_horizon("365d"), parse_horizon("6m"), parse_horizon("1y"), parse_horizon(90)
    (365, 182, 365, 90)
    """
    if isinstance(horizon, dt.timedelta):
        days = horizon.days
    elif isinstance(horizon, (int, np.integer)) and not isinstance(horizon, bool):
        days = int(horizon)
    else:
        m = _HORIZON.match(str(horizon))
        if not m:
            raise SchemaError(
                f"The horizon '{horizon}' is not understood. Expected a number of days, weeks, "
                "months or years such as 365d, 52w, 12m or 1y. Check the --horizon option."
            )
        n, unit = int(m.group(1)), (m.group(2) or "d").lower()
        days = round(n * {"d": 1, "w": 7, "m": 365 / 12, "y": 365}[unit])
    if days < 1:
        raise SchemaError(
            f"The horizon must be at least one day. Found {horizon!r}. Use for example 365d."
        )
    return days


def _one_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _QUARTER.match(value):
        return quarter_ends(value)[0]
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        ts = pd.NaT
    if pd.isna(ts):
        raise SchemaError(
            f"The date '{value}' is not understood. Expected an ISO date such as 2025-06-30, "
            "a quarter such as 2025Q2, or a range such as 2023Q1:2025Q2. Check --as-of."
        )
    return ts.date()


def parse_as_of(as_of: Any) -> list[dt.date]:
    """Return the sorted, distinct snapshot dates given as a date, a list or a quarter range.

    Examples
    --------
    >>> from icp.snapshot import parse_as_of
    >>> [d.isoformat() for d in parse_as_of("2025Q1:2025Q2")]
    ['2025-03-31', '2025-06-30']
    >>> parse_as_of("2025-06-30")
    [datetime.date(2025, 6, 30)]
    """
    if isinstance(as_of, str) and ":" in as_of:
        dates = quarter_ends(as_of)
    elif isinstance(as_of, (str, dt.date, pd.Timestamp)) or not isinstance(as_of, Iterable):
        dates = [_one_date(as_of)]
    else:
        dates = [_one_date(v) for v in as_of]
    if not dates:
        raise SchemaError("No snapshot date was given. Expected at least one as_of date. Use for example 2025-06-30.")
    return sorted(set(dates))


def _band(values: pd.Series, bands: tuple[tuple[float, str], ...]) -> pd.Series:
    edges = [b for b, _ in bands]
    labels = np.array([lab for _, lab in bands], dtype=object)
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    idx = np.searchsorted(edges, v, side="right") - 1
    out = np.where(np.isnan(v) | (idx < 0), None, labels[np.clip(idx, 0, None)])
    return pd.Series(out, index=values.index, dtype=object)


def _last_quarter_before(date: dt.date) -> int:
    """Index (year * 4 + q - 1) of the latest quarter that ended strictly before ``date``."""
    i = date.year * 4 + (date.month - 1) // 3
    while _quarter_end(i // 4, i % 4 + 1) >= date:
        i -= 1
    return i


def _num(df: pd.DataFrame, col: str, fill: float | None = None) -> pd.Series:
    if col not in df:
        return pd.Series(np.nan if fill is None else fill, index=df.index, dtype=float)
    s = df[col]
    if s.dtype != np.float64:  # aggregates mostly arrive as floats already: no copy then
        s = pd.to_numeric(s, errors="coerce").astype(float)
    return s if fill is None else s.fillna(fill)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    num, den = num.astype(float), den.astype(float)
    return (num / den.where(den != 0)).astype(float)


def _days_to_date(days: pd.Series) -> pd.Series:
    return pd.to_datetime(pd.to_numeric(days, errors="coerce"), unit="D", origin="unix")


def _features_and_outcomes(tables, w: q.Window, ctx: dict, run: Runner) -> pd.DataFrame:
    last_quarter = _last_quarter_before(w.as_of)
    quarters = {p: i for p, i in ctx["grade_quarters"].items() if i <= last_quarter}
    exprs = q.account_aggregates(
        tables, w, fallback_margin=ctx["fallback_margin"], costs=ctx["costs"], grade_quarters=quarters,
    )
    frame = fetch_per_account(exprs, run, w.as_of.isoformat())
    if frame.empty:
        return frame
    return _derive(frame, w, ctx, set(tables))


def _derive(b: pd.DataFrame, w: q.Window, ctx: dict, present: set[str]) -> pd.DataFrame:
    t0, h = w.t0, w.horizon_days
    out = pd.DataFrame({"account_id": b["account_id"].astype(str)})
    out["as_of"] = pd.Timestamp(w.as_of)
    a = q.ACCOUNT_PREFIX
    for col in ctx["account_columns"]:
        out[col] = b[a + col]
    out["employees_band"] = _band(_num(b, a + "employees"), EMPLOYEE_BANDS)
    out["revenue_band"] = _band(_num(b, a + "annual_revenue_usd"), REVENUE_BANDS)
    out["company_age_years"] = w.as_of.year - _num(b, a + "founded_year")
    first = _num(b, "first_start")
    if a + "customer_since" in b:
        since = pd.to_datetime(b[a + "customer_since"], errors="coerce")
        since_days = (since - pd.Timestamp(q.EPOCH)).dt.days.astype(float)
        first = since_days.where(since_days < t0, first)
    out["tenure_months"] = (t0 - first) / DAYS_PER_MONTH
    arr = _num(b, "arr_usd", 0.0)
    out["arr_usd"] = arr
    out["arr_growth_12m_pct"] = 100.0 * (_ratio(arr, _num(b, "arr_12m_ago", 0.0)) - 1.0)
    out["contract_count"] = _num(b, "contract_count", 0.0).astype("int64")
    out["contract_term_months"] = _num(b, "term_days") / DAYS_PER_MONTH
    # the next contract end of a covered account; while its renewal is open, the last end (< 0)
    out["days_to_renewal"] = (_num(b, "next_end").where(_num(b, "n_cover", 0.0) > 0, _num(b, "last_end")) - t0)
    out["plan"] = b["plan"].astype(object).where(b["plan"].notna(), None) if "plan" in b else None
    margin = _ratio(_num(b, "margin_num"), _num(b, "margin_den"))
    out["gross_margin_pct"] = margin.fillna(_num(b, "margin_plain"))
    fill = 0.0 if "invoices" in present else None
    n_due = _num(b, "n_due", fill)
    out["days_late_mean"] = _num(b, "days_late_mean")
    out["late_payment_share"] = _ratio(_num(b, "n_late", fill), n_due)
    out["overdue_usd"] = _num(b, "overdue_usd", fill)
    out["written_off_usd"] = _num(b, "written_off_usd", fill)
    exposure = (t0 - first).clip(lower=30, upper=365).fillna(365)
    fill = 0.0 if "tickets" in present else None
    n_tickets = _num(b, "n_tickets", fill)
    per_year = n_tickets / exposure * 365.0
    out["tickets_per_quarter"] = n_tickets / exposure * 91.3125
    out["tickets_per_10k_arr"] = _ratio(per_year, arr / 10_000.0)
    out["urgent_ticket_share"] = _ratio(_num(b, "n_urgent", fill), n_tickets)
    out["resolution_hours_mean"] = _num(b, "resolution_hours_mean")
    out["csat_mean"] = _num(b, "csat_mean")
    c = ctx["cost_to_serve"]
    variable = _num(b, "ticket_cost", 0.0) + float(c["late_invoice_cost_usd"]) * _num(b, "n_late", 0.0)
    out["cost_to_serve_usd"] = float(c["account_overhead_usd"]) + variable * 365.0 / exposure
    fill = 0.0 if "usage" in present else None
    out["active_users"] = _num(b, "active_users", fill)
    out["events_90d"] = _num(b, "events_90d", fill)
    # the trend compares two 3-month windows; when the earlier one starts before the
    # account's tenure does, it compares a full quarter with a partial one: left empty
    covered = first <= (w.months_back(2 * q.USAGE_WINDOW_MONTHS) - q.EPOCH).days
    trend = _ratio(out["events_90d"], _num(b, "events_prev_90d", fill)) - 1.0
    out["usage_trend_90d"] = trend.where(covered)
    for col in ("am_partnerability", "am_reference_willing", "am_eagerness", "am_strategic_fit"):
        out[col] = _num(b, col)
    # outcomes
    churn_day = _num(b, "churn_day")
    churned = churn_day.notna()
    out["renewal_due"] = _num(b, "n_decisions", 0.0) > 0
    out["churned"] = churned
    out["renewed"] = out["renewal_due"] & ~churned & (_num(b, "n_undecided", 0.0) == 0)
    out["churn_date"] = _days_to_date(churn_day)
    # When is the outcome final? Decided by what was known at as_of, never by the outcome
    # itself (a training set that admitted churns sooner than renewals would over-state churn):
    # when a renewal on the current term would run past the horizon, the next decision
    # settles it; otherwise the horizon must be over. In both cases, and a grace period later,
    # every contract end in the horizon must have been decided.
    grace = w.grace_days
    first_decision, last_decision = _num(b, "first_decision"), _num(b, "last_decision")
    settles = _num(b, "term_days") >= t0 + h - first_decision
    final = first_decision.where(settles, float(t0 + h))
    final = np.fmax(final, last_decision) + grace
    out["label_final_on"] = _days_to_date(final.fillna(float(t0 + h + grace)))
    cover, pending = _num(b, "arr_cover_next", 0.0), _num(b, "arr_pending_next", 0.0)
    nxt = cover.where(cover > 0, pending).where(~churned, 0.0)
    out["arr_next_usd"] = nxt
    out["arr_change_usd"] = nxt - arr
    out["revenue_horizon_usd"] = _num(b, "revenue_horizon_usd", 0.0)
    profit = (
        _num(b, "gross_profit", 0.0)
        - _num(b, "support_cost_horizon", 0.0)
        - _num(b, "written_off_horizon", 0.0)
    )
    out["realised_gross_profit_usd"] = profit
    out["customer_value_usd"] = profit * 365.0 / h
    end = ctx["data_end"]
    out["horizon_complete"] = bool(end is not None and w.date(h) <= end)
    return out


def _empty_frame(account_columns: list[str]) -> pd.DataFrame:
    cols = [*KEY_COLUMNS, *account_columns, *FEATURE_COLUMNS, *OUTCOME_COLUMNS]
    return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})


def _single(data: Any, as_of: Any, engine: Any) -> pd.DataFrame:
    with engine_tables(data, engine) as tables:
        frame = tables["customers"].execute()
    frame = frame.assign(account_id=frame["account_id"].astype(str), churned=frame["churned"].astype(bool))
    if as_of is not None:
        frame.insert(1, "as_of", pd.Timestamp(parse_as_of(as_of)[-1]))
    return frame


def _validated_data_end(data: Any) -> dt.date | None:
    """The last event date of :func:`icp.snapshot_queries.data_end`, from the validation report
    when the tables were loaded with one (it measured the accepted rows); else None."""
    report = getattr(data, "validation", None)
    tables = getattr(report, "tables", None) or {}
    if "contracts" not in tables:
        return None
    found = []
    for name, column in (("contracts", "start_date"), ("invoices", "issued_on"), ("tickets", "opened_at"),
                         ("usage", "date")):
        if name in data.tables:
            if name not in tables or column not in tables[name].date_coverage:
                return None
            top = tables[name].date_coverage[column][1]
            if top:
                found.append(dt.date.fromisoformat(str(top)[:10]))
    return max(found) if found else None


def snapshot(
    data: Any,
    *,
    as_of: Any = None,
    horizon: str | int | dt.timedelta | None = None,
    engine: Any = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """Return the point-in-time snapshot: one row per account active at ``as_of``.

    Parameters
    ----------
    data : Dataset
        The loaded input (``icp.io.load``) or ``Dataset.from_frames``.
    as_of : date, str, list of dates, or quarter range
        The snapshot date(s): ``"2025-06-30"``, ``["2024-12-31", "2025-06-30"]``,
        or ``"2023Q1:2025Q2"`` (a panel of quarter ends). Required in the
        multi-table form; optional in the single-table form.
    horizon : str, int or timedelta, optional
        How far after ``as_of`` outcomes are observed (``"365d"``, ``"12m"``);
        by default the project's ``horizon_days`` (365).
    engine : None, "duckdb", "spark", a Spark master URL, an Ibis backend or a SparkSession
        Where the aggregations run; None is the Dataset's own backend.
    progress : callable, optional
        Called as ``progress(done, total, description)`` after each aggregation.

    Returns
    -------
    pandas.DataFrame
        :data:`KEY_COLUMNS`, the accounts table's attributes, the features of
        :data:`FEATURE_DICTIONARY` and the :data:`OUTCOME_COLUMNS`, sorted by
        ``as_of`` and ``account_id``. In the single-table form: the customers
        table with ``churned``.

    Raises
    ------
    SchemaError
        A required table is missing or an argument is not understood.
    InsufficientDataError
        No account was active at any of the dates.

    Examples
    --------
    >>> import datetime as dt
    >>> import pandas as pd
    >>> from icp.dataset import Dataset
    >>> from icp.snapshot import snapshot
    >>> ds = Dataset.from_frames({
    ...     "accounts": pd.DataFrame({"account_id": ["a1"], "industry": ["Retail"], "employees": [40]}),
    ...     "contracts": pd.DataFrame({"contract_id": ["c1"], "account_id": ["a1"],
    ...         "start_date": [dt.date(2024, 7, 1)], "end_date": [dt.date(2025, 6, 30)],
    ...         "arr_usd": [12000.0], "gross_margin_pct": [75.0]})})
    >>> snap = snapshot(ds, as_of="2025-03-31")
    >>> snap[["account_id", "arr_usd", "employees_band", "contract_count"]].to_dict("records")
    [{'account_id': 'a1', 'arr_usd': 12000.0, 'employees_band': '10-49', 'contract_count': 1}]
    """
    if getattr(data, "form", "multi") == "single":
        return _single(data, as_of, engine)
    if as_of is None:
        raise SchemaError(
            "A snapshot needs an as_of date. Expected a date, a list of dates or a quarter range. "
            "Use for example as_of='2025-06-30' (or --as-of 2025-06-30)."
        )
    dates = parse_as_of(as_of)
    h = parse_horizon(data.config.get("horizon_days", 365) if horizon is None else horizon)
    grace = int(data.config.get("grace_period_days", 30))
    data.table("contracts")  # a clear error when it is absent
    with engine_tables(data, engine) as tables, duckdb_cursors(tables) as cursors:
        per_date = 2 + sum(t in tables for t in ("invoices", "tickets", "usage", "am_grades", "accounts"))
        last = _validated_data_end(data)
        run = Runner(progress, (last is None) + 1 + ("am_grades" in tables) + per_date * len(dates),
                     cursors=cursors)
        account_columns = []
        if "accounts" in tables:
            account_columns = [c for c in tables["accounts"].columns if c != "account_id"]
        if last is None:
            last = run(q.data_end(tables), "data coverage")
        margin = run(q.default_margin(tables["contracts"]), "margins")
        quarters: dict[str, int] = {}
        if "am_grades" in tables:
            found = run(q.grade_periods(tables["am_grades"]), "grade quarters")["period"]
            quarters = {p: i for p in found.dropna() if (i := q.quarter_index(p)) is not None}
        ctx = {
            "grade_quarters": quarters,
            "account_columns": account_columns,
            "costs": dict(data.config.get("cost_to_serve.ticket_cost_usd", {}) or {}),
            "cost_to_serve": data.config.get("cost_to_serve"),
            "fallback_margin": 100.0 if margin is None or pd.isna(margin) else float(margin),
            "data_end": None if last is None or pd.isna(last) else pd.Timestamp(last).date(),
        }
        frames = []
        for d in dates:
            w = q.Window(d, h, grace, ctx["data_end"])
            frame = _features_and_outcomes(tables, w, ctx, run)
            if frame.empty:
                logger.warning("No account was active at %s.", d.isoformat())
                continue
            if not frame["horizon_complete"].iloc[0]:
                logger.warning("The data ends before %s + %d days: outcomes at %s are incomplete.", d, h, d)
            frames.append(frame)
    if not frames:
        raise InsufficientDataError(
            f"No account was active at {', '.join(d.isoformat() for d in dates)}. "
            "Expected at least one contract covering an as_of date. "
            f"Choose dates within the contracts' coverage (the data ends on {ctx['data_end']})."
        )
    result = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    keys = pa.array(result["account_id"].astype(str))
    # the engine returns each date's accounts in order already: sorted again only when they are not
    if len(frames) > 1 or not pc.all(pc.less_equal(keys[:-1], keys[1:])).as_py():
        # Arrow's sort is stable and much faster than pandas' on string keys
        order = pc.sort_indices(
            pa.table({"as_of": pa.array(result["as_of"]), "account_id": keys}),
            sort_keys=[("as_of", "ascending"), ("account_id", "ascending")],
        )
        result = result.take(order.to_numpy()).reset_index(drop=True)
    result.attrs.update(
        presale_columns=list(getattr(data, "presale_columns", ()) or ()),
        horizon_days=h,
        grace_period_days=grace,
        data_end=ctx["data_end"].isoformat() if ctx["data_end"] else None,
    )
    return result


class _CallableModule(types.ModuleType):
    """Lets ``icp.snapshot(data, as_of=...)`` call the function while ``icp.snapshot.X`` reads the module."""

    def __call__(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        return snapshot(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
