"""``icp validate``: check the input against the data contract and report its health."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table

from icp.cli._common import add_data_arguments, console, load_with_progress, out_dir
from icp.exceptions import IcpError

ORDER = 10

_STYLE = {"fatal": "bold red", "error": "red", "warning": "yellow", "info": "cyan"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``validate`` sub-command."""
    parser = subparsers.add_parser(
        "validate",
        help="check your data against the data contract and write validation.json",
        description="Read the data, check every row against the data contract, print a data-health summary "
        "and write validation.json and quarantine/<table>.csv into the output folder.",
    )
    add_data_arguments(parser)
    parser.set_defaults(handler=run)


def _write_quarantine(dataset, folder: Path) -> dict[str, str]:
    written = {}
    con = dataset.backend.con
    qdir = folder / "quarantine"
    for name, table in dataset.validation.tables.items():
        target = qdir / f"{name}.csv"
        if table.rows_quarantined:
            qdir.mkdir(parents=True, exist_ok=True)
            escaped = str(target).replace("'", "''")
            con.execute(f"COPY (SELECT * FROM quarantine__{name} ORDER BY source_row NULLS LAST, source_line) "
                        f"TO '{escaped}' (HEADER, DELIMITER ',')")
            written[name] = str(target)
        elif target.exists():
            target.unlink()  # a stale file from an earlier run would mislead
    return written


def run(args: argparse.Namespace) -> int:
    """Validate the input and print its health; exit code 2 on a fatal problem."""
    folder = out_dir(args)
    try:
        dataset = load_with_progress(args.data, config=args.config, id_column=args.id_column,
                                     churn=args.churn, renewed=args.renewed, engine=args.engine)
    except IcpError as exc:
        (folder / "validation.json").write_text(json.dumps({
            "source": str(args.data), "status": "fatal",
            "problems": [{"severity": "fatal", "message": str(exc), "code": type(exc).__name__}],
        }, indent=2) + "\n", encoding="utf-8")
        raise
    report = dataset.validation
    written = _write_quarantine(dataset, folder)
    report.to_json(folder / "validation.json")
    _print(report, written, folder)
    return 0


def _day(value) -> str:
    return "" if value is None or value != value else str(value)[:10]


def _print(report, written: dict[str, str], folder: Path) -> None:
    console.print(f"[bold]Data health of {report.source}[/] ({report.form}-table form)")
    rows = Table(title="Rows per table", title_justify="left")
    for col in ("table", "file", "read", "accepted", "quarantined", "dates from", "to"):
        rows.add_column(col, justify="right" if col in ("read", "accepted", "quarantined") else "left")
    for r in report.summary.itertuples():
        rows.add_row(r.table, r.file, f"{r.rows_read:,}", f"{r.rows_accepted:,}", f"{r.rows_quarantined:,}",
                     _day(r.first_date), _day(r.last_date))
    console.print(rows)
    missing = Table(title="Missing values (share of accepted rows; columns with none are not shown)",
                    title_justify="left")
    for col in ("table", "column", "type", "missing"):
        missing.add_column(col, justify="right" if col == "missing" else "left")
    for name, t in report.tables.items():
        for c, share in t.missing_share.items():
            if share > 0:
                missing.add_row(name, c, t.column_types.get(c, ""), f"{share:.1%}")
    if missing.row_count:
        console.print(missing)
    if report.outcome:
        o = report.outcome
        if report.form == "single":
            console.print(f"[bold]Outcome[/] {o['label']}: {o['churned']:,} churned and {o['not_churned']:,} not "
                          f"churned of {o['customers']:,} customers (churn rate {o['churn_rate']:.1%}).")
        else:
            d = o["renewal_decisions"]
            console.print(f"[bold]Outcome[/] from {o['label']}, history until {o['history_end']}: "
                          f"{o['churned_accounts']:,} churned and {o['active_accounts']:,} active accounts; "
                          f"contracts renewed {d['renewed']:,}, churned {d['churned']:,}, open {d['open']:,}.")
    for severity in ("error", "warning", "info"):
        found = [p for p in report.problems if p.severity == severity]
        if found:
            console.print(f"[{_STYLE[severity]}]{severity.capitalize()}s ({len(found)})[/]")
            for p in found:
                console.print(f"  - {p.message}")
    if report.excluded_columns:
        console.print("[bold]Left out of modelling:[/] " + "; ".join(f"{c} ({w})" for c, w in report.excluded_columns.items()))
    balanced = "holds" if report.rows_balanced else "DOES NOT HOLD"
    console.print(f"Rows read = accepted + quarantined {balanced} for every table.")
    console.print(f"Wrote {folder / 'validation.json'}" + (f" and quarantine files for {', '.join(written)}." if written else "."))
