"""``icp risk``: the churn-risk list of current customers, with honest backtest metrics."""

from __future__ import annotations

import argparse
import datetime as dt
import json
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


def run(args: argparse.Namespace) -> int:
    """Fit, backtest and score; write risk_scores.csv and model_metrics.json."""
    from icp.backtest import backtest, cross_validate
    from icp.churn import ChurnRiskModel
    from icp.exceptions import DataQualityWarning, InsufficientDataError, SchemaError
    from icp.risk import risk_scores
    from icp.snapshot import parse_as_of, snapshot

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
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as records, _progress_bar() as bar:
        warnings.simplefilter("always")
        task = bar.add_task("Backtesting the churn model", total=None)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=f"Backtesting: {label}")

        if dataset.form == "single":
            frame = snapshot(dataset)
            result = cross_validate(frame, model=model, n_splits=5, random_state=seed, progress=progress)
            fitted = model.fit(frame, frame["churned"].astype(bool))
            current = frame[~frame["churned"].astype(bool)]
            as_of, horizon, train_rows = None, None, len(frame)
        else:
            if not args.as_of:
                raise SchemaError(
                    "icp risk needs a scoring date for the multi-table form. Expected --as-of DATE. "
                    "Found none. Use for example --as-of 2025-06-30 (or 2025Q2)."
                )
            as_of = parse_as_of(args.as_of)[-1]
            horizon = int(config.get("horizon_days", 365))
            bar.update(task, description="Building quarterly snapshots")
            panel = snapshot(dataset, as_of=_quarter_ends_before(as_of, args.history), progress=progress)
            history = panel[pd.to_datetime(panel["as_of"]) < pd.Timestamp(as_of)]
            closed = history[pd.to_datetime(history["as_of"]) + pd.Timedelta(days=horizon) <= pd.Timestamp(as_of)]
            population = "renewal_due" if "renewal_due" in closed else None
            train = closed[closed["renewal_due"].fillna(False).astype(bool)] if population else closed
            if population and int(train["churned"].astype(bool).sum()) < 10:
                warnings.warn(
                    f"Only {int(train['churned'].astype(bool).sum())} account(s) with a renewal decision "
                    "churned in the closed history. Expected 10 or more. The model is trained on every "
                    "active account instead (churned within the horizon or not).",
                    DataQualityWarning, stacklevel=1)
                population, train = None, closed
            try:
                result = backtest(history, model=model, horizon_days=horizon, random_state=seed,
                                  population=population, progress=progress)
            except InsufficientDataError as exc:
                # too short a history to walk forward: an account-grouped cross-validation on the
                # snapshots whose outcomes are known is the honest fallback, flagged as such
                warnings.warn(
                    f"{exc} The metrics come from a 5-fold cross-validation grouped by account on "
                    f"the {len(train):,} snapshot rows with known outcomes instead, which is less "
                    "strict than a walk-forward backtest.",
                    DataQualityWarning, stacklevel=1)
                result = cross_validate(train, model=model, n_splits=5, random_state=seed, progress=progress)
            fitted = model.fit(train, train["churned"].astype(bool))
            current = panel[pd.to_datetime(panel["as_of"]) == pd.Timestamp(as_of)]
            train_rows = len(train)
        bar.update(task, description="Scoring current customers")
        extra = _joined_inputs(out)
        scores = risk_scores(fitted, current, bands=config.get("risk_bands"), top_reasons=args.top,
                             segments=extra.get("segments.csv"), grades=extra.get("grades.csv"))
        caught = [str(r.message) for r in records if issubclass(r.category, UserWarning)]
    scores.to_csv(out / "risk_scores.csv", index=False)
    metrics = {
        "as_of": as_of.isoformat() if as_of else None,
        "horizon_days": horizon,
        "form": dataset.form,
        "model": fitted.model_,
        "model_selection": None if fitted.selection_ is None else fitted.selection_.reset_index().to_dict("records"),
        "training_rows": train_rows,
        "features": list(fitted.features_),
        "dropped_columns": dict(fitted.dropped_),
        "evaluation": result.to_dict(),
        "risk_bands": dict(config.get("risk_bands") or {}),
        "accounts_scored": len(scores),
        "arr_at_risk_usd": float(scores["arr_at_risk_usd"].sum(skipna=True)),
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
    console.print(f"Wrote risk_scores.csv and model_metrics.json to {out}/")
