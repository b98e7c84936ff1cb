import json

import numpy as np
import pandas as pd
import pytest

from icp.rules import Condition, Rule, beam_search, readable_number


def _frame(n=1200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"industry": rng.choice(list("ABCDEF"), n),
                         "employees": rng.lognormal(5, 1.2, n).round(),
                         "region": rng.choice(["EU", "US", "APAC"], n)}), rng


def test_condition_text_reads_like_a_sentence():
    assert Condition("industry", values=("Healthcare", "Logistics")).text == "industry is Healthcare or Logistics"
    assert Condition("annual_revenue_usd", high=2e6).text == "annual revenue below $2M"
    assert Condition("employees", low=200, high=2000).text == "employees between 200 and 2,000"
    assert Condition("employees", low=50).text == "employees of 50 or more"
    assert readable_number(250_000, money=True) == "$250k"


def test_condition_masks_treat_missing_as_no_match():
    df = pd.DataFrame({"employees": [10, None, 500], "industry": ["A", None, "B"]})
    assert Condition("employees", high=100).mask(df).tolist() == [True, False, False]
    assert Condition("industry", values=("A", "B")).mask(df).tolist() == [True, False, True]


def test_rules_round_trip_through_json():
    rule = Rule((Condition("industry", values=("A", "B")), Condition("employees", low=20, high=200.5)))
    again = Rule.from_dict(json.loads(json.dumps(rule.to_dict())))
    assert again == rule


def test_beam_search_finds_value_set_and_closed_range_with_round_cuts():
    df, rng = _frame()
    good = df.industry.isin(["A", "C"]) & (df.employees >= 100) & (df.employees < 1000)
    y = good * 1.0 + rng.normal(0, 0.4, len(df))
    best = beam_search(df, y, top_k=1)[0].rule
    conds = {c.column: c for c in best.conditions}
    assert set(conds) == {"industry", "employees"}
    assert set(conds["industry"].values) == {"A", "C"}
    assert conds["employees"].low == pytest.approx(100, rel=0.1)
    assert conds["employees"].high == pytest.approx(1000, rel=0.1)
    assert len(f"{conds['employees'].high:g}".strip("0")) <= 2  # a readable cut point


def test_beam_search_low_direction_finds_the_bad_group():
    df, rng = _frame(seed=1)
    bad = (df.region == "APAC") & (df.employees < 50)
    y = -2.0 * bad + rng.normal(0, 1, len(df))
    best = beam_search(df, y, direction=-1, top_k=1)[0].rule
    conds = {c.column: c for c in best.conditions}
    assert conds["region"].values == ("APAC",)
    assert conds["employees"].high == pytest.approx(50, rel=0.15)
    assert (conds["employees"].low or 0) <= 10


def test_beam_search_does_not_add_conditions_that_only_fit_noise():
    df, rng = _frame(seed=2)
    y = (df.industry == "B") * 1.0 + rng.normal(0, 0.5, len(df))
    assert beam_search(df, y, top_k=1)[0].rule.text == "industry is B"


def test_beam_search_rejects_outcome_with_missing_values():
    df, _ = _frame(n=50)
    with pytest.raises(ValueError, match="no missing values"):
        beam_search(df, np.full(50, np.nan))


def test_numeric_values_of_a_set_condition_read_as_numbers():
    assert Condition("contract_term_months", values=(12.02464065708419,)).text == "contract term months is 12"
    assert Condition("seats", values=(1.0, 2.5)).text == "seats is 1 or 2.5"
    assert Condition("plan", values=("Pro",)).text == "plan is Pro"


def test_value_set_grows_only_by_values_that_differ_from_those_left_out():
    # Inside segment X every payment method is worse than the whole base, but only
    # method "e" is worse than the other methods: "c" must not ride along with it.
    rng = np.random.default_rng(1)
    n = 4000
    df = pd.DataFrame({"segment": rng.choice(["X", "Y"], n, p=[0.4, 0.6]), "size": rng.choice(["S", "L"], n),
                       "payment": rng.choice(["e", "c", "b", "m"], n)})
    churn = np.where(df.segment == "X", np.where(df.payment == "e", 0.75, 0.45), 0.05)
    y = 1.0 - (rng.random(n) < churn)
    found = beam_search(df, y, direction=-1, top_k=3, min_support=40)
    sets = [c.values for r in found for c in r.rule.conditions if c.column == "payment"]
    assert sets and all(values == ("e",) for values in sets), sets


def test_cut_points_prefer_the_rounder_number_when_it_costs_almost_nothing():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"employees": rng.integers(1, 400, 3000),
                       "channel": rng.choice(["outbound", "inbound"], 3000)})
    bad = (df.employees < 20) & (df.channel == "outbound")
    y = -1.5 * bad + rng.normal(0, 1, len(df))
    conds = {c.column: c for c in beam_search(df, y, direction=-1, top_k=1)[0].rule.conditions}
    assert conds["employees"].high in (20, 15, 25, 10, 30)
