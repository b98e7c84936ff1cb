"""Churn-model quality on Telco (single-table form): 5-fold stratified CV, seed 42, no resampling.

Side by side in the same run: ChurnRiskModel (spline logistic, and auto), a plain one-hot +
logistic regression, and a default HistGradientBoosting. Writes
benchmarks/results/bench_quality.json and .md. Targets: ROC AUC >= 0.848, top-decile lift >= 2.85.

Also, on data/sample: the operational setting "who is about to churn next quarter". Scored at
every quarter end for the renewal decisions of the following quarter (92-day horizon), walking
forward over every quarter whose outcomes are known, each scored by a model trained only on
snapshots whose outcome (and grace period) was over; the pooled out-of-time scores are compared
with the planted true probabilities of the same decisions. And the acceptance setting of the
churn issue: scored at 2024-12-31 for the renewal decisions of the following 365 days, trained on
every snapshot whose outcome was final by then, repeated over seven seeds to show the spread.
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


def sample_walk_forward() -> dict:
    """Quarterly walk-forward on the sample against its planted truth (see the module docstring)."""
    import warnings

    from sklearn.metrics import roc_auc_score

    from icp.backtest import backtest, expected_calibration_error
    from icp.io import load
    from icp.snapshot import quarter_ends, snapshot

    sample = ROOT / "data" / "sample"
    truth = pd.read_csv(sample / "ground_truth" / "renewal_decisions.csv", parse_dates=["decision_date"],
                        dtype={"account_id": str})
    # each decision is scored at the last quarter end before it (the date its true probability uses)
    q = truth["decision_date"].dt.to_period("Q").dt.start_time - pd.Timedelta(days=1)
    truth["fold"] = q.dt.date.astype(str)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = snapshot(load(sample), as_of=quarter_ends("2022Q1:2025Q3"), horizon="92d")
        result = backtest(panel, model=ChurnRiskModel(model="hgb", random_state=42), horizon_days=92)
    d = truth.merge(result.predictions, on=["account_id", "fold"], suffixes=("", "_snapshot"))
    train_rows = result.folds.set_index("fold")["train_rows"]
    out = {"protocol": "quarterly walk-forward, 92-day horizon, labels final 30 days after the window",
           "seconds": round(time.perf_counter() - start, 1)}
    for label, rows in (("every scored quarter", d),
                        ("quarters trained on >= 1,000 decisions", d[d.fold.map(train_rows) >= 1000])):
        model_auc = roc_auc_score(rows.churned, rows.model)
        true_auc = roc_auc_score(rows.churned, rows.churn_probability)
        out[label] = {"decisions": len(rows), "quarters": int(rows.fold.nunique()),
                      "model_auc": round(model_auc, 4), "true_auc": round(true_auc, 4),
                      "ratio": round(model_auc / true_auc, 4),
                      "model_ece": round(expected_calibration_error(rows.churned, rows.model), 4),
                      "true_ece": round(expected_calibration_error(rows.churned, rows.churn_probability), 4)}
    return out


def sample_year_ahead(seeds: tuple[int, ...] = (42, 0, 1, 2, 3, 4, 5)) -> dict:
    """The acceptance setting on the sample: scored at 2024-12-31 for the renewal decisions of the
    following 365 days, trained on every renewal whose outcome was final by then, once per seed."""
    import warnings

    from sklearn.metrics import roc_auc_score

    from icp.backtest import expected_calibration_error, labelled_by
    from icp.io import load
    from icp.snapshot import quarter_ends, snapshot

    sample = ROOT / "data" / "sample"
    scored_at = pd.Timestamp("2024-12-31")
    truth = pd.read_csv(sample / "ground_truth" / "renewal_decisions.csv", parse_dates=["decision_date"],
                        dtype={"account_id": str})
    truth = truth[(truth.decision_date > scored_at) & (truth.decision_date <= scored_at + pd.Timedelta(days=365))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = snapshot(load(sample), as_of=quarter_ends("2022Q2:2024Q4"), horizon="365d")
    due = panel[panel["renewal_due"]]
    train = due[labelled_by(due, scored_at)]
    scored = due[pd.to_datetime(due["as_of"]) == scored_at]
    runs = []
    for seed in seeds:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ChurnRiskModel(model="hgb", random_state=seed).fit(train, train["churned"])
        p = pd.Series(model.predict_proba(scored)[:, 1], index=scored["account_id"].to_numpy())
        d = truth.assign(p=truth.account_id.map(p)).dropna(subset=["p"])
        true_auc = roc_auc_score(d.churned, d.churn_probability)
        runs.append({"seed": seed, "decisions": len(d), "model_auc": round(roc_auc_score(d.churned, d.p), 4),
                     "true_auc": round(true_auc, 4), "ratio": round(roc_auc_score(d.churned, d.p) / true_auc, 4),
                     "model_ece": round(expected_calibration_error(d.churned, d.p), 4),
                     "true_ece": round(expected_calibration_error(d.churned, d.churn_probability), 4),
                     "mean_predicted": round(float(d.p.mean()), 4), "observed": round(float(d.churned.mean()), 4),
                     "seconds": round(time.perf_counter() - start, 1)})
        print(runs[-1], flush=True)
    ece = [r["model_ece"] for r in runs]
    return {"protocol": "scored at 2024-12-31, renewal decisions of the following 365 days; trained on the "
                        f"{len(train):,} snapshot rows whose outcome was final by then",
            "targets": {"ratio": 0.95, "model_ece": 0.03}, "runs": runs,
            "ece_mean": round(float(np.mean(ece)), 4), "ece_max": max(ece),
            "seeds_meeting_ece_target": sum(e <= 0.03 for e in ece)}


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
    sample = sample_walk_forward()
    print(sample, flush=True)
    year = sample_year_ahead()
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"sample_year_ahead": year, "sample_quarterly_walk_forward": sample, "dataset": "IBM Telco customer churn (7,043 customers)", "protocol":
               "5-fold stratified CV, shuffle, seed 42, pooled out-of-fold scores, no resampling",
               "targets": {"roc_auc": 0.848, "top_decile_lift": 2.85}, "results": rows}
    (RESULTS / "bench_quality.json").write_text(json.dumps(payload, indent=2))
    table = pd.DataFrame(rows)[["model", "roc_auc", "pr_auc", "brier", "top_decile_lift", "ece", "seconds"]]
    lines = ["# Churn model quality: Telco, 5-fold stratified CV (seed 42)", "",
             "| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    lines += ["", "# Sample: quarterly walk-forward against the planted true probabilities", "",
              "| decisions pooled | quarters | model AUC | true AUC | ratio | model ECE | true ECE |",
              "|---|---|---|---|---|---|---|"]
    for label in ("every scored quarter", "quarters trained on >= 1,000 decisions"):
        r = sample[label]
        lines.append(f"| {label}: {r['decisions']} | {r['quarters']} | {r['model_auc']} | {r['true_auc']} | "
                     f"{r['ratio']} | {r['model_ece']} | {r['true_ece']} |")
    lines += ["", "# Sample: scored at 2024-12-31 for the renewal decisions of the next 365 days, per seed", "",
              f"{year['protocol']}. Targets: AUC ratio >= 0.95, ECE <= 0.03.", "",
              "| seed | decisions | model AUC | true AUC | ratio | model ECE | true ECE | mean predicted | observed |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in year["runs"]:
        lines.append(f"| {r['seed']} | {r['decisions']} | {r['model_auc']} | {r['true_auc']} | {r['ratio']} | "
                     f"{r['model_ece']} | {r['true_ece']} | {r['mean_predicted']} | {r['observed']} |")
    lines += ["", f"ECE mean {year['ece_mean']}, max {year['ece_max']}; {year['seeds_meeting_ece_target']} of "
              f"{len(year['runs'])} seeds meet the target."]
    (RESULTS / "bench_quality.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
