"""A small single-table customer file with a known churn model, shared by tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_single_table(n: int, *, seed: int) -> pd.DataFrame:
    """Telco-shaped customers whose churn follows tenure, contract type and charges."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, n)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.5, 0.3, 0.2])
    charges = rng.uniform(20, 120, n).round(2)
    logit = -0.4 - tenure / 18 + 1.4 * (contract == "Month-to-month") + (charges - 70) / 60
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"customerID": [f"C{i:04d}" for i in range(n)], "tenure": tenure,
                         "Contract": contract, "MonthlyCharges": charges,
                         "Churn": np.where(churned, "Yes", "No")})
