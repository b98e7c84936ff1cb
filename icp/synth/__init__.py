"""The sample generator: realistic data for a company selling annual contracts, with a planted truth.

:func:`make_sample` writes every table of the data contract (accounts, contracts,
invoices, tickets, usage, am_grades, prospects), an ``icp.yaml`` with the category
synonyms the messy spellings need, a ``README.md`` data dictionary, and
``ground_truth/``: the planted ICP and anti-ICP, behavioural segments, the true churn
probability of every renewal decision, the planted group of every prospect, and the
broken rows that validation must quarantine. The planted parameters live in
``icp.synth._spec`` as data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from icp.synth import _docs
from icp.synth._broken import BrokenRows
from icp.synth._generate import _STREAM_BROKEN, _rng, plan_for, prospects, run_chunks
from icp.synth._tables import SCHEMAS, TableWriter

__all__ = ["make_sample", "FORMATS", "USAGE_GRAINS"]

log = logging.getLogger(__name__)

FORMATS = ("csv", "parquet")
USAGE_GRAINS = ("month", "week", "day")
MIN_ACCOUNTS = 50
MAX_ACCOUNTS = 20_000_000


def _check(name: str, value: object, ok: bool, expected: str, hint: str) -> None:
    if not ok:
        raise ValueError(
            f"The '{name}' parameter of make_sample must be {expected}. Got {value!r} instead. "
            f"{hint}"
        )


def make_sample(
    out_dir: str | Path,
    *,
    accounts: int = 3000,
    years: int = 4,
    seed: int = 42,
    fmt: str = "csv",
    end_date: str = "2025-12-31",
    usage_grain: str = "month",
    progress: Callable[[int, int], None] | None = None,
    chunk_size: int = 20_000,
) -> Path:
    """Generate a sample dataset with a planted truth.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write into (created if needed). The contract tables of an earlier
        sample in it (``accounts.csv``, ``usage.parquet``, ...) are replaced; other
        files are left alone.
    accounts : int, default 3000
        Number of customer accounts.
    years : int, default 4
        Length of the history, ending on ``end_date``.
    seed : int, default 42
        Random seed: the same seed gives identical files, another seed different ones.
    fmt : {"csv", "parquet"}, default "csv"
        File format of the tables (ground truth is always CSV and JSON).
    end_date : str, default "2025-12-31"
        Last day of the history (ISO date). Fixed, so that every run reproduces.
    usage_grain : {"month", "week", "day"}, default "month"
        One usage row per account per month (dated the first of the month), per week
        (dated the Monday) or per day.
    progress : callable, optional
        Called as ``progress(accounts_done, accounts_total)`` after every chunk.
    chunk_size : int, default 20000
        Accounts generated and written at a time; bounds the memory used.

    Returns
    -------
    pathlib.Path
        The output folder.

    Raises
    ------
    ValueError
        When a parameter is out of range.

    Examples
    --------
    >>> import tempfile
    >>> from icp.synth import make_sample
    >>> out = make_sample(tempfile.mkdtemp(), accounts=200, years=3, seed=7)
    >>> sorted(p.name for p in out.glob("*.csv"))[:3]
    ['accounts.csv', 'am_grades.csv', 'contracts.csv']
    """
    _check("accounts", accounts, isinstance(accounts, int) and MIN_ACCOUNTS <= accounts
           <= MAX_ACCOUNTS, f"an int in the range [{MIN_ACCOUNTS}, {MAX_ACCOUNTS}]",
           "Use --accounts 3000 for the default sample.")
    _check("years", years, isinstance(years, int) and 1 <= years <= 30,
           "an int in the range [1, 30]", "Contracts are annual, so use at least 3 years "
           "to see several renewals.")
    _check("seed", seed, isinstance(seed, int) and seed >= 0, "a non-negative int",
           "Any whole number such as 42 works.")
    _check("fmt", fmt, fmt in FORMATS, f"one of {', '.join(FORMATS)}",
           "Use parquet for large samples.")
    _check("usage_grain", usage_grain, usage_grain in USAGE_GRAINS,
           f"one of {', '.join(USAGE_GRAINS)}", "The default is month.")
    _check("chunk_size", chunk_size, isinstance(chunk_size, int) and chunk_size >= 100,
           "an int of at least 100", "The default is 20000.")
    try:
        np.datetime64(end_date, "D")
        ok_date = isinstance(end_date, str) and len(end_date) == 10
    except ValueError:
        ok_date = False
    _check("end_date", end_date, ok_date, "an ISO date such as '2025-12-31'",
           "Write the date as YYYY-MM-DD.")

    out = Path(out_dir)
    truth_dir = out / "ground_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    # a table left from an earlier run in the other format would be read as well
    for table in SCHEMAS:
        for suffix in (".csv", ".parquet"):
            (out / f"{table}{suffix}").unlink(missing_ok=True)

    plan = plan_for(accounts, years, seed, fmt, usage_grain, end_date, chunk_size)
    log.info("Generating %d accounts over %d years (seed %d) into %s", accounts, years, seed, out)
    writer = TableWriter(out, fmt)
    broken = BrokenRows(_rng(seed, _STREAM_BROKEN), fmt, accounts, plan.id_width,
                        plan.row_width)
    try:
        stats = run_chunks(plan, writer, truth_dir, progress, broken.inject)
        prospect_columns, prospect_truth = prospects(plan)
        writer.write("prospects", prospect_columns)
    finally:
        writer.close()
    prospect_truth.to_csv(truth_dir / "prospects.csv", index=False, lineterminator="\n")
    pd.DataFrame(broken.records, columns=["table", "key", "problem"]).to_csv(
        truth_dir / "broken_rows.csv", index=False, lineterminator="\n")

    settings = {"accounts": accounts, "years": years, "seed": seed, "format": fmt,
                "end_date": end_date, "usage_grain": usage_grain}
    truth = _docs.rules(settings, _docs.measured(stats))
    (truth_dir / "rules.json").write_text(_docs.write_json(truth), encoding="utf-8")
    (truth_dir / "rules.md").write_text(_docs.rules_markdown(truth), encoding="utf-8")
    (out / "icp.yaml").write_text(_docs.icp_yaml(), encoding="utf-8")
    files = {writer.path(t).name: (writer.rows.get(t, 0), writer.path(t).stat().st_size)
             for t in ("accounts", "contracts", "invoices", "tickets", "usage", "am_grades",
                       "prospects")}
    (out / "README.md").write_text(_docs.readme(truth, files), encoding="utf-8")
    return out
