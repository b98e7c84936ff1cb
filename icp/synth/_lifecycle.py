"""Contract chains, invoices and the true churn probability of every renewal decision.

Terms are simulated one after the other, vectorised over the accounts of a chunk:
each term gets a contract and four quarterly invoices; at its end the account
renews or churns with a probability that depends only on its pre-sale group, its
segment and what a snapshot at the preceding quarter end can see, plus a small
unobservable noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from icp.synth import _dates as D
from icp.synth import _spec as S
from icp.synth._behaviour import Traits, usage_trend

NAT = np.iinfo(np.int64).min


@dataclass
class Lifecycle:
    """What the simulation produced for one chunk (indices refer to the chunk's accounts)."""

    contracts: dict[str, np.ndarray]
    invoices: dict[str, np.ndarray]
    decisions: dict[str, np.ndarray]
    last_day: np.ndarray


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _plan(arr: np.ndarray) -> np.ndarray:
    return np.where(arr < 10_000, "Starter", np.where(arr < 40_000, "Growth", "Scale")).astype(object)


def simulate(rng: np.random.Generator, *, employees: np.ndarray, group: np.ndarray,
             seg: np.ndarray, start_day: np.ndarray, traits: Traits, events: np.ndarray,
             month0: int, end_day: int) -> Lifecycle:
    """Simulate the contract chains of a chunk of accounts up to ``end_day``."""
    n = len(seg)
    seg_names = np.asarray(S.SEGMENTS, dtype=object)[seg]
    c = S.CHURN
    static_logit = (
        c["intercept"]
        + c["in_icp"] * (group == "icp")
        + c["in_anti_icp"] * (group == "anti_icp")
        + np.array([c["segment"][s] for s in S.SEGMENTS])[seg]
        + c["above_icp_size"] * (employees > S.ICP_EMPLOYEES[1])
    )
    margin_base = (np.array([S.MARGIN_PCT[g] for g in group])
                   + np.array([S.MARGIN_SEGMENT[s] for s in S.SEGMENTS])[seg]
                   - S.MARGIN_LARGE_PENALTY * (employees > S.ICP_EMPLOYEES[1])
                   + rng.normal(0.0, 4.0, n))
    expansion_mu = (np.array([S.EXPANSION_SEGMENT[s] for s in S.SEGMENTS])[seg]
                    + np.array([S.EXPANSION_GROUP[g] for g in group]))
    p_default = np.array([S.DEFAULT_PROBABILITY[g] for g in group])
    p_default = np.where(seg_names == "late_payers",
                         1 - (1 - p_default) * (1 - S.DEFAULT_PROBABILITY_LATE_PAYERS), p_default)
    start_month = D.month_index(start_day) - month0

    arr = (S.ARR_BASE_USD * employees.astype(float) ** S.ARR_EMPLOYEE_EXPONENT
           * np.exp(rng.normal(0.0, S.ARR_LOG_SD, n)))
    s = start_day.copy()
    alive = np.ones(n, dtype=bool)
    last_day = np.full(n, end_day, dtype=np.int64)
    con: dict[str, list[np.ndarray]] = {k: [] for k in
                                        ("acct", "term", "start", "end", "arr", "margin")}
    inv: dict[str, list[np.ndarray]] = {k: [] for k in
                                        ("acct", "contract", "issued", "due", "amount", "paid")}
    dec: dict[str, list[np.ndarray]] = {k: [] for k in
                                        ("acct", "contract", "date", "p", "p_obs", "churned", "qe")}
    n_contracts = 0
    inv_acct = np.empty(0, np.int64)
    inv_due = np.empty(0, np.int64)
    inv_late = np.empty(0, bool)

    for term in range(64):
        act = np.flatnonzero(alive & (s <= end_day))
        if act.size == 0:
            break
        e = D.add_months(s[act], 12) - 1
        row = n_contracts + np.arange(act.size)
        n_contracts += act.size
        margin = np.clip(margin_base[act] + rng.normal(0.0, 2.0, act.size), -100, 100)
        for key, value in (("acct", act), ("term", np.full(act.size, term)), ("start", s[act]),
                           ("end", e), ("arr", arr[act]), ("margin", margin)):
            con[key].append(value)

        # four quarterly invoices, due 30 days after issue
        for q in range(4):
            issued = D.add_months(s[act], 3 * q)
            ok = issued <= end_day
            a, issued = act[ok], issued[ok]
            due = issued + 30
            late = rng.random(a.size) < traits.late_share[a]
            days_late = np.maximum(1, np.round(traits.days_late[a]
                                               * np.exp(rng.normal(0.0, 0.5, a.size))))
            early = rng.integers(0, 16, a.size)
            paid = due + np.where(late, days_late, -early).astype(np.int64)
            for key, value in (("acct", a), ("contract", row[ok]), ("issued", issued),
                               ("due", due), ("amount", np.round(arr[a] / 4.0, 2)),
                               ("paid", paid)):
                inv[key].append(value)
            inv_acct = np.concatenate([inv_acct, a])
            inv_due = np.concatenate([inv_due, due])
            inv_late = np.concatenate([inv_late, late])

        decided = e <= end_day
        a, e_d, rows = act[decided], e[decided], row[decided]
        alive[act[~decided]] = False  # still under contract at the end of history
        if a.size == 0:
            continue
        qe = D.quarter_end_before(e_d)
        qe_of = np.full(n, NAT)
        qe_of[a] = qe
        seen = inv_due < qe_of[inv_acct]
        n_seen = np.bincount(inv_acct[seen], minlength=n)[a]
        n_late = np.bincount(inv_acct[seen & inv_late], minlength=n)[a]
        late_share = np.where(n_seen > 0, n_late / np.maximum(n_seen, 1), 0.15)
        trend = usage_trend(events, start_month, a, D.month_index(qe) - month0)
        logit_obs = (static_logit[a] + c["first_renewal"] * (term == 0)
                     + c["late_share"] * (late_share - 0.15)
                     + c["usage_trend"] * np.clip(trend, -1.0, 1.0))
        p = _sigmoid(logit_obs + rng.normal(0.0, c["noise_sd"], a.size))
        churned = rng.random(a.size) < p
        for key, value in (("acct", a), ("contract", rows), ("date", e_d), ("p", p),
                           ("p_obs", _sigmoid(logit_obs)), ("churned", churned), ("qe", qe)):
            dec[key].append(value)

        gone = a[churned]
        alive[gone] = False
        last_day[gone] = e_d[churned]
        stay = a[~churned]
        gap = np.where(rng.random(stay.size) < S.RENEW_NEXT_DAY, 1,
                       rng.integers(S.RENEW_GAP_DAYS[0], S.RENEW_GAP_DAYS[1] + 1, stay.size))
        s[stay] = e_d[~churned] + gap
        arr[stay] = arr[stay] * np.exp(rng.normal(expansion_mu[stay], S.EXPANSION_SD))

    contracts = {k: np.concatenate(v) for k, v in con.items()}
    invoices = {k: np.concatenate(v) for k, v in inv.items()}
    decisions = {k: np.concatenate(v) if v else np.empty(0) for k, v in dec.items()}

    # defaults: a churning account may leave the invoices due after the last quarter end
    # before its decision unpaid; they are written off three to five months after due
    written_off = np.full(len(invoices["acct"]), NAT)
    churn_rows = decisions["contract"][decisions["churned"].astype(bool)].astype(np.int64)
    churn_qe = decisions["qe"][decisions["churned"].astype(bool)].astype(np.int64)
    defaults = rng.random(churn_rows.size) < p_default[contracts["acct"][churn_rows]]
    qe_of_contract = np.full(n_contracts, NAT)
    qe_of_contract[churn_rows[defaults]] = churn_qe[defaults]
    hit = (qe_of_contract[invoices["contract"]] != NAT) & (
        invoices["due"] >= qe_of_contract[invoices["contract"]])
    invoices["paid"][hit] = NAT
    written_off[hit] = invoices["due"][hit] + rng.integers(
        S.WRITE_OFF_AFTER_DAYS[0], S.WRITE_OFF_AFTER_DAYS[1] + 1, int(hit.sum()))
    invoices["paid"][invoices["paid"] > end_day] = NAT
    written_off[written_off > end_day] = NAT
    invoices["written_off"] = written_off

    # status as the data show it: a successor within the grace period means renewed
    n_c = len(contracts["acct"])
    status = np.full(n_c, "open", dtype=object)
    order = np.lexsort((contracts["term"], contracts["acct"]))
    has_next = np.zeros(n_c, dtype=bool)
    same = contracts["acct"][order][1:] == contracts["acct"][order][:-1]
    has_next[order[:-1][same]] = True
    status[has_next] = "renewed"
    churned_rows = np.zeros(n_c, dtype=bool)
    churned_rows[churn_rows] = True
    status[churned_rows & (contracts["end"] + S.GRACE_DAYS <= end_day)] = "churned"
    contracts["status"] = status
    contracts["plan"] = _plan(contracts["arr"])
    contracts["arr"] = np.round(contracts["arr"], 2)
    contracts["margin"] = np.round(contracts["margin"], 1)
    decisions["p"] = np.round(decisions["p"].astype(float), 6)
    return Lifecycle(contracts, invoices, decisions, last_day)
