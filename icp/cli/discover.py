"""``icp discover``: the ICP and anti-ICP as rules, with their evidence, from what happened."""

from __future__ import annotations

import argparse
import datetime as dt

from icp.cli._common import add_data_arguments, console, load_with_progress, out_dir

ORDER = 40

# snapshots pooled by default: this many yearly as_of dates whose horizon the data covers
DEFAULT_YEARS = 3


def register(subparsers) -> None:
    """Add the ``discover`` sub-command."""
    parser = subparsers.add_parser(
        "discover", help="find who you are for and who you are not for, with the evidence",
        description="Find the ICP and anti-ICP as short rules over pre-sale attributes, re-checked "
                    "on accounts they were not found on. Writes icp_rules.csv, icp_profile.json "
                    "and icp_membership.csv.",
    )
    add_data_arguments(parser)
    parser.add_argument("--as-of", dest="as_of", metavar="DATES",
                        help="snapshot date(s): 2024-12-31, a comma-separated list, or a quarter "
                             "range 2023Q1:2024Q4 (default: the last 3 year-ends whose horizon "
                             "the data covers, pooled)")
    parser.add_argument("--horizon", default=None, metavar="DAYS",
                        help="outcome horizon, e.g. 365d (default: horizon_days of icp.yaml)")
    parser.add_argument("--outcome", choices=["value", "value_usd", "retention"], default="value",
                        help="what makes a good customer (default: value, customer value: "
                             "realised gross profit per account-year; rules are searched on it per "
                             "ARR dollar, the fit score estimates it in dollars)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: icp.yaml)")
    parser.set_defaults(handler=run)


def default_as_of(data, horizon_days: int, years: int = DEFAULT_YEARS) -> list[dt.date]:
    """Year-ends whose whole horizon lies inside the data, latest first in time order."""
    import pandas as pd

    contracts = data.table("contracts")
    first, last = (pd.Timestamp(data.backend.execute(e)).date() for e in
                   (contracts.start_date.cast("date").min(), contracts.start_date.cast("date").max()))
    latest = last - dt.timedelta(days=horizon_days)
    dates = []
    year = latest.year if latest >= dt.date(latest.year, 12, 31) else latest.year - 1
    while len(dates) < years and dt.date(year, 12, 31) > first:
        dates.append(dt.date(year, 12, 31))
        year -= 1
    return sorted(dates)


def run(args: argparse.Namespace) -> int:
    """Load, snapshot, discover, write."""
    from rich.progress import Progress

    from icp.discovery import discover_icp
    from icp.evidence import add_horizon_write_offs
    from icp.snapshot import parse_as_of, parse_horizon, snapshot

    data = load_with_progress(args.data, config=args.config, id_column=args.id_column,
                              churn=args.churn, renewed=args.renewed)
    horizon = parse_horizon(args.horizon or data.config.get("horizon_days", 365))
    seed = args.seed if args.seed is not None else int(data.config.get("random_state", 42))
    out = out_dir(args)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("Building snapshots", total=None)
        if data.form == "single":
            snap = snapshot(data)
        else:
            dates = parse_as_of(args.as_of.split(",") if args.as_of and "," in args.as_of
                                else args.as_of) if args.as_of else default_as_of(data, horizon)
            snap = snapshot(data, as_of=dates, horizon=f"{horizon}d", engine=args.engine)
            if "written_off_horizon_usd" not in snap.columns and data.has("invoices"):
                # the horizon's write-offs, for leadership's answer (the snapshot nets them
                # into realised gross profit but does not list them)
                snap = add_horizon_write_offs(snap, data.to_pandas("invoices"), horizon_days=horizon)
        snap.attrs.setdefault("presale_columns", list(data.presale_columns))

        def step(message: str) -> None:
            bar.update(task, description=message)

        result = discover_icp(snap, outcome=args.outcome, presale_columns=list(data.presale_columns) or None,
                              random_state=seed, progress=step, tiers=data.config.get("icp_tiers"))
    result.profile["settings"]["source"] = str(data.source)
    result.profile["input_fingerprints"] = dict(data.fingerprints)
    paths = result.save(out)
    console.print(f"[bold]ICP discovery[/] ({result.settings['outcome']} outcome, "
                  f"{result.settings['n_accounts']} accounts, snapshots at "
                  f"{', '.join(result.settings['as_of']) or 'one date'})")
    for line in result.statement.split("\n"):
        console.print(line)
    for note in result.notes:
        console.print(f"[yellow]Note:[/] {note}")
    for path in paths.values():
        console.print(f"Wrote {path}")
    return 0
