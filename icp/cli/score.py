"""``icp score``: fit score (0-100), tier (A-D) and reasons for every prospect."""

from __future__ import annotations

import argparse
from pathlib import Path

from icp.cli._common import console, load_with_progress

ORDER = 45


def register(subparsers) -> None:
    """Add the ``score`` sub-command."""
    parser = subparsers.add_parser(
        "score", help="score prospects against an ICP profile",
        description="Score prospects with the fit score of an ICP profile written by 'icp discover'. "
                    "PROSPECTS is a CSV/Parquet/Excel file, or a data folder holding prospects.csv.",
    )
    parser.add_argument("prospects", metavar="PROSPECTS", help="a prospect file or a data folder")
    parser.add_argument("--profile", required=True, metavar="FILE", help="icp_profile.json")
    parser.add_argument("--config", metavar="FILE", help="icp.yaml (for a data folder)")
    parser.add_argument("--out", default="icp-output/prospect_scores.csv", metavar="FILE",
                        help="output CSV (default: icp-output/prospect_scores.csv)")
    parser.set_defaults(handler=run)


def _read(path: Path, config):
    import pandas as pd

    from icp.exceptions import SchemaError

    if path.is_dir():
        data = load_with_progress(path, config=config)
        if not data.has("prospects"):
            raise SchemaError(f"The folder {path} has no prospect list. Expected a file prospects.csv "
                              f"(or .parquet). Found tables: {', '.join(sorted(data.tables))}. "
                              "Add the prospect list or pass its file directly.")
        return data.to_pandas("prospects")
    if not path.exists():
        raise SchemaError(f"The prospect file {path} does not exist. Expected a CSV, Parquet or Excel "
                          "file with a prospect_id column. Check the path.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".xlsx", ".xls"):
            return pd.read_excel(path, dtype={"prospect_id": str})
        return pd.read_csv(path, dtype={"prospect_id": str}, sep=None, engine="python")
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"The prospect file {path} could not be read ({exc}). Expected a CSV, "
                          "Parquet or Excel file. Save it as UTF-8 CSV with a header row.") from None


def run(args: argparse.Namespace) -> int:
    """Read prospects and profile, score, write."""
    from icp.fit import load_profile, score_prospects

    profile = load_profile(args.profile)
    prospects = _read(Path(args.prospects), args.config)
    scores = score_prospects(prospects, profile)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out, index=False)
    counts = scores["tier"].value_counts().reindex(list("ABCD"), fill_value=0)
    console.print(f"Scored {len(scores)} prospects: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    console.print(f"Wrote {out}")
    return 0
