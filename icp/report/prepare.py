"""The shared steps a report run computes once, before its notebooks start.

``dataset``
    Load and validate the data; keep the accepted tables as Parquet in the work
    folder; write ``results/validation.json``; skip notebooks whose tables are absent.
``snapshot``
    Build the snapshot at the quarter's end and keep it as Parquet.
``history``
    Build the panel of past snapshots whose outcomes are known (see
    :func:`icp.report.analyses.history`) that the ICP, churn and segment
    notebooks learn from, once for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from icp.exceptions import SchemaError

__all__ = ["run_prepare", "PREPARE_STEPS"]


def _prepare_dataset(ctx: Any, specs: Sequence[Any]) -> list[tuple[str, str]]:
    dataset = ctx.dataset
    validation = getattr(dataset, "validation", None)
    if validation is not None:
        ctx.write_result("validation.json", validation)
    skips = []
    for spec in specs:
        missing = [t for t in spec.tables if not dataset.has(t)]
        if missing:
            skips.append((spec.name, f"the data has no {', '.join(missing)} table"))
    return skips


def _prepare_snapshot(ctx: Any, specs: Sequence[Any]) -> list[tuple[str, str]]:
    ctx.snapshot()
    return []


def _prepare_history(ctx: Any, specs: Sequence[Any]) -> list[tuple[str, str]]:
    from icp.report.analyses import history

    history(ctx)
    return []


PREPARE_STEPS = {"dataset": _prepare_dataset, "snapshot": _prepare_snapshot, "history": _prepare_history}


def run_prepare(step: str, ctx: Any, specs: Sequence[Any]) -> list[tuple[str, str]]:
    """Run one shared step; return the notebooks to skip with the reason.

    Examples
    --------
    >>> run_prepare("nothing", None, [])
    Traceback (most recent call last):
    ...
    icp.exceptions.SchemaError: The report suite asks for the preparation step 'nothing'. Expected one of: dataset, snapshot, history. Fix 'prepare' in suite.yaml.
    """
    if step not in PREPARE_STEPS:
        raise SchemaError(
            f"The report suite asks for the preparation step '{step}'. "
            f"Expected one of: {', '.join(PREPARE_STEPS)}. Fix 'prepare' in suite.yaml."
        )
    return PREPARE_STEPS[step](ctx, specs)
