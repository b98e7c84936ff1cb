"""``icp risk``: the churn-risk list of current customers, with honest backtest metrics."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from icp.cli import _common

ORDER = 60

_OPTIONAL_INPUTS = {"segments.csv": ("segment",), "grades.csv": ()}


def register(subparsers: Any) -> None:
    """Add the ``risk`` sub-command."""
    parser = subparsers.add_parser(
        "risk",
        help="score churn risk of current customers: probability, band, ARR at risk, reasons",
        description=(
            "Fit a calibrated churn model on past snapshots (multi-table form) or on the customer "
            "table (single-table form), test it honestly (walk-forward backtest, or stratified "
            "5-fold cross-validation) against a plain logistic baseline, and score the current "
            "customers. Writes risk_scores.csv and model_metrics.json. Joins segments.csv "
            "(icp segment) and grades.csv (icp grade) when they are in --out."
        ),
    )
    _common.add_data_arguments(parser)
    parser.add_argument("--as-of", dest="as_of", metavar="DATE",
                        help="scoring date, e.g. 2025-06-30 or 2025Q2 (required for the multi-table form)")
    parser.add_argument("--model", default="auto", choices=("auto", "hgb", "logistic"),
                        help="gradient boosting, spline logistic regression, or auto (chosen by inner CV)")
    parser.add_argument("--history-quarters", dest="history", type=int, default=16, metavar="N",
                        help="quarter-end snapshots before --as-of used for training and backtest (default 16)")
    parser.add_argument("--backtest-quarters", dest="backtest_quarters", type=int, default=4, metavar="N",
                        help="most recent quarters scored in the walk-forward backtest (default 4)")
    parser.add_argument("--top-reasons", dest="top", type=int, default=3, metavar="N",
                        help="drivers listed per account (default 3)")
    parser.set_defaults(handler=run)


def _quarter_ends_before(as_of: dt.date, n: int) -> list[dt.date]:
    ends = pd.date_range(end=pd.Timestamp(as_of), periods=n + 1, freq="QE")
    dates = [d.date() for d in ends if d.date() < as_of]
    return [*dates, as_of]


def _joined_inputs(out: Path) -> dict[str, pd.DataFrame]:
    found = {}
    for name in _OPTIONAL_INPUTS:
        path = out / name
        if path.exists():
            table = pd.read_csv(path, dtype={"account_id": str})
            if "account_id" in table.columns:
                found[name] = table
    return found


def _progress_bar():
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                    console=_common.console_err, transient=True)


def _event_file(dataset: Any) -> tuple[Path, str, str] | None:
    """The dated churn-events file declared under churn_labels, if any: (path, account column, date column)."""
    source = Path(str(dataset.source))
    folder = source if source.is_dir() else source.parent
    for entry in dataset.config.get("churn_labels") or []:
        if isinstance(entry, dict) and entry.get("file"):
            path = folder / str(entry["file"])
            if path.exists():
                return path, str(entry.get("account_column", "account_id")), str(entry.get("date_column", "churn_date"))
    return None


def _labelled(panel: pd.DataFrame, as_of: dt.date, horizon: int, delay: int) -> pd.DataFrame:
    """Snapshots before as_of whose outcome was final by as_of (:func:`icp.backtest.labelled_by`)."""
    from icp.backtest import labelled_by

    return panel[labelled_by(panel, as_of, horizon_days=horizon, label_delay_days=delay)]


def _due(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["renewal_due"].fillna(False).astype(bool).to_numpy()] if "renewal_due" in frame else frame


def _time_to_churn(result: Any, history: pd.DataFrame, train: pd.DataFrame, features: list[str],
                   bands: Any, horizon: int, out: Path) -> dict[str, Any]:
    """Kaplan-Meier by risk band of the out-of-time scores, and a Cox model on the training rows."""
    from icp.exceptions import InsufficientDataError
    from icp.risk import risk_band
    from icp.survival import fit_cox, kaplan_meier_by_band

    found: dict[str, Any] = {}
    if result.kind == "time" and "churn_date" in history.columns:
        keyed = history.assign(fold=pd.to_datetime(history["as_of"]).dt.date.astype(str),
                               account_id=history["account_id"].astype(str))
        scored = result.predictions.assign(account_id=lambda f: f["account_id"].astype(str)).merge(
            keyed[["account_id", "fold", "as_of", "churn_date"]], on=["account_id", "fold"], how="left")
        scored.attrs = dict(history.attrs)
        km = kaplan_meier_by_band(scored, risk_band(scored["model"], bands), horizon_days=horizon)
        found["kaplan_meier_by_band"] = {
            "scores": "out-of-time scores of the backtest, by the risk band of their probability",
            "summary": km.summary.astype(object).where(km.summary.notna(), None).to_dict("records"),
        }
    from icp.churn_pipeline import derive_features

    try:
        cox = fit_cox(derive_features(train), features, horizon_days=horizon)
    except InsufficientDataError as exc:
        found["cox"] = {"error": str(exc)}
        return found
    table = cox.summary.reset_index()
    table.to_csv(out / "cox_summary.csv", index=False)
    found["cox"] = {
        "fitted_on": f"{len(train):,} labelled training snapshot rows (concordance is in-sample)",
        "concordance": cox.concordance, "penalizer": cox.penalizer, "dropped": dict(cox.dropped),
        "proportional_hazards_violations": list(cox.violations), "notes": list(cox.notes),
        "summary": table.astype(object).where(table.notna(), None).to_dict("records"),
        "file": "cox_summary.csv",
    }
    return found


def run(args: argparse.Namespace) -> int:
    """Fit, backtest and score; write risk_scores.csv and model_metrics.json."""

    from icp.backtest import BacktestResult, BaselineModel, backtest, cross_validate
    from icp.churn import ChurnRiskModel
    from icp.exceptions import DataQualityWarning, InsufficientDataError, SchemaError
    from icp.risk import RISK_COLUMNS, event_outcomes, out_of_fold_scores, rank_risk, risk_scores
    from icp.snapshot import parse_as_of, snapshot

    started = time.perf_counter()
    dataset = _common.load_from_args(args)
    config = dataset.config
    seed = int(config.get("random_state", 42))
    exclude = tuple({*dataset.excluded_columns, *(config.get("exclude") or [])})
    model = ChurnRiskModel(
        model=args.model,
        exclude=exclude,
        allow_leaky=tuple(config.get("allow_leaky") or ()),
        leakage_threshold=float(config.get("leakage_auc_threshold", 0.98)),
        random_state=seed,
    )
    out = _common.out_dir(args)
    label_source = "contracts"
    survival: dict[str, Any] = {}
    oof = None
    with warnings.catch_warnings(record=True) as records, _progress_bar() as bar:
        warnings.simplefilter("always")
        task = bar.add_task("Backtesting the churn model", total=None)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=f"Backtesting: {label}")

        if dataset.form == "single":
            frame = snapshot(dataset)
            # One stratified 5-fold pass gives both the quality check and the risk list: the current
            # customers (not marked churned) would be scored in sample by a model fitted on them, so
            # each is scored, with reasons, by the fold model that never saw it. With --model auto the
            # family is chosen on the first fold's training rows, never on rows it then scores.
            oof = out_of_fold_scores(frame, model, cv=5, random_state=seed, bands=config.get("risk_bands"),
                                     top_reasons=args.top, progress=progress,
                                     baseline=BaselineModel(**model.get_params()))
            result = BacktestResult.from_predictions("cv", pd.DataFrame({
                "account_id": oof["account_id"].to_numpy(), "fold": oof["fold"].to_numpy(),
                "churned": oof["churned"].to_numpy(dtype=bool),
                "model": oof["churn_probability"].to_numpy(dtype=float),
                "baseline": oof["baseline_probability"].to_numpy(dtype=float)}),
                oof.groupby("fold").size().rename("scored_rows").reset_index().assign(
                    fold=lambda f: f["fold"].astype(str), train_rows=lambda f: len(oof) - f["scored_rows"]))
            bar.update(task, description="Fitting the churn model on every customer (for its description)")
            fitted = model.fit(frame, frame["churned"].astype(bool))
            as_of, horizon, train, history = None, None, frame, frame
        else:
            if not args.as_of:
                raise SchemaError(
                    "icp risk needs a scoring date for the multi-table form. Expected --as-of DATE. "
                    "Found none. Use for example --as-of 2025-06-30 (or 2025Q2)."
                )
            as_of = parse_as_of(args.as_of)[-1]
            horizon = int(config.get("horizon_days", 365))
            delay = int(config.get("grace_period_days", 30))
            bar.update(task, description="Building quarterly snapshots")
            panel = snapshot(dataset, as_of=_quarter_ends_before(as_of, args.history), progress=progress)
            history = panel[pd.to_datetime(panel["as_of"]) < pd.Timestamp(as_of)]
            closed = _labelled(history, as_of, horizon, delay)
            train = _due(closed)
            churners = int(train["churned"].astype(bool).sum()) if "churned" in train else 0
            events = _event_file(dataset)
            if churners < 10 and events is not None:
                path, account_column, date_column = events
                table = pd.read_csv(path, dtype={account_column: str})
                table = table.rename(columns={account_column: "account_id", date_column: "churn_date"})
                history = event_outcomes(history, table, horizon_days=horizon)
                closed = _labelled(history, as_of, horizon, delay)
                train = closed
                label_source = f"churn events ({path.name})"
                warnings.warn(
                    f"Only {churners} account(s) with a renewal decision churned in the contract history "
                    f"whose outcome is known. Expected 10 or more. Churn is labelled from the dated churn "
                    f"events in {path.name} instead (a churn event within {horizon} days after each "
                    f"snapshot; {int(train['churned'].sum())} of {len(train):,} labelled snapshot rows churned).",
                    DataQualityWarning, stacklevel=1)
            elif churners < 10:
                warnings.warn(
                    f"Only {churners} account(s) with a renewal decision churned in the closed history. "
                    "Expected 10 or more. The model is trained on every active account instead "
                    "(churned within the horizon or not).",
                    DataQualityWarning, stacklevel=1)
                train = closed
            population = "renewal_due" if label_source == "contracts" and len(_due(closed)) == len(train) else None
            bar.update(task, description="Fitting the churn model")
            fitted = model.fit(train, train["churned"].astype(bool))
            # every backtest quarter chooses the model family again, on its own training rows only:
            # a family chosen on all history would carry a little of the later labels into the test
            try:
                result = backtest(history, model=model, horizon_days=horizon, random_state=seed,
                                  population=population, label_delay_days=delay,
                                  last_quarters=args.backtest_quarters, progress=progress)
            except InsufficientDataError as exc:
                # too short a history to walk forward: an account-grouped cross-validation on the
                # snapshots whose outcomes are known is the honest fallback, flagged as such
                warnings.warn(
                    f"{exc} The metrics come from a 5-fold cross-validation grouped by account on "
                    f"the {len(train):,} snapshot rows with known outcomes instead, which is less "
                    "strict than a walk-forward backtest.",
                    DataQualityWarning, stacklevel=1)
                folds = max(2, min(5, int(train["churned"].astype(bool).sum())))
                result = cross_validate(train, model=model, n_splits=folds, random_state=seed, progress=progress)
            current = panel[pd.to_datetime(panel["as_of"]) == pd.Timestamp(as_of)]
            bar.update(task, description="Time to churn: Kaplan-Meier and Cox")
            survival = _time_to_churn(result, history, train, list(fitted.features_),
                                      config.get("risk_bands"), horizon, out)
        extra = _joined_inputs(out)
        if oof is not None:
            rows = oof[~oof["churned"].to_numpy(dtype=bool)]
            scores = rank_risk(rows[list(RISK_COLUMNS)], segments=extra.get("segments.csv"),
                               grades=extra.get("grades.csv"))
            scoring = (f"out of fold: the {len(rows):,} current customers (not marked as churned) were each "
                       "scored, with reasons, by the one of the 5 cross-validation models that did not see them")
        else:
            bar.update(task, description="Scoring current customers")
            scores = risk_scores(fitted, current, bands=config.get("risk_bands"), top_reasons=args.top,
                                 segments=extra.get("segments.csv"), grades=extra.get("grades.csv"))
            scoring = (f"a model fitted on the {len(train):,} labelled training rows before {as_of.isoformat()} "
                       f"scored the {len(scores):,} customers active on {as_of.isoformat()}")
        caught = [str(r.message) for r in records if issubclass(r.category, UserWarning)]
    scores.to_csv(out / "risk_scores.csv", index=False)
    metrics = {
        "as_of": as_of.isoformat() if as_of else None,
        "horizon_days": horizon,
        "form": dataset.form,
        "churn_label_source": label_source,
        "model": fitted.model_,
        "model_selection": None if fitted.selection_ is None else fitted.selection_.reset_index().to_dict("records"),
        "model_selection_note": (
            ("model kind chosen by inner cross-validated log loss on the first fold's training rows and "
             "kept for the other folds" if oof is not None else
             "model kind chosen by inner cross-validated log loss on the training rows; every backtest "
             "quarter chose again on its own training rows") if args.model == "auto"
            else "model kind given by --model"),
        "training_rows": len(train),
        "model_scoring_note": (
            "the model, model_selection, features and dropped_columns above describe a fit on all training "
            "rows; in the single-table form the risk scores come from the cross-validation fold models"
            if oof is not None else "the model above, fitted on the training rows, scored the current customers"),
        "features": list(fitted.features_),
        "dropped_columns": dict(fitted.dropped_),
        "scoring": scoring,
        "evaluation": result.to_dict(),
        "time_to_churn": survival,
        "risk_bands": dict(config.get("risk_bands") or {}),
        "accounts_scored": len(scores),
        "arr_at_risk_usd": float(scores["arr_at_risk_usd"].sum(skipna=True)),
        "seconds": round(time.perf_counter() - started, 1),
        "warnings": sorted(set(caught)),
    }
    (out / "model_metrics.json").write_text(json.dumps(metrics, indent=2, default=str), encoding="utf-8")
    _print(result, scores, metrics, out)
    return 0


def _print(result: Any, scores: pd.DataFrame, metrics: dict[str, Any], out: Path) -> None:
    from rich.table import Table

    console = _common.console
    kind = "walk-forward backtest" if result.kind == "time" else "5-fold stratified cross-validation"
    table = Table(title=f"Churn model, out of sample ({kind})")
    for column in ("", "accounts", "ROC AUC", "PR AUC", "Brier", "top-decile lift", "ECE"):
        table.add_column(column, justify="right")
    for name, row in result.summary.iterrows():
        label = f"{metrics['model']} model" if name == "model" else "baseline (plain logistic)"
        table.add_row(label, f"{int(row['accounts']):,}", f"{row['roc_auc']:.3f}", f"{row['pr_auc']:.3f}",
                      f"{row['brier']:.3f}", f"{row['top_decile_lift']:.2f}", f"{row['ece']:.3f}")
    console.print(table)
    for message in metrics["warnings"]:
        _common.console_err.print(f"[yellow]Warning:[/] {message}")
    bands = scores.groupby("risk_band", sort=False).agg(
        accounts=("account_id", "size"), arr_at_risk_usd=("arr_at_risk_usd", "sum"))
    with_arr = scores["arr_usd"].notna().any()
    console.print("Accounts by risk band: " + ", ".join(
        f"{band} {int(r.accounts):,}" + (f" (${r.arr_at_risk_usd:,.0f} ARR at risk)" if with_arr else "")
        for band, r in bands.iterrows()))
    cox = (metrics.get("time_to_churn") or {}).get("cox") or {}
    if "concordance" in cox:
        console.print(f"Time to churn: Cox model concordance {cox['concordance']:.3f} "
                      f"({len(cox['proportional_hazards_violations'])} covariate(s) with time-varying effects); "
                      "Kaplan-Meier by risk band in model_metrics.json")
    written = "risk_scores.csv, model_metrics.json" + (" and cox_summary.csv" if "concordance" in cox else "")
    console.print(f"Wrote {written} to {out}/")
