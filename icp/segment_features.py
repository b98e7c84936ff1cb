"""Which columns customer segments are built on: behavioural defaults, derived intensities, exclusions.

Outcomes (churn, renewal, ARR change, value) and keys are never segmentation
inputs: :data:`icp.features.OUTCOME_COLUMNS` is the one list of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from icp.features import KEY_COLUMNS, OUTCOME_COLUMNS
from icp.segment_preprocessing import column_kind

__all__ = [
    "DEFAULT_FEATURES",
    "DERIVED_FEATURES",
    "KEY_COLUMNS",
    "OUTCOME_COLUMNS",
    "add_derived_features",
    "default_features",
]

#: The behavioural inputs used when ``features=None`` and the snapshot has them:
#: usage intensity, support load and payment behaviour, compared per user and per
#: employee so that large and small accounts with the same habits fall together.
#: Size (ARR, employees) and margin are not among them: they describe and judge a
#: segment (see :func:`icp.segment_profiles.profile_segments`) rather than say how
#: an account behaves. ``usage_trend_90d`` is left out too: a ratio of two short
#: windows is dominated by noise for small accounts. Pass ``features=[...]`` to
#: segment on any of them.
DEFAULT_FEATURES: tuple[str, ...] = (
    "events_per_active_user",
    "active_users_per_employee",
    "tickets_per_quarter",
    "urgent_ticket_share",
    "late_payment_share",
    "days_late_mean",
)

#: Intensity features derived from snapshot columns when the snapshot lacks them:
#: name -> (numerator, denominator). Behaviour is compared per user and per
#: employee, so that large and small accounts with the same habits fall together.
DERIVED_FEATURES: dict[str, tuple[str, str]] = {
    "events_per_active_user": ("events_90d", "active_users"),
    "active_users_per_employee": ("active_users", "employees"),
}

def _excluded_columns() -> set[str]:
    return set(KEY_COLUMNS) | set(OUTCOME_COLUMNS)


def add_derived_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with the intensity columns of :data:`DERIVED_FEATURES` added where possible.

    A ratio is missing where its denominator is zero or missing. Columns that
    already exist are left as they are; ``frame`` itself is not modified.

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.segments import add_derived_features
    >>> add_derived_features(pd.DataFrame({"events_90d": [900.0], "active_users": [3.0]}))
       events_90d  active_users  events_per_active_user
    0       900.0           3.0                   300.0
    """
    new = {}
    for name, (num, den) in DERIVED_FEATURES.items():
        if name in frame.columns or num not in frame.columns or den not in frame.columns:
            continue
        numerator = pd.to_numeric(frame[num], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        denominator = pd.to_numeric(frame[den], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(denominator > 0, numerator / denominator, np.nan)
        new[name] = ratio
    if not new:
        return frame
    return frame.assign(**new)


def default_features(frame: pd.DataFrame, *, min_default: int = 3) -> list[str]:
    """The columns segmented on when ``features`` is not given.

    The behavioural columns of :data:`DEFAULT_FEATURES` that ``frame`` holds,
    when it holds at least ``min_default`` of them (a multi-table snapshot);
    otherwise (the single-table form) every attribute except keys, outcomes,
    dates, constants and identifier-like text columns.

    Parameters
    ----------
    frame : pandas.DataFrame
        A snapshot.
    min_default : int, default 3
        How many default behavioural columns must be present to use them.

    Returns
    -------
    list of str

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.segments import default_features
    >>> default_features(pd.DataFrame({"account_id": ["a", "b"], "tenure": [3, 40],
    ...                                "churned": [True, False]}))
    ['tenure']
    """
    present = [c for c in DEFAULT_FEATURES if c in frame.columns and frame[c].notna().any()]
    if len(present) >= min_default:
        return present
    excluded = _excluded_columns()
    chosen = []
    n = len(frame)
    for col in frame.columns:
        name = str(col)
        if name in excluded:
            continue
        series = frame[col]
        kind = column_kind(series)
        if kind == "datetime":
            continue
        nunique = series.nunique(dropna=True)
        if nunique <= 1:
            continue
        if kind == "categorical" and nunique > max(50, 0.2 * n):
            continue  # identifiers and free text, not categories
        chosen.append(name)
    return chosen
