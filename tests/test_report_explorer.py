"""The cluster explorer's widgets, driven headless."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from icp.explorer import ClusterExplorer
from icp.rules import Condition, Rule


@pytest.fixture
def accounts():
    rng = np.random.default_rng(7)
    n = 300
    heavy = rng.random(n) < 0.4
    return pd.DataFrame({
        "account_id": [f"A{i:04d}" for i in range(n)],
        "events_90d": np.where(heavy, rng.normal(900, 80, n), rng.normal(100, 20, n)),
        "tickets_per_quarter": np.where(heavy, rng.normal(1, 0.3, n), rng.normal(6, 1, n)),
        "employees": rng.integers(5, 3000, n),
        "arr_usd": rng.uniform(2_000, 120_000, n),
        "gross_margin_pct": rng.uniform(20, 80, n),
    })


@pytest.fixture
def explorer(accounts):
    risk = pd.Series(np.linspace(0.05, 0.9, len(accounts)), index=accounts["account_id"])
    grades = pd.DataFrame({"account_id": accounts["account_id"],
                           "quarterly_grade": np.array(list("ABCD"))[np.arange(len(accounts)) % 4]})
    rule = Rule((Condition("employees", low=200, high=2000),))
    from icp.worksheet import default_worksheet

    return ClusterExplorer(accounts, churn_probability=risk, grades=grades, icp_rule=rule,
                           worksheet=default_worksheet(), snapshot_for_grades=accounts,
                           features=["events_90d", "tickets_per_quarter"], random_state=0)


def test_changing_k_and_features_reclusters(explorer):
    explorer.k.value = 2
    assert set(explorer.labels_) == {0, 1}
    heavy = explorer.frame["events_90d"].to_numpy() > 500
    agree = max(np.mean((explorer.labels_ == 0) == heavy), np.mean((explorer.labels_ == 1) == heavy))
    assert agree > 0.95  # the two planted behaviours are found
    explorer.k.value = 5
    assert explorer.labels_.max() == 4 and list(explorer.segment.options) == ["all", "0", "1", "2", "3", "4"]
    explorer.features.value = ("arr_usd",)
    assert explorer.labels_.max() == 4


def test_segment_filter_and_account_drill_down(explorer):
    explorer.k.value = 3
    explorer.segment.value = "1"
    shown = explorer.visible_
    assert shown.sum() == (explorer.labels_ == 1).sum() and len(explorer.account.options) == min(shown.sum(), 500) + 1
    chosen = explorer.account.options[1]
    explorer.account.value = chosen
    detail = explorer.account_detail(chosen)
    assert detail.loc["account_id", "value"] == chosen and detail.loc["cluster", "value"] == 1


def test_colour_by_every_option(explorer):
    for option in explorer.colour_by.options:
        explorer.colour_by.value = option
    assert set(explorer.colour_by.options) == {"segment", "churn", "value", "grade"}


def test_what_if_threshold_changes_coverage_arr_share_and_expected_churn(explorer, accounts):
    start = dict(explorer.what_if_)
    in_rule = (accounts["employees"] >= 200) & (accounts["employees"] <= 2000)
    assert start["coverage"] == pytest.approx(in_rule.mean())
    slider = explorer.thresholds["0:employees"]
    slider.value = (200, 600)
    narrower = (accounts["employees"] >= 200) & (accounts["employees"] <= 600)
    assert explorer.what_if_["coverage"] == pytest.approx(narrower.mean())
    assert explorer.what_if_["arr_share"] == pytest.approx(accounts.loc[narrower, "arr_usd"].sum() / accounts["arr_usd"].sum())
    risk = np.linspace(0.05, 0.9, len(accounts))
    assert explorer.what_if_["expected_churn_in_icp"] == pytest.approx(risk[narrower.to_numpy()].mean())


def test_what_if_grade_weight_changes_the_grade_mix(explorer):
    before = dict(explorer.grade_shares_)
    assert before and sum(before.values()) == pytest.approx(1.0)
    name = next(iter(explorer.weights))
    others = list(explorer.weights)[1:]
    for other in others:
        explorer.weights[other].value = 0.0
    explorer.weights[name].value = 1.0
    assert explorer.grade_shares_ != before
