"""Chunked generation of the whole sample: accounts in chunks, tables appended per chunk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from icp.synth import _dates as D
from icp.synth import _spec as S
from icp.synth._behaviour import draw_traits, grade_rows, ticket_rows, usage_latent, usage_rows
from icp.synth._firmographics import draw_firmographics, group_labels, make_messy, planted_groups
from icp.synth._lifecycle import simulate
from icp.synth._tables import NAT, Coded, TableWriter

# random streams, so that e.g. the prospects do not change when the accounts' size does
_STREAM_STARTS, _STREAM_CHUNK, _STREAM_PROSPECTS, _STREAM_BROKEN = 1, 2, 3, 4


def _rng(seed: int, stream: int, index: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, index]))


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.asarray(numbers).astype(str), width)).astype(object)


@dataclass
class Stats:
    """Running totals per planted group, for rules.json and the README."""

    groups: tuple[str, ...] = ("icp", "anti_icp", "other")
    sums: dict[str, dict[str, float]] = field(default_factory=dict)
    p: list[np.ndarray] = field(default_factory=list)
    p_obs: list[np.ndarray] = field(default_factory=list)
    churned: list[np.ndarray] = field(default_factory=list)
    segments: np.ndarray = field(default_factory=lambda: np.zeros(len(S.SEGMENTS)))

    def add(self, group: str, key: str, value: float) -> None:
        """Add to one running total."""
        entry = self.sums.setdefault(group, {})
        entry[key] = entry.get(key, 0.0) + float(value)


@dataclass
class Plan:
    """Fixed settings of one generation run."""

    accounts: int
    years: int
    seed: int
    fmt: str
    grain: str
    end_day: int
    first_day: int
    month0: int
    n_months: int
    chunk_size: int
    id_width: int
    row_width: int


def account_start_days(plan: Plan) -> np.ndarray:
    """Acquisition dates of all accounts, sorted (account ids follow acquisition order).

    The company grows: acquisitions per month rise linearly to twice the early rate.
    """
    rng = _rng(plan.seed, _STREAM_STARTS)
    g = 1.0
    u = rng.random(plan.accounts)
    t = (-1.0 + np.sqrt(1.0 + 2.0 * g * u * (1.0 + g / 2.0))) / g
    span = plan.end_day - 14 - plan.first_day
    day = plan.first_day + np.floor(t * span).astype(np.int64)
    snap = rng.random(plan.accounts) < 0.3
    day = np.where(snap, np.maximum(D.month_start(D.month_index(day)), plan.first_day), day)
    return np.sort(day)


@dataclass
class Counters:
    """Running id numbers across chunks."""

    contract: int = 0
    invoice: int = 0
    ticket: int = 0


def generate_chunk(plan: Plan, index: int, start_days: np.ndarray, first_account: int,
                   counters: Counters, stats: Stats) -> tuple[dict, dict]:
    """All tables and the ground truth of one chunk of accounts."""
    rng = _rng(plan.seed, _STREAM_CHUNK, index)
    n = len(start_days)
    firm = draw_firmographics(rng, n)
    in_icp, in_anti = planted_groups(firm)
    group = group_labels(in_icp, in_anti)
    seg = np.empty(n, dtype=np.int64)
    for name, mix in S.SEGMENT_MIX.items():
        mask = group == name
        seg[mask] = rng.choice(len(S.SEGMENTS), size=int(mask.sum()), p=mix)
    manager = rng.integers(0, len(S.ACCOUNT_MANAGERS), n)
    traits = draw_traits(rng, firm["employees"], group, seg)
    start_month = D.month_index(start_days) - plan.month0
    users, events = usage_latent(rng, traits, start_month, plan.n_months)
    life = simulate(rng, employees=firm["employees"], group=group, seg=seg,
                    start_day=start_days, traits=traits, events=events,
                    month0=plan.month0, end_day=plan.end_day)
    usage = usage_rows(rng, users, events, start_days, life.last_day, plan.month0, plan.grain)
    tickets = ticket_rows(rng, traits, seg, group, start_days, life.last_day, plan.end_day)
    grades = grade_rows(rng, firm["employees"], group, seg, manager, start_days, life.last_day)
    messy = make_messy(rng, firm)
    ids = _ids("A", np.arange(first_account + 1, first_account + n + 1), plan.id_width)
    managers = np.asarray(S.ACCOUNT_MANAGERS, dtype=object)

    tables: dict[str, dict[str, np.ndarray]] = {}
    tables["accounts"] = {
        "account_id": ids, **{k: messy[k] for k in ("name", "industry", "employees",
                                                    "annual_revenue_usd", "region", "country",
                                                    "founded_year", "acquisition_channel")},
        "customer_since": start_days, "account_manager": managers[manager],
    }
    c = life.contracts
    order = np.lexsort((c["acct"], c["start"]))
    contract_no = np.empty(len(order), dtype=np.int64)
    contract_no[order] = counters.contract + 1 + np.arange(len(order))
    counters.contract += len(order)
    contract_ids = _ids("C", contract_no, plan.row_width)
    tables["contracts"] = {
        "contract_id": contract_ids[order], "account_id": Coded(c["acct"][order], ids),
        "start_date": c["start"][order], "end_date": c["end"][order],
        "arr_usd": c["arr"][order], "plan": c["plan"][order],
        "gross_margin_pct": c["margin"][order], "status": c["status"][order],
    }
    inv = life.invoices
    o = np.lexsort((inv["acct"], inv["issued"]))
    tables["invoices"] = {
        "invoice_id": _ids("INV", counters.invoice + 1 + np.arange(len(o)), plan.row_width),
        "account_id": Coded(inv["acct"][o], ids), "issued_on": inv["issued"][o], "due_on": inv["due"][o],
        "paid_on": inv["paid"][o], "amount_usd": inv["amount"][o],
        "written_off_on": inv["written_off"][o],
    }
    counters.invoice += len(o)
    tables["tickets"] = {
        "ticket_id": _ids("T", counters.ticket + 1 + np.arange(len(tickets["acct"])),
                          plan.row_width),
        "account_id": Coded(tickets["acct"], ids), "opened_at": tickets["opened_at"],
        "closed_at": tickets["closed_at"], "priority": tickets["priority"],
        "category": tickets["category"], "csat": tickets["csat"],
    }
    counters.ticket += len(tickets["acct"])
    tables["usage"] = {"account_id": Coded(usage["acct"], ids), "date": usage["date"],
                       "active_users": usage["active_users"], "events": usage["events"]}
    tables["am_grades"] = {
        "account_id": Coded(grades["acct"], ids), "period": grades["period"],
        "partnerability": grades["partnerability"],
        "reference_willing": grades["reference_willing"], "eagerness": grades["eagerness"],
        "strategic_fit": grades["strategic_fit"],
        "graded_by": Coded(manager[grades["acct"]], managers),
    }

    d = life.decisions
    final = d["date"].astype(np.int64) + S.GRACE_DAYS <= plan.end_day
    truth = {
        "accounts": pd.DataFrame({"account_id": ids, "in_icp": in_icp, "in_anti_icp": in_anti,
                                  "segment": np.asarray(S.SEGMENTS, dtype=object)[seg]}),
        "renewal_decisions": pd.DataFrame({
            "account_id": ids[d["acct"][final].astype(np.int64)],
            "contract_id": contract_ids[d["contract"][final].astype(np.int64)],
            "decision_date": np.datetime_as_string(
                d["date"][final].astype(np.int64).astype("datetime64[D]")),
            "churn_probability": np.char.mod("%.6f", d["p"][final].astype(float)),
            "churned": d["churned"][final].astype(bool),
        }),
    }
    _collect(stats, group, seg, life, tickets, start_days, final, plan)
    return tables, truth


def _collect(stats: Stats, group: np.ndarray, seg: np.ndarray, life, tickets: dict,
             start_days: np.ndarray, final: np.ndarray, plan: Plan) -> None:
    d, inv, con = life.decisions, life.invoices, life.contracts
    stats.segments += np.bincount(seg, minlength=len(S.SEGMENTS))
    d_acct = d["acct"][final].astype(np.int64)
    churned = d["churned"][final].astype(bool)
    stats.p.append(d["p"][final].astype(float))
    stats.p_obs.append(d["p_obs"][final].astype(float))
    stats.churned.append(churned)
    due_seen = inv["due"] <= plan.end_day
    late = due_seen & ((inv["paid"] == NAT) | (inv["paid"] > inv["due"]))
    days = (life.last_day - start_days + 1).astype(float)
    for g in stats.groups:
        in_g = group == g
        stats.add(g, "accounts", in_g.sum())
        stats.add(g, "decisions", in_g[d_acct].sum())
        stats.add(g, "churned", (in_g[d_acct] & churned).sum())
        stats.add(g, "invoices_due", (in_g[inv["acct"]] & due_seen).sum())
        stats.add(g, "invoices_late", (in_g[inv["acct"]] & late).sum())
        stats.add(g, "invoices_written_off", (in_g[inv["acct"]] & (inv["written_off"] != NAT)).sum())
        stats.add(g, "tickets", in_g[tickets["acct"]].sum())
        stats.add(g, "urgent", (in_g[tickets["acct"]] & (tickets["priority"].codes == 3)).sum())
        stats.add(g, "active_quarters", days[in_g].sum() / 91.31)
        stats.add(g, "contracts", in_g[con["acct"]].sum())
        stats.add(g, "margin_sum", con["margin"][in_g[con["acct"]]].sum())


def run_chunks(plan: Plan, writer: TableWriter, truth_dir: Path,
               progress: Callable[[int, int], None] | None,
               inject: Callable[[dict, Counters], tuple[dict, dict]]) -> Stats:
    """Generate every chunk, write it, and return the running totals."""
    starts = account_start_days(plan)
    counters = Counters()
    stats = Stats()
    n_chunks = max(1, -(-plan.accounts // plan.chunk_size))
    if progress is not None:
        progress(0, plan.accounts)
    for index in range(n_chunks):
        lo, hi = index * plan.chunk_size, min(plan.accounts, (index + 1) * plan.chunk_size)
        tables, truth = generate_chunk(plan, index, starts[lo:hi], lo, counters, stats)
        overrides: dict = {}
        if index == n_chunks - 1:
            tables, overrides = inject(tables, counters)
        for table, columns in tables.items():
            writer.write(table, columns, overrides.get(table))
        for name, frame in truth.items():
            path = truth_dir / f"{name}.csv"
            frame.to_csv(path, mode="w" if index == 0 else "a", header=index == 0,
                         index=False, lineterminator="\n")
        if progress is not None:
            progress(hi, plan.accounts)
    return stats


def plan_for(accounts: int, years: int, seed: int, fmt: str, grain: str, end_date: str,
             chunk_size: int) -> Plan:
    """Derive the fixed settings of a run from the user's parameters."""
    end_day = D.to_day(end_date)
    first_day = int(D.add_months(np.array([end_day + 1]), -12 * years)[0])
    month0 = int(D.month_index(np.array([first_day]))[0])
    n_months = int(D.month_index(np.array([end_day]))[0]) - month0 + 1
    return Plan(accounts=accounts, years=years, seed=seed, fmt=fmt, grain=grain,
                end_day=end_day, first_day=first_day, month0=month0, n_months=n_months,
                chunk_size=chunk_size, id_width=max(5, len(str(accounts))),
                row_width=max(6, len(str(accounts * 60))))


def prospects(plan: Plan) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """The prospect list (firmographics only) and its planted group per prospect."""
    rng = _rng(plan.seed, _STREAM_PROSPECTS)
    n = int(min(100_000, max(100, round(plan.accounts / 3))))
    firm = draw_firmographics(rng, n)
    in_icp, in_anti = planted_groups(firm)
    messy = make_messy(rng, firm)
    ids = _ids("P", np.arange(1, n + 1), max(5, len(str(n))))
    columns = {"prospect_id": ids, **{k: messy[k] for k in (
        "name", "industry", "employees", "annual_revenue_usd", "region", "country",
        "founded_year", "acquisition_channel")}}
    truth = pd.DataFrame({"prospect_id": ids, "group": group_labels(in_icp, in_anti)})
    return columns, truth
