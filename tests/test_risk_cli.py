"""``icp risk`` in the single-table form scores the current customers out of fold, never in sample.

The data is a small customers table made here (500 rows, churn driven by two
attributes), so the test runs in seconds and needs no dataset.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _single_table import make_single_table
from sklearn.model_selection import StratifiedKFold

from icp.churn import ChurnRiskModel


@pytest.fixture(scope="module")
def single_table_run(tmp_path_factory):
    from icp.cli import main

    frame = make_single_table(500, seed=7)
    folder = tmp_path_factory.mktemp("risk_cli")
    path = folder / "customers.csv"
    frame.to_csv(path, index=False)
    out = folder / "out"
    code = main(["risk", str(path), "--id", "customerID", "--churn", "Churn=Yes", "--model", "logistic",
                 "--out", str(out)])
    assert code == 0
    scores = pd.read_csv(out / "risk_scores.csv", dtype={"account_id": str})
    metrics = json.loads((out / "model_metrics.json").read_text(encoding="utf-8"))
    return path, scores, metrics


def _snapshot(path):
    from icp.io import load
    from icp.snapshot import snapshot

    data = snapshot(load(str(path), id_column="customerID", churn="Churn=Yes")).reset_index(drop=True)
    return data, data["churned"].astype(bool).to_numpy()


def test_single_table_risk_scores_are_the_out_of_fold_probabilities(single_table_run):
    """Each current customer's probability is its fold model's (5-fold stratified, seed 42), not an in-sample fit's."""
    path, scores, metrics = single_table_run
    data, y = _snapshot(path)
    model = ChurnRiskModel(model="logistic", random_state=42)
    oof = pd.Series(np.nan, index=data["account_id"].astype(str))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=42).split(data, y):
        fitted = ChurnRiskModel(model="logistic", random_state=42).fit(data.iloc[train], y[train])
        oof.iloc[test] = fitted.predict_proba(data.iloc[test])[:, 1]
    got = scores.set_index("account_id")["churn_probability"]
    assert sorted(got.index) == sorted(data.loc[~y, "account_id"].astype(str))  # the current customers
    np.testing.assert_allclose(got.to_numpy(), oof.reindex(got.index).to_numpy(), rtol=1e-6)
    in_sample = pd.Series(model.fit(data, y).predict_proba(data)[:, 1], index=oof.index).reindex(got.index)
    assert np.abs(in_sample.to_numpy() - got.to_numpy()).max() > 1e-3  # an in-sample fit would differ
    assert metrics["scoring"].startswith("out of fold")


def test_single_table_risk_scores_match_the_reported_cross_validation(single_table_run):
    """The scores and the metrics in model_metrics.json come from the same fold models."""
    from icp.backtest import cross_validate

    path, scores, _ = single_table_run
    data, _ = _snapshot(path)
    result = cross_validate(data, model=ChurnRiskModel(model="logistic", random_state=42), random_state=42)
    cv = result.predictions.assign(account_id=lambda f: f["account_id"].astype(str)).set_index("account_id")
    got = scores.set_index("account_id")["churn_probability"]
    np.testing.assert_allclose(got.to_numpy(), cv["model"].reindex(got.index).to_numpy(), rtol=1e-6)
    assert scores["reasons"].fillna("").str.contains("risk").all()  # every score comes with its reasons


def test_single_table_auto_model_is_judged_on_the_scores_it_delivers(tmp_path):
    """With --model auto the family is chosen inside the first fold, and the reported metrics are
    those of the delivered out-of-fold scores (no second cross-validation with a family chosen on all rows)."""
    from sklearn.metrics import roc_auc_score

    from icp.cli import main
    from icp.risk import out_of_fold_scores

    frame = make_single_table(400, seed=3)
    path = tmp_path / "customers.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    assert main(["risk", str(path), "--id", "customerID", "--churn", "Churn=Yes", "--out", str(out)]) == 0
    metrics = json.loads((out / "model_metrics.json").read_text(encoding="utf-8"))
    data, y = _snapshot(path)
    oof = out_of_fold_scores(data, ChurnRiskModel(model="auto", random_state=42), cv=5, random_state=42)
    reported = metrics["evaluation"]["summary"]["model"]["roc_auc"]
    assert reported == pytest.approx(roc_auc_score(y, oof["churn_probability"]), abs=1e-9)
    scores = pd.read_csv(out / "risk_scores.csv", dtype={"account_id": str}).set_index("account_id")
    np.testing.assert_allclose(scores["churn_probability"].to_numpy(),
                               oof.set_index("account_id")["churn_probability"].reindex(scores.index).to_numpy(),
                               rtol=1e-6)
    assert "first fold" in metrics["model_selection_note"]
