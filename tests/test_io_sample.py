"""The committed sample: validation quarantines exactly the rows planted as broken."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import icp.io as io

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
BROKEN = SAMPLE / "ground_truth" / "broken_rows.csv"


@pytest.mark.skipif(not BROKEN.exists(), reason="data/sample/ has not been generated yet (make sample)")
def test_sample_quarantines_exactly_the_planted_broken_rows(tmp_path):
    ds = io.load(SAMPLE)
    report = ds.validation
    assert report.rows_balanced
    planted = pd.read_csv(BROKEN, dtype=str)
    con = ds.backend.con
    for table, rows in planted.groupby("table"):
        key_col = rows.columns[1]
        quarantined = con.execute(f"SELECT * FROM quarantine__{table}").df()
        contract_key = io.CONTRACT[table].key
        if contract_key:
            found = quarantined[contract_key].astype(str)
        else:  # tables without an id: the planted key is "account_id|date" (usage) or "account_id|period"
            second = {"usage": "date", "am_grades": "period"}[table]
            found = quarantined["account_id"].astype(str) + "|" + quarantined[second].astype(str)
        assert sorted(rows[key_col].astype(str)) == sorted(found), (table, quarantined["reason"].tolist())
    for name, t in report.tables.items():
        if name not in set(planted["table"]):
            assert t.rows_quarantined == 0, (name, t.quarantine_reasons)


@pytest.mark.skipif(not BROKEN.exists(), reason="data/sample/ has not been generated yet (make sample)")
def test_load_reports_each_table_as_it_starts_and_counts_only_tables_present(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for f in SAMPLE.iterdir():  # the sample without its optional tickets table
        if f.is_file() and not f.name.startswith("tickets."):
            (folder / f.name).write_bytes(f.read_bytes())
    calls = []
    ds = io.load(folder, progress=lambda done, total, what: calls.append((done, total, what)))
    tables = list(ds.tables)
    assert "tickets" not in tables
    steps = [w for _, _, w in calls]
    assert steps == [f"reading and checking {t}" for t in tables] + [
        "outcomes, churn labels and modelling checks", "done"]
    dones = [d for d, _, _ in calls]
    assert dones == list(range(len(calls)))
    assert calls[-1][:2] == (len(tables) + 1, len(tables) + 1)
    # the caller shows progress: DuckDB's own bar is not printed over it
    assert ds.backend.con.execute("SELECT current_setting('enable_progress_bar_print')").fetchall()[0][0] is False
