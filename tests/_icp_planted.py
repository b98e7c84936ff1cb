"""A small planted snapshot for the ICP discovery tests (one row per account)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def planted_snapshot(n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Accounts with a planted ICP (Healthcare/Logistics, 200-2,000 staff) and anti-ICP (tiny, outbound)."""
    rng = np.random.default_rng(seed)
    industry = rng.choice(["Healthcare", "Logistics", "Retail", "Technology", "Education"], n,
                          p=[0.22, 0.18, 0.22, 0.22, 0.16])
    band = rng.choice(4, n, p=[0.24, 0.25, 0.45, 0.06])
    lo, hi = np.array([1, 20, 200, 2001]), np.array([19, 199, 1999, 10000])
    employees = np.round(np.exp(rng.uniform(np.log(lo[band]), np.log(hi[band] + 1)))).astype(int)
    channel = np.where(employees < 20,
                       rng.choice(["referral", "inbound", "outbound"], n, p=[0.15, 0.35, 0.5]),
                       rng.choice(["referral", "inbound", "outbound"], n, p=[0.35, 0.4, 0.25]))
    icp = np.isin(industry, ["Healthcare", "Logistics"]) & (employees >= 200) & (employees < 2000)
    anti = (employees < 20) & (channel == "outbound")
    churned = rng.random(n) < 1 / (1 + np.exp(-(-1.6 - 1.7 * icp + 1.6 * anti)))
    arr = 3000 * employees ** 0.35 * rng.lognormal(0, 0.25, n)
    margin = np.where(icp, 76, np.where(anti, 44, 61)) + rng.normal(0, 5, n)
    value = arr * np.where(churned, rng.uniform(0, 1, n), 1.0) * margin / 100
    frame = pd.DataFrame({
        "account_id": [f"A{i:05d}" for i in range(n)], "industry": industry, "employees": employees,
        "region": rng.choice(["Europe", "North America", "APAC"], n), "acquisition_channel": channel,
        "arr_usd": arr, "gross_margin_pct": margin,
        "tickets_per_quarter": rng.gamma(2.0, np.where(anti, 1.6, 0.8)),
        "days_late_mean": rng.gamma(2.0, np.where(anti, 8.0, 3.0)),
        "churned": churned, "renewal_due": True, "renewed": ~churned,
        "realised_gross_profit_usd": value, "customer_value_usd": value,
    })
    return frame, icp, anti


def jaccard(a, b) -> float:
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    return float((a & b).sum() / (a | b).sum())
