"""``icp report``: run the quarterly notebook suite into ``reports/<quarter>/``."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from icp.cli._common import add_data_arguments, console, console_err
from icp.exceptions import SchemaError

ORDER = 90


def register(subparsers: Any) -> None:
    """Add the ``report`` sub-command."""
    parser = subparsers.add_parser(
        "report",
        help="run the quarterly report suite (notebooks, HTML, deck, results)",
        description=(
            "Run the notebook suite on DATA for one quarter and write reports/<quarter>/: "
            "executed notebooks, HTML reports without code with an index.html, results/ "
            "(CSV and JSON), a leadership deck and manifest.json. The folder appears only "
            "when every notebook succeeded."
        ),
    )
    add_data_arguments(parser, out_default="reports")
    parser.add_argument("--quarter", required=True, metavar="YYYYQn",
                        help="the fiscal quarter to report, e.g. 2025Q2 (analysis date: its last day)")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a notebook parameter (NAME, or NOTEBOOK.NAME for one notebook); repeatable")
    parser.add_argument("--workers", type=int, default=2, metavar="N",
                        help="notebooks run at the same time (default: 2)")
    parser.add_argument("--notebooks", metavar="DIR", help=argparse.SUPPRESS)
    parser.set_defaults(handler=handle)


def _parse_params(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SchemaError(
                f"The option --param must be written NAME=VALUE. Got {item!r} instead. "
                "Write it like --param n_segments=5."
            )
        out[name.strip()] = value
    return out


class _Progress:
    """Renders the runner's events as a rich progress bar."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.task = None

    def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        p = self.progress
        if event == "start":
            self.task = p.add_task("Preparing the data", total=info["total"])
        elif event == "step_done":
            p.advance(self.task)
            p.update(self.task, description=f"Done: {info['step']}")
        elif event == "notebook_started":
            p.update(self.task, description=f"Running {info['title']}")
        elif event == "notebook_done":
            p.advance(self.task)
            mark = "[green]ok[/]" if info["status"] == "ok" else "[red]FAILED[/]"
            p.console.print(f"  {info['notebook']}: {mark} in {info['seconds']:.0f} s")
        elif event == "finished":
            p.update(self.task, description="Report written")


def handle(args: argparse.Namespace) -> int:
    """Run the suite and print where the report is."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from icp.report import run_report

    params = _parse_params(args.param)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        result = run_report(
            args.data, quarter=args.quarter, out=args.out, config=args.config,
            id_column=args.id_column, churn=args.churn, renewed=args.renewed, engine=args.engine,
            params=params, workers=args.workers, notebooks_dir=args.notebooks,
            progress=_Progress(progress),
        )
    manifest = result.manifest
    for item in manifest.get("skipped", []):
        console.print(f"Skipped {item['title']}: {item['reason']}.")
    if not result.ok:
        failed = next(r for r in manifest["notebooks"] if r["status"] == "failed")
        console_err.print(
            f"[bold red]The report for {manifest['quarter']} is NOT complete:[/] "
            f"{failed['title']} failed with {failed['error']}. "
            f"The failing notebook (error visible) is {result.failed_notebook}; "
            f"the run is kept in {result.folder}/ and no complete report was written."
        )
        return result.exit_code
    console.print(
        f"Report for {manifest['quarter']} written to [bold]{result.folder}/[/] in "
        f"{manifest['timings']['total_s']:.0f} s. Open {result.folder / 'index.html'}."
    )
    return 0
