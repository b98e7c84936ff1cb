"""``icp segment``: behavioural customer segments with names, profiles and retention."""

from __future__ import annotations

import argparse
from pathlib import Path

from icp.cli._common import add_data_arguments, console, load_from_args, out_dir

ORDER = 30


def register(subparsers) -> None:
    """Add the ``segment`` sub-command."""
    parser = subparsers.add_parser(
        "segment", help="find behavioural customer segments and name them",
        description="Segment the accounts active at --as-of by behaviour (usage, support, payments), "
                    "choose the number of segments by a score and bootstrap stability (or force it "
                    "with --k), then profile, name and describe each segment. Writes segments.csv, "
                    "segment_profiles.csv, segment_selection.csv, segment_features.csv and "
                    "segment_retention.csv.",
    )
    add_data_arguments(parser)
    parser.add_argument("--as-of", dest="as_of", metavar="DATE",
                        help="snapshot date, e.g. 2025-06-30 (required for the multi-table form)")
    parser.add_argument("--horizon", default=None, metavar="DAYS",
                        help="outcome horizon, e.g. 365d (default: horizon_days of icp.yaml)")
    parser.add_argument("--k", type=int, default=None, metavar="K",
                        help="force the number of segments (default: chosen automatically, 2 to 8)")
    parser.add_argument("--method", choices=["kmeans", "gmm"], default="kmeans",
                        help="k-means (default) or a Gaussian mixture")
    parser.add_argument("--features", default=None, metavar="COLS",
                        help="comma-separated columns to segment on (default: behavioural defaults)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: icp.yaml)")
    parser.add_argument("--plots", action="store_true",
                        help="also write segment_map.png, segment_retention.png and segment_profiles.png")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Load, snapshot, segment, profile, write."""
    from rich.progress import Progress
    from rich.table import Table

    from icp.exceptions import SchemaError
    from icp.segment_profiles import profile_segments, segment_retention
    from icp.segments import CustomerSegmenter
    from icp.snapshot import parse_horizon, snapshot

    if args.k is not None and args.k < 2:
        raise SchemaError(f"--k must be at least 2. Got {args.k}. Leave it out to choose automatically.")
    missing_as_of = SchemaError(
        "icp segment needs --as-of for multi-table data. Expected a date such as 2025-06-30. "
        "Add --as-of with the date whose active accounts you want to segment."
    )
    if not args.as_of and args.id_column is None and Path(args.data).is_dir():
        raise missing_as_of  # a folder is the multi-table form: fail before loading it
    data = load_from_args(args)
    if data.form != "single" and not args.as_of:
        raise missing_as_of
    horizon = parse_horizon(args.horizon or data.config.get("horizon_days", 365))
    seed = args.seed if args.seed is not None else int(data.config.get("random_state", 42))
    features = [c.strip() for c in args.features.split(",") if c.strip()] if args.features else None
    out = out_dir(args)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("Building the snapshot", total=1.0)
        snap = (snapshot(data, as_of=args.as_of, horizon=f"{horizon}d", engine=args.engine)
                if data.form != "single" else snapshot(data))
        bar.update(task, description="Choosing the number of segments", completed=0.0)
        segmenter = CustomerSegmenter(
            n_clusters=args.k if args.k is not None else "auto", method=args.method,
            features=features, random_state=seed,
        )
        segmenter.fit(snap, progress=lambda done, msg: bar.update(task, completed=done, description=msg))
        bar.update(task, description="Profiling segments")
        profiles = profile_segments(snap, segmenter.labels_)
    names = profiles.names
    assigned = snap[["account_id"]].copy()
    assigned["segment"] = segmenter.labels_
    assigned["segment_name"] = [names[int(s)] for s in segmenter.labels_]
    assigned.to_csv(out / "segments.csv", index=False)
    profiles.summary.to_csv(out / "segment_profiles.csv", index=False)
    profiles.distinguishing.to_csv(out / "segment_features.csv", index=False)
    segmenter.selection_.to_csv(out / "segment_selection.csv", index=False)
    retention = None
    if "churned" in snap.columns:
        try:
            retention = segment_retention(snap, segmenter.labels_, names=names, horizon_days=horizon)
            retention.summary.to_csv(out / "segment_retention.csv", index=False)
        except SchemaError as exc:
            console.print(f"[yellow]Retention curves skipped:[/] {exc}")
    if args.plots:
        _write_plots(out, snap, segmenter, profiles, retention)

    table = Table(title=f"{segmenter.n_clusters_} segments (bootstrap stability "
                        f"{segmenter.stability_:.2f}, {len(snap):,} accounts)")
    for col in ("segment", "name", "accounts", "churn rate (95% CI)"):
        table.add_column(col)
    for row in profiles.summary.itertuples():
        churn = (f"{row.churn_rate:.0%} ({row.churn_ci_low:.0%}-{row.churn_ci_high:.0%})"
                 if hasattr(row, "churn_rate") and row.churn_rate == row.churn_rate else "n/a")
        table.add_row(str(row.segment), row.segment_name, f"{row.n_accounts:,}", churn)
    console.print(table)
    if "horizon_complete" in snap.columns and not snap["horizon_complete"].astype(bool).all():
        console.print("[yellow]The data ends before the outcome horizon after this as_of date:[/] "
                      "churn rates, net revenue retention and retention curves are incomplete.")
    if retention is not None and retention.logrank_p_value == retention.logrank_p_value:
        console.print(f"Retention differs between segments: log-rank p = {retention.logrank_p_value:.3g}.")
    console.print(f"Wrote segments.csv and segment_profiles.csv to {out}/")
    return 0


def _write_plots(out, snap, segmenter, profiles, retention) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from icp.plotting.segments import (
        plot_segment_map,
        plot_segment_profiles,
        plot_segment_retention,
    )

    figures = [("segment_map.png", lambda ax: plot_segment_map(snap, segmenter=segmenter, ax=ax,
                                                              names=profiles.names)),
               ("segment_profiles.png", lambda ax: plot_segment_profiles(profiles, ax=ax))]
    if retention is not None:
        figures.append(("segment_retention.png", lambda ax: plot_segment_retention(retention, ax=ax)))
    for name, draw in figures:
        fig, ax = plt.subplots(figsize=(10, 6))
        draw(ax)
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
