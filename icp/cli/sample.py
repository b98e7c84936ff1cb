"""``icp sample``: write the synthetic sample data set with its planted truth."""

from __future__ import annotations

import argparse
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from icp.cli._common import console, console_err

ORDER = 90


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sample`` sub-command."""
    parser = subparsers.add_parser(
        "sample",
        help="generate sample data with a planted truth",
        description=(
            "Generate a realistic sample for a company selling annual contracts to small and "
            "mid-size businesses: every table of the data contract, an icp.yaml, a README data "
            "dictionary, and ground_truth/ with the planted ICP, anti-ICP, segments and true "
            "churn probabilities. The same seed always gives identical files."
        ),
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    parser.add_argument("--accounts", type=int, default=3000, metavar="N",
                        help="number of customer accounts (default: 3000)")
    parser.add_argument("--years", type=int, default=4, metavar="Y",
                        help="years of history (default: 4)")
    parser.add_argument("--seed", type=int, default=42, metavar="S",
                        help="random seed (default: 42)")
    parser.add_argument("--format", dest="fmt", choices=["csv", "parquet"], default="csv",
                        help="file format of the tables (default: csv)")
    parser.add_argument("--usage-grain", choices=["month", "week", "day"], default="month",
                        help="one usage row per account per month, week or day (default: month)")
    parser.add_argument("--end-date", default="2025-12-31", metavar="YYYY-MM-DD",
                        help="last day of the history (default: 2025-12-31)")
    parser.add_argument("--chunk-size", type=int, default=20_000, metavar="N",
                        help="accounts generated at a time; bounds memory (default: 20000)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate the sample and print where it went."""
    from icp.synth import make_sample

    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]Generating accounts"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console_err, transient=True,
    ) as bar:
        task = bar.add_task("accounts", total=args.accounts)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            out = make_sample(
                args.out, accounts=args.accounts, years=args.years, seed=args.seed,
                fmt=args.fmt, end_date=args.end_date, usage_grain=args.usage_grain,
                progress=progress, chunk_size=args.chunk_size,
            )
        except ValueError as exc:
            console_err.print(f"[bold red]Error:[/] {exc}")
            return 2
    elapsed = time.perf_counter() - started
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    console.print(
        f"Wrote a sample of {args.accounts:,} accounts over {args.years} years "
        f"(seed {args.seed}, {args.fmt}) to [bold]{out}[/] in {elapsed:.1f} s "
        f"({size / 1e6:.1f} MB). The planted truth is in {out / 'ground_truth'}."
    )
    return 0
