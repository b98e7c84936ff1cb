"""Loading the two real data sets beside the checkout (skipped where they are absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

import icp.io as io

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
TELCO = SHARED / "telco_churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
RAVEN = SHARED / "ravenstack"

pytestmark = pytest.mark.shared


@pytest.mark.skipif(not TELCO.exists(), reason="the Telco data set is not beside the checkout (../shared/datasets)")
@pytest.mark.parametrize("how", ["arguments", "example icp.yaml"])
def test_telco_loads_in_the_single_table_form_with_its_blank_total_charges_reported(how):
    if how == "arguments":
        ds = io.load(TELCO, id_column="customerID", churn="Churn=Yes")
    else:
        ds = io.load(TELCO, config=REPO / "examples" / "telco" / "icp.yaml")
    report = ds.validation
    t = report.tables["customers"]
    assert (t.rows_read, t.rows_accepted, t.rows_quarantined) == (7043, 7043, 0)
    assert t.column_types["TotalCharges"] == "float"
    assert round(t.missing_share["TotalCharges"] * 7043) == 11
    assert any(p.column == "TotalCharges" and p.count == 11 for p in report.problems)
    assert report.outcome["churned"] == 1869
    frame = ds.to_pandas("customers")
    assert frame["churned"].sum() == 1869
    assert frame["account_id"].iloc[0] == "7590-VHVEG"


@pytest.mark.skipif(not RAVEN.exists(), reason="the RavenStack data set is not beside the checkout (../shared/datasets)")
def test_ravenstack_loads_through_its_example_and_its_contradictory_labels_are_reported():
    ds = io.load(RAVEN, config=REPO / "examples" / "ravenstack" / "icp.yaml")
    report = ds.validation
    assert {n: t.rows_read for n, t in report.tables.items()} == {
        "accounts": 500, "contracts": 5000, "tickets": 2000, "usage": 25000}
    assert report.rows_balanced
    assert any(p.code == "contradictory churn labels" for p in report.problems)
    assert report.outcome["churn_labels"]["accounts.churn_flag"] == 110
    assert "churn_flag" in ds.excluded_columns
    usage = ds.to_pandas("usage")
    assert usage["account_id"].notna().all()
    contracts = ds.to_pandas("contracts")
    assert contracts["end_date"].isna().sum() == 4514  # open subscriptions are accepted
    assert set(ds.to_pandas("tickets")["priority"]) <= {"low", "normal", "high", "urgent"}
