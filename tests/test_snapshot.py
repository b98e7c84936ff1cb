"""Point-in-time snapshots: hand-checked features and outcomes, panels, options and errors."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from icp.config import Config
from icp.dataset import Dataset
from icp.exceptions import InsufficientDataError, SchemaError
from icp.snapshot import (
    FEATURE_COLUMNS,
    FEATURE_DICTIONARY,
    KEY_COLUMNS,
    OUTCOME_COLUMNS,
    parse_as_of,
    parse_horizon,
    quarter_ends,
    snapshot,
)

D = dt.date

CONTRACT_TYPES = {"contract_id": "str", "account_id": "str", "start_date": "datetime64[s]",
                  "end_date": "datetime64[s]", "arr_usd": "float64", "plan": "str",
                  "gross_margin_pct": "float64"}


def make_dataset(frames: dict[str, pd.DataFrame], *, config: Config | None = None, form="multi") -> Dataset:
    """A Dataset on DuckDB from contract-typed frames (dates as datetime.date columns)."""
    con = ibis.duckdb.connect()
    tables = {}
    for name, frame in frames.items():
        frame = frame.copy()
        for col in ("start_date", "end_date", "issued_on", "due_on", "paid_on", "written_off_on",
                    "date", "customer_since"):
            if col in frame:
                frame[col] = pd.to_datetime(frame[col]).dt.date.astype(object).where(frame[col].notna(), None)
        tables[name] = ibis.memtable(frame)
    return Dataset(form=form, tables=tables, backend=con, config=config or Config())


def make_frames(seed: int = 0, n_accounts: int = 12) -> dict[str, pd.DataFrame]:
    """A small, seeded multi-table dataset from 2022 to mid-2026 with renewals, churn and gaps."""
    rng = np.random.default_rng(seed)
    ids = [f"A{i:02d}" for i in range(n_accounts)]
    accounts = pd.DataFrame({
        "account_id": ids,
        "industry": rng.choice(["Retail", "SaaS", "Bank"], n_accounts),
        "employees": rng.integers(1, 8000, n_accounts),
        "annual_revenue_usd": rng.uniform(1e5, 2e9, n_accounts),
        "founded_year": rng.integers(1950, 2020, n_accounts),
    })
    contracts, invoices, tickets, usage, grades = [], [], [], [], []
    for a in ids:
        start = D(2022, 1, 1) + dt.timedelta(days=int(rng.integers(0, 500)))
        arr = float(rng.uniform(5e3, 9e4))
        while start < D(2026, 6, 1):
            term = int(rng.choice([182, 365, 730]))
            end = start + dt.timedelta(days=term - 1)
            contracts.append((f"C{len(contracts):04d}", a, start, end, round(arr, 2),
                              rng.choice(["Basic", "Pro"]), float(rng.integers(30, 90))))
            for m in range(0, term, 91):
                issued = start + dt.timedelta(days=m)
                due = issued + dt.timedelta(days=30)
                late = int(rng.choice([0, 0, 5, 40, 400]))
                paid = due + dt.timedelta(days=late - 10) if late < 400 else None
                wo = due + dt.timedelta(days=120) if paid is None else None
                invoices.append((f"I{len(invoices):05d}", a, issued, due, paid, arr / 4, wo))
            gap = int(rng.choice([1, 1, 1, 20, 90]))  # 90 days: beyond the grace period, a churn
            start = end + dt.timedelta(days=gap)
            arr *= float(rng.uniform(0.8, 1.3))
        for _ in range(int(rng.integers(3, 15))):
            opened = pd.Timestamp("2022-01-01") + pd.Timedelta(minutes=int(rng.integers(0, 2_300_000)))
            closed = opened + pd.Timedelta(minutes=int(rng.integers(60, 12000))) if rng.random() < 0.9 else pd.NaT
            tickets.append((f"T{len(tickets):05d}", a, opened, closed,
                            rng.choice(["low", "normal", "high", "urgent"]),
                            float(rng.integers(1, 6)) if rng.random() < 0.7 else np.nan))
        for month in pd.date_range("2022-01-01", "2026-06-01", freq="MS"):
            usage.append((a, month.date(), float(rng.integers(1, 50)), float(rng.integers(0, 5000))))
        for period in pd.period_range("2022Q1", "2026Q1", freq="Q"):
            if rng.random() < 0.6:
                grades.append((a, f"{period.year}Q{period.quarter}", float(rng.integers(1, 6)),
                               rng.choice(["yes", "no"]), float(rng.integers(1, 6)), float(rng.integers(1, 6)), "am"))
    return {
        "accounts": accounts,
        "contracts": pd.DataFrame(contracts, columns=list(CONTRACT_TYPES)),
        "invoices": pd.DataFrame(invoices, columns=["invoice_id", "account_id", "issued_on", "due_on",
                                                    "paid_on", "amount_usd", "written_off_on"]),
        "tickets": pd.DataFrame(tickets, columns=["ticket_id", "account_id", "opened_at", "closed_at",
                                                  "priority", "csat"]),
        "usage": pd.DataFrame(usage, columns=["account_id", "date", "active_users", "events"]),
        "am_grades": pd.DataFrame(grades, columns=["account_id", "period", "partnerability",
                                                   "reference_willing", "eagerness", "strategic_fit",
                                                   "graded_by"]),
    }


def tiny_frames() -> dict[str, pd.DataFrame]:
    """Three accounts whose features and outcomes are worked out by hand in the tests."""
    ts = pd.Timestamp
    return {
        "accounts": pd.DataFrame({"account_id": ["a1", "a2", "a3", "a4"], "industry": ["Retail", "SaaS", "Bank", "Bank"],
                                  "employees": [40, 300, 5000, 3], "annual_revenue_usd": [2e6, 5e7, 2e9, 1e5],
                                  "founded_year": [2000, 2010, 1950, 2020]}),
        "contracts": pd.DataFrame({
            "contract_id": ["c1", "c2", "c3", "c4", "c5"], "account_id": ["a1", "a1", "a2", "a3", "a4"],
            "start_date": [D(2023, 7, 1), D(2024, 7, 1), D(2024, 1, 1), D(2024, 1, 1), D(2022, 1, 1)],
            "end_date": [D(2024, 6, 30), D(2025, 6, 30), D(2024, 12, 31), D(2025, 12, 31), D(2023, 1, 1)],
            "arr_usd": [10000.0, 12000.0, 50000.0, 80000.0, 999.0],
            "gross_margin_pct": [70.0, 75.0, 60.0, np.nan, 50.0], "plan": ["basic", "pro", "ent", "ent", "x"]}),
        "invoices": pd.DataFrame({
            "invoice_id": ["i1", "i2"], "account_id": ["a1", "a2"], "issued_on": [D(2024, 7, 1), D(2024, 8, 1)],
            "due_on": [D(2024, 7, 31), D(2024, 8, 31)], "paid_on": [D(2024, 8, 10), None],
            "amount_usd": [12000.0, 50000.0], "written_off_on": [None, D(2025, 1, 15)]}),
        "tickets": pd.DataFrame({
            "ticket_id": ["t1", "t2"], "account_id": ["a1", "a1"],
            "opened_at": [ts("2024-08-01 10:00"), ts("2024-10-01 10:00")],
            "closed_at": [ts("2024-08-01 14:00"), ts("2024-11-01 10:00")],
            "priority": ["urgent", "low"], "csat": [4.0, np.nan]}),
        "usage": pd.DataFrame({
            "account_id": ["a1"] * 3 + ["a3"], "date": [D(2024, 7, 1), D(2024, 8, 1), D(2024, 9, 1), D(2026, 3, 1)],
            "active_users": [5.0, 6.0, 7.0, 1.0], "events": [100.0, 200.0, 300.0, 1.0]}),
        "am_grades": pd.DataFrame({
            "account_id": ["a1", "a1"], "period": ["2024Q2", "2024Q3"], "partnerability": [3.0, 4.0],
            "reference_willing": ["yes", "no"], "eagerness": [2.0, 5.0], "strategic_fit": [1.0, 2.0],
            "graded_by": ["x", "x"]}),
    }


@pytest.fixture(scope="module")
def tiny():
    snap = snapshot(make_dataset(tiny_frames()), as_of="2024-09-30")
    return snap.set_index("account_id")


def test_snapshot_keeps_accounts_active_at_as_of_only(tiny):
    # a4's only contract ended in 2023: not a customer at as_of
    assert list(tiny.index) == ["a1", "a2", "a3"]
    assert list(tiny.columns[:1]) == ["as_of"]
    assert set(FEATURE_COLUMNS) | set(OUTCOME_COLUMNS) <= set(tiny.columns)


def test_contract_features_match_hand_computation(tiny):
    a1 = tiny.loc["a1"]
    assert a1["arr_usd"] == 12000.0
    assert a1["arr_growth_12m_pct"] == pytest.approx(20.0)
    assert a1["contract_count"] == 2
    assert a1["plan"] == "pro"
    assert a1["gross_margin_pct"] == 75.0
    assert a1["tenure_months"] == pytest.approx(457 / 30.4375)
    assert tiny.loc["a2", "arr_growth_12m_pct"] != tiny.loc["a2", "arr_growth_12m_pct"]  # NaN: no ARR a year ago
    assert tiny.loc["a3", "contract_term_months"] == pytest.approx(731 / 30.4375)
    assert (tiny["employees_band"].tolist(), tiny["revenue_band"].tolist()) == (
        ["10-49", "200-999", "5000+"], ["$1M-10M", "$50M-250M", "$1B+"])


def test_payment_support_usage_and_grade_features_match_hand_computation(tiny):
    a1, a2 = tiny.loc["a1"], tiny.loc["a2"]
    assert (a1["days_late_mean"], a1["late_payment_share"], a1["overdue_usd"]) == (10.0, 1.0, 0.0)
    # unpaid at as_of: 30 days late so far, all of it overdue
    assert (a2["days_late_mean"], a2["overdue_usd"], a2["written_off_usd"]) == (30.0, 50000.0, 0.0)
    # only t1 was opened before as_of; a full year of exposure
    assert a1["tickets_per_quarter"] == pytest.approx(91.3125 / 365)
    assert a1["tickets_per_10k_arr"] == pytest.approx(1 / 1.2)
    assert (a1["urgent_ticket_share"], a1["resolution_hours_mean"], a1["csat_mean"]) == (1.0, 4.0, 4.0)
    assert a1["cost_to_serve_usd"] == pytest.approx(400 + 320 + 50)
    # the three monthly rows of the last 3 calendar months; nothing in the 3 months before them
    assert (a1["active_users"], a1["events_90d"]) == (6.0, 600.0) and np.isnan(a1["usage_trend_90d"])
    # 2024Q3 ends on as_of, so the latest grade known is 2024Q2's
    assert (a1["am_partnerability"], a1["am_reference_willing"], a1["am_eagerness"]) == (3.0, 1.0, 2.0)


def test_outcomes_match_hand_computation(tiny):
    a1, a2, a3 = tiny.loc["a1"], tiny.loc["a2"], tiny.loc["a3"]
    assert (a1["renewal_due"], a1["churned"], a1["renewed"]) == (True, True, False)
    assert a1["churn_date"] == pd.Timestamp("2025-06-30")
    assert a1["revenue_horizon_usd"] == pytest.approx(12000 * 273 / 365)
    assert a1["realised_gross_profit_usd"] == pytest.approx(12000 * 273 / 365 * 0.75 - 40)
    assert a2["churn_date"] == pd.Timestamp("2024-12-31")
    assert a2["realised_gross_profit_usd"] == pytest.approx(50000 * 92 / 365 * 0.6 - 50000)
    assert (a3["renewal_due"], a3["churned"], a3["arr_next_usd"], a3["arr_change_usd"]) == (False, False, 80000.0, 0.0)
    # a3 has no margin: the ARR-weighted margin of all contracts is used
    fallback = (10000 * 70 + 12000 * 75 + 50000 * 60 + 999 * 50) / (10000 + 12000 + 50000 + 999)
    assert a3["realised_gross_profit_usd"] == pytest.approx(80000 * fallback / 100)
    assert a3["customer_value_usd"] == pytest.approx(a3["realised_gross_profit_usd"])
    assert tiny["horizon_complete"].all()


def test_days_to_renewal_counts_to_the_next_contract_end_and_below_zero_while_a_renewal_is_open(tiny):
    assert tiny["days_to_renewal"].to_dict() == {"a1": 273.0, "a2": 92.0, "a3": 457.0}
    later = snapshot(make_dataset(tiny_frames()), as_of="2025-01-20").set_index("account_id")
    assert later.loc["a2", "days_to_renewal"] == -20.0  # ended 2024-12-31, decision still open


def test_label_is_final_a_grace_period_after_the_decision_that_settles_it(tiny):
    assert tiny["label_final_on"].to_dict() == {
        "a1": pd.Timestamp("2025-07-30"),  # decided 2025-06-30: a renewal on its 1-year term runs past the horizon
        "a2": pd.Timestamp("2025-01-30"),
        "a3": pd.Timestamp("2025-10-30"),  # no decision in the horizon: its end, and the grace period
    }


def test_when_a_label_is_final_does_not_depend_on_the_outcome():
    # a1 renews this time: its label is final on the same day as when it churned
    frames = tiny_frames()
    frames["contracts"] = pd.concat([frames["contracts"], pd.DataFrame({
        "contract_id": ["c6"], "account_id": ["a1"], "start_date": [D(2025, 7, 1)], "end_date": [D(2026, 6, 30)],
        "arr_usd": [12000.0], "gross_margin_pct": [75.0], "plan": ["pro"]})], ignore_index=True)
    snap = snapshot(make_dataset(frames), as_of="2024-09-30").set_index("account_id")
    assert not snap.loc["a1", "churned"]
    assert snap.loc["a1", "label_final_on"] == pd.Timestamp("2025-07-30")
    # a 3-month contract: whether it churns or renews, only the end of the horizon settles the year
    short = pd.DataFrame({"contract_id": ["c7"], "account_id": ["a3"], "start_date": [D(2024, 8, 1)],
                          "end_date": [D(2024, 10, 31)], "arr_usd": [100.0], "gross_margin_pct": [50.0],
                          "plan": ["x"]})
    for renews in (False, True):
        more = [short] + ([short.assign(contract_id="c8", start_date=D(2024, 11, 1), end_date=D(2025, 1, 31))]
                          if renews else [])
        frames = tiny_frames()
        frames["contracts"] = pd.concat([frames["contracts"][frames["contracts"].account_id != "a3"], *more],
                                        ignore_index=True)
        snap = snapshot(make_dataset(frames), as_of="2024-09-30").set_index("account_id")
        assert snap.loc["a3", "label_final_on"] == pd.Timestamp("2025-10-30")


def test_renewal_within_grace_period_is_not_churn():
    frames = tiny_frames()
    frames["contracts"] = pd.concat([frames["contracts"], pd.DataFrame({
        "contract_id": ["c6"], "account_id": ["a1"], "start_date": [D(2025, 7, 20)], "end_date": [D(2026, 7, 19)],
        "arr_usd": [15000.0], "gross_margin_pct": [75.0], "plan": ["pro"]})], ignore_index=True)
    snap = snapshot(make_dataset(frames), as_of="2024-09-30").set_index("account_id")
    a1 = snap.loc["a1"]
    assert (a1["churned"], a1["renewed"], a1["arr_next_usd"], a1["arr_change_usd"]) == (False, True, 15000.0, 3000.0)
    late = frames["contracts"].assign(start_date=frames["contracts"]["start_date"].replace(D(2025, 7, 20), D(2025, 8, 20)))
    snap = snapshot(make_dataset({**frames, "contracts": late}), as_of="2024-09-30").set_index("account_id")
    assert snap.loc["a1", "churned"]  # 51 days later: beyond the 30-day grace period
    grace60 = Config().updated(grace_period_days=60)
    snap = snapshot(make_dataset({**frames, "contracts": late}, config=grace60), as_of="2024-09-30")
    assert not snap.set_index("account_id").loc["a1", "churned"]


def test_contract_ended_within_grace_period_keeps_account_active_with_its_arr():
    snap = snapshot(make_dataset(tiny_frames()), as_of="2025-01-20").set_index("account_id")
    assert "a2" in snap.index  # ended 2024-12-31, decision still open
    assert snap.loc["a2", "arr_usd"] == 50000.0 and snap.loc["a2", "churned"]
    assert "a2" not in snapshot(make_dataset(tiny_frames()), as_of="2025-02-15")["account_id"].tolist()


def test_churn_is_not_called_when_the_grace_period_runs_past_the_data():
    frames = tiny_frames()
    frames["usage"] = frames["usage"].iloc[:3]  # the data now ends in 2024-10
    snap = snapshot(make_dataset(frames), as_of="2024-09-30").set_index("account_id")
    assert not snap.loc["a1", "churned"] and not snap.loc["a1", "renewed"]
    assert not snap["horizon_complete"].any()


def test_panel_over_quarters_has_one_row_per_account_and_date():
    frames = make_frames(seed=1, n_accounts=8)
    panel = snapshot(make_dataset(frames), as_of="2023Q3:2024Q2")
    assert sorted(panel["as_of"].dt.date.unique()) == quarter_ends("2023Q3:2024Q2")
    assert not panel.duplicated(list(KEY_COLUMNS)).any()
    one = snapshot(make_dataset(frames), as_of="2024-03-31")
    again = panel[panel["as_of"] == pd.Timestamp("2024-03-31")].reset_index(drop=True)
    pd.testing.assert_frame_equal(again, one)


def test_horizon_changes_outcomes_not_features():
    ds = make_dataset(make_frames(seed=2, n_accounts=8))
    year = snapshot(ds, as_of="2024-06-30", horizon="365d")
    quarter = snapshot(ds, as_of="2024-06-30", horizon="90d")
    features = [c for c in year.columns if c not in OUTCOME_COLUMNS]
    pd.testing.assert_frame_equal(year[features], quarter[features])
    assert (quarter["revenue_horizon_usd"] <= year["revenue_horizon_usd"] + 1e-9).all()
    assert quarter.attrs["horizon_days"] == 90


def test_progress_callback_counts_up_to_its_total():
    calls = []
    snapshot(make_dataset(tiny_frames()), as_of=["2024-09-30", "2024-12-31"],
             progress=lambda done, total, what: calls.append((done, total, what)))
    assert [c[0] for c in calls] == list(range(1, len(calls) + 1))
    assert calls[-1][0] == calls[-1][1]


def test_single_table_form_passes_customers_through_with_churned():
    customers = pd.DataFrame({"account_id": ["1", "2"], "tenure": [3, 40], "churned": [True, False]})
    snap = snapshot(make_dataset({"customers": customers}, form="single"))
    assert snap["churned"].tolist() == [True, False] and snap["tenure"].tolist() == [3, 40]


def test_no_active_account_is_a_clear_error():
    with pytest.raises(InsufficientDataError, match="No account was active at 2010-01-01"):
        snapshot(make_dataset(tiny_frames()), as_of="2010-01-01")


def test_missing_contracts_table_is_a_clear_error():
    frames = tiny_frames()
    del frames["contracts"]
    with pytest.raises(SchemaError, match="contracts"):
        snapshot(make_dataset(frames), as_of="2024-09-30")


def test_optional_tables_may_be_absent():
    frames = {k: v for k, v in tiny_frames().items() if k in ("accounts", "contracts")}
    snap = snapshot(make_dataset(frames), as_of="2024-09-30")
    assert snap["csat_mean"].isna().all() and snap["arr_usd"].notna().all()


@pytest.mark.parametrize("text, days", [("365d", 365), ("52w", 364), ("12m", 365), ("2y", 730), (90, 90)])
def test_parse_horizon_reads_units(text, days):
    assert parse_horizon(text) == days


@pytest.mark.parametrize("bad", ["soon", "0d", "-3d"])
def test_parse_horizon_rejects_nonsense(bad):
    with pytest.raises(SchemaError, match="horizon"):
        parse_horizon(bad)


def test_quarter_ends_and_as_of_parsing():
    assert quarter_ends("2023Q4:2024Q1") == [D(2023, 12, 31), D(2024, 3, 31)]
    assert parse_as_of(["2024-03-31", D(2023, 12, 31), "2024-03-31"]) == [D(2023, 12, 31), D(2024, 3, 31)]
    with pytest.raises(SchemaError, match="ends before it starts"):
        quarter_ends("2025Q2:2024Q1")
    with pytest.raises(SchemaError, match="not understood"):
        parse_as_of("yesterday-ish")


def test_feature_dictionary_documents_every_made_column():
    assert {"feature", "group", "meaning", "unit", "formula"} <= set(FEATURE_DICTIONARY.columns)
    assert set(FEATURE_DICTIONARY["feature"]) == set(FEATURE_COLUMNS) | set(OUTCOME_COLUMNS)
    assert FEATURE_DICTIONARY[["meaning", "unit", "formula"]].map(bool).all().all()


def test_usage_trend_is_empty_when_the_earlier_window_predates_the_tenure():
    # a5 became a customer 120 days before as_of: its "previous 3 months" start before
    # its first contract, so the trend would compare a partial quarter with a full one
    as_of = D(2024, 9, 30)
    frames = tiny_frames()
    starts = {"a5": as_of - dt.timedelta(days=120), "a6": D(2024, 3, 30)}  # a6: exactly 6 months
    frames["contracts"] = pd.concat([frames["contracts"], pd.DataFrame({
        "contract_id": ["c7", "c8"], "account_id": ["a5", "a6"], "start_date": list(starts.values()),
        "end_date": [D(2025, 12, 31)] * 2, "arr_usd": [9000.0] * 2, "gross_margin_pct": [70.0] * 2,
        "plan": ["pro"] * 2})], ignore_index=True)
    weeks = pd.date_range(D(2024, 3, 30), as_of - dt.timedelta(days=1), freq="7D").date
    frames["usage"] = pd.concat([frames["usage"]] + [pd.DataFrame({
        "account_id": a, "date": weeks, "active_users": 3.0, "events": 10.0}) for a in starts], ignore_index=True)
    snap = snapshot(make_dataset(frames), as_of=as_of).set_index("account_id")
    assert snap.loc["a5", "events_90d"] > 0
    assert np.isnan(snap.loc["a5", "usage_trend_90d"])
    # a tenure of exactly 6 months covers the earlier window: the trend is computed
    assert snap.loc["a6", "usage_trend_90d"] == pytest.approx(
        snap.loc["a6", "events_90d"] / (10.0 * sum(d < D(2024, 6, 30) for d in weeks)) - 1)


def test_monthly_usage_rows_count_three_months_in_each_window_at_every_quarter_end():
    # flat usage recorded once a month, dated the first: no trend, and three months of events,
    # whichever quarter ends (a 90-day window held two rows at some quarter ends, three at others)
    frames = tiny_frames()
    months = pd.date_range("2023-01-01", "2025-06-01", freq="MS").date
    frames["usage"] = pd.DataFrame({"account_id": "a3", "date": months, "active_users": 4.0, "events": 100.0})
    frames["contracts"].loc[frames["contracts"]["account_id"] == "a3", "start_date"] = D(2023, 1, 1)
    panel = snapshot(make_dataset(frames), as_of="2024Q1:2024Q4")
    a3 = panel[panel["account_id"] == "a3"].set_index("as_of")
    assert a3["events_90d"].tolist() == [300.0] * 4
    assert a3["usage_trend_90d"].tolist() == [0.0] * 4
    assert a3["active_users"].tolist() == [4.0] * 4


def test_per_account_tables_line_up_by_key_even_when_hashes_collide():
    from icp.snapshot_fetch import _row_positions

    keys = pa.chunked_array([pa.array(["a", "b", "c"])])
    part = pa.chunked_array([pa.array(["c", "x", "a", "a"])])  # "a" twice: its first row counts
    expected = [2, None, 0]
    distinct = _row_positions(keys, np.array([1, 2, 3]), [(part, np.array([3, 9, 1, 1]))])
    assert distinct[0].to_pylist() == expected
    # "x" hashes like "b", or two snapshot keys share a hash: aligned by value instead
    assert _row_positions(keys, np.array([1, 2, 3]), [(part, np.array([3, 2, 1, 1]))])[0].to_pylist() == expected
    assert _row_positions(keys, np.array([1, 1, 3]), [(part, np.array([3, 1, 1, 1]))])[0].to_pylist() == expected
