"""ChurnRiskModel: the estimator contract, the leakage guard, reasons and the risk list."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from icp.churn import OUTCOME_COLUMNS, ChurnRiskModel, model_columns
from icp.exceptions import DataQualityWarning, InsufficientDataError
from icp.reasons import contributions, drivers, reasons
from icp.risk import event_outcomes, risk_band, risk_scores

# Calibration deliberately undoes class weights (probabilities stay calibrated whatever the
# weights), so the check that heavy weights flip predictions does not apply.
_EXPECTED = {"check_class_weight_classifiers": "calibration undoes class weights by design"}


@parametrize_with_checks(
    [ChurnRiskModel(model="logistic", leakage_threshold=None, random_state=0)],
    expected_failed_checks=lambda est: _EXPECTED,
)
def test_churn_model_follows_the_scikit_learn_estimator_contract(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(
    # boosting kept small (and 2 calibration folds) so the contract checks stay affordable
    [ChurnRiskModel(model="hgb", max_iter=5, cv=2, leakage_threshold=None, random_state=0)],
    expected_failed_checks=lambda est: _EXPECTED,
)
def test_boosted_churn_model_follows_the_scikit_learn_estimator_contract(estimator, check):
    check(estimator)


def _accounts(n: int = 800, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "account_id": [f"A{i:04d}" for i in range(n)],
            "tenure_months": rng.integers(1, 72, n).astype(float),
            "late_payment_share": rng.uniform(0, 1, n),
            "plan": rng.choice(["Starter", "Growth", "Scale"], n),
            "csat_mean": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(1, 5, n)),
            "arr_usd": rng.uniform(2_000, 80_000, n),
        }
    )
    logit = -1.0 - frame.tenure_months / 24 + 2.5 * frame.late_payment_share + (frame.plan == "Starter")
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return frame, y


def test_outcome_and_key_columns_are_never_features():
    frame, y = _accounts()
    leaky = frame.assign(churned=y, churn_date=pd.NaT, renewal_due=True, arr_next_usd=0.0, as_of="2024-12-31")
    model = ChurnRiskModel(model="logistic", random_state=0).fit(leaky, y)
    assert not set(model.features_) & {*OUTCOME_COLUMNS, "account_id", "as_of"}
    assert "churned" in model.dropped_ and "account_id" in model.dropped_
    assert model_columns(leaky, exclude=("plan",)) == ["tenure_months", "late_payment_share", "csat_mean", "arr_usd"]


def test_a_feature_that_gives_the_outcome_away_is_dropped_with_a_warning():
    frame, y = _accounts()
    frame["cancellation_reason_code"] = np.where(y, 7.0, 0.0) + np.random.default_rng(1).normal(0, 0.1, len(y))
    with pytest.warns(DataQualityWarning, match="cancellation_reason_code"):
        model = ChurnRiskModel(model="logistic", random_state=0).fit(frame, y)
    assert "cancellation_reason_code" not in model.features_
    allowed = ChurnRiskModel(model="logistic", allow_leaky=("cancellation_reason_code",), random_state=0)
    assert "cancellation_reason_code" in allowed.fit(frame, y).features_


def test_excluded_free_text_and_identifier_like_columns_are_left_out():
    frame, y = _accounts()
    frame["name"] = [f"Company {i % 300}" for i in range(len(frame))]  # names repeat: not unique
    frame["contact_code"] = [f"K{i:05d}" for i in range(len(frame))]
    model = ChurnRiskModel(model="logistic", exclude=("arr_usd",), random_state=0).fit(frame, y)
    assert not {"arr_usd", "name", "contact_code"} & set(model.features_)
    assert model.dropped_["name"].startswith("free text")
    assert model.dropped_["contact_code"].startswith("identifier-like")
    # a tiny table too: the name guard does not depend on the row count
    small = ChurnRiskModel(model="logistic").fit(frame.head(15), np.r_[np.zeros(8), np.ones(7)])
    assert "name" not in small.features_


@pytest.mark.parametrize("kind", ["logistic", "hgb"])
def test_probabilities_rank_held_out_accounts_and_are_calibrated(kind):
    frame, y = _accounts(3000, seed=3)
    model = ChurnRiskModel(model=kind, max_iter=100, learning_rate=0.1, random_state=0)
    model = model.fit(frame.iloc[:2000], y[:2000])
    p = model.predict_proba(frame.iloc[2000:])[:, 1]
    from icp.backtest import churn_metrics

    m = churn_metrics(y[2000:], p)
    assert m["roc_auc"] > 0.72
    assert m["ece"] < 0.05
    assert abs(p.mean() - y[2000:].mean()) < 0.04


def test_isotonic_calibration_never_says_zero_or_certain():
    from icp.churn_pipeline import fit_calibrator

    score = np.linspace(-3, 3, 400)
    y = score > 1.5  # no churner at all in the lower blocks, only churners at the top
    p = fit_calibrator(score, y, "isotonic").predict(score)
    assert 0 < p.min() < 0.01 and 0.99 < p.max() < 1
    assert np.all(np.diff(p) >= 0)  # still monotone
    frame, churned = _accounts(1500, seed=5)
    frame["late_payment_share"] = np.where(churned, 1.0, 0.0)  # a strong driver: extreme blocks
    model = ChurnRiskModel(model="hgb", leakage_threshold=None, max_iter=50, random_state=0).fit(frame, churned)
    q = model.predict_proba(frame)[:, 1]
    assert q.min() > 0 and q.max() < 1


def test_auto_picks_the_model_with_the_lower_inner_cv_log_loss():
    frame, y = _accounts(600, seed=4)
    model = ChurnRiskModel(model="auto", max_iter=30, random_state=0).fit(frame, y)
    assert model.model_ == model.selection_["log_loss"].idxmin()
    assert set(model.selection_.index) == {"hgb", "logistic"}


def test_single_class_outcome_raises_a_clear_error():
    frame, _ = _accounts(100)
    with pytest.raises(InsufficientDataError, match="only 1 class"):
        ChurnRiskModel(model="logistic").fit(frame, np.zeros(100, dtype=bool))


def test_invalid_parameters_are_named_in_the_message():
    frame, y = _accounts(100)
    with pytest.raises(ValueError, match="The 'model' parameter of ChurnRiskModel must be one of"):
        ChurnRiskModel(model="forest").fit(frame, y)


def test_scoring_without_a_training_column_names_the_missing_feature():
    frame, y = _accounts(300)
    model = ChurnRiskModel(model="logistic").fit(frame, y)
    with pytest.raises(ValueError, match="late_payment_share"):
        model.predict_proba(frame.drop(columns="late_payment_share"))


def test_linear_contributions_add_up_to_the_score():
    frame, y = _accounts(600)
    model = ChurnRiskModel(model="logistic", random_state=0).fit(frame, y)
    contrib = contributions(model, frame.head(50))
    pipe = model.estimator_
    intercept = pipe.named_steps["classifier"].intercept_[0]
    np.testing.assert_allclose(contrib.sum(axis=1) + intercept, model.raw_score(frame.head(50)), atol=1e-8)


@pytest.mark.parametrize("kind", ["logistic", "hgb"])
def test_reasons_name_the_planted_driver_with_its_direction(kind):
    frame, y = _accounts(1500, seed=5)
    model = ChurnRiskModel(model=kind, max_iter=60, learning_rate=0.1, random_state=0).fit(frame, y)
    overall = drivers(model, frame)
    assert overall.feature.iloc[0] in {"late_payment_share", "tenure_months"}
    row = overall.set_index("feature").loc["late_payment_share"]
    assert row.direction == "higher raises risk"
    late = frame.assign(late_payment_share=0.98, tenure_months=30.0).head(1)
    table = reasons(model, late, top=3)
    first = table[table.feature == "late_payment_share"].iloc[0]
    assert first.direction == "raises risk"
    assert "Share of invoices paid late: 98%" in first.text


def test_risk_bands_follow_the_configured_cut_offs():
    bands = risk_band([0.0, 0.149, 0.15, 0.3, 0.5, 1.0])
    assert bands.tolist() == ["low", "low", "medium", "high", "critical", "critical"]
    custom = risk_band([0.05, 0.2], {"watch": 0.0, "act": 0.1})
    assert custom.tolist() == ["watch", "act"]


def test_risk_list_has_arr_at_risk_reasons_and_joined_segments():
    frame, y = _accounts(600)
    model = ChurnRiskModel(model="logistic", exclude=("arr_usd",), random_state=0).fit(frame, y)
    segments = pd.DataFrame({"account_id": frame.account_id, "segment": "steady"})
    scores = risk_scores(model, frame, segments=segments)
    assert list(scores.columns[:6]) == [
        "account_id", "churn_probability", "risk_band", "arr_usd", "arr_at_risk_usd", "reasons",
    ]
    np.testing.assert_allclose(scores.arr_at_risk_usd, scores.churn_probability * scores.arr_usd)
    assert scores.arr_at_risk_usd.is_monotonic_decreasing
    assert (scores.segment == "steady").all()
    assert scores.reasons.str.contains("risk").all()


def test_dated_churn_events_label_each_snapshot_by_its_own_horizon():
    panel = pd.DataFrame({"account_id": ["a", "a", "b", "c"],
                          "as_of": pd.to_datetime(["2023-03-31", "2024-03-31", "2023-03-31", "2023-03-31"]),
                          "churned": False})
    events = pd.DataFrame({"account_id": ["a", "b", "b"],
                           "churn_date": ["2024-06-01", "2023-03-31", "2023-09-01"]})
    labelled = event_outcomes(panel, events, horizon_days=365)
    # a: the 2024 event is outside the 2023 snapshot's year; b: an event on as_of itself does not count
    assert labelled.churned.tolist() == [False, True, True, False]
    assert labelled.churn_date.iloc[2] == pd.Timestamp("2023-09-01")
    assert not panel.churned.any()  # the input is not changed


def test_usage_ratios_are_derived_and_explained_in_business_language():
    frame, y = _accounts(600)
    rng = np.random.default_rng(2)
    per_user = np.exp(rng.normal(np.log(300.0) - 1.5 * y, 0.8))  # churners use the product less
    frame = frame.assign(events_90d=per_user * frame.tenure_months,
                         active_users=frame.tenure_months, employees=100.0)
    model = ChurnRiskModel(model="logistic", random_state=0).fit(frame, y)
    assert {"events_per_active_user", "active_user_share"} <= set(model.features_)
    text = " ".join(reasons(model, frame.head(20), top=2).text)
    assert "Product events per active user" in text
