"""Backtests and metrics: only out-of-sample numbers, never a training row from the future."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from icp.backtest import (
    backtest,
    calibration_table,
    churn_metrics,
    cross_validate,
    expected_calibration_error,
    labelled_by,
    lift_table,
    top_decile_lift,
)
from icp.churn import ChurnRiskModel


def _panel(n_accounts: int = 250, quarters: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2021-03-31", periods=quarters, freq="QE")
    panel = pd.DataFrame(
        {
            "account_id": np.tile([f"A{i}" for i in range(n_accounts)], quarters),
            "as_of": np.repeat(dates, n_accounts),
            "usage": rng.normal(size=n_accounts * quarters),
            "renewal_due": True,
        }
    )
    panel["churned"] = rng.random(len(panel)) < 1 / (1 + np.exp(1.5 + 1.5 * panel.usage))
    return panel


def test_metrics_match_hand_computed_values():
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.1, 0.2, 0.1, 0.3, 0.2, 0.1, 0.1, 0.2, 0.4])
    assert top_decile_lift(y, p) == 5.0
    m = churn_metrics(y, p)
    assert m["roc_auc"] == 1.0 and m["accounts"] == 10
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    table = calibration_table([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.6], n_bins=2)
    assert table.observed.tolist() == [0.0, 1.0]
    assert expected_calibration_error([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.6], n_bins=2) == pytest.approx(0.275)
    assert lift_table(y, p, n_bins=5).decile.tolist() == [1, 2, 3, 4, 5]


def test_true_probabilities_have_a_small_but_nonzero_calibration_error():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 20_000)
    y = rng.random(20_000) < p
    assert expected_calibration_error(y, p) < 0.02
    assert expected_calibration_error(y, np.clip(p + 0.1, 0, 1)) > 0.07


class _Spy(ChurnRiskModel):
    """Records the as_of dates each fit saw."""

    seen: list = []

    def fit(self, X, y):
        _Spy.seen.append((pd.to_datetime(X["as_of"]).max(), len(X)))
        return super().fit(X, y)


def test_walk_forward_trains_only_on_snapshots_whose_outcome_window_closed():
    _Spy.seen = []
    panel = _panel()
    panel.attrs["grace_period_days"] = 30  # a churn is only final 30 days after the window
    result = backtest(panel, model=_Spy(model="logistic"), horizon_days=365, min_train_rows=200)
    scored = pd.to_datetime(result.predictions["fold"].unique())
    assert len(scored) == len(_Spy.seen)
    for q, (latest_train, _) in zip(sorted(scored), _Spy.seen):
        assert latest_train + pd.Timedelta(days=395) <= q
    assert result.kind == "time"
    assert result.summary.loc["model", "roc_auc"] > 0.7
    assert set(result.summary.index) == {"model", "baseline"}


class _Rows(ChurnRiskModel):
    """Records the rows each fit saw."""

    seen: list = []

    def fit(self, X, y):
        _Rows.seen.append(X[["account_id", "as_of", "label_final_on"]].copy())
        return super().fit(X, y)


def test_walk_forward_trains_on_every_snapshot_whose_outcome_was_final_however_recent():
    _Rows.seen = []
    panel = _panel()
    rng = np.random.default_rng(1)
    # decisions spread over the year after each snapshot; final 30 days after the decision
    panel["label_final_on"] = panel["as_of"] + pd.to_timedelta(rng.integers(1, 366, len(panel)) + 30, unit="D")
    result = backtest(panel, model=_Rows(model="logistic"), horizon_days=365, min_train_rows=200)
    scored = sorted(pd.to_datetime(result.predictions["fold"].unique()))
    assert len(scored) == len(_Rows.seen)
    for q, rows in zip(scored, _Rows.seen):
        assert (rows["label_final_on"] <= q).all() and (rows["as_of"] < q).all()
        known = panel[(panel["as_of"] < q) & (panel["label_final_on"] <= q)]
        assert len(rows) == len(known)  # ... and all of them, including snapshots of the last year
        assert (rows["as_of"] + pd.Timedelta(days=395) > q).any()


def test_labelled_by_falls_back_to_the_whole_horizon_and_grace_period_without_label_final_on():
    panel = pd.DataFrame({"as_of": pd.to_datetime(["2023-09-30", "2023-12-31", "2024-12-31"])})
    panel.attrs["grace_period_days"] = 30
    # 2023-12-31 + 365 + 30 days (2024 is a leap year) = 2025-01-29
    assert labelled_by(panel, "2025-01-29").tolist() == [True, True, False]
    assert labelled_by(panel, "2025-01-28").tolist() == [True, False, False]
    assert labelled_by(panel, "2025-01-28", label_delay_days=0).tolist() == [True, True, False]


def test_last_quarters_limits_the_backtest_to_the_most_recent_scoreable_quarters():
    panel = _panel()
    full = backtest(panel, model=ChurnRiskModel(model="logistic"), horizon_days=365)
    recent = backtest(panel, model=ChurnRiskModel(model="logistic"), horizon_days=365, last_quarters=2)
    assert sorted(recent.predictions.fold.unique()) == sorted(full.predictions.fold.unique())[-2:]


def test_quarters_with_incomplete_outcomes_are_not_scored():
    panel = _panel()
    last = panel.as_of.max()
    panel["horizon_complete"] = panel.as_of < last
    result = backtest(panel, model=ChurnRiskModel(model="logistic"), horizon_days=365)
    assert str(last.date()) not in set(result.predictions.fold)


def test_cross_validation_scores_every_row_once_out_of_fold():
    panel = _panel(quarters=1, n_accounts=600).drop(columns=["as_of", "renewal_due"])
    result = cross_validate(panel, model=ChurnRiskModel(model="logistic"), n_splits=5, random_state=42)
    assert sorted(result.predictions.account_id) == sorted(panel.account_id)
    assert result.predictions.fold.nunique() == 5
    data = result.to_dict()
    assert data["summary"]["model"]["roc_auc"] > 0.7
    assert len(data["calibration"]["model"]) == 10


def test_no_signal_gives_near_chance_metrics_and_a_warning():
    from icp.exceptions import DataQualityWarning

    panel = _panel(quarters=1, n_accounts=600).drop(columns=["as_of", "renewal_due"])
    panel["churned"] = np.random.default_rng(9).random(len(panel)) < 0.25
    with pytest.warns(DataQualityWarning, match="Weak signal"):
        result = cross_validate(panel, model=ChurnRiskModel(model="logistic"), n_splits=5)
    assert abs(result.summary.loc["model", "roc_auc"] - 0.5) < 0.1


def test_churn_figures_draw_from_results():
    import matplotlib

    matplotlib.use("Agg")
    from icp.plotting.churn import plot_calibration, plot_drivers, plot_lift, plot_retention_by_band
    from icp.reasons import drivers
    from icp.survival import kaplan_meier_by_band

    panel = _panel(quarters=1, n_accounts=600).drop(columns=["renewal_due"])
    result = cross_validate(panel.drop(columns="as_of"), model=ChurnRiskModel(model="logistic"), n_splits=3)
    assert plot_calibration(result).get_title()
    assert len(plot_lift(result).patches) == 10
    model = ChurnRiskModel(model="logistic").fit(panel, panel.churned)
    assert plot_drivers(drivers(model, panel)).get_xlabel()
    panel["churn_date"] = pd.NaT
    km = kaplan_meier_by_band(panel, np.where(panel.usage > 0, "low", "high"), horizon_days=365)
    assert plot_retention_by_band(km).get_legend() is not None


def test_out_of_fold_scores_match_cross_validation_and_give_reasons_to_current_customers():
    from icp.risk import out_of_fold_scores

    panel = _panel(quarters=1, n_accounts=400).drop(columns=["as_of", "renewal_due"])
    panel.index = panel.index + 1000  # the caller's index is kept
    oof = out_of_fold_scores(panel, ChurnRiskModel(model="logistic"), random_state=3)
    assert oof.index.equals(panel.index)
    cv = cross_validate(panel, model=ChurnRiskModel(model="logistic"), random_state=3).predictions
    expected = cv.set_index(cv["account_id"].astype(str))["model"].reindex(oof["account_id"])
    np.testing.assert_allclose(oof["churn_probability"].to_numpy(), expected.to_numpy(), rtol=1e-9)
    current = ~panel["churned"].astype(bool).to_numpy()
    assert oof.loc[current, "reasons"].str.contains("risk").all()
    assert oof.loc[~current, "reasons"].isna().all()  # no reasons computed for the churned rows


def test_out_of_fold_scores_keep_the_family_chosen_on_the_first_fold():
    from icp.risk import out_of_fold_scores

    panel = _panel(quarters=1, n_accounts=400).drop(columns=["as_of", "renewal_due"])
    _, models = out_of_fold_scores(panel, ChurnRiskModel(model="auto"), cv=3, return_models=True)
    assert len(models) == 3 and len({m.model_ for m in models}) == 1


def test_out_of_fold_scores_with_too_few_churners_raise_a_clear_error():
    from icp.exceptions import InsufficientDataError
    from icp.risk import out_of_fold_scores

    panel = _panel(quarters=1, n_accounts=100).drop(columns=["as_of", "renewal_due"])
    panel["churned"] = np.arange(len(panel)) < 3
    with pytest.raises(InsufficientDataError, match="at least 5 churned"):
        out_of_fold_scores(panel, ChurnRiskModel(model="logistic"))
