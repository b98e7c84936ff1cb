"""Acceptance of ICP discovery on the sample (planted truth) and on the two real datasets."""

from pathlib import Path

import pandas as pd
import pytest
from _icp_planted import jaccard
from sklearn.metrics import roc_auc_score

import icp.io
from icp.cli.discover import default_as_of
from icp.discovery import discover_icp
from icp.evidence import add_horizon_write_offs
from icp.fit import score_prospects
from icp.snapshot import snapshot

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
    if (REPO / "data" / "sample" / "accounts.csv").exists():
        return REPO / "data" / "sample"
    from icp.synth import make_sample

    return make_sample(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def sample_result(sample_dir):
    data = icp.io.load(sample_dir)
    snap = snapshot(data, as_of=default_as_of(data, 365), horizon="365d")
    snap = add_horizon_write_offs(snap, data.to_pandas("invoices"))
    return data, discover_icp(snap, presale_columns=list(data.presale_columns))


@pytest.mark.slow
def test_sample_planted_icp_and_anti_icp_recovered_at_jaccard_0_8(sample_dir, sample_result):
    data, result = sample_result
    accounts = data.to_pandas("accounts")
    truth = pd.read_csv(sample_dir / "ground_truth" / "accounts.csv", dtype={"account_id": str})
    both = accounts.merge(truth, on="account_id")
    assert jaccard(result.icp.mask(both), both["in_icp"].astype(bool)) >= 0.8
    assert jaccard(result.anti_icp.mask(both), both["in_anti_icp"].astype(bool)) >= 0.8


@pytest.mark.slow
def test_sample_fit_score_separates_planted_icp_prospects_auc_0_9(sample_dir, sample_result):
    data, result = sample_result
    scores = score_prospects(data.to_pandas("prospects"), result.profile)
    truth = pd.read_csv(sample_dir / "ground_truth" / "prospects.csv", dtype={"prospect_id": str})
    both = scores.merge(truth, on="prospect_id")
    assert roc_auc_score(both["group"] == "icp", both["fit_score"]) >= 0.9


@pytest.mark.slow
def test_sample_top_tiers_hold_60pct_of_renewed_gross_profit_on_at_most_35pct_of_holdout_accounts(sample_result):
    _, result = sample_result
    cov = result.coverage.set_index("tier")  # holdout accounts only
    assert cov.loc[list("ABCD"), "n_accounts"].sum() == round(0.5 * result.settings["n_accounts"])
    assert cov.loc["A+B", "share_accounts"] <= 0.35
    assert cov.loc["A+B", "share_renewed_gross_profit"] >= 0.60
    assert cov.loc["A", "renewal_rate"] - cov.loc["D", "renewal_rate"] >= 0.2
    assert cov.loc["A", "renewal_ci_low"] > cov.loc["D", "renewal_ci_high"]
    assert list(cov["mean_value_usd"].iloc[:4]) == sorted(cov["mean_value_usd"].iloc[:4], reverse=True)


@pytest.mark.slow
def test_sample_leadership_answer_shares_out_the_write_offs(sample_dir, sample_result):
    _, result = sample_result
    lead = result.leadership.set_index("measure")
    invoices = pd.read_csv(sample_dir / "invoices.csv")
    total = invoices.loc[invoices["written_off_on"].notna(), "amount_usd"].sum()
    # nearly all write-offs fall in some snapshot's horizon (the rest before the first)
    assert 0.8 * total <= lead.loc["write-offs", "total"] <= total
    assert lead.loc["write-offs", "outside_icp"] > lead.loc["current accounts", "outside_icp"]
    assert "of write-offs" in result.statement


@pytest.mark.shared
@pytest.mark.skipif(not (SHARED / "telco_churn").exists(), reason="../shared/datasets/telco_churn is absent")
def test_telco_known_churn_drivers_appear_among_anti_icp_rules():
    data = icp.io.load(SHARED / "telco_churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv",
                       id_column="customerID", churn="Churn=Yes")
    result = discover_icp(snapshot(data), presale_columns=list(data.presale_columns), postsale=False)
    assert result.settings["outcome"] == "retention"
    conds = [c for r in result.anti_icp_rules for c in r.conditions]
    sets = {c.column: set() for c in conds}
    for c in conds:
        sets[c.column].update(c.values)
    assert "Month-to-month" in sets.get("Contract", set())
    assert "Fiber optic" in sets.get("InternetService", set())
    assert "Electronic check" in sets.get("PaymentMethod", set())
    assert "Credit card (automatic)" not in sets.get("PaymentMethod", set())  # not a driver
    assert any(c.column == "tenure" and c.high is not None and c.high <= 24 for c in conds)


@pytest.mark.shared
@pytest.mark.skipif(not (SHARED / "ravenstack").exists(), reason="../shared/datasets/ravenstack is absent")
def test_ravenstack_claims_no_strong_icp():
    data = icp.io.load(SHARED / "ravenstack", config=REPO / "examples" / "ravenstack" / "icp.yaml")
    snap = snapshot(data, as_of=default_as_of(data, 365), horizon="365d")
    try:
        result = discover_icp(snap, presale_columns=list(data.presale_columns), postsale=False)
    except icp.InsufficientDataError:
        return  # not enough data to claim anything is an acceptable answer
    strong = result.rules[result.rules["strength"] == "strong"] if len(result.rules) else result.rules
    assert strong.empty, strong[["side", "rule"]]
