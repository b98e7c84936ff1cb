"""The snapshot's aggregations, written once with Ibis and run on any backend.

Each function takes Ibis tables and an :class:`Window` (the as_of date, the
horizon and the grace period, all as day numbers since 1970-01-01) and returns an
Ibis expression with one row per account. No engine-specific SQL is used.

Point-in-time rule: feature expressions filter on dates strictly before
``as_of``; outcome expressions on dates in ``(as_of, as_of + horizon]`` (contract
starts up to ``as_of + horizon + grace`` decide whether a contract that ended
in the horizon was renewed). Dates that lie after ``as_of`` inside rows dated
before it (an invoice paid later, a ticket closed later) are read as "not yet".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis

__all__ = ["Window", "account_aggregates", "contract_features", "contract_outcomes",
           "invoices_by_account", "tickets_by_account", "usage_features", "grade_periods", "grade_features",
           "quarter_index", "data_end", "default_margin", "EPOCH", "ACCOUNT_PREFIX", "KEY_HASH"]

EPOCH = dt.date(1970, 1, 1)
# The usage features compare the last USAGE_WINDOW_MONTHS calendar months with those before.
USAGE_WINDOW_MONTHS = 3
# Attributes of the accounts table travel under this prefix through the joins, so
# that an attribute named like a computed column (a custom "plan", say) cannot clash.
ACCOUNT_PREFIX = "acct__"
# A 64-bit hash of account_id that each per-account table carries, so that the
# tables can be lined up by integer lookup (verified against the keys themselves).
KEY_HASH = "account_key_hash"


@dataclass(frozen=True)
class Window:
    """One snapshot date with its horizon and grace period, in days."""

    as_of: dt.date
    horizon_days: int
    grace_days: int
    data_end: dt.date | None = None

    @property
    def t0(self) -> int:
        """``as_of`` as a day number since 1970-01-01."""
        return (self.as_of - EPOCH).days

    def date(self, offset: int) -> dt.date:
        """The date ``offset`` days after ``as_of``."""
        return self.as_of + dt.timedelta(days=offset)

    def months_back(self, months: int) -> dt.date:
        """The date ``months`` calendar months before ``as_of`` (the month's last day when shorter)."""
        i = self.as_of.year * 12 + self.as_of.month - 1 - months
        year, month = divmod(i, 12)
        last = (dt.date(year + (month == 11), (month + 1) % 12 + 1, 1) - dt.timedelta(days=1)).day
        return dt.date(year, month + 1, min(self.as_of.day, last))

    def ts(self, offset: int) -> dt.datetime:
        """Midnight starting the day ``offset`` days after ``as_of``."""
        d = self.date(offset)
        return dt.datetime(d.year, d.month, d.day)


def _col(t: Any, name: str, dtype: str) -> Any:
    """Column ``name`` of ``t`` cast to ``dtype``, or a typed null when the column is absent."""
    if name in t.columns:
        return t[name].cast(dtype)
    return ibis.null().cast(dtype)


def _contracts(c: Any) -> Any:
    """Contracts with dates as day numbers, the only columns the snapshot needs."""
    return c.select(
        account_id=c.account_id.cast("string"),
        contract_id=c.contract_id.cast("string"),
        s=c.start_date.cast("date").epoch_days(),
        e=c.end_date.cast("date").epoch_days(),
        arr=c.arr_usd.cast("float64"),
        m=_col(c, "gross_margin_pct", "float64"),
        plan=_col(c, "plan", "string"),
    )


def contract_features(contracts: Any, w: Window) -> Any:
    """Per active account: ARR, contract chain facts, margin and the plan of the largest
    current contract, from contracts started before as_of."""
    t0 = w.t0
    c = _contracts(contracts)
    k = c.filter(c.s < t0)
    cov = k.e.isnull() | (k.e >= t0)
    a12 = t0 - 365
    # Current contracts: those covering as_of; while a renewal decision is still
    # open (nothing covers as_of), the contracts that ended last. Their values are
    # aggregated twice, over the covering contracts (one pass over all contracts)
    # and over the latest ended ones (a small table), and picked per account.
    agg = k.group_by("account_id").aggregate(
        contract_count=k.count(),
        first_start=k.s.min(),
        last_end=k.e.max(),
        n_cover=cov.cast("int64").sum(),
        next_end=k.e.min(where=cov),
        arr_12m_ago=k.arr.sum(where=(k.s < a12) & (k.e.isnull() | (k.e >= a12))),
        **_current_values(k, cov, "_cov"),
    )
    agg = agg.filter((agg.n_cover > 0) | (agg.last_end >= t0 - w.grace_days))
    ended = k.filter(k.e.notnull() & (k.e < t0) & (k.e >= t0 - w.grace_days))
    ended = ended.mutate(latest=ended.e.max().over(group_by=ended.account_id))
    ended = ended.filter(ended.e == ended.latest).drop("latest")
    last = ended.group_by(end_account="account_id").aggregate(
        **_current_values(ended, ibis.literal(True), "_end")
    )
    agg = agg.left_join(last, agg.account_id == last.end_account)
    covered = agg.n_cover > 0
    agg = agg.select(
        "account_id", "contract_count", "first_start", "last_end", "n_cover", "next_end",
        arr_usd=ibis.ifelse(covered, agg.arr_usd_cov, agg.arr_usd_end),
        arr_12m_ago=agg.arr_12m_ago,
        **{name: ibis.ifelse(covered, agg[name + "_cov"], agg[name + "_end"])
           for name in ("margin_num", "margin_den", "margin_plain", "term_days")},
    )
    # the plan of the largest current contract: covering contracts rank before ended ones
    cur = ibis.union(
        k.filter(cov).select("account_id", "contract_id", "arr", "plan", rank_cov=ibis.literal(1)),
        ended.select("account_id", "contract_id", "arr", "plan", rank_cov=ibis.literal(0)),
    )
    cur = cur.mutate(rn=ibis.row_number().over(
        group_by=cur.account_id, order_by=[cur.rank_cov.desc(), cur.arr.desc(), cur.contract_id]))
    plan = cur.filter(cur.rn == 0).select(plan_account=cur.account_id, plan=cur.plan)
    return agg.left_join(plan, agg.account_id == plan.plan_account).drop("plan_account")


def _current_values(k: Any, cur: Any, suffix: str) -> dict[str, Any]:
    """The aggregates over an account's current contracts (``cur`` marks them)."""
    priced = cur & k.m.notnull()
    return {
        "arr_usd" + suffix: k.arr.sum(where=cur),
        "margin_num" + suffix: (k.arr * k.m).sum(where=priced),
        "margin_den" + suffix: k.arr.sum(where=priced),
        "margin_plain" + suffix: k.m.mean(where=cur),
        "term_days" + suffix: (k.e - k.s + 1).mean(where=cur & k.e.notnull()),
    }


def default_margin(contracts: Any) -> Any:
    """ARR-weighted mean gross margin of all contracts: the fallback for contracts without one."""
    c = _contracts(contracts)
    return (c.arr * c.m).sum() / c.arr.sum(where=c.m.notnull())


def contract_outcomes(contracts: Any, w: Window, fallback_margin: float) -> Any:
    """Per account: renewal decisions, churn and ARR in the horizon; revenue and gross profit in it."""
    t0, g, h = w.t0, w.grace_days, w.horizon_days
    c = _contracts(contracts)
    # A contract that ended before the earliest open renewal decision neither
    # decides, nor renews, nor earns in the horizon.
    c = c.filter(c.e.isnull() | (c.e >= t0 - g))
    d = c.filter(c.e.notnull() & (c.e >= t0 - g) & (c.e <= t0 + h))
    # A contract end whose grace period runs past the end of the data cannot be
    # called a churn yet: the renewal may simply not be in the data.
    last = None if w.data_end is None else (w.data_end - EPOCH).days
    undecided = ibis.literal(False) if last is None else (d.e + g > last)
    other = c.select(a2=c.account_id, cid2=c.contract_id, s2=c.s, e2=c.e)
    # A contract end is a churn when no other contract of the account starts by
    # the end of the grace period and runs past that end.
    churn_ev = d.filter(~undecided).anti_join(
        other,
        [
            d.account_id == other.a2,
            d.contract_id != other.cid2,
            other.s2 <= d.e + g,
            other.e2.isnull() | (other.e2 > d.e),
        ],
    )
    decisions = d.group_by("account_id").aggregate(
        n_decisions=d.count(), n_undecided=undecided.cast("int64").sum(),
        first_decision=d.e.min(), last_decision=d.e.max(),
    )
    churn = churn_ev.group_by("account_id").aggregate(churn_day=churn_ev.e.min())
    churn3 = churn.select(a3=churn.account_id, churn_day=churn.churn_day)
    cc = c.left_join(churn3, c.account_id == churn3.a3)
    hend = t0 + h
    stop = ibis.least(cc.e.fill_null(hend), cc.churn_day.fill_null(hend), hend)
    start = ibis.greatest(cc.s, t0 + 1)
    days = ibis.greatest(stop - start + 1, 0)
    revenue = cc.arr * days / 365.0
    margin = cc.m.fill_null(fallback_margin)
    flow = cc.group_by("account_id").aggregate(
        arr_cover_next=cc.arr.sum(where=(cc.s <= hend) & (cc.e.isnull() | (cc.e >= hend))),
        arr_pending_next=cc.arr.sum(where=(cc.s > hend) & (cc.s <= hend + g)),
        revenue_horizon_usd=revenue.sum(),
        gross_profit=(revenue * margin / 100.0).sum(),
        churn_day=cc.churn_day.min(),
    )
    decisions = decisions.select(
        dec_account=decisions.account_id, n_decisions=decisions.n_decisions, n_undecided=decisions.n_undecided,
        first_decision=decisions.first_decision, last_decision=decisions.last_decision,
    )
    flow = flow.left_join(decisions, flow.account_id == decisions.dec_account).drop("dec_account")
    return flow


def _invoices(inv: Any) -> Any:
    return inv.select(
        account_id=inv.account_id.cast("string"),
        issued_on=inv.issued_on.cast("date"),
        due_on=inv.due_on.cast("date"),
        paid_on=_col(inv, "paid_on", "date"),
        written_off_on=_col(inv, "written_off_on", "date"),
        amount=inv.amount_usd.cast("float64"),
    )


def invoices_by_account(invoices: Any, w: Window) -> Any:
    """Per account: payment behaviour as known at as_of, and the write-offs in the horizon."""
    t, y = ibis.literal(w.as_of), ibis.literal(w.date(-365))
    i = _invoices(invoices)
    known = i.issued_on < t
    paid = i.paid_on.notnull() & (i.paid_on < t)
    written = i.written_off_on.notnull() & (i.written_off_on < t)
    due = known & (i.due_on < t) & (i.issued_on >= y)
    late_days = ibis.ifelse(
        paid, ibis.greatest(i.paid_on.delta(i.due_on, unit="day"), 0), t.delta(i.due_on, unit="day")
    )
    late = ~paid | (i.paid_on > i.due_on)
    in_horizon = (i.written_off_on > t) & (i.written_off_on <= ibis.literal(w.date(w.horizon_days)))
    # Most invoices are older than a year and were paid before as_of: they count
    # for none of the aggregates (an account without rows gets 0 and empty means
    # downstream, as one whose rows all fail the conditions). Dropping them first
    # keeps the grouping small.
    i = i.filter((known & (i.issued_on >= y)) | (known & ~paid) | (i.written_off_on >= y))
    return i.group_by("account_id").aggregate(
        n_due=due.cast("int64").sum(),
        n_late=(due & late).cast("int64").sum(),
        days_late_mean=late_days.cast("float64").mean(where=due),
        overdue_usd=i.amount.sum(where=known & (i.due_on < t) & ~paid & ~written),
        written_off_usd=i.amount.sum(where=known & written & (i.written_off_on >= y)),
        written_off_horizon=i.amount.sum(where=in_horizon),
    )


def _ticket_cost(priority: Any, costs: Mapping[str, float]) -> Any:
    p = priority.lower()
    default = float(costs.get("normal", 0.0))
    return ibis.cases(*[(p == k, float(v)) for k, v in costs.items()], else_=default)


def _tickets(tk: Any) -> Any:
    return tk.select(
        account_id=tk.account_id.cast("string"),
        opened=tk.opened_at.cast("timestamp"),
        closed=_col(tk, "closed_at", "timestamp"),
        priority=_col(tk, "priority", "string"),
        csat=_col(tk, "csat", "float64"),
    )


def tickets_by_account(tickets: Any, w: Window, costs: Mapping[str, float]) -> Any:
    """Per account: support load, speed and satisfaction over the 12 months before as_of,
    and the cost of the tickets opened in the horizon."""
    t = ibis.literal(w.ts(0))
    k = _tickets(tickets)
    k = k.filter((k.opened >= ibis.literal(w.ts(-365))) & (k.opened < ibis.literal(w.ts(w.horizon_days + 1))))
    before = k.opened < t
    after = k.opened >= ibis.literal(w.ts(1))
    closed = before & k.closed.notnull() & (k.closed < t)
    hours = (k.closed.epoch_seconds() - k.opened.epoch_seconds()).cast("float64") / 3600.0
    cost = _ticket_cost(k.priority, costs)
    return k.group_by("account_id").aggregate(
        n_tickets=before.cast("int64").sum(),
        n_urgent=(before & (k.priority.lower() == "urgent")).cast("int64").sum(),
        resolution_hours_mean=hours.mean(where=closed),
        csat_mean=k.csat.mean(where=closed),
        ticket_cost=cost.sum(where=before),
        support_cost_horizon=cost.sum(where=after),
    )


def usage_features(usage: Any, w: Window) -> Any:
    """Per account: active users and events in the 3 calendar months before as_of, and events
    in the 3 months before those.

    Calendar months rather than 90 days: usage recorded once a month (dated the
    first) then puts three rows in each window at any date, where a 90-day window
    holds two or three depending on the quarter.
    """
    t, t90 = ibis.literal(w.as_of), ibis.literal(w.months_back(USAGE_WINDOW_MONTHS))
    u = usage.select(
        account_id=usage.account_id.cast("string"),
        date=usage.date.cast("date"),
        active_users=_col(usage, "active_users", "float64"),
        events=_col(usage, "events", "float64"),
    )
    u = u.filter((u.date < t) & (u.date >= ibis.literal(w.months_back(2 * USAGE_WINDOW_MONTHS))))
    recent = u.date >= t90
    return u.group_by("account_id").aggregate(
        active_users=u.active_users.mean(where=recent),
        events_90d=u.events.sum(where=recent),
        events_prev_90d=u.events.sum(where=~recent),
    )


def grade_periods(grades: Any) -> Any:
    """The distinct ``period`` values of the grades (a few dozen quarters)."""
    return grades.select(period=grades.period.cast("string")).distinct()


def quarter_index(period: str) -> int | None:
    """``year * 4 + quarter - 1`` of a period such as ``"2025Q2"``; None when it is not one."""
    text = str(period).strip()
    try:
        return int(text[:4]) * 4 + int(text[-1]) - 1
    except ValueError:
        return None


def grade_features(grades: Any, quarters: Mapping[str, int]) -> Any:
    """Per account: the mean grades of its latest quarter among ``quarters``.

    ``quarters`` maps each period value that counts at as_of (its quarter ended
    before as_of) to its :func:`quarter_index`. Parsing the few distinct periods
    once, instead of every grade's, and joining the small mapping keeps this a
    plain hash join on a large table.
    """
    g = grades.select(
        account_id=grades.account_id.cast("string"),
        period=grades.period.cast("string"),
        partnerability=_col(grades, "partnerability", "float64"),
        eagerness=_col(grades, "eagerness", "float64"),
        strategic_fit=_col(grades, "strategic_fit", "float64"),
        ref=_col(grades, "reference_willing", "string"),
    )
    keys = ibis.memtable(
        {"period_key": list(quarters), "qi": [int(v) for v in quarters.values()]},
        schema={"period_key": "string", "qi": "int64"},
    )
    g = g.join(keys, g.period == keys.period_key).drop("period", "period_key")
    latest = g.group_by(latest_account="account_id").aggregate(latest=g.qi.max())
    g = g.join(latest, (g.account_id == latest.latest_account) & (g.qi == latest.latest))
    # a missing answer stays missing: the comparison is null, and mean() skips it
    ref = (g.ref.lower().strip() == "yes").cast("float64")
    return g.group_by("account_id").aggregate(
        am_partnerability=g.partnerability.mean(),
        am_reference_willing=ref.mean(),
        am_eagerness=g.eagerness.mean(),
        am_strategic_fit=g.strategic_fit.mean(),
    )


def data_end(tables: Mapping[str, Any]) -> Any | None:
    """The last event date in contracts, invoices, tickets and usage (for ``horizon_complete``)."""
    columns = {"contracts": "start_date", "invoices": "issued_on", "tickets": "opened_at", "usage": "date"}
    parts = []
    for name, col in columns.items():
        if name not in tables:
            continue
        c = tables[name][col]
        # the last day of a date or timestamp column is the day of its maximum: one
        # cast instead of one per row (other types are cast first, as their order may differ)
        last = c.max().cast("date") if c.type().is_temporal() else c.cast("date").max()
        parts.append(tables[name].aggregate(last=last))
    if not parts:
        return None
    union = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return union.aggregate(last=union["last"].max())["last"].as_scalar()


def account_aggregates(
    tables: Mapping[str, Any],
    w: Window,
    *,
    fallback_margin: float,
    costs: Mapping[str, float],
    grade_quarters: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The per-account tables of one snapshot date, by source, starting with ``"contracts"``.

    ``"contracts"`` has one row per account active at ``as_of`` (the snapshot's
    rows); every other expression has at most one row per account, keyed by
    ``account_id``. Each large table is read once, with conditional aggregates for
    all of its windows, and reduced to one row per account in the engine: what
    leaves the engine is per-account only. ``"accounts"`` carries the accounts
    table's attributes under :data:`ACCOUNT_PREFIX`.
    """
    out = {
        "contracts": contract_features(tables["contracts"], w),
        "renewals and revenue": contract_outcomes(tables["contracts"], w, fallback_margin),
    }
    if "invoices" in tables:
        out["invoices"] = invoices_by_account(tables["invoices"], w)
    if "tickets" in tables:
        out["tickets"] = tickets_by_account(tables["tickets"], w, costs)
    if "usage" in tables:
        out["usage"] = usage_features(tables["usage"], w)
    if "am_grades" in tables:
        out["am_grades"] = grade_features(tables["am_grades"], grade_quarters or {})
    if "accounts" in tables:
        a = tables["accounts"]
        out["accounts"] = a.select(
            account_id=a.account_id.cast("string"),
            **{ACCOUNT_PREFIX + c: a[c] for c in a.columns if c != "account_id"},
        )
    out = {name: e.mutate(**{KEY_HASH: e.account_id.hash()}) for name, e in out.items()}
    # the snapshot's rows in account order: the engine sorts them faster than pandas would
    out["contracts"] = out["contracts"].order_by("account_id")
    return out
