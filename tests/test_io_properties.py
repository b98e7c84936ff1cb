"""Property-based tests of the validators (hypothesis)."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import icp.io as io
from icp.io.categories import normalise_categories

spellings = st.text(alphabet=st.sampled_from("aAbB cC"), min_size=1, max_size=6)


@given(st.dictionaries(spellings, st.integers(1, 50), min_size=1, max_size=12))
def test_category_normalisation_is_idempotent(counts):
    first = normalise_categories(counts)
    clean_counts: dict[str, int] = {}
    for raw, n in counts.items():
        clean_counts[first[raw]] = clean_counts.get(first[raw], 0) + n
    again = normalise_categories(clean_counts)
    assert all(again[v] == v for v in clean_counts)


@given(st.dictionaries(spellings, st.integers(1, 50), min_size=1, max_size=12))
def test_values_that_differ_only_in_case_and_spacing_end_up_equal(counts):
    mapping = normalise_categories(counts)
    by_key: dict[str, set[str]] = {}
    for raw, clean in mapping.items():
        by_key.setdefault(" ".join(raw.split()).casefold(), set()).add(clean)
    assert all(len(v) == 1 for v in by_key.values())


cell = st.one_of(
    st.integers(-5, 500).map(str), st.sampled_from(["", " ", "NA", "abc", "1e400", "-0", "3.5", "007"]),
)
date_cell = st.one_of(
    st.dates(min_value=pd.Timestamp("1890-01-01").date(), max_value=pd.Timestamp("2030-12-31").date()).map(str),
    st.sampled_from(["", "2023-02-30", "31/12/2022", "not a date"]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    accounts=st.lists(st.tuples(st.sampled_from(["A1", "A2", "A3", "", "a1"]), cell), min_size=1, max_size=8),
    contracts=st.lists(
        st.tuples(st.sampled_from(["C1", "C2", "C3", ""]), st.sampled_from(["A1", "A2", "A9"]), date_cell, date_cell, cell),
        min_size=1, max_size=10),
)
def test_every_row_read_is_either_accepted_or_quarantined(tmp_path_factory, accounts, contracts):
    folder: Path = tmp_path_factory.mktemp("data")
    with (folder / "accounts.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["account_id", "industry", "employees"])
        w.writerows([[a, "Retail", e] for a, e in accounts])
    with (folder / "contracts.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["contract_id", "account_id", "start_date", "end_date", "arr_usd"])
        w.writerows(contracts)
        w.writerow(["Z1", "A1", "2020-01-01", "2020-06-30", "10"])  # one decided contract at least
    try:
        report = io.validate(folder)
    except (io.load.__globals__["SchemaError"], io.load.__globals__["InsufficientDataError"]):
        return  # a clear fatal message; the corpus checks its wording
    for t in report.tables.values():
        assert t.rows_read == t.rows_accepted + t.rows_quarantined
    assert report.tables["accounts"].rows_read == len(accounts)
    assert report.tables["contracts"].rows_read == len(contracts) + 1
