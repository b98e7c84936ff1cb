"""Large tables: views over the file that give what the materialised tables give, and stay cheap to read."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

import icp.io as io

validate_module = importlib.import_module("icp.io.validate")  # the module, not icp.io.validate()

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
needs_sample = pytest.mark.skipif(not (SAMPLE / "accounts.csv").exists(),
                                  reason="data/sample/ has not been generated yet (make sample)")
TABLES = ("accounts", "contracts", "invoices", "tickets", "usage", "am_grades")


def _parquet_copy(tmp_path: Path, split: dict[str, int] | None = None) -> Path:
    """The sample as Parquet files; tables in ``split`` become folders of that many files."""
    out = tmp_path / "parquet"
    out.mkdir(parents=True)
    for name in (*TABLES, "prospects"):
        frame = pd.read_csv(SAMPLE / f"{name}.csv", dtype=str, keep_default_na=False)
        parts = (split or {}).get(name)
        if not parts:
            frame.to_parquet(out / f"{name}.parquet", index=False)
            continue
        (out / name).mkdir()
        size = -(-len(frame) // parts)
        for i in range(parts):
            frame.iloc[i * size:(i + 1) * size].to_parquet(out / name / f"part-{i:02d}.parquet", index=False)
    shutil.copy(SAMPLE / "icp.yaml", out / "icp.yaml")
    return out


def _everything(ds) -> dict:
    con = ds.backend.con
    out = {"report": {n: t for n, t in ds.validation.tables.items()}}
    for name in TABLES:
        frame = ds.to_pandas(name)
        out[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
        q = con.execute(f"SELECT * FROM quarantine__{name}").df()
        out["quarantine " + name] = q.sort_values(["source_row", "source_line"]).reset_index(drop=True)
    return out


@needs_sample
def test_large_table_views_give_what_the_tables_give(monkeypatch):
    tables = _everything(io.load(SAMPLE))
    monkeypatch.setattr(validate_module, "LARGE_ROWS", 0)  # every table a view over its file
    views = _everything(io.load(SAMPLE))
    assert tables["report"] == views["report"]
    assert sum(t.rows_quarantined for t in views["report"].values()) > 0  # the planted broken rows
    for key in tables:
        if key != "report":
            pd.testing.assert_frame_equal(tables[key], views[key], obj=key)


@needs_sample
def test_a_folder_of_parquet_files_numbers_rows_across_its_files(tmp_path):
    whole = io.load(_parquet_copy(tmp_path / "one"))
    parts = io.load(_parquet_copy(tmp_path / "many", {"usage": 3, "tickets": 4}))
    for name in ("usage", "tickets"):
        a = whole.backend.con.execute(f"SELECT * FROM quarantine__{name} ORDER BY source_row").df()
        b = parts.backend.con.execute(f"SELECT * FROM quarantine__{name} ORDER BY source_row").df()
        assert len(a) > 0, name
        # the same rows, at the same positions (counted from the first row of the first file)
        pd.testing.assert_frame_equal(a, b, obj=name)
        assert whole.validation.tables[name].rows_accepted == parts.validation.tables[name].rows_accepted


@needs_sample
def test_reading_a_large_table_evaluates_no_rule_and_no_window(tmp_path, monkeypatch):
    """The accepted rows of a large Parquet table are a plain scan: the row rules ran at load,
    and the row numbers come from the file, so a date filter reaches the Parquet reader."""
    monkeypatch.setattr(validate_module, "LARGE_ROWS", 0)
    ds = io.load(_parquet_copy(tmp_path))
    con = ds.backend.con
    plan = "\n".join(r[1] for r in con.execute(
        "EXPLAIN SELECT account_id, sum(events) FROM usage WHERE date >= DATE '2024-07-01' GROUP BY 1").fetchall())
    assert "WINDOW" not in plan.upper()
    assert "accounts" not in plan.lower()  # the account_id rule is not joined again
    scan = plan[plan.upper().index("READ_PARQUET"):] if "READ_PARQUET" in plan.upper() else plan
    assert "date" in scan.lower() and "2024-07-01" in scan


@needs_sample
def test_a_large_table_whose_file_changed_after_load_is_refused(tmp_path, monkeypatch):
    """A view reads its file at every query, and validation knows the rows it quarantined by
    their place in the file: a file rewritten after load must not be read as if validated."""
    from icp.exceptions import SchemaError
    from icp.snapshot import snapshot

    monkeypatch.setattr(validate_module, "LARGE_ROWS", 0)
    folder = _parquet_copy(tmp_path)
    ds = io.load(folder)
    assert set(ds.live_files) == set(TABLES) | {"prospects"}
    before = snapshot(ds, as_of="2024-12-31")
    usage = pd.read_parquet(folder / "usage.parquet")
    pd.concat([usage.iloc[1:], usage.iloc[:1]]).to_parquet(folder / "usage.parquet", index=False)
    with pytest.raises(SchemaError, match=r"usage table's usage\.parquet changed after the data was loaded"):
        snapshot(ds, as_of="2024-12-31")
    with pytest.raises(SchemaError, match="Load the data again"):
        ds.to_pandas("usage")
    again = snapshot(io.load(folder), as_of="2024-12-31")  # loaded again: the same rows, read afresh
    pd.testing.assert_frame_equal(before, again)


@needs_sample
def test_a_file_added_to_a_large_tables_folder_after_load_is_refused(tmp_path, monkeypatch):
    from icp.exceptions import SchemaError

    monkeypatch.setattr(validate_module, "LARGE_ROWS", 0)
    folder = _parquet_copy(tmp_path, {"usage": 2})
    ds = io.load(folder)
    ds.to_pandas("usage")  # unchanged: fine
    pd.read_parquet(folder / "usage" / "part-00.parquet").to_parquet(folder / "usage" / "part-02.parquet")
    with pytest.raises(SchemaError, match="usage table's usage changed"):
        ds.to_pandas("usage")


@needs_sample
def test_materialised_tables_do_not_depend_on_their_files_after_load():
    ds = io.load(SAMPLE)
    assert ds.live_files == {}  # the sample's tables are small: copied into the engine at load
