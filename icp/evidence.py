"""The evidence behind ICP rules: account tables, holdout re-checks and leadership's answer.

Everything here is plain functions, DataFrame in and a new DataFrame out. A
snapshot panel (one row per account and ``as_of``) is first reduced to one row
per account (:func:`account_table`), so that every interval and test counts
each customer once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from icp.exceptions import SchemaError
from icp.rules import Rule
from icp.stats import benjamini_hochberg, wilson_interval

__all__ = ["account_table", "holdout_test", "rule_evidence", "leadership_answer", "add_horizon_write_offs",
           "EVIDENCE_FEATURES", "WRITE_OFFS"]

# the write-offs of an account in its outcome horizon(s), in USD (an outcome, never a feature)
WRITE_OFFS = "written_off_horizon_usd"
# snapshot columns summarised in the evidence table, when present (mean per account)
EVIDENCE_FEATURES: tuple[str, ...] = (
    "gross_margin_pct", "tickets_per_quarter", "days_late_mean", "late_payment_share",
    "written_off_usd", WRITE_OFFS, "cost_to_serve_usd",
)
_SUMMED = ("written_off_usd", "realised_gross_profit_usd", "renewed_gross_profit_usd",
           "tickets_per_year", "churned_arr_usd", WRITE_OFFS)


def account_table(snapshot: pd.DataFrame) -> pd.DataFrame:
    """Reduce a snapshot (or a panel of snapshots) to one row per account.

    Attributes come from each account's latest ``as_of``. Outcomes are pooled
    over its snapshots: ``customer_value_usd`` is the mean value per account-year,
    ``churned`` whether it churned in any horizon, ``renewal_due`` / ``renewed``
    likewise, and money and ticket counts are summed (``written_off_usd`` and the
    support load cover the 12 months before each ``as_of``, so yearly snapshots
    do not double count). Rows whose horizon the data does not fully cover
    (``horizon_complete`` false) are left out of the outcomes.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        Output of ``icp.snapshot``: ``account_id`` and optionally ``as_of``.

    Returns
    -------
    pandas.DataFrame
        One row per account, with ``n_snapshots``, ``renewed_gross_profit_usd``
        (realised gross profit of the horizons the account survived, at least 0),
        ``churned_arr_usd``, ``tickets_per_year`` and ``value_per_arr`` (customer
        value per dollar of ARR: the share of what it pays that the account
        returns as gross profit after support cost and write-offs) added.

    Examples
    --------
    >>> import pandas as pd
    >>> snap = pd.DataFrame({"account_id": ["a", "a", "b"], "as_of": [1, 2, 1],
    ...                      "industry": ["X", "X", "Y"], "churned": [False, True, False]})
    >>> account_table(snap)[["account_id", "churned", "n_snapshots"]].to_dict("list")
    {'account_id': ['a', 'b'], 'churned': [True, False], 'n_snapshots': [2, 1]}
    """
    if "account_id" not in snapshot.columns:
        raise SchemaError(
            "The snapshot has no 'account_id' column. Expected the output of icp.snapshot. "
            f"Found columns: {', '.join(map(str, snapshot.columns[:12]))}. "
            "Build it with icp.snapshot(data, as_of=...)."
        )
    snap = snapshot.copy()
    if "horizon_complete" in snap.columns:
        snap = snap[snap["horizon_complete"].fillna(False).astype(bool)]
    if "as_of" in snap.columns:
        snap = snap.sort_values(["account_id", "as_of"], kind="mergesort")
    else:
        snap = snap.sort_values("account_id", kind="mergesort")
    for col in ("churned", "renewed", "renewal_due"):
        if col in snap.columns:
            snap[col] = snap[col].astype("boolean").fillna(False).astype(bool)
    if "churned" in snap.columns and "arr_usd" in snap.columns:
        snap["churned_arr_usd"] = np.where(snap["churned"], snap["arr_usd"].fillna(0.0), 0.0)
    if "realised_gross_profit_usd" in snap.columns and "churned" in snap.columns:
        snap["renewed_gross_profit_usd"] = np.where(
            snap["churned"], 0.0, snap["realised_gross_profit_usd"].fillna(0.0).clip(lower=0.0))
    if "tickets_per_quarter" in snap.columns:
        snap["tickets_per_year"] = snap["tickets_per_quarter"].fillna(0.0) * 4.0
    grouped = snap.groupby("account_id", sort=True)
    out = grouped.last()  # latest non-missing value of every column
    out["n_snapshots"] = grouped.size()
    for col in ("churned", "renewed", "renewal_due"):
        if col in snap.columns:
            out[col] = grouped[col].any()
    for col in ("customer_value_usd", *EVIDENCE_FEATURES):
        if col in snap.columns and col not in _SUMMED:
            out[col] = grouped[col].mean()
    for col in _SUMMED:
        if col in snap.columns:
            out[col] = grouped[col].sum(min_count=1)
    if "customer_value_usd" in snap.columns and "arr_usd" in snap.columns:
        arr = snap["arr_usd"].where(snap["arr_usd"] > 0)
        ok = arr.notna() & snap["customer_value_usd"].notna()
        num = snap["customer_value_usd"].where(ok).groupby(snap["account_id"]).sum(min_count=1)
        den = arr.where(ok).groupby(snap["account_id"]).sum(min_count=1)
        out["value_per_arr"] = num / den
    return out.reset_index()


def add_horizon_write_offs(snapshot: pd.DataFrame, invoices: pd.DataFrame, *,
                           horizon_days: int | None = None) -> pd.DataFrame:
    """Add each account's write-offs in its outcome horizon (``written_off_horizon_usd``).

    The snapshot's ``written_off_usd`` is a feature: write-offs in the 12 months
    *before* ``as_of``. A churning customer's unpaid invoices are mostly written
    off after it has gone, when no later snapshot holds the account, so that
    feature rarely sees them; the outcome ``realised_gross_profit_usd`` does
    subtract the write-offs of the horizon. This adds those write-offs as their
    own outcome column, so that leadership's answer can share them out: invoices
    with ``written_off_on`` in ``(as_of, as_of + horizon]``, counted by day.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        Output of ``icp.snapshot`` with ``account_id`` and ``as_of``.
    invoices : pandas.DataFrame
        The invoices table: ``account_id``, ``amount_usd``, ``written_off_on``.
    horizon_days : int, optional
        Default: ``snapshot.attrs["horizon_days"]``, else 365.

    Returns
    -------
    pandas.DataFrame
        A copy of ``snapshot`` with ``written_off_horizon_usd`` (0 without write-offs).

    Examples
    --------
    >>> import pandas as pd
    >>> snap = pd.DataFrame({"account_id": ["a", "b"], "as_of": pd.to_datetime(["2024-12-31"] * 2)})
    >>> inv = pd.DataFrame({"account_id": ["a", "a"], "amount_usd": [100.0, 50.0],
    ...                     "written_off_on": pd.to_datetime(["2025-03-01", "2024-06-01"])})
    >>> add_horizon_write_offs(snap, inv)["written_off_horizon_usd"].tolist()
    [100.0, 0.0]
    """
    out = snapshot.copy()
    needed = {"account_id", "amount_usd", "written_off_on"}
    if "as_of" not in out.columns or not needed <= set(invoices.columns):
        return out
    h = int(horizon_days or snapshot.attrs.get("horizon_days") or 365)
    inv = invoices.loc[invoices["written_off_on"].notna(), ["account_id", "amount_usd", "written_off_on"]].copy()
    inv["account_id"] = inv["account_id"].astype(str)
    inv["day"] = pd.to_datetime(inv["written_off_on"], errors="coerce").dt.normalize()
    keys = out[["account_id", "as_of"]].assign(account_id=out["account_id"].astype(str),
                                               row=np.arange(len(out)))
    keys["start"] = pd.to_datetime(keys["as_of"]).dt.normalize()
    pairs = keys.merge(inv, on="account_id", how="inner")
    inside = (pairs["day"] > pairs["start"]) & (pairs["day"] <= pairs["start"] + pd.Timedelta(days=h))
    sums = pairs.loc[inside].groupby("row")["amount_usd"].sum()
    out[WRITE_OFFS] = sums.reindex(np.arange(len(out)), fill_value=0.0).to_numpy(dtype=float)
    return out


def holdout_test(y: np.ndarray, mask: np.ndarray, *, direction: int, binary: bool) -> dict:
    """One-sided test of a rule on accounts it was not found on.

    A yes/no outcome uses Fisher's exact test; a money outcome Welch's t-test.
    The effect is the difference of means (members minus the rest) with its 95%
    interval; ``d`` is that difference in standard deviations of the outcome.
    """
    a, b = y[mask], y[~mask]
    out = {"holdout_n": int(mask.sum()), "holdout_effect": np.nan, "holdout_ci_low": np.nan,
           "holdout_ci_high": np.nan, "holdout_d": np.nan, "p_value": 1.0}
    if len(a) < 2 or len(b) < 2:
        return out
    diff = float(a.mean() - b.mean())
    se = float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))
    sd = float(y.std())
    alternative = "greater" if direction > 0 else "less"
    if binary:
        table = [[int(a.sum()), len(a) - int(a.sum())], [int(b.sum()), len(b) - int(b.sum())]]
        p = float(stats.fisher_exact(table, alternative=alternative).pvalue)
    else:
        p = float(stats.ttest_ind(a, b, equal_var=False, alternative=alternative).pvalue) if se > 0 else 1.0
    out.update(holdout_effect=diff, holdout_ci_low=diff - 1.96 * se, holdout_ci_high=diff + 1.96 * se,
               holdout_d=diff / sd if sd > 0 else np.nan, p_value=p if np.isfinite(p) else 1.0)
    return out


def _strength(row: pd.Series) -> str:
    if not row["confirmed"]:
        return "not confirmed"
    d = abs(row["holdout_d"])
    if row["p_adjusted"] < 0.001 and d >= 0.5:
        return "strong"
    if row["p_adjusted"] < 0.01 and d >= 0.25:
        return "moderate"
    return "weak"


def rule_evidence(
    accounts: pd.DataFrame,
    rules: Sequence[tuple[str, Rule]],
    *,
    y: np.ndarray,
    holdout: np.ndarray,
    binary: bool,
    alpha: float = 0.05,
    min_holdout: int = 10,
) -> pd.DataFrame:
    """The evidence table: one row per candidate rule, with its holdout re-check.

    Parameters
    ----------
    accounts : pandas.DataFrame
        One row per account (:func:`account_table`).
    rules : sequence of (side, Rule)
        ``side`` is ``"icp"`` (outcome above the base) or ``"anti_icp"`` (below),
        in the order the covering search found them: a later rule of a side is
        re-checked on the accounts it adds to the earlier ones.
    y : numpy.ndarray
        The outcome per account that the search used (higher is better).
    holdout : numpy.ndarray of bool
        The accounts the rules were not found on.
    binary : bool
        Whether ``y`` is yes/no (retention) rather than money.
    alpha : float, default 0.05
        Benjamini-Hochberg false discovery rate over all candidate rules.
    min_holdout : int, default 10
        The fewest holdout members a rule needs to be confirmed.

    Returns
    -------
    pandas.DataFrame
        Size, share of accounts and ARR, churn rate with Wilson 95% interval
        against the rest, churn lift, mean value, margin, support and payment
        behaviour (all accounts), and the holdout test, adjusted p-value,
        ``confirmed``, ``strength`` and ``role`` (``core`` for the first
        confirmed rule of a side, ``secondary`` for later confirmed ones).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from icp.rules import Condition, Rule
    >>> acc = pd.DataFrame({"size": np.arange(200), "churned": np.arange(200) < 60})
    >>> y = 1.0 - acc["churned"].to_numpy()
    >>> ev = rule_evidence(acc, [("anti_icp", Rule((Condition("size", high=60),)))], y=y,
    ...                    holdout=np.arange(200) % 2 == 0, binary=True)
    >>> bool(ev.loc[0, "confirmed"]), float(ev.loc[0, "churn_rate"])
    (True, 1.0)
    """
    rows = []
    n_all = len(accounts)
    earlier: dict[str, np.ndarray] = {}
    arr = accounts["arr_usd"].fillna(0.0).to_numpy() if "arr_usd" in accounts else None
    churned = accounts["churned"].to_numpy(dtype=bool) if "churned" in accounts else None
    value = accounts["customer_value_usd"].to_numpy(dtype=float) if "customer_value_usd" in accounts else None
    rate = accounts["value_per_arr"].to_numpy(dtype=float) if "value_per_arr" in accounts else None
    for rank, (side, rule) in enumerate(rules):
        m = rule.mask(accounts)
        row: dict = {"side": side, "rank": rank, "rule": rule.text, "n_conditions": len(rule.conditions),
                     "n_accounts": int(m.sum()), "share_accounts": float(m.mean()) if n_all else np.nan}
        if arr is not None and arr.sum() > 0:
            row["share_arr"] = float(arr[m].sum() / arr.sum())
        if churned is not None:
            k_in, k_out = int(churned[m].sum()), int(churned[~m].sum())
            n_in, n_out = int(m.sum()), int((~m).sum())
            lo, hi = wilson_interval(k_in, n_in)
            lo2, hi2 = wilson_interval(k_out, n_out)
            rate_in = k_in / n_in if n_in else np.nan
            rate_out = k_out / n_out if n_out else np.nan
            row.update(churn_rate=rate_in, churn_ci_low=lo, churn_ci_high=hi, rest_churn_rate=rate_out,
                       rest_churn_ci_low=lo2, rest_churn_ci_high=hi2,
                       churn_lift=rate_in / rate_out if rate_out else np.nan)
        if value is not None:
            ok = ~np.isnan(value)
            mean_in = float(np.mean(value[m & ok])) if (m & ok).any() else np.nan
            mean_all = float(np.mean(value[ok])) if ok.any() else np.nan
            row.update(mean_value_usd=mean_in, rest_mean_value_usd=float(np.mean(value[~m & ok]))
                       if (~m & ok).any() else np.nan,
                       value_lift=mean_in / mean_all if mean_all else np.nan)
            total = float(np.sum(value[ok]))
            row["share_value"] = float(np.sum(value[m & ok]) / total) if total > 0 else np.nan
        if rate is not None:
            seen = ~np.isnan(rate)
            row["value_per_arr"] = float(np.mean(rate[m & seen])) if (m & seen).any() else np.nan
            row["rest_value_per_arr"] = float(np.mean(rate[~m & seen])) if (~m & seen).any() else np.nan
        for col in EVIDENCE_FEATURES:
            if col in accounts:
                vals = pd.to_numeric(accounts[col], errors="coerce").to_numpy(dtype=float)
                row[col] = float(np.nanmean(vals[m])) if np.isfinite(vals[m]).any() else np.nan
        direction = 1 if side == "icp" else -1
        # sequential covering: a later rule is judged on what it adds to the earlier ones
        prior = earlier.get(side, np.zeros(n_all, dtype=bool))
        base = holdout & ~(prior & ~m)
        new = m & ~prior
        test = holdout_test(y[base], new[base], direction=direction, binary=binary)
        if (holdout & new).any() and direction * (y[holdout & new].mean() - y[holdout].mean()) <= 0:
            test["p_value"] = 1.0  # adds accounts that are no better than average
        row.update(test)
        row["n_new_accounts"] = int(new.sum())
        earlier[side] = prior | m
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    adjusted, rejected = benjamini_hochberg(table["p_value"].to_numpy(), alpha=alpha)
    table["p_adjusted"] = adjusted
    sign = np.where(table["side"] == "icp", 1.0, -1.0)
    table["confirmed"] = (rejected & (table["holdout_n"] >= min_holdout)
                          & (sign * table["holdout_effect"].fillna(0.0) > 0))
    table["strength"] = table.apply(_strength, axis=1)
    # the first confirmed rule of a side is its core: the ICP (or anti-ICP) itself;
    # later confirmed rules are secondary patterns that also feed the fit score
    table["role"] = ""
    for side in table["side"].unique():
        rows = table.index[(table["side"] == side) & table["confirmed"]]
        if len(rows):
            table.loc[rows, "role"] = "secondary"
            table.loc[rows[0], "role"] = "core"
    return table


def leadership_answer(accounts: pd.DataFrame, in_icp: np.ndarray, in_anti: np.ndarray,
                      *, current: np.ndarray | None = None) -> pd.DataFrame:
    """Leadership's question: how much of the business lies outside the ICP, and what it costs.

    Parameters
    ----------
    accounts : pandas.DataFrame
        One row per account (:func:`account_table`).
    in_icp, in_anti : numpy.ndarray of bool
        Membership per account.
    current : numpy.ndarray of bool, optional
        The accounts that are customers now (at the latest ``as_of``); default all.

    Returns
    -------
    pandas.DataFrame
        One row per measure (share of current accounts, of ARR, of churned ARR,
        of write-offs, of support tickets) with the share held by accounts
        outside the ICP and by anti-ICP accounts.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> acc = pd.DataFrame({"arr_usd": [10.0, 30.0], "churned_arr_usd": [0.0, 30.0]})
    >>> t = leadership_answer(acc, np.array([True, False]), np.array([False, True]))
    >>> float(t.set_index("measure").loc["ARR", "outside_icp"])
    0.75
    """
    current = np.ones(len(accounts), dtype=bool) if current is None else current
    outside = ~in_icp
    measures = [("current accounts", np.ones(len(accounts)), current)]
    if "arr_usd" in accounts:
        measures.append(("ARR", accounts["arr_usd"].fillna(0.0).to_numpy(), current))
    everyone = np.ones(len(accounts), dtype=bool)
    # write-offs of the outcome horizons when known (a churning customer's invoices are
    # written off after it has gone); else those the snapshots saw before as_of
    write_offs = next((c for c in (WRITE_OFFS, "written_off_usd")
                       if c in accounts and accounts[c].fillna(0.0).sum() > 0), None)
    for label, col in (("churned ARR", "churned_arr_usd"), ("write-offs", write_offs),
                       ("support tickets", "tickets_per_year")):
        if col is not None and col in accounts:
            measures.append((label, accounts[col].fillna(0.0).to_numpy(dtype=float), everyone))
    rows = []
    for label, weights, base in measures:
        total = float(weights[base].sum())
        if total == 0:
            continue  # nothing to share out (e.g. no write-offs at all)
        rows.append({
            "measure": label,
            "total": total,
            "outside_icp": float(weights[base & outside].sum() / total) if total else np.nan,
            "anti_icp": float(weights[base & in_anti].sum() / total) if total else np.nan,
        })
    return pd.DataFrame(rows)
