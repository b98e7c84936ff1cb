"""The sample's planted churn model, re-evaluated from the sample's own files.

For tests and benchmarks only (it reads ``ground_truth/``). The generator gives
every renewal decision the probability

    sigmoid(static terms + late_share * (late_share_seen - 0.15)
            + usage_trend * clip(trend_seen, -1, 1) + noise)

with the behavioural terms read at the last quarter end strictly before the
decision (see ``ground_truth/rules.md``). :func:`planted_probability` evaluates
the same formula without the noise, with the behavioural terms read at any date
(by default the decision's own quarter end, which reproduces the truth up to the
noise; with ``seen_at`` the scoring date, which gives the best probability
observable when the decision is scored in advance).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from icp.synth import _spec as spec


def _quarter_end_before(days: pd.Series) -> pd.Series:
    """The last quarter end strictly before each date."""
    days = pd.to_datetime(days)
    first_of_quarter = days.dt.to_period("Q").dt.start_time
    # a date on the first day of a quarter: the quarter end is the day before
    return (first_of_quarter - pd.Timedelta(days=1)).dt.normalize()


def _month(dates: pd.Series) -> np.ndarray:
    d = pd.to_datetime(dates)
    return (d.dt.year * 12 + d.dt.month - 1).to_numpy(dtype=np.int64)


def _clean(sample: Path, table: str, key: str) -> pd.DataFrame:
    frame = pd.read_csv(sample / f"{table}.csv", dtype={"account_id": str})
    broken = pd.read_csv(sample / "ground_truth" / "broken_rows.csv")
    bad = set(broken.loc[broken.table == table, "key"])
    if key in frame.columns:
        frame = frame[~frame[key].astype(str).isin(bad)]
    return frame.drop_duplicates()


def planted_probability(
    sample: Path, decisions: pd.DataFrame, *, seen_at: pd.Series | None = None
) -> np.ndarray:
    """Noise-free planted churn probability of each decision, behaviour read at ``seen_at``.

    ``decisions`` has ``account_id``, ``contract_id`` and ``decision_date`` (rows of
    ``ground_truth/renewal_decisions.csv``); ``seen_at`` (aligned with it) is the
    date whose state is used (default: the last quarter end before each decision).
    """
    c = spec.CHURN
    truth = pd.read_csv(sample / "ground_truth" / "accounts.csv", dtype={"account_id": str})
    accounts = _clean(sample, "accounts", "account_id").drop_duplicates("account_id")
    contracts = _clean(sample, "contracts", "contract_id")
    invoices = _clean(sample, "invoices", "invoice_id")
    usage = pd.read_csv(sample / "usage.csv", dtype={"account_id": str})

    d = decisions[["account_id", "contract_id", "decision_date"]].reset_index(drop=True).copy()
    d["decision_date"] = pd.to_datetime(d["decision_date"])
    at = _quarter_end_before(d["decision_date"]) if seen_at is None else pd.to_datetime(
        pd.Series(np.asarray(seen_at)))
    d["at"] = at.to_numpy()

    t = truth.set_index("account_id").reindex(d["account_id"])
    employees = pd.to_numeric(accounts.set_index("account_id")["employees"], errors="coerce")
    static = (
        c["intercept"]
        + c["in_icp"] * t["in_icp"].astype(bool).to_numpy()
        + c["in_anti_icp"] * t["in_anti_icp"].astype(bool).to_numpy()
        + t["segment"].map(c["segment"]).to_numpy(dtype=float)
        + c["above_icp_size"] * (employees.reindex(d["account_id"]).to_numpy() > spec.ICP_EMPLOYEES[1])
    )
    contracts = contracts.assign(start_date=pd.to_datetime(contracts["start_date"]))
    first_start = contracts.groupby("account_id")["start_date"].min()
    starts = contracts.set_index("contract_id")["start_date"].reindex(d["contract_id"]).to_numpy()
    first = starts == first_start.reindex(d["account_id"]).to_numpy()

    # late share: invoices due before the date, paid after their due date (or not yet)
    inv = invoices.assign(due_on=pd.to_datetime(invoices["due_on"]), paid_on=pd.to_datetime(invoices["paid_on"]))
    inv = inv.dropna(subset=["due_on"])
    inv["late"] = inv["paid_on"].isna() | (inv["paid_on"] > inv["due_on"])
    merged = d[["account_id", "at"]].reset_index().merge(inv[["account_id", "due_on", "late"]], on="account_id")
    merged = merged[merged["due_on"] < merged["at"]]
    counts = merged.groupby("index")["late"].agg(["size", "sum"]).reindex(d.index)
    late_share = np.where(counts["size"].fillna(0) > 0, counts["sum"] / counts["size"], 0.15)

    # usage trend: log(events in the 3 months up to the date's month / the 3 months before)
    use = usage.assign(month=_month(usage["date"]))
    monthly = use.groupby(["account_id", "month"])["events"].sum()
    months = _month(d["at"])
    last = sum(monthly.reindex(list(zip(d["account_id"], months - k))).fillna(0).to_numpy() for k in range(3))
    prev = sum(monthly.reindex(list(zip(d["account_id"], months - 3 - k))).fillna(0).to_numpy() for k in range(3))
    since = accounts.set_index("account_id")["customer_since"].reindex(d["account_id"])
    old_enough = months - 5 >= _month(since)
    trend = np.where(old_enough, np.log((last + 1.0) / (prev + 1.0)), 0.0)

    logit = (
        static
        + c["first_renewal"] * first
        + c["late_share"] * (late_share - 0.15)
        + c["usage_trend"] * np.clip(trend, -1.0, 1.0)
    )
    return 1.0 / (1.0 + np.exp(-logit))
