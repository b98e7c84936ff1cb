"""Time to churn: Kaplan-Meier by risk band and a Cox model that does not crash on bad columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from icp.survival import churn_durations, fit_cox, kaplan_meier_by_band


def _scored(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    as_of = pd.Timestamp("2024-03-31")
    churned = rng.random(n) < 1 / (1 + np.exp(1 - 1.5 * risk))
    days = rng.integers(1, 365, n)
    return pd.DataFrame(
        {
            "as_of": as_of,
            "risk": risk,
            "risk_copy": risk * 2.0,  # collinear
            "constant": 3.0,
            "plan": rng.choice(["a", "b"], n),
            "churned": churned,
            "churn_date": np.where(churned, as_of + pd.to_timedelta(days, unit="D"), pd.NaT),
            "band": np.where(risk > 0.5, "high", "low"),
        }
    )


def test_durations_are_days_to_churn_or_censored_at_the_horizon():
    frame = _scored()
    d = churn_durations(frame, horizon_days=365)
    assert (d.loc[~frame.churned, "duration_days"] == 365).all()
    assert (d.loc[frame.churned, "duration_days"] < 365).all()


def test_high_risk_band_retains_fewer_accounts():
    frame = _scored()
    km = kaplan_meier_by_band(frame, frame.band, horizon_days=365)
    retained = km.summary.set_index("risk_band")["retained_at_end"]
    assert retained["high"] < retained["low"]
    assert {"days", "retained", "lower", "upper"} <= set(km.curves.columns)


def test_cox_drops_constant_and_collinear_columns_and_finds_the_driver():
    frame = _scored()
    result = fit_cox(frame, ["risk", "risk_copy", "constant", "plan"], horizon_days=365)
    assert result.dropped["constant"] == "constant"
    assert result.dropped["risk_copy"].startswith("collinear")
    assert result.summary.loc["risk", "hazard_ratio"] > 1.5
    assert "ph_p" in result.summary.columns
    assert 0.5 < result.concordance <= 1.0
