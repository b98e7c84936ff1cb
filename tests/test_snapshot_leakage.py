"""Leakage proof: features see only rows dated before as_of; outcomes only what happens after it."""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_snapshot import make_dataset, make_frames

from icp.snapshot import FEATURE_COLUMNS, OUTCOME_COLUMNS, snapshot

AS_OF = [dt.date(2023, 6, 30), dt.date(2024, 3, 31), dt.date(2024, 12, 31)]
HORIZON = 365
ACCOUNT_IDS = [f"A{i:02d}" for i in range(12)] + ["NEW"]
SETTINGS = settings(
    max_examples=8, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@functools.cache
def base_frames() -> dict[str, pd.DataFrame]:
    return make_frames(seed=3, n_accounts=12)


@functools.cache
def base_snapshot(as_of: dt.date) -> pd.DataFrame:
    return snapshot(make_dataset(base_frames()), as_of=as_of, horizon=HORIZON)


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=list(OUTCOME_COLUMNS)).reset_index(drop=True)


def _outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["account_id", "as_of", *OUTCOME_COLUMNS]].reset_index(drop=True)


def _with(frames: dict[str, pd.DataFrame], extra: dict[str, list[dict]]) -> dict[str, pd.DataFrame]:
    out = dict(frames)
    for name, rows in extra.items():
        if rows:
            add = pd.DataFrame(rows).astype(frames[name].dtypes.to_dict())
            out[name] = pd.concat([frames[name], add], ignore_index=True)
    return out


def _day(base: dt.date, offset: int) -> dt.date:
    return base + dt.timedelta(days=offset)


def _ts(base: dt.date, offset: int, minute: int) -> pd.Timestamp:
    return pd.Timestamp(_day(base, offset)) + pd.Timedelta(minutes=minute)


@st.composite
def rows_dated(draw, as_of: dt.date, lo: int, hi: int) -> dict[str, list[dict]]:
    """Rows of every table whose own date is ``as_of + [lo, hi]`` days (other dates anywhere after)."""
    acc = st.sampled_from(ACCOUNT_IDS)
    # the boundary (a row dated exactly on as_of, or the day before it) is where leaks hide
    edge = lo if lo >= 0 else hi
    off = st.one_of(st.just(edge), st.integers(min(edge, edge + 2 * np.sign(lo)), max(edge, edge + 2 * np.sign(lo))),
                    st.integers(lo, hi))
    later = st.integers(0, 400)
    money = st.floats(0, 1e5, allow_nan=False)
    n = draw(st.integers(0, 4))
    out: dict[str, list[dict]] = {"contracts": [], "invoices": [], "tickets": [], "usage": [], "am_grades": []}
    for i in range(n):
        s = draw(off)
        out["contracts"].append({
            "contract_id": f"X{i}", "account_id": draw(acc), "start_date": _day(as_of, s),
            "end_date": draw(st.one_of(st.none(), later.map(lambda x, s=s: _day(as_of, s + x)))),
            "arr_usd": draw(money), "plan": draw(st.sampled_from(["Basic", "Pro", None])),
            "gross_margin_pct": draw(st.one_of(st.none(), st.floats(-50, 95))),
        })
    for i in range(draw(st.integers(0, 5))):
        s = draw(off)
        out["invoices"].append({
            "invoice_id": f"XI{i}", "account_id": draw(acc), "issued_on": _day(as_of, s),
            "due_on": _day(as_of, s + 30),
            "paid_on": draw(st.one_of(st.none(), later.map(lambda x, s=s: _day(as_of, s + x)))),
            "amount_usd": draw(money),
            "written_off_on": draw(st.one_of(st.none(), later.map(lambda x, s=s: _day(as_of, s + x)))),
        })
    for i in range(draw(st.integers(0, 5))):
        s = draw(off)
        out["tickets"].append({
            "ticket_id": f"XT{i}", "account_id": draw(acc), "opened_at": _ts(as_of, s, draw(st.integers(0, 1439))),
            "closed_at": draw(st.one_of(st.none(), later.map(lambda x, s=s: _ts(as_of, s + x, 600)))),
            "priority": draw(st.sampled_from(["low", "normal", "high", "urgent"])),
            "csat": draw(st.one_of(st.none(), st.sampled_from([1.0, 3.0, 5.0]))),
        })
    for _ in range(draw(st.integers(0, 6))):
        out["usage"].append({
            "account_id": draw(acc), "date": _day(as_of, draw(off)),
            "active_users": draw(st.floats(0, 500)), "events": draw(st.floats(0, 1e6)),
        })
    for _ in range(draw(st.integers(0, 3))):
        # a grade of a quarter that ends on or after as_of
        q_end = _day(as_of, draw(off))
        period = f"{q_end.year}Q{(q_end.month - 1) // 3 + 1}"
        out["am_grades"].append({
            "account_id": draw(acc), "period": period, "partnerability": 1.0,
            "reference_willing": "no", "eagerness": 5.0, "strategic_fit": 1.0, "graded_by": "x",
        })
    return out


@pytest.mark.slow
@SETTINGS
@given(data=st.data(), as_of=st.sampled_from(AS_OF))
def test_rows_dated_on_or_after_as_of_leave_features_unchanged(data, as_of):
    extra = data.draw(rows_dated(as_of, 0, 900))
    after = snapshot(make_dataset(_with(base_frames(), extra)), as_of=as_of, horizon=HORIZON)
    pd.testing.assert_frame_equal(_features(after), _features(base_snapshot(as_of)))


@pytest.mark.slow
@SETTINGS
@given(data=st.data(), as_of=st.sampled_from(AS_OF))
def test_later_dates_inside_earlier_rows_leave_features_unchanged(data, as_of):
    """Payments, closures, CSAT and write-offs that happen after as_of are unknown at as_of."""
    frames = dict(base_frames())
    shift = data.draw(st.integers(0, 300))
    ts = pd.Timestamp(as_of)
    inv = frames["invoices"].copy()
    for col in ("paid_on", "written_off_on"):
        late = pd.to_datetime(inv[col]) >= ts
        moved = (pd.to_datetime(inv.loc[late, col]) + pd.Timedelta(days=shift)).dt.date
        inv[col] = inv[col].astype(object)
        inv.loc[late, col] = moved if data.draw(st.booleans()) else None
    tk = frames["tickets"].copy()
    late = tk["closed_at"] >= ts
    tk.loc[late, "closed_at"] = tk.loc[late, "closed_at"] + pd.Timedelta(days=shift)
    tk.loc[late, "csat"] = data.draw(st.sampled_from([1.0, 5.0, np.nan]))
    frames.update(invoices=inv.astype(base_frames()["invoices"].dtypes.to_dict()), tickets=tk)
    after = snapshot(make_dataset(frames), as_of=as_of, horizon=HORIZON)
    pd.testing.assert_frame_equal(_features(after), _features(base_snapshot(as_of)))


@st.composite
def rows_outside_horizon(draw, as_of: dt.date) -> dict[str, list[dict]]:
    """Event rows dated before as_of, or after the horizon (beyond the data's last date)."""
    before = draw(rows_dated(as_of, -900, -1))
    after = draw(rows_dated(as_of, HORIZON + 1, HORIZON + 500))
    out = {}
    for name in ("invoices", "tickets", "usage", "am_grades"):
        out[name] = before[name] + after[name]
    for row in out["invoices"]:
        # a write-off is an outcome event: keep it outside (as_of, as_of + horizon] too
        issued = row["issued_on"]
        row["written_off_on"] = None if issued < as_of else row["written_off_on"]
    out["contracts"] = [c for c in before["contracts"] if c["end_date"] is not None
                        and c["end_date"] < _day(as_of, -60)]
    return out


@pytest.mark.slow
@SETTINGS
@given(data=st.data(), as_of=st.sampled_from(AS_OF))
def test_outcomes_use_only_rows_after_as_of(data, as_of):
    extra = data.draw(rows_outside_horizon(as_of))
    after = snapshot(make_dataset(_with(base_frames(), extra)), as_of=as_of, horizon=HORIZON)
    pd.testing.assert_frame_equal(_outcomes(after), _outcomes(base_snapshot(as_of)))


def test_outcomes_do_change_with_rows_in_the_horizon():
    """The property above is not vacuous: a write-off inside the horizon lowers realised profit."""
    as_of = AS_OF[1]
    base = base_snapshot(as_of)
    account = base["account_id"].iloc[0]
    extra = {"invoices": [{
        "invoice_id": "W1", "account_id": account, "issued_on": _day(as_of, -40),
        "due_on": _day(as_of, -10), "paid_on": None, "amount_usd": 5000.0,
        "written_off_on": _day(as_of, 100),
    }]}
    after = snapshot(make_dataset(_with(base_frames(), extra)), as_of=as_of, horizon=HORIZON)
    diff = base["realised_gross_profit_usd"].iloc[0] - after["realised_gross_profit_usd"].iloc[0]
    assert diff == pytest.approx(5000.0)
    assert FEATURE_COLUMNS  # the dictionary is not empty
