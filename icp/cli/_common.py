"""Arguments and helpers shared by the sub-commands of ``icp``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

console = Console(highlight=False)
console_err = Console(stderr=True, highlight=False)

DEFAULT_OUT = "icp-output"


def add_data_arguments(parser: argparse.ArgumentParser, *, out_default: str = DEFAULT_OUT) -> None:
    """Add the input arguments that every analysis command takes the same way."""
    parser.add_argument("data", metavar="DATA", help="a data folder, a single file, or a database URL")
    parser.add_argument("--config", metavar="FILE", help="icp.yaml (default: icp.yaml beside the data)")
    parser.add_argument("--id", dest="id_column", metavar="COLUMN", help="single-table form: the customer id column")
    outcome = parser.add_mutually_exclusive_group()
    outcome.add_argument("--churn", metavar="COL=VALUE", help="single-table form: the value that means churned")
    outcome.add_argument("--renewed", metavar="COL=VALUE", help="single-table form: the value that means renewed")
    parser.add_argument(
        "--engine", default="duckdb", metavar="ENGINE",
        help="where aggregations run: duckdb (default), spark, or a Spark master URL",
    )
    parser.add_argument("--out", default=out_default, metavar="DIR", help=f"output folder (default: {out_default}/)")


def out_dir(args: argparse.Namespace) -> Path:
    """The output folder, created if needed."""
    path = Path(args.out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_with_progress(source: Any, **kwargs: Any):
    """``icp.io.load`` with a transient progress bar naming the table being read and checked."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from icp.io import load

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("Loading", total=None)

        def progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=f"Loading: {what}")

        return load(source, progress=progress, **kwargs)


def load_from_args(args: argparse.Namespace):
    """Load and validate the input named by the common data arguments; return a Dataset.

    Prints one line when rows were quarantined, pointing at ``icp validate`` for details.
    """
    dataset = load_with_progress(
        args.data,
        config=getattr(args, "config", None),
        id_column=getattr(args, "id_column", None),
        churn=getattr(args, "churn", None),
        renewed=getattr(args, "renewed", None),
        engine=getattr(args, "engine", "duckdb"),
    )
    report = dataset.validation
    quarantined = sum(t.rows_quarantined for t in report.tables.values()) if report else 0
    if quarantined:
        console_err.print(
            f"[yellow]{quarantined:,} input row(s) were quarantined by validation;[/] "
            "run icp validate on the same data for the list."
        )
    return dataset
