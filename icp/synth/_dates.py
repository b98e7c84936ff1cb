"""Vectorised calendar arithmetic on day numbers (days since 1970-01-01)."""

from __future__ import annotations

import numpy as np


def to_day(value: str) -> int:
    """The day number of an ISO date."""
    return int(np.datetime64(value, "D").astype(np.int64))


def month_index(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of each day."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(
        np.int64
    )


def month_start(months: np.ndarray) -> np.ndarray:
    """Day number of the first day of each month index."""
    return np.asarray(months, dtype=np.int64).astype("datetime64[M]").astype(
        "datetime64[D]"
    ).astype(np.int64)


def add_months(days: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """Add whole months, keeping the day of the month (clipped to the month's length)."""
    days = np.asarray(days, dtype=np.int64)
    months = month_index(days)
    dom = days - month_start(months)
    target = months + np.asarray(n, dtype=np.int64)
    first = month_start(target)
    length = month_start(target + 1) - first
    return first + np.minimum(dom, length - 1)


def quarter_end_before(days: np.ndarray) -> np.ndarray:
    """The last quarter end strictly before each day."""
    months = month_index(days)
    return month_start(months - months % 3) - 1


def quarter_ends(first_day: int, last_day: int) -> np.ndarray:
    """Every quarter end in [first_day, last_day], as day numbers."""
    m0 = int(month_index(np.array([first_day]))[0])
    m1 = int(month_index(np.array([last_day]))[0]) + 3
    starts = np.arange(m0 - m0 % 3 + 3, m1 + 3, 3)
    ends = month_start(starts) - 1
    return ends[(ends >= first_day) & (ends <= last_day)]


def quarter_label(days: np.ndarray) -> np.ndarray:
    """'YYYYQn' of each day."""
    months = month_index(days)
    year = 1970 + months // 12
    quarter = (months % 12) // 3 + 1
    return np.char.add(np.char.add(year.astype(str), "Q"), quarter.astype(str))
