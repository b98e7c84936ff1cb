"""``icp grade``: quarterly, annual and strategic A/B/C/D grades from a worksheet."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from icp.cli import _common

ORDER = 70

_FIT_FILE, _RISK_FILE = "icp_membership.csv", "risk_scores.csv"


def register(subparsers: Any) -> None:
    """Add the ``grade`` sub-command."""
    parser = subparsers.add_parser(
        "grade",
        help="grade customers A to D (quarterly, annual, strategic) with a worksheet",
        description=(
            "Grade every active account A to D in three cadences with a worksheet (the default "
            "is documented in the worksheet.yaml that this command writes). Writes grades.csv, "
            "the worksheet used, the grade migration since the previous quarter, the account "
            "managers' view beside the analytical one, and a validity backtest. Uses "
            f"{_FIT_FILE} (icp discover) and {_RISK_FILE} (icp risk) when they are in --out."
        ),
    )
    _common.add_data_arguments(parser)
    parser.add_argument("--as-of", dest="as_of", metavar="DATE",
                        help="grading date, e.g. 2025-06-30 (required for the multi-table form)")
    parser.add_argument("--worksheet", metavar="FILE",
                        help="a worksheet YAML (default: icp.yaml's worksheet, else the built-in one)")
    parser.add_argument("--previous", metavar="DATE",
                        help="the earlier grading date of the migration matrix "
                             "(default: the quarter end before --as-of)")
    parser.add_argument("--backtest-as-of", dest="backtest_as_of", metavar="DATE",
                        help="grading date of the validity backtest (default: the latest quarter "
                             "end at least one horizon before --as-of)")
    parser.add_argument("--no-backtest", dest="backtest", action="store_false",
                        help="skip the validity backtest")
    parser.set_defaults(handler=run)


def _worksheet(path: Any, config: Any = None) -> Any:
    from icp.worksheet import default_worksheet, load_worksheet

    if path is None:
        return default_worksheet()
    path = Path(path)
    if not path.is_absolute() and config is not None and config.path is not None:
        path = Path(config.path).parent / path  # a worksheet named in icp.yaml: relative to it
    return load_worksheet(path)


def _optional_input(out: Path, name: str, column: str, notes: list[str]) -> pd.Series | None:
    path = out / name
    if not path.exists():
        notes.append(f"{name} not found in {out}: the criteria that need it are skipped.")
        return None
    frame = pd.read_csv(path, dtype={"account_id": str})
    if "account_id" not in frame.columns or column not in frame.columns:
        notes.append(f"{name} has no account_id and {column} columns: it was not used.")
        return None
    notes.append(f"Used {column} from {name}.")
    return frame.drop_duplicates("account_id", keep="last").set_index("account_id")[column]


def _long(matrix: pd.DataFrame, name: str) -> pd.DataFrame:
    return matrix.stack().rename(name).reset_index()


def _criteria_used(result: Any, cadence: str) -> set[str]:
    c = result.criteria
    return set(c.loc[(c["status"] == "used") & (c[f"weight_{cadence}"] > 0), "criterion"])


def _migration(data: Any, args: argparse.Namespace, result: Any, worksheet: Any,
               icp_fit: Any, out: Path, notes: list[str]) -> list[str]:
    from icp.grade_review import features_only
    from icp.grading import grade_accounts, grade_migration
    from icp.snapshot import snapshot
    from icp.worksheet import CADENCES

    as_of = pd.Timestamp(args.as_of)
    previous = pd.Timestamp(args.previous) if args.previous else as_of - pd.offsets.QuarterEnd()
    with _common.console.status(f"Grading the previous date {previous.date()} ..."), features_only():
        before = grade_accounts(snapshot(data, as_of=previous.date(), engine=args.engine),
                                worksheet=worksheet, icp_fit=icp_fit)
    counts, arrs, totals, movers = [], [], [], []
    for cadence in CADENCES:
        if _criteria_used(before, cadence) != _criteria_used(result, cadence):
            # Churn probabilities exist for the grading date only: the strategic grade of
            # the earlier date would be made of other criteria and is not comparable.
            notes.append(f"No {cadence} migration: its criteria at {previous.date()} differ from "
                         f"those at {as_of.date()}.")
            continue
        m = grade_migration(before, result, cadence=cadence)
        counts.append(_long(m.counts, "accounts").assign(cadence=cadence))
        arrs.append(_long(m.arr, "arr_usd"))
        totals.append(m.totals.reset_index().assign(cadence=cadence))
        movers.append(m.movers.assign(cadence=cadence))
        s = m.shares
        notes.append(f"{cadence.title()} grades since {previous.date()}: {s['upgraded']:.0%} of "
                     f"accounts moved up, {s['downgraded']:.0%} down.")
    if not counts:
        return []
    table = pd.concat(counts, ignore_index=True)
    table["arr_usd"] = pd.concat(arrs, ignore_index=True)["arr_usd"]
    table = table[["cadence", "grade_before", "grade_after", "accounts", "arr_usd"]]
    table.to_csv(out / "grade_migration.csv", index=False)
    pd.concat(totals, ignore_index=True).to_csv(out / "grade_migration_totals.csv", index=False)
    pd.concat(movers, ignore_index=True).to_csv(out / "grade_movers.csv", index=False)
    return ["grade_migration.csv", "grade_migration_totals.csv", "grade_movers.csv"]


def _backtest(data: Any, args: argparse.Namespace, worksheet: Any, out: Path,
              notes: list[str], left_out: list[str]) -> tuple[list[str], Any]:
    from icp.exceptions import InsufficientDataError
    from icp.grade_review import grade_validity, validity_outcomes
    from icp.grading import grade_accounts
    from icp.snapshot import parse_horizon, snapshot

    days = parse_horizon(data.config.get("horizon_days", 365))
    if args.backtest_as_of:
        when = pd.Timestamp(args.backtest_as_of)
    else:
        when = pd.offsets.QuarterEnd().rollback(pd.Timestamp(args.as_of) - pd.Timedelta(days=days))
    try:
        with _common.console.status(f"Backtest: grading at {when.date()} and following "
                                     f"{days} days of outcomes ..."):
            snap = snapshot(data, as_of=when.date(), horizon=days, engine=args.engine)
            graded = grade_accounts(snap, worksheet=worksheet)
            validity = grade_validity(graded, validity_outcomes(data, snap, horizon=days,
                                                                engine=args.engine))
    except InsufficientDataError as exc:
        notes.append(f"No validity backtest at {when.date()}: {exc}")
        return [], None
    if left_out:
        notes.append(f"Validity backtest graded at {when.date()} without {' and '.join(left_out)}: "
                     "they were learned on outcomes that overlap the backtest year.")
    if "horizon_complete" in snap.columns and not snap["horizon_complete"].all():
        notes.append(f"The data ends less than {days} days after {when.date()}: the backtest's "
                     "outcomes are incomplete. Choose an earlier --backtest-as-of.")
    validity.table.to_csv(out / "grade_validity.csv", index=False)
    validity.verdicts.to_csv(out / "grade_validity_verdicts.csv", index=False)
    return ["grade_validity.csv", "grade_validity_verdicts.csv"], validity


def run(args: argparse.Namespace) -> int:
    """Grade the accounts and write the grades, the worksheet and the review tables."""
    from rich.table import Table

    from icp.exceptions import InsufficientDataError, SchemaError
    from icp.grade_review import compare_with_account_managers, features_only
    from icp.grading import grade_accounts
    from icp.snapshot import snapshot

    # An explicit worksheet is checked before the data is read, so that its errors come fast.
    worksheet = _worksheet(args.worksheet) if args.worksheet else None
    data = _common.load_from_args(args)
    single = getattr(data, "form", "multi") == "single"
    if not single and not args.as_of:
        raise SchemaError("icp grade needs a grading date for this data. Expected --as-of DATE. "
                          "Found none. Add for example --as-of 2025-06-30.")
    if worksheet is None:
        worksheet = _worksheet(data.config.get("worksheet"), data.config)
    out = _common.out_dir(args)
    notes: list[str] = []
    icp_fit = _optional_input(out, _FIT_FILE, "fit_score", notes)
    churn = _optional_input(out, _RISK_FILE, "churn_probability", notes)
    with _common.console.status("Taking the snapshot and grading ..."), features_only():
        snap = snapshot(data, as_of=None if single else args.as_of, engine=args.engine)
        result = grade_accounts(snap, worksheet=worksheet, icp_fit=icp_fit, churn_probability=churn)
    result.grades.to_csv(out / "grades.csv", index=False)
    (out / "worksheet.yaml").write_text(
        f"# The worksheet used by icp grade (source: {worksheet.source}).\n" + worksheet.to_yaml(),
        encoding="utf-8")
    result.criteria.to_csv(out / "grade_criteria.csv", index=False)
    result.summary.to_csv(out / "grade_summary.csv", index=False)
    written = ["grades.csv", "worksheet.yaml", "grade_criteria.csv", "grade_summary.csv"]
    notes.extend(result.notes)

    try:
        comparison = compare_with_account_managers(result, snap)
        comparison.summary.to_csv(out / "am_comparison.csv", index=False)
        comparison.disagreements.to_csv(out / "am_disagreements.csv", index=False)
        written += ["am_comparison.csv", "am_disagreements.csv"]
        notes.append(f"Analytical {comparison.cadence} ranking against the account managers' "
                     f"eagerness: Spearman {comparison.overall['spearman']:.2f} over "
                     f"{int(comparison.overall['accounts'])} accounts.")
    except InsufficientDataError as exc:
        notes.append(f"No account-manager comparison: {exc}")

    validity = None
    if single:
        notes.append("The single-table form has no dates: no migration between quarters and no "
                     "validity backtest after a grading date.")
    else:
        written += _migration(data, args, result, worksheet, icp_fit, out, notes)
        if args.backtest:
            left_out = [name for name, value in (("ICP fit", icp_fit),
                                                 ("churn probability", churn)) if value is not None]
            files, validity = _backtest(data, args, worksheet, out, notes, left_out)
            written += files

    table = Table(title=f"Grades of {len(result.grades):,} accounts"
                  + (f" as of {result.as_of.date()}" if result.as_of is not None else ""))
    table.add_column("grade")
    for cadence in ("quarterly", "annual", "strategic"):
        table.add_column(cadence, justify="right")
    summary = result.summary.pivot(index="grade", columns="cadence", values="accounts")
    for grade, row in summary.iterrows():
        table.add_row(grade, *(f"{int(row[c]):,}" for c in ("quarterly", "annual", "strategic")))
    _common.console.print(table)
    for note in notes:
        _common.console.print(f"- {note}")
    if validity is not None:
        for message in validity.messages:
            _common.console.print(f"[bold]{message}[/]")
    _common.console.print(f"Wrote {', '.join(written)} to {out}/")
    return 0
