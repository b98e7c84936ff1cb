"""Churn-model quality on Telco (single-table form): 5-fold stratified CV, seed 42, no resampling.

Side by side in the same run: ChurnRiskModel (spline logistic, and auto), a plain one-hot +
logistic regression, and a default HistGradientBoosting. Writes
benchmarks/results/bench_quality.json and .md. Targets: ROC AUC >= 0.848, top-decile lift >= 2.85.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier

from icp.backtest import churn_metrics
from icp.churn import ChurnRiskModel
from icp.churn_pipeline import column_kinds, plain_logistic_pipeline

ROOT = Path(__file__).resolve().parents[1]
TELCO = ROOT.parent / "shared" / "datasets" / "telco_churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
RESULTS = ROOT / "benchmarks" / "results"


class PlainLogistic(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.pipe_ = plain_logistic_pipeline(X, column_kinds(X)).fit(X, y)
        self.classes_ = self.pipe_.classes_
        return self

    def predict_proba(self, X):
        return self.pipe_.predict_proba(X)


class DefaultHGB(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        X = X.copy()
        for c in X.columns:
            if not pd.api.types.is_numeric_dtype(X[c]):
                X[c] = X[c].astype("category")
        self.model_ = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=42).fit(X, y)
        self.dtypes_ = X.dtypes
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X.astype(self.dtypes_.to_dict()))


def main() -> int:
    from sklearn.model_selection import StratifiedKFold

    if not TELCO.exists():
        print(f"Telco data not found beside the checkout ({TELCO.name}); nothing to benchmark.")
        return 0
    frame = pd.read_csv(TELCO)
    frame["TotalCharges"] = pd.to_numeric(frame["TotalCharges"], errors="coerce")
    y = frame.pop("Churn").eq("Yes").to_numpy()
    X = frame.drop(columns="customerID")
    models = {
        "ChurnRiskModel (logistic + splines)": ChurnRiskModel(model="logistic", random_state=42),
        "ChurnRiskModel (auto)": ChurnRiskModel(model="auto", random_state=42),
        "plain one-hot + logistic regression": PlainLogistic(),
        "default HistGradientBoosting": DefaultHGB(),
    }
    folds = list(StratifiedKFold(5, shuffle=True, random_state=42).split(X, y))
    rows = []
    for name, model in models.items():
        start = time.perf_counter()
        p = np.zeros(len(y))
        for fit_idx, test_idx in folds:
            fitted = model.__class__(**model.get_params()).fit(X.iloc[fit_idx], y[fit_idx])
            p[test_idx] = fitted.predict_proba(X.iloc[test_idx])[:, 1]
        m = churn_metrics(y, p)
        rows.append({"model": name, **{k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()},
                     "seconds": round(time.perf_counter() - start, 1)})
        print(rows[-1], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"dataset": "IBM Telco customer churn (7,043 customers)", "protocol":
               "5-fold stratified CV, shuffle, seed 42, pooled out-of-fold scores, no resampling",
               "targets": {"roc_auc": 0.848, "top_decile_lift": 2.85}, "results": rows}
    (RESULTS / "bench_quality.json").write_text(json.dumps(payload, indent=2))
    table = pd.DataFrame(rows)[["model", "roc_auc", "pr_auc", "brier", "top_decile_lift", "ece", "seconds"]]
    lines = ["# Churn model quality: Telco, 5-fold stratified CV (seed 42)", "",
             "| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    (RESULTS / "bench_quality.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
