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

__all__ = ["Window", "contract_features", "contract_outcomes", "invoices_by_account",
           "tickets_by_account", "usage_features", "grade_features", "data_end",
           "default_margin", "EPOCH"]

EPOCH = dt.date(1970, 1, 1)


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
    k = k.mutate(cov=(k.e.isnull() | (k.e >= t0)).cast("int8"))
    by_account = ibis.window(group_by=k.account_id)
    k = k.mutate(any_cov=k.cov.max().over(by_account), last_e=k.e.max().over(by_account))
    # Current contracts: those covering as_of; while a renewal decision is still
    # open (nothing covers as_of), the contracts that ended last.
    k = k.mutate(cur=ibis.ifelse(k.any_cov == 1, k.cov == 1, k.e == k.last_e).fill_null(False))
    a12 = t0 - 365
    agg = k.group_by("account_id").aggregate(
        contract_count=k.count(),
        first_start=k.s.min(),
        last_end=k.e.max(),
        n_cover=k.cov.cast("int64").sum(),
        arr_usd=k.arr.sum(where=k.cur),
        arr_12m_ago=k.arr.sum(where=(k.s < a12) & (k.e.isnull() | (k.e >= a12))),
        margin_num=(k.arr * k.m).sum(where=k.cur & k.m.notnull()),
        margin_den=k.arr.sum(where=k.cur & k.m.notnull()),
        margin_plain=k.m.mean(where=k.cur),
        term_days=(k.e - k.s + 1).mean(where=k.cur & k.e.notnull()),
    )
    agg = agg.filter((agg.n_cover > 0) | (agg.last_end >= t0 - w.grace_days))
    cur = k.filter(k.cur)
    cur = cur.mutate(
        rn=ibis.row_number().over(group_by=cur.account_id, order_by=[cur.arr.desc(), cur.contract_id])
    )
    plan = cur.filter(cur.rn == 0).select(plan_account=cur.account_id, plan=cur.plan)
    return agg.left_join(plan, agg.account_id == plan.plan_account).drop("plan_account")


def default_margin(contracts: Any) -> Any:
    """ARR-weighted mean gross margin of all contracts: the fallback for contracts without one."""
    c = _contracts(contracts)
    return (c.arr * c.m).sum() / c.arr.sum(where=c.m.notnull())


def contract_outcomes(contracts: Any, w: Window, fallback_margin: float) -> Any:
    """Per account: renewal decisions, churn and ARR in the horizon; revenue and gross profit in it."""
    t0, g, h = w.t0, w.grace_days, w.horizon_days
    c = _contracts(contracts)
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
        n_decisions=d.count(), n_undecided=undecided.cast("int64").sum()
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
        dec_account=decisions.account_id, n_decisions=decisions.n_decisions, n_undecided=decisions.n_undecided
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
    """Per account: active users and events in the last 90 days, and events in the 90 before."""
    t, t90 = ibis.literal(w.as_of), ibis.literal(w.date(-90))
    u = usage.select(
        account_id=usage.account_id.cast("string"),
        date=usage.date.cast("date"),
        active_users=_col(usage, "active_users", "float64"),
        events=_col(usage, "events", "float64"),
    )
    u = u.filter((u.date < t) & (u.date >= ibis.literal(w.date(-180))))
    recent = u.date >= t90
    return u.group_by("account_id").aggregate(
        active_users=u.active_users.mean(where=recent),
        events_90d=u.events.sum(where=recent),
        events_prev_90d=u.events.sum(where=~recent),
    )


def grade_features(grades: Any, last_quarter: int) -> Any:
    """Per account: the mean grades of the latest quarter up to ``last_quarter`` (year * 4 + q - 1)."""
    g = grades.select(
        account_id=grades.account_id.cast("string"),
        qi=grades.period.cast("string").left(4).cast("int64") * 4
        + grades.period.cast("string").right(1).cast("int64") - 1,
        partnerability=_col(grades, "partnerability", "float64"),
        eagerness=_col(grades, "eagerness", "float64"),
        strategic_fit=_col(grades, "strategic_fit", "float64"),
        ref=_col(grades, "reference_willing", "string"),
    )
    g = g.filter(g.qi <= last_quarter)
    g = g.mutate(latest=g.qi.max().over(group_by=g.account_id))
    g = g.filter(g.qi == g.latest)
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
    parts = [
        tables[name].aggregate(last=tables[name][col].cast("date").max())
        for name, col in columns.items()
        if name in tables
    ]
    if not parts:
        return None
    union = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return union.aggregate(last=union["last"].max())["last"].as_scalar()
