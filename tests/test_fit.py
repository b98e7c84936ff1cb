import json

import numpy as np
import pandas as pd
import pytest

from icp.exceptions import SchemaError
from icp.fit import (
    apply_scorecard,
    coverage_report,
    fit_scorecard,
    fit_size_model,
    load_profile,
    save_profile,
    score_prospects,
    tier_of,
    with_reference,
    with_size,
)
from icp.rules import Condition, Rule

ICP = Rule((Condition("industry", values=("Healthcare",)), Condition("employees", low=200, high=2000)))
ANTI = Rule((Condition("employees", high=20),))


def _card(seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"industry": rng.choice(["Healthcare", "Retail"], 600),
                       "employees": rng.lognormal(4.5, 1.5, 600).round()})
    y = 1.0 * ICP.mask(df) - 1.0 * ANTI.mask(df) + rng.normal(0, 0.2, 600)
    rules = [{"side": "icp", "core": True, "rule": ICP.to_dict()},
             {"side": "anti_icp", "core": True, "rule": ANTI.to_dict()}]
    card = with_reference(fit_scorecard(df, y, rules, unit="USD per year"), df)
    return df, card


def test_tiers_follow_the_score_cut_offs():
    assert tier_of([100, 85, 84.9, 67, 35, 0]).tolist() == ["A", "A", "B", "B", "C", "D"]


def test_members_score_high_with_reasons_and_anti_members_low():
    df, card = _card()
    scored = apply_scorecard(df, card)
    assert scored.loc[ICP.mask(df), "fit_score"].min() > scored.loc[~ICP.mask(df), "fit_score"].max()
    assert (scored.loc[ANTI.mask(df), "tier"] == "D").all()
    member = scored[ICP.mask(df)].iloc[0]
    assert "matches ICP rule 'industry is Healthcare and employees between 200 and 2,000'" in member.reasons
    assert scored["fit_score"].between(0, 100).all()


def test_prospects_with_messy_spelling_and_missing_columns_are_scored(tmp_path):
    _, card = _card()
    path = save_profile({"version": 1, "scorecard": card}, tmp_path / "icp_profile.json")
    json.loads(path.read_text())  # plain JSON, no pickle
    prospects = pd.DataFrame({"prospect_id": ["p1", "p2"], "industry": [" healthcare", "Retail"],
                              "employees": [500, 5]})
    out = score_prospects(prospects, path).set_index("prospect_id")
    assert out.loc["p1", "tier"] == "A" and bool(out.loc["p1", "in_icp"])
    assert out.loc["p2", "tier"] == "D" and bool(out.loc["p2", "in_anti_icp"])
    partial = score_prospects(pd.DataFrame({"prospect_id": ["p3"], "industry": ["Healthcare"]}),
                              load_profile(path))
    assert "unknown: employees" in partial.loc[0, "reasons"]


def test_prospects_without_id_or_attributes_get_clear_errors(tmp_path):
    _, card = _card()
    with pytest.raises(SchemaError, match="prospect_id"):
        score_prospects(pd.DataFrame({"industry": ["Retail"]}), {"scorecard": card})
    with pytest.raises(SchemaError, match="none of the attributes"):
        score_prospects(pd.DataFrame({"prospect_id": ["p"], "x": [1]}), {"scorecard": card})
    with pytest.raises(SchemaError, match="does not exist"):
        load_profile(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SchemaError, match="not valid JSON"):
        load_profile(tmp_path / "bad.json")


def test_coverage_report_gives_shares_and_renewal_intervals():
    acc = pd.DataFrame({"renewed_gross_profit_usd": [10.0, 0, 5, 5], "churned": [False, True, False, False],
                        "renewal_due": True, "renewed": [True, False, True, True]})
    cov = coverage_report(np.array(["A", "D", "B", "C"]), acc).set_index("tier")
    assert list(cov.index) == ["A", "B", "C", "D", "A+B"]
    assert cov.loc["A+B", "share_accounts"] == 0.5
    assert cov.loc["A+B", "share_renewed_gross_profit"] == 0.75
    assert cov.loc["D", "renewal_rate"] == 0.0 and cov.loc["D", "renewal_ci_high"] > 0


def test_size_model_learns_arr_from_pre_sale_size_and_ignores_missing_or_absent_measures():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"employees": rng.lognormal(5, 1.5, 800).round() + 1,
                       "annual_revenue_usd": rng.lognormal(16, 1, 800)})
    arr = 2500 * df.employees.to_numpy() ** 0.4 * rng.lognormal(0, 0.3, 800)
    df.loc[df.index[:80], "employees"] = np.nan
    model = fit_size_model(df, arr)
    coef = {c["column"]: c["coef"] for c in model["columns"]}
    assert coef["employees"] == pytest.approx(0.4, abs=0.05) and abs(coef["annual_revenue_usd"]) < 0.05
    assert model["r2"] > 0.6 and model["smearing"] > 1
    assert fit_size_model(df[["annual_revenue_usd"]].assign(x=1), arr, columns=("employees",)) is None


def test_with_a_size_model_the_score_is_expected_value_in_dollars_with_a_size_reason():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"industry": rng.choice(["Healthcare", "Retail"], 900),
                       "employees": rng.lognormal(4.5, 1.5, 900).round() + 1})
    arr = 3000 * df.employees.to_numpy() ** 0.35 * rng.lognormal(0, 0.2, 900)
    rate = 0.4 + 0.4 * ICP.mask(df) - 0.5 * ANTI.mask(df) + rng.normal(0, 0.1, 900)
    rules = [{"side": "icp", "core": True, "rule": ICP.to_dict()},
             {"side": "anti_icp", "core": True, "rule": ANTI.to_dict()}]
    card = fit_scorecard(df, rate, rules, unit="value per ARR dollar")
    card = with_reference(with_size(card, fit_size_model(df, arr)), df)
    assert card["unit"] == "USD per year" and card["rate_unit"] == "value per ARR dollar"
    scored = apply_scorecard(df, card)
    value = rate * arr
    # the expected value tracks realised dollars far better than the rate alone
    assert np.corrcoef(scored["expected_outcome"], value)[0, 1] > np.corrcoef(
        apply_scorecard(df, with_reference(fit_scorecard(df, rate, rules, unit="x"), df))["expected_outcome"],
        value)[0, 1] + 0.1
    top = scored["tier"].isin(["A", "B"]).to_numpy()
    assert value[top].sum() / value.sum() > 0.6 and top.mean() < 0.36
    member = scored[ICP.mask(df)].iloc[0]
    assert "a year)" in member.reasons and "expected ARR $" in member.reasons
    assert scored["expected_arr_usd"].gt(0).all()


def test_no_rules_means_no_size_ranking():
    df = pd.DataFrame({"employees": np.arange(1, 101)})
    card = with_size(fit_scorecard(df, np.ones(100), [], unit="value per ARR dollar"),
                     fit_size_model(df, 100.0 * np.arange(1, 101)))
    assert "size" not in card
    scored = apply_scorecard(df, with_reference(card, df))
    assert (scored["fit_score"] == 50).all()
