import numpy as np
import pandas as pd
import pytest
from _icp_planted import jaccard, planted_snapshot

from icp.discovery import discover_icp
from icp.evidence import account_table, add_horizon_write_offs
from icp.exceptions import InsufficientDataError, SchemaError
from icp.fit import load_profile


@pytest.fixture(scope="module")
def planted():
    return planted_snapshot(1500, seed=3)


@pytest.fixture(scope="module")
def result(planted):
    return discover_icp(planted[0], random_state=1)


def test_planted_icp_and_anti_icp_are_recovered_on_a_built_frame(planted, result):
    _, icp, anti = planted
    assert jaccard(result.membership["in_icp"], icp) >= 0.8
    assert jaccard(result.membership["in_anti_icp"], anti) >= 0.8
    assert result.statement.startswith("We are for accounts where employees between 200 and 2,000")
    assert "We are not for accounts where acquisition channel is outbound and employees below 20" \
        in result.statement


def test_every_rule_carries_its_evidence_and_holdout_check(result):
    core = result.rules[result.rules["role"] == "core"].set_index("side")
    for col in ("n_accounts", "share_accounts", "share_arr", "churn_rate", "churn_ci_low", "churn_ci_high",
                "rest_churn_rate", "churn_lift", "gross_margin_pct", "tickets_per_quarter", "days_late_mean",
                "holdout_n", "p_adjusted"):
        assert core[col].notna().all(), col
    assert core.loc["icp", "churn_ci_high"] < core.loc["icp", "rest_churn_ci_low"]
    assert core.loc["anti_icp", "churn_ci_low"] > core.loc["anti_icp", "rest_churn_ci_high"]
    assert set(result.membership.columns) == {"account_id", "in_icp", "in_anti_icp", "fit_score", "tier"}
    lead = result.leadership.set_index("measure")
    assert 0 < lead.loc["current accounts", "outside_icp"] < 1
    assert "<table" in result._repr_html_()


def test_outputs_are_written_and_the_profile_is_json(result, tmp_path):
    paths = result.save(tmp_path)
    assert {p.name for p in paths.values()} == {"icp_rules.csv", "icp_profile.json", "icp_membership.csv"}
    profile = load_profile(paths["profile"])
    assert profile["statement"] == result.statement and len(profile["fingerprint"]) == 16
    assert profile["scorecard"]["features"]


@pytest.mark.slow
def test_null_control_reports_a_rule_in_at_most_3_of_20_shuffled_runs():
    frame, _, _ = planted_snapshot(800, seed=11)
    hits = 0
    for seed in range(20):
        shuffled = frame.copy()
        perm = np.random.default_rng(seed).permutation(len(frame))
        for col in ("customer_value_usd", "arr_usd", "churned", "renewed", "realised_gross_profit_usd"):
            shuffled[col] = frame[col].to_numpy()[perm]
        res = discover_icp(shuffled, random_state=seed, postsale=False, compare=False, beam_width=6,
                           max_rules=2)
        hits += res.enough_evidence
    assert hits <= 3


def test_no_signal_gives_a_plain_not_enough_evidence_result():
    frame, _, _ = planted_snapshot(600, seed=5)
    frame["customer_value_usd"] = np.random.default_rng(0).normal(size=len(frame))
    res = discover_icp(frame, random_state=0, postsale=False)
    if not res.enough_evidence:
        assert "not enough evidence" in res.statement
        assert (res.membership["fit_score"] == 50).all()


def test_retention_outcome_and_fallback_when_there_is_no_value(planted):
    frame = planted[0].drop(columns=["customer_value_usd"])
    res = discover_icp(frame, postsale=False)
    assert res.settings["outcome"] == "retention"
    assert any("retention outcome" in n for n in res.notes)


def test_panel_is_reduced_to_one_row_per_account():
    snap = pd.DataFrame({"account_id": ["a", "a", "b"], "as_of": pd.to_datetime(["2023-12-31", "2024-12-31",
                                                                                 "2024-12-31"]),
                         "industry": ["X", "X", "Y"], "arr_usd": [10.0, 20.0, 5.0],
                         "customer_value_usd": [5.0, 10.0, -1.0], "churned": [False, True, False]})
    acc = account_table(snap).set_index("account_id")
    assert acc.loc["a", "churned"] and acc.loc["a", "customer_value_usd"] == 7.5
    assert acc.loc["a", "value_per_arr"] == pytest.approx(0.5) and acc.loc["a", "churned_arr_usd"] == 20


def test_bad_input_gives_clear_errors(planted):
    with pytest.raises(InsufficientDataError, match="empty"):
        discover_icp(pd.DataFrame())
    with pytest.raises(SchemaError, match="pre-sale attribute"):
        discover_icp(planted[0][["account_id", "customer_value_usd", "churned"]])
    with pytest.raises(ValueError, match="'outcome' parameter"):
        discover_icp(planted[0], outcome="profit")
    with pytest.raises(InsufficientDataError, match="at least"):
        discover_icp(planted[0].head(30))


def test_plots_return_axes(result):
    import matplotlib

    matplotlib.use("Agg")
    from icp.plotting.icp import plot_rule_evidence, plot_tier_coverage

    assert plot_rule_evidence(result).get_title().startswith("Who churns")
    assert plot_tier_coverage(result).get_ylabel().startswith("Renewal rate")


def test_value_outcome_searches_the_profit_rate_and_scores_dollars_and_documents_it(result):
    settings = result.profile["settings"]
    assert settings["outcome"] == "value" and "per ARR dollar" in settings["searched_on"]
    assert "expected ARR" in settings["fit_score"] and settings["size_columns"] == ["employees"]
    assert result.profile["scorecard"]["unit"] == "USD per year"
    core = result.rules[result.rules["role"] == "core"].set_index("side")
    # evidence in dollars and as a rate, next to retention
    assert core.loc["icp", "mean_value_usd"] > core.loc["icp", "rest_mean_value_usd"]
    assert core.loc["icp", "value_per_arr"] > core.loc["icp", "rest_value_per_arr"]
    assert 0 < core.loc["icp", "share_value"] < 1


def test_the_result_carries_the_retention_view_on_the_same_holdout(planted, result):
    _, icp, anti = planted
    assert set(result.views) == {"value", "retention"} and result.views["value"] is result.rules
    retention = result.retention
    assert retention["confirmed"].any() and {"churn_rate", "p_adjusted"} <= set(retention.columns)
    core = retention[(retention["role"] == "core") & (retention["side"] == "icp")]
    from icp.rules import Rule

    frame = planted[0]
    # churn alone finds the planted industries but blurs the size range: value finds it sharper
    by_retention = jaccard(Rule.from_dict(core["rule_json"].iloc[0]).mask(frame), icp)
    assert "Healthcare or Logistics" in core["rule"].iloc[0]
    assert 0.5 <= by_retention <= jaccard(result.membership["in_icp"], icp)
    assert "By retention alone: for accounts where" in result.statement
    assert result.profile["views"]["retention"]
    no_compare = discover_icp(frame, random_state=1, postsale=False, compare=False)
    assert set(no_compare.views) == {"value"}


def test_coverage_of_the_fit_tiers_is_stated_on_holdout_accounts(result):
    cov = result.coverage.set_index("tier")
    assert cov.loc["A+B", "n_accounts"] == cov.loc[["A", "B"], "n_accounts"].sum()
    assert cov.loc[list("ABCD"), "n_accounts"].sum() == round(0.5 * len(result.membership))
    assert "tiers A and B are" in result.statement and "of the renewed gross profit" in result.statement


def test_horizon_write_offs_are_shared_out_in_leadership_answer(planted):
    frame = planted[0].assign(as_of=pd.Timestamp("2024-12-31"))
    bad = frame.loc[planted[2] & frame["churned"].to_numpy(), "account_id"]
    invoices = pd.DataFrame({"account_id": bad, "amount_usd": 1000.0,
                             "written_off_on": pd.Timestamp("2025-04-01")})
    invoices = pd.concat([invoices, pd.DataFrame({"account_id": ["A00000"], "amount_usd": [5.0],
                                                  "written_off_on": [pd.Timestamp("2026-06-01")]})])
    with_w = add_horizon_write_offs(frame, invoices)
    assert with_w["written_off_horizon_usd"].sum() == 1000.0 * len(bad)  # the 2026 one is past the horizon
    res = discover_icp(with_w, random_state=1, postsale=False, compare=False)
    lead = res.leadership.set_index("measure")
    assert lead.loc["write-offs", "anti_icp"] > 0.8 and lead.loc["write-offs", "outside_icp"] == 1.0
    assert "write-offs" in res.statement and not any("No write-offs" in n for n in res.notes)
    assert "written_off_horizon_usd" not in res.settings["presale_columns"]


def test_custom_tiers_are_kept_in_the_profile_and_bad_tiers_rejected(planted):
    tiers = {"top": 80.0, "middle": 40.0, "rest": 0.0}
    res = discover_icp(planted[0], random_state=1, postsale=False, compare=False, tiers=tiers)
    assert set(res.membership["tier"]) == set(tiers) and res.profile["scorecard"]["tiers"] == tiers
    assert list(res.coverage["tier"]) == ["top", "middle", "rest", "top+middle"]
    with pytest.raises(ValueError, match="'tiers' parameter"):
        discover_icp(planted[0], tiers={"A": 50.0, "B": 10.0})


def test_icp_tiers_set_in_icp_yaml_name_and_cut_the_tiers(tmp_path):
    from pathlib import Path

    from icp.cli import main

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    config = tmp_path / "icp.yaml"
    config.write_text((sample / "icp.yaml").read_text() + "\nicp_tiers: {Top: 75, Rest: 0}\n")
    assert main(["discover", str(sample), "--config", str(config), "--out", str(tmp_path / "out")]) == 0
    membership = pd.read_csv(tmp_path / "out" / "icp_membership.csv")
    assert set(membership["tier"]) == {"Top", "Rest"}
    top = membership["fit_score"] >= 75
    assert (membership.loc[top, "tier"] == "Top").all() and (membership.loc[~top, "tier"] == "Rest").all()
