import json

import numpy as np
import pandas as pd
import pytest

from icp.exceptions import SchemaError
from icp.fit import (
    apply_scorecard,
    coverage_report,
    fit_scorecard,
    load_profile,
    save_profile,
    score_prospects,
    tier_of,
    with_reference,
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
    assert cov.loc["A+B", "share_accounts"] == 0.5
    assert cov.loc["A+B", "share_renewed_gross_profit"] == 0.75
    assert cov.loc["D", "renewal_rate"] == 0.0 and cov.loc["D", "renewal_ci_high"] > 0
