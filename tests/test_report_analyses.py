"""The report's analyses: out-of-fold churn risk in the single-table form, segments, packaged suite.

The single-table tests use a small customers table made here (600 rows, churn
driven by two attributes), so they run in seconds and need no dataset.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _single_table import make_single_table

from icp.report import analyses, validate_parameters
from icp.report.churn import N_FOLDS


@pytest.fixture(scope="module")
def single_table(tmp_path_factory):
    frame = make_single_table(600, seed=11)
    path = tmp_path_factory.mktemp("single") / "customers.csv"
    frame.to_csv(path, index=False)
    work = path.parent / "work"
    work.mkdir()
    ctx = validate_parameters(data=str(path), quarter="2025Q4", id_column="customerID", churn="Churn=Yes",
                              work_dir=str(work))
    return ctx, frame


@pytest.fixture(scope="module")
def single_risk(single_table):
    ctx, _ = single_table
    return analyses.churn_risk(ctx)


def test_single_table_current_customers_are_the_rows_not_churned(single_table, single_risk):
    ctx, frame = single_table
    still = set(frame.loc[frame["Churn"] == "No", "customerID"])
    assert set(analyses.current(ctx)["account_id"]) == still
    assert sorted(single_risk.scores["account_id"]) == sorted(still)


def test_single_table_risk_comes_from_models_that_never_saw_the_customer(single_table, single_risk):
    """Each current customer's probability is the one its fold's model gives, not an in-sample fit's."""
    from sklearn.model_selection import StratifiedKFold

    from icp.churn import ChurnRiskModel

    ctx, _ = single_table
    data = analyses.history(ctx).reset_index(drop=True)
    y = data["churned"].astype(bool).to_numpy()
    family = single_risk.metrics["model"]
    got = single_risk.scores.set_index("account_id")["churn_probability"]
    exclude = single_risk.model.exclude
    oof = pd.Series(np.nan, index=data["account_id"].astype(str))
    for train, test in StratifiedKFold(N_FOLDS, shuffle=True, random_state=42).split(data, y):
        model = ChurnRiskModel(model=family, exclude=exclude, random_state=42).fit(data.iloc[train], y[train])
        oof.iloc[test] = model.predict_proba(data.iloc[test])[:, 1]
    np.testing.assert_allclose(got.to_numpy(), oof.reindex(got.index).to_numpy(), rtol=1e-6)
    in_sample = ChurnRiskModel(model=family, exclude=exclude, random_state=42).fit(data, y)
    seen = pd.Series(in_sample.predict_proba(data)[:, 1], index=oof.index).reindex(got.index)
    assert np.abs(seen.to_numpy() - got.to_numpy()).max() > 1e-3  # an in-sample fit would differ


def test_single_table_report_says_how_the_customers_were_scored(single_risk):
    metrics = single_risk.metrics
    assert metrics["scoring"].startswith("out of fold")
    assert f"{N_FOLDS}-fold" in metrics["evaluation"]
    assert 0.6 < metrics["roc_auc"] <= 1  # the planted attributes are found out of fold
    quality = single_risk.quality.set_index("measure")["value"]
    assert quality["How the current customers were scored"].startswith("out of fold")
    # churners score higher than the customers who stayed, so the stayers' expected churn is below the base rate
    assert single_risk.scores["churn_probability"].mean() < metrics["churn_rate"]


def test_top_risks_show_the_reasons_of_each_score(single_risk):
    top = single_risk.top(5)
    assert len(top) == 5 and "reasons" in top
    assert top["reasons"].str.contains("risk").all()
    assert "arr_usd" not in top  # the data has no ARR: no empty money columns


def test_leadership_headline_counts_expected_churners_out_of_fold(single_table, single_risk):
    from icp.report.summary import leadership_summary

    ctx, frame = single_table
    summary = leadership_summary(quarter="2025Q4", as_of=ctx.as_of, risk=single_risk)
    churners = next(h for h in summary.headline if h["label"] == "customers expected to churn")
    assert "out of fold" in churners["note"]
    assert float(churners["value"].replace(",", "")) == pytest.approx(
        single_risk.scores["churn_probability"].sum(), abs=0.5)
    assert summary.top_risks["reasons"].str.len().gt(0).all()


def test_segments_are_named_and_profiled_by_the_segmentation_module(single_table):
    ctx, _ = single_table
    seg = analyses.segments(ctx, n_segments=3)
    assert seg.names == dict(enumerate(seg.model.segment_names_))
    summary = seg.summary
    assert {"segment_name", "description", "n_accounts", "churn_rate", "churn_ci_low", "churn_ci_high"} <= set(summary)
    assert summary["n_accounts"].sum() == len(seg.training)
    assert (summary["churn_ci_low"] <= summary["churn_rate"]).all()
    assert (summary["churn_rate"] <= summary["churn_ci_high"]).all()
    assert set(seg.assignments["segment_name"]) <= set(seg.names.values())
    assert seg.retention is not None and seg.retention.time_unit == "tenure"  # tenure is the duration
    # the summary and the grades reuse the segments the run computed, not another fit with the default
    assert analyses.segments(ctx) is seg and seg.model.n_clusters_ == 3


def test_packaged_suite_and_templates_are_found_without_a_checkout():
    from icp.report.deck import render_deck
    from icp.report.html import _template
    from icp.report.runner import load_suite

    prepare, specs = load_suite()
    assert prepare == ["dataset", "snapshot", "history"]
    assert specs[0].file == "01_data_health.ipynb" and any(s.leadership for s in specs)
    assert _template("index.html.j2").name == "index.html.j2"
    deck = render_deck({"quarter": "2025Q4", "headline": [{"label": "ARR at risk", "value": "$1M"}], "actions": []})
    assert "$1M" in deck and "<style>" in deck  # the shared stylesheet template is included
