"""``icp snapshot``: point-in-time features and outcomes per account, written to Parquet."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from icp.cli._common import add_data_arguments, console, load_with_progress
from icp.exceptions import SchemaError

ORDER = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``snapshot`` sub-command."""
    parser = subparsers.add_parser(
        "snapshot",
        help="features known at a date and what happened next, one row per account",
        description="Build the point-in-time snapshot: one row per account active at --as-of (or per "
        "account and quarter end with --quarters), features from data strictly before that date and "
        "outcomes from the horizon after it. Writes a Parquet file (--out FILE.parquet, or "
        "snapshot.parquet inside the --out folder).",
    )
    add_data_arguments(parser)
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--as-of", metavar="DATE", help="the snapshot date, e.g. 2025-06-30 (or several, comma-separated)")
    when.add_argument("--quarters", metavar="FIRST:LAST", help="a panel of quarter ends, e.g. 2023Q1:2025Q2")
    parser.add_argument("--horizon", metavar="SPAN", default=None,
                        help="how long after as_of outcomes are observed, e.g. 365d or 12m "
                        "(default: horizon_days of icp.yaml, 365)")
    parser.set_defaults(handler=run)


def _target(out: str) -> Path:
    path = Path(out)
    if path.suffix.lower() in (".parquet", ".csv"):
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
    path.mkdir(parents=True, exist_ok=True)
    return path / "snapshot.parquet"


def _engine(name: str | None):
    return None if name in (None, "", "duckdb") else name


def run(args: argparse.Namespace) -> int:
    """Build the snapshot and write it."""
    from icp.snapshot import parse_as_of, snapshot

    as_of = args.quarters if args.quarters else [d.strip() for d in args.as_of.split(",") if d.strip()]
    dates = parse_as_of(as_of)  # a clear error before any data is read
    target = _target(args.out)
    data = load_with_progress(args.data, config=args.config, id_column=args.id_column, churn=args.churn,
                              renewed=args.renewed, engine=args.engine)
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("Snapshot", total=None)

        def progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=f"Snapshot: {what}")

        frame = snapshot(data, as_of=dates, horizon=args.horizon, engine=_engine(args.engine), progress=progress)
    if target.suffix.lower() == ".csv":
        frame.to_csv(target, index=False)
    else:
        try:
            frame.to_parquet(target, index=False)
        except (OSError, ValueError) as exc:
            raise SchemaError(
                f"Could not write {target}: {exc}. Expected a writable file path. "
                "Choose another --out location."
            ) from None
    dates_text = ", ".join(d.isoformat() for d in dates) if len(dates) <= 3 else \
        f"{dates[0].isoformat()} ... {dates[-1].isoformat()} ({len(dates)} dates)"
    console.print(f"Snapshot at {dates_text}: {len(frame):,} rows, {frame.shape[1]} columns -> {target}")
    if "horizon_complete" in frame and not frame["horizon_complete"].all():
        console.print(
            "[yellow]Note:[/] the data ends before the outcome horizon of some dates "
            f"(data ends {frame.attrs.get('data_end')}); their outcomes are incomplete "
            "(column horizon_complete)."
        )
    return 0
