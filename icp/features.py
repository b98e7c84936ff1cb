"""The feature dictionary of the customer snapshot: what each column means and how it is made.

Reports render :data:`FEATURE_DICTIONARY`; analyses read :data:`OUTCOME_COLUMNS`
to keep outcomes out of their features. Size bands are plain data
(:data:`EMPLOYEE_BANDS`, :data:`REVENUE_BANDS`) so that they can be read and
changed in one place.
"""

from __future__ import annotations

import pandas as pd

__all__ = [
    "KEY_COLUMNS",
    "OUTCOME_COLUMNS",
    "FEATURE_DICTIONARY",
    "FEATURE_COLUMNS",
    "EMPLOYEE_BANDS",
    "REVENUE_BANDS",
    "feature_dictionary",
]

KEY_COLUMNS: tuple[str, ...] = ("account_id", "as_of")

# Lower bound (inclusive) of each band and its label, smallest first.
EMPLOYEE_BANDS: tuple[tuple[float, str], ...] = (
    (0, "1-9"),
    (10, "10-49"),
    (50, "50-199"),
    (200, "200-999"),
    (1000, "1000-4999"),
    (5000, "5000+"),
)
REVENUE_BANDS: tuple[tuple[float, str], ...] = (
    (0, "<$1M"),
    (1e6, "$1M-10M"),
    (1e7, "$10M-50M"),
    (5e7, "$50M-250M"),
    (2.5e8, "$250M-1B"),
    (1e9, "$1B+"),
)

# (column, group, business meaning, unit, formula)
_FEATURES: tuple[tuple[str, str, str, str, str], ...] = (
    ("employees_band", "firmographics", "Company size by headcount", "band",
     "accounts.employees cut at " + ", ".join(str(int(b)) for b, _ in EMPLOYEE_BANDS[1:])),
    ("revenue_band", "firmographics", "Company size by annual revenue", "band",
     "accounts.annual_revenue_usd cut at $1M, $10M, $50M, $250M, $1B"),
    ("company_age_years", "firmographics", "How long the company has existed", "years",
     "year(as_of) - accounts.founded_year"),
    ("tenure_months", "relationship", "How long the account has been a customer", "months",
     "(as_of - customer_since) / 30.4375 days; customer_since defaults to the first contract start"),
    ("arr_usd", "relationship", "Annual recurring revenue now", "USD per year",
     "sum of arr_usd of contracts covering as_of (or of the contracts that just ended, while the renewal decision is open)"),
    ("arr_growth_12m_pct", "relationship", "ARR growth over the last 12 months", "%",
     "100 * (arr_usd / ARR of contracts covering as_of - 365 days - 1); empty when there was no ARR then"),
    ("contract_count", "relationship", "Contracts signed so far", "count",
     "number of contracts that started before as_of"),
    ("contract_term_months", "relationship", "Length of the current contract", "months",
     "mean of (end_date - start_date + 1 day) / 30.4375 over the current contracts; empty when open-ended"),
    ("days_to_renewal", "relationship", "Days until the next renewal decision", "days",
     "earliest end_date of the contracts covering as_of - as_of; while a renewal is still open (no contract "
     "covers as_of), the last end_date - as_of, which is negative; empty when every current contract is "
     "open-ended. End dates are read as agreed at signing: data that sets end_date only when a customer "
     "cancels would leak the outcome here (the leakage guard flags such a column)"),
    ("plan", "relationship", "Plan of the current contract", "category",
     "plan of the current contract with the largest ARR"),
    ("gross_margin_pct", "profitability", "Gross margin of the current contracts", "%",
     "ARR-weighted mean of gross_margin_pct over the current contracts"),
    ("days_late_mean", "payments", "How late invoices are paid, on average", "days",
     "over invoices issued in the 12 months before as_of and due before it: mean of max(paid_on - due_on, 0), "
     "counting an invoice still unpaid at as_of as as_of - due_on days late"),
    ("late_payment_share", "payments", "Share of invoices paid late", "share 0-1",
     "same invoices: share paid after due_on or still unpaid at as_of"),
    ("overdue_usd", "payments", "Money owed and past due now", "USD",
     "sum of amount_usd of invoices issued before as_of, due before it, unpaid and not written off at as_of"),
    ("written_off_usd", "payments", "Bad debt in the last 12 months", "USD",
     "sum of amount_usd of invoices written off in the 12 months before as_of"),
    ("tickets_per_quarter", "support", "Support load", "tickets per quarter",
     "tickets opened in the 12 months before as_of / exposure days * 91.3125; exposure = days as a customer, between 30 and 365"),
    ("tickets_per_10k_arr", "support", "Support load relative to revenue", "tickets per year per $10k ARR",
     "tickets per year / (arr_usd / 10,000); empty when ARR is 0"),
    ("urgent_ticket_share", "support", "Share of urgent tickets", "share 0-1",
     "urgent tickets / tickets, over the 12 months before as_of; empty without tickets"),
    ("resolution_hours_mean", "support", "Time to resolve a ticket", "hours",
     "mean of closed_at - opened_at over tickets of the last 12 months closed before as_of"),
    ("csat_mean", "support", "Customer satisfaction with support", "score 1-5",
     "mean csat over tickets of the last 12 months closed before as_of"),
    ("cost_to_serve_usd", "profitability", "Estimated yearly cost to serve", "USD per year",
     "cost_to_serve.account_overhead_usd + (sum of ticket_cost_usd by priority over the last 12 months' tickets "
     "+ late_invoice_cost_usd * late invoices) * 365 / exposure days"),
    ("active_users", "usage", "People using the product", "users",
     "mean active_users over usage rows dated in the 3 calendar months before as_of (0 without rows)"),
    ("events_90d", "usage", "Product activity", "events",
     "sum of events over usage rows dated in the 3 calendar months before as_of (89 to 92 days; whole "
     "months, so that monthly usage rows count three times at any date)"),
    ("usage_trend_90d", "usage", "Whether usage is growing or shrinking", "ratio - 1",
     "events_90d / events in the 3 calendar months before those - 1; empty when there were none before, "
     "and empty when the account's tenure started less than 6 months before as_of (the earlier window would "
     "compare a partial quarter with a full one)"),
    ("am_partnerability", "account manager", "How good a partner the account is, per its account manager", "score 1-5",
     "mean partnerability of the latest graded quarter that ended before as_of"),
    ("am_reference_willing", "account manager", "Whether the account would act as a reference", "share 0-1",
     "share of 'yes' in reference_willing of that quarter"),
    ("am_eagerness", "account manager", "How eager the account manager is to call on them", "score 1-5",
     "mean eagerness of that quarter"),
    ("am_strategic_fit", "account manager", "Strategic fit, per its account manager", "score 1-5",
     "mean strategic_fit of that quarter"),
)

_OUTCOMES: tuple[tuple[str, str, str, str], ...] = (
    ("renewal_due", "A renewal decision fell in the horizon", "bool",
     "a contract ended in [as_of - grace, as_of + horizon]"),
    ("churned", "The account churned in the horizon", "bool",
     "a contract ended in that window and no other contract started within the grace period and ran past its end "
     "(ends whose grace period runs past the end of the data are not counted)"),
    ("renewed", "A renewal decision fell in the horizon and the account renewed", "bool",
     "renewal_due, not churned, and every decision observable in the data"),
    ("churn_date", "The churn date, when churned", "date", "end of the first contract that was not renewed"),
    ("label_final_on", "The date from which the churn outcome is known for certain", "date",
     "the first contract end in the horizon when a renewal on the current term would run past the horizon, "
     "otherwise as_of + horizon; never before the last contract end in the horizon; plus the grace period. "
     "Models train on the rows whose outcome was final by the date they score"),
    ("arr_next_usd", "ARR at the end of the horizon", "USD per year",
     "sum of arr_usd of contracts covering as_of + horizon (or starting within the grace period after it); 0 when churned"),
    ("arr_change_usd", "Expansion (> 0) or contraction (< 0)", "USD per year", "arr_next_usd - arr_usd"),
    ("revenue_horizon_usd", "Revenue recognised in the horizon", "USD",
     "sum over contracts of arr_usd * days of the contract in (as_of, as_of + horizon], up to the churn date, / 365"),
    ("realised_gross_profit_usd", "Gross profit the account actually produced in the horizon", "USD",
     "sum of revenue * gross_margin_pct / 100 - ticket_cost_usd of tickets opened in the horizon "
     "- amount_usd of invoices written off in the horizon"),
    ("customer_value_usd", "Realised gross profit per account-year (the default ICP outcome)", "USD per year",
     "realised_gross_profit_usd * 365 / horizon days: churn ends the revenue stream, so churners are worth less"),
    ("horizon_complete", "Whether the data covers the whole horizon", "bool",
     "as_of + horizon <= the last date seen in contracts, invoices, tickets and usage"),
)

OUTCOME_COLUMNS: tuple[str, ...] = tuple(name for name, *_ in _OUTCOMES)
FEATURE_COLUMNS: tuple[str, ...] = tuple(name for name, *_ in _FEATURES)


def feature_dictionary() -> pd.DataFrame:
    """Return the feature dictionary: one row per snapshot column made by ICP Lens.

    Returns
    -------
    pandas.DataFrame
        Columns ``feature``, ``group``, ``meaning``, ``unit``, ``formula`` and
        ``kind`` ("feature" or "outcome"). Attributes passed through from the
        accounts table (industry, employees, ...) are not listed.

    Examples
    --------
    >>> from icp.features import feature_dictionary
    >>> fd = feature_dictionary()
    >>> fd.loc[fd.feature == "arr_usd", "unit"].item()
    'USD per year'
    """
    rows = [
        {"feature": f, "group": g, "meaning": m, "unit": u, "formula": x, "kind": "feature"}
        for f, g, m, u, x in _FEATURES
    ]
    rows += [
        {"feature": f, "group": "outcome", "meaning": m, "unit": u, "formula": x, "kind": "outcome"}
        for f, m, u, x in _OUTCOMES
    ]
    return pd.DataFrame(rows)


FEATURE_DICTIONARY: pd.DataFrame = feature_dictionary()
