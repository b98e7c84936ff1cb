"""Snapshot-like frames with known behavioural segments, for the segmentation tests and benchmark.

Independent of the sample generator: four behavioural segments (heavy users,
support-heavy, late payers, steady) spread over accounts of every size, plus
firmographics, outcomes and some missing values, with the columns of a
multi-table snapshot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEGMENTS = ("steady", "heavy_users", "support_heavy", "late_payers")
# per segment: events per user per 90 days, adoption, tickets per quarter, urgent share,
# late share, days late, churn probability
_PROFILE = np.array([
    [450.0, 0.30, 1.0, 0.04, 0.06, 4.0, 0.10],
    [1800.0, 0.45, 1.1, 0.04, 0.06, 4.0, 0.04],
    [420.0, 0.30, 8.0, 0.35, 0.08, 5.0, 0.25],
    [450.0, 0.30, 1.1, 0.05, 0.75, 35.0, 0.35],
])
_MIX = np.array([0.40, 0.20, 0.20, 0.20])


def snapshot_like(n: int, *, seed: int = 0, as_of: str = "2025-06-30") -> tuple[pd.DataFrame, np.ndarray]:
    """Return (snapshot frame, true segment index per row)."""
    rng = np.random.default_rng(seed)
    seg = rng.choice(len(SEGMENTS), size=n, p=_MIX)
    p = _PROFILE[seg]
    employees = np.maximum(1, np.round(np.exp(rng.normal(4.0, 1.3, n)))).astype(np.int64)
    industries = np.array(["Retail", "Healthcare", "Logistics", "Professional Services",
                           "Manufacturing", "Software"])
    channels = np.array(["referral", "partner", "inbound", "outbound", "event"])
    industry = industries[rng.integers(0, len(industries), n)]
    channel = channels[rng.integers(0, len(channels), n)]
    # firmographics lean a little by segment, as in real bases
    heavy = seg == 1
    channel = np.where(heavy & (rng.random(n) < 0.5), "referral", channel)
    arr = 3000.0 * employees ** 0.35 * np.exp(rng.normal(0, 0.25, n))
    active = np.maximum(1.0, np.round(employees * p[:, 1] * np.exp(rng.normal(0, 0.2, n))))
    events = active * p[:, 0] * np.exp(rng.normal(0, 0.25, n))
    trend = np.exp(rng.normal(0, 0.08, n))
    tickets_q = rng.gamma(6.0, p[:, 2] / 6.0)
    urgent = rng.beta(20 * p[:, 3] + 0.2, 20 * (1 - p[:, 3]) + 0.2)
    late_share = rng.beta(20 * p[:, 4] + 0.2, 20 * (1 - p[:, 4]) + 0.2)
    days_late = rng.gamma(5.0, p[:, 5] / 5.0)
    margin = rng.normal(62, 10, n) - 6 * (seg == 2)
    churned = rng.random(n) < p[:, 6]
    as_of_ts = pd.Timestamp(as_of)
    churn_days = rng.integers(1, 366, n)
    churn_date = pd.to_datetime(np.where(churned, as_of_ts + pd.to_timedelta(churn_days, "D"), pd.NaT))
    arr_next = np.where(churned, 0.0, arr * np.exp(rng.normal(0.05, 0.1, n)))
    frame = pd.DataFrame({
        "account_id": [f"A{i:07d}" for i in range(n)],
        "as_of": as_of_ts,
        "industry": industry,
        "acquisition_channel": channel,
        "employees": employees,
        "tenure_months": rng.integers(1, 60, n),
        "plan": np.where(arr > 15000, "enterprise", "standard"),
        "arr_usd": arr,
        "gross_margin_pct": margin,
        "days_late_mean": days_late,
        "late_payment_share": late_share,
        "written_off_usd": np.where(rng.random(n) < 0.05 * (seg == 3), arr * 0.2, 0.0),
        "tickets_per_quarter": tickets_q,
        "tickets_per_10k_arr": tickets_q * 4 / (arr / 1e4),
        "urgent_ticket_share": urgent,
        "active_users": active,
        "events_90d": events,
        "usage_trend_90d": trend,
        "renewal_due": True,
        "churned": churned,
        "renewed": ~churned,
        "churn_date": churn_date,
        "arr_next_usd": arr_next,
        "arr_change_usd": arr_next - arr,
        "customer_value_usd": arr * margin / 100 * (~churned),
    })
    # realistic gaps: no tickets closed yet, no invoices due yet
    for col, rate in (("urgent_ticket_share", 0.05), ("days_late_mean", 0.03), ("gross_margin_pct", 0.02)):
        frame.loc[rng.random(n) < rate, col] = np.nan
    return frame, seg
