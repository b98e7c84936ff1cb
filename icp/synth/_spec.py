"""The planted truth of the sample, as data.

Everything that decides what the later analyses should find lives here: the ICP
and anti-ICP rules, the behavioural segments and their profiles, and the
coefficients of the true churn probability. The generator modules read these
tables; ``rules.json`` and ``rules.md`` are written from them.
"""

from __future__ import annotations

from typing import Any

# --- firmographics --------------------------------------------------------------

# canonical spelling -> share of accounts
INDUSTRIES: dict[str, float] = {
    "Healthcare": 0.20,
    "Logistics": 0.17,
    "Manufacturing": 0.12,
    "Retail": 0.11,
    "Professional Services": 0.10,
    "Technology": 0.10,
    "Construction": 0.06,
    "Education": 0.05,
    "Hospitality": 0.05,
    "Financial Services": 0.04,
}

# employee bands: (lowest, highest inclusive, share); counts are log-uniform within a band,
# so that there are accounts right at both edges of the ICP range.
EMPLOYEE_BANDS: list[tuple[int, int, float]] = [
    (4, 19, 0.24),
    (20, 199, 0.25),
    (200, 2000, 0.45),
    (2001, 10000, 0.06),
]

CHANNELS: list[str] = ["referral", "partner", "inbound", "outbound", "event"]
# channel mix: tiny companies are mostly won by cold outbound (the "sell to anyone" motion)
CHANNEL_MIX_TINY: list[float] = [0.10, 0.06, 0.26, 0.50, 0.08]
CHANNEL_MIX_OTHER: list[float] = [0.22, 0.16, 0.28, 0.22, 0.12]

# region -> (share, countries, country shares)
REGIONS: dict[str, tuple[float, list[str], list[float]]] = {
    "North America": (0.45, ["United States", "Canada"], [0.85, 0.15]),
    "Europe": (0.32, ["United Kingdom", "Germany", "France", "Netherlands", "Spain"],
               [0.35, 0.25, 0.18, 0.12, 0.10]),
    "APAC": (0.15, ["Australia", "Singapore", "Japan"], [0.50, 0.25, 0.25]),
    "LATAM": (0.08, ["Brazil", "Mexico"], [0.60, 0.40]),
}

# annual revenue per employee (USD), median by industry; lognormal spread below
REVENUE_PER_EMPLOYEE: dict[str, float] = {
    "Healthcare": 110_000, "Logistics": 150_000, "Manufacturing": 180_000, "Retail": 130_000,
    "Professional Services": 120_000, "Technology": 200_000, "Construction": 160_000,
    "Education": 70_000, "Hospitality": 60_000, "Financial Services": 250_000,
}
REVENUE_LOG_SD = 0.45

ACCOUNT_MANAGERS: list[str] = [
    "Alice Moreau", "Ben Okafor", "Chloe Nguyen", "Diego Alvarez", "Emma Schulz",
    "Farid Haddad", "Grace Kim", "Hugo Lindqvist", "Isla Brennan", "Jonas Weber",
]
# how strongly each manager's eagerness follows company size instead of value
AM_SIZE_BIAS: list[float] = [1.2, 0.4, 0.9, 1.5, 0.2, 0.8, 0.5, 1.3, 0.7, 1.0]

# --- the planted rules ------------------------------------------------------------

ICP_INDUSTRIES = ("Healthcare", "Logistics")
ICP_EMPLOYEES = (200, 2000)
ANTI_MAX_EMPLOYEES = 20  # strictly below
ANTI_CHANNEL = "outbound"

# --- behavioural segments ----------------------------------------------------------

SEGMENTS: list[str] = ["power_users", "steady", "support_heavy", "declining", "late_payers"]

# probability of each segment (in SEGMENTS order) given the planted group
SEGMENT_MIX: dict[str, list[float]] = {
    "icp": [0.36, 0.44, 0.07, 0.08, 0.05],
    "anti_icp": [0.05, 0.15, 0.30, 0.20, 0.30],
    "other": [0.18, 0.37, 0.15, 0.15, 0.15],
}

# behaviour per segment. Usage: adoption = active users / employees; events per active
# user per month; monthly decay of usage (declining only). Support: tickets per quarter
# and the share that is urgent. Payment: share of invoices paid late and mean days late
# when late.
SEGMENT_PROFILE: dict[str, dict[str, float]] = {
    "power_users": dict(adoption=0.60, events_per_user=1000.0, decay=0.0, tickets_q=1.0,
                        urgent=0.01, late_share=0.03, days_late=5.0),
    "steady": dict(adoption=0.30, events_per_user=150.0, decay=0.0, tickets_q=1.0,
                   urgent=0.01, late_share=0.03, days_late=5.0),
    "support_heavy": dict(adoption=0.30, events_per_user=140.0, decay=0.0, tickets_q=10.0,
                          urgent=0.40, late_share=0.04, days_late=6.0),
    "declining": dict(adoption=0.15, events_per_user=40.0, decay=0.08, tickets_q=0.8,
                      urgent=0.01, late_share=0.04, days_late=6.0),
    "late_payers": dict(adoption=0.30, events_per_user=150.0, decay=0.0, tickets_q=1.0,
                        urgent=0.01, late_share=0.85, days_late=35.0),
}
SEGMENT_DESCRIPTIONS: dict[str, str] = {
    "power_users": "heavy product use (about 6.5x the events per active user of steady "
                   "accounts, twice the share of employees active), few tickets, pay on time",
    "steady": "moderate, flat usage; about one ticket a quarter; pay on time",
    "support_heavy": "about 10 tickets a quarter, 40% of them urgent, low CSAT; usage moderate",
    "declining": "low usage per user (about a quarter of steady) that falls about 12% a month from "
                 "the second month on (events per user -8% and active users -4% a month)",
    "late_payers": "85% of invoices paid late, about 35 days late on average; "
                   "otherwise ordinary usage and support",
}

# within-segment multipliers by planted group (kept mild so that segments stay apart)
GROUP_TICKETS: dict[str, float] = {"icp": 0.7, "anti_icp": 1.5, "other": 1.0}
GROUP_LATE: dict[str, float] = {"icp": 0.5, "anti_icp": 1.8, "other": 1.0}

# --- money ---------------------------------------------------------------------------

ARR_BASE_USD = 3000.0
ARR_EMPLOYEE_EXPONENT = 0.35
ARR_LOG_SD = 0.25
MARGIN_PCT: dict[str, float] = {"icp": 76.0, "anti_icp": 44.0, "other": 61.0}
MARGIN_LARGE_PENALTY = 14.0  # points off for accounts above the ICP's employee range
MARGIN_SEGMENT: dict[str, float] = {"power_users": 3.0, "steady": 0.0, "support_heavy": -8.0,
                                    "declining": -2.0, "late_payers": -1.0}
# mean log ARR change at a renewal, per segment, plus a group shift
EXPANSION_SEGMENT: dict[str, float] = {"power_users": 0.12, "steady": 0.04, "support_heavy": 0.0,
                                       "declining": -0.15, "late_payers": 0.0}
EXPANSION_GROUP: dict[str, float] = {"icp": 0.05, "anti_icp": -0.05, "other": 0.0}
EXPANSION_SD = 0.08

# --- the true churn probability ---------------------------------------------------------

CHURN: dict[str, Any] = {
    "intercept": -2.0,
    "in_icp": -2.4,
    "in_anti_icp": 2.0,
    "segment": {"power_users": -0.8, "steady": 0.0, "support_heavy": 0.8, "declining": 1.3,
                "late_payers": 0.8},
    "above_icp_size": 0.4,       # employees > 2000: they outgrow an SMB product
    "first_renewal": 0.3,        # the first renewal is the riskiest
    "late_share": 1.0,           # x (share of invoices due before the quarter end paid late - 0.15)
    "usage_trend": -1.0,         # x log(events in the last 3 months / the 3 months before)
    "noise_sd": 0.25,            # unobservable, per decision, on the logit scale
}

# write-offs: a churning account may stop paying its last invoices (those due after the
# last quarter end before the decision, so that no snapshot can see the default coming)
DEFAULT_PROBABILITY: dict[str, float] = {"icp": 0.05, "anti_icp": 0.75, "other": 0.25}
DEFAULT_PROBABILITY_LATE_PAYERS = 0.65
WRITE_OFF_AFTER_DAYS = (90, 150)

# renewal timing: share renewed the day after the end, otherwise a gap of 2..25 days
RENEW_NEXT_DAY = 0.85
RENEW_GAP_DAYS = (2, 25)
GRACE_DAYS = 30
