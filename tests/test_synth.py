"""The sample generator: determinism, the data contract, the planted truth, the broken rows."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from icp.cli import main
from icp.synth import make_sample
from icp.synth._tables import SCHEMAS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
TABLES = ("accounts", "contracts", "invoices", "tickets", "usage", "am_grades", "prospects")
TRUTH_FILES = ("accounts.csv", "renewal_decisions.csv", "prospects.csv", "rules.json",
               "rules.md", "broken_rows.csv")


def _files(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())


def _raw(folder: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    return make_sample(tmp_path_factory.mktemp("sample"), accounts=800, years=4, seed=11)


@pytest.fixture(scope="module")
def broken(sample) -> pd.DataFrame:
    return pd.read_csv(sample / "ground_truth" / "broken_rows.csv", dtype=str)


@pytest.fixture(scope="module")
def clean(sample, broken) -> dict[str, pd.DataFrame]:
    """The tables read as a user would, without the rows listed as broken."""
    out = {}
    for table in TABLES:
        frame = pd.read_csv(sample / f"{table}.csv", dtype={"account_id": str}).drop_duplicates()
        listed = broken[(broken["table"] == table) & ~broken["problem"].str.startswith("duplicate")]
        if table in ("usage", "am_grades"):
            key = frame["account_id"] + "|" + frame["date" if table == "usage" else "period"]
        else:
            key = frame.iloc[:, 0]
        out[table] = frame[~key.isin(set(listed["key"]))].reset_index(drop=True)
    return out


@pytest.fixture(scope="module")
def truth(sample) -> pd.DataFrame:
    return pd.read_csv(sample / "ground_truth" / "accounts.csv", dtype={"account_id": str})


def test_same_seed_gives_identical_files_and_another_seed_different_ones(tmp_path):
    a = make_sample(tmp_path / "a", accounts=300, years=3, seed=7)
    b = make_sample(tmp_path / "b", accounts=300, years=3, seed=7)
    c = make_sample(tmp_path / "c", accounts=300, years=3, seed=8)
    assert _files(a) == _files(b) == _files(c)
    for rel in _files(a):
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel
    differing = [rel for rel in _files(a) if not filecmp.cmp(a / rel, c / rel, shallow=False)]
    assert {Path(f"{t}.csv") for t in TABLES} <= set(differing)


def test_every_contract_table_is_written_with_its_columns(sample):
    for table in TABLES:
        header = (sample / f"{table}.csv").read_text().splitlines()[0].split(",")
        assert header == [c for c, _ in SCHEMAS[table]], table
    for name in TRUTH_FILES:
        assert (sample / "ground_truth" / name).stat().st_size > 0, name
    assert (sample / "icp.yaml").exists() and (sample / "README.md").exists()


def test_clean_rows_have_the_contract_types(clean):
    acc = clean["accounts"]
    assert acc["account_id"].str.fullmatch(r"A\d{5}").all()  # text with leading zeros
    assert acc["account_id"].is_unique
    assert acc["employees"].dtype.kind == "i" and (acc["employees"] >= 0).all()
    assert acc["annual_revenue_usd"].dtype.kind == "f"
    for table, dates in {"accounts": ["customer_since"], "contracts": ["start_date", "end_date"],
                         "invoices": ["issued_on", "due_on", "paid_on", "written_off_on"],
                         "usage": ["date"]}.items():
        for col in dates:
            values = clean[table][col].dropna()
            parsed = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
            assert parsed.notna().all(), (table, col)
    for col in ("opened_at", "closed_at"):
        parsed = pd.to_datetime(clean["tickets"][col].dropna(), format="ISO8601", errors="coerce")
        assert parsed.notna().all()
    con = clean["contracts"]
    assert (pd.to_datetime(con["end_date"]) >= pd.to_datetime(con["start_date"])).all()
    assert (con["arr_usd"] >= 0).all() and con["gross_margin_pct"].between(-100, 100).all()
    assert set(con["status"]) <= {"renewed", "churned", "open"}
    assert (clean["invoices"]["amount_usd"] >= 0).all()
    tk = clean["tickets"]
    assert set(tk["priority"]) <= {"low", "normal", "high", "urgent"}
    assert tk["csat"].dropna().between(1, 5).all()
    grades = clean["am_grades"]
    assert grades["period"].str.fullmatch(r"\d{4}Q[1-4]").all()
    for col in ("partnerability", "eagerness", "strategic_fit"):
        assert grades[col].dropna().between(1, 5).all()
    assert set(grades["reference_willing"].dropna()) <= {"yes", "no"}
    known = set(acc["account_id"])
    for table in ("contracts", "invoices", "tickets", "usage", "am_grades"):
        assert set(clean[table]["account_id"]) <= known, table
    assert (pd.to_datetime(clean["usage"]["date"]).dt.day == 1).all()


def test_every_listed_broken_row_is_really_broken(sample, broken):
    raw = {t: _raw(sample, t) for t in TABLES}
    ids = set(raw["accounts"]["account_id"])
    assert len(broken) >= 10 and broken["table"].nunique() >= 6
    for row in broken.itertuples():
        frame = raw[row.table]
        if row.table in ("usage", "am_grades"):
            second = "date" if row.table == "usage" else "period"
            hit = frame[frame["account_id"] + "|" + frame[second] == row.key]
        else:
            hit = frame[frame.iloc[:, 0] == row.key]
        assert len(hit) >= 1, row
        rec = hit.iloc[-1]
        problem = row.problem
        if problem.startswith("duplicate"):
            assert len(hit) == 2
        elif problem == "negative employees":
            assert int(rec["employees"]) < 0
        elif problem == "end_date before start_date":
            assert rec["end_date"] < rec["start_date"]
        elif problem.startswith("negative"):
            assert float(rec[problem.split()[1]]) < 0
        elif problem.startswith("unparseable date"):
            col = problem.split()[-1]
            assert pd.isna(pd.to_datetime(rec[col], format="%Y-%m-%d", errors="coerce"))
        elif problem == "unknown account_id":
            assert rec["account_id"] not in ids
        elif "out of range" in problem:
            col = problem.split()[0]
            low, high = (-100, 100) if col == "gross_margin_pct" else (1, 5)
            assert not low <= float(rec[col]) <= high
        else:  # pragma: no cover - a new kind of broken row needs a check here
            raise AssertionError(f"no check for {problem}")


def test_renewal_decisions_are_real_contract_ends_with_their_outcome(sample, clean):
    dec = pd.read_csv(sample / "ground_truth" / "renewal_decisions.csv",
                      dtype={"account_id": str})
    con = clean["contracts"].drop_duplicates("contract_id")
    merged = dec.merge(con, on="contract_id", how="left", suffixes=("", "_c"))
    assert merged["end_date"].notna().all()
    assert (merged["account_id"] == merged["account_id_c"]).all()
    assert (merged["decision_date"] == merged["end_date"]).all()
    assert (merged["churned"] == (merged["status"] == "churned")).all()
    assert ((merged["status"] == "renewed") == ~merged["churned"]).all()
    assert dec["churn_probability"].between(0, 1, inclusive="neither").all()
    # every decided contract end of the history is listed
    end = pd.Timestamp("2025-12-31") - pd.Timedelta(days=30)
    decided = con[pd.to_datetime(con["end_date"]) <= end]
    assert set(decided["contract_id"]) == set(dec["contract_id"])


def test_true_churn_probabilities_are_honest(sample):
    dec = pd.read_csv(sample / "ground_truth" / "renewal_decisions.csv")
    assert len(dec) > 500
    bins = pd.qcut(dec["churn_probability"], 5, labels=False)
    by_bin = dec.groupby(bins).agg(p=("churn_probability", "mean"), rate=("churned", "mean"))
    assert (by_bin["rate"] - by_bin["p"]).abs().max() < 0.08
    assert by_bin["rate"].iloc[-1] > by_bin["rate"].iloc[0] + 0.4
    assert 0.12 <= dec["churned"].mean() <= 0.28


def _group(truth: pd.DataFrame) -> pd.Series:
    return pd.Series(np.where(truth["in_icp"], "icp", np.where(truth["in_anti_icp"], "anti",
                                                                 "rest")),
                     index=truth["account_id"])


def test_icp_renews_pays_and_needs_little_support_and_anti_icp_the_opposite(clean, truth):
    group = _group(truth)
    con = clean["contracts"]
    decided = con[con["status"].isin(["renewed", "churned"])]
    churn = (decided["status"] == "churned").groupby(decided["account_id"].map(group)).mean()
    assert churn["icp"] < 0.08 and churn["anti"] > 0.45
    assert churn["icp"] < churn["rest"] / 2 and churn["anti"] > churn["rest"] * 2

    inv = clean["invoices"]
    due = pd.to_datetime(inv["due_on"])
    paid = pd.to_datetime(inv["paid_on"])
    seen = due <= pd.Timestamp("2025-12-31")
    late = (paid.isna() | (paid > due))[seen]
    late_share = late.groupby(inv.loc[seen, "account_id"].map(group)).mean()
    assert late_share["icp"] < 0.08 and late_share["anti"] > 0.25
    assert late_share["anti"] > 2 * late_share["rest"] > 2 * late_share["icp"]
    written_off = inv["written_off_on"].notna().groupby(inv["account_id"].map(group)).sum()
    assert written_off["anti"] > 5 * max(written_off["icp"], 1)

    # tickets per active quarter (from the first contract start to the churn date or the end)
    span = con.assign(start=pd.to_datetime(con["start_date"]),
                      end=pd.to_datetime(con["end_date"]).clip(upper=pd.Timestamp("2025-12-31")))
    span = span.groupby("account_id").agg(start=("start", "min"), end=("end", "max"))
    quarters = ((span["end"] - span["start"]).dt.days + 1) / 91.31
    tickets = clean["tickets"].groupby("account_id").size().reindex(span.index, fill_value=0)
    per_group = tickets.groupby(group).sum() / quarters.groupby(group).sum()
    assert per_group["anti"] > 1.5 * per_group["rest"] > 1.5 * per_group["icp"]

    margin = con.groupby(con["account_id"].map(group))["gross_margin_pct"].mean()
    assert margin["icp"] > margin["rest"] + 10 > margin["anti"] + 20


def _normalise(values: pd.Series, synonyms: dict[str, str]) -> pd.Series:
    key = values.fillna("").map(lambda v: " ".join(str(v).split()).lower())
    table = {" ".join(k.split()).lower(): v.lower() for k, v in synonyms.items()}
    return key.map(lambda k: table.get(k, k))


def test_rules_json_and_icp_yaml_reproduce_the_planted_groups(sample, clean, truth):
    rules = json.loads((sample / "ground_truth" / "rules.json").read_text())
    synonyms = yaml.safe_load((sample / "icp.yaml").read_text())["categories"]["synonyms"]
    acc = clean["accounts"].set_index("account_id").loc[truth["account_id"]]
    industry = _normalise(acc["industry"], synonyms["industry"])
    channel = _normalise(acc["acquisition_channel"], synonyms["acquisition_channel"])
    icp_cond, emp_cond = rules["icp"]["conditions"]
    in_icp = industry.isin([v.lower() for v in icp_cond["values"]]) & acc["employees"].between(
        emp_cond["low"], emp_cond["high"])
    low, chan = rules["anti_icp"]["conditions"]
    in_anti = (acc["employees"] < low["value"]) & (channel == chan["value"])
    assert (in_icp.to_numpy() == truth["in_icp"].to_numpy()).all()
    assert (in_anti.to_numpy() == truth["in_anti_icp"].to_numpy()).all()
    assert not (truth["in_icp"] & truth["in_anti_icp"]).any()
    assert 0.13 <= truth["in_icp"].mean() <= 0.22 and 0.08 <= truth["in_anti_icp"].mean() <= 0.17
    # messy spellings are really there, and the canonical spellings cover every variant
    assert (acc["industry"].str.lower() != industry).mean() > 0.01
    assert (acc["industry"] != acc["industry"].str.strip().str.title()).mean() > 0.03
    canonical = {v.lower() for v in synonyms["industry"].values()}
    assert set(industry) <= canonical | {"construction", "education", "hospitality"}


def test_segments_are_all_present_and_overlap_with_the_groups(truth, sample):
    segments = json.loads((sample / "ground_truth" / "rules.json").read_text())["segments"]
    assert 4 <= len(segments) <= 6
    assert set(truth["segment"]) == set(segments)
    shares = pd.crosstab(_group(truth).to_numpy(), truth["segment"], normalize="index")
    assert (shares > 0).all().all()  # every group has every segment: they overlap


def test_prospects_carry_firmographics_only_and_a_planted_group(clean, sample):
    prospects = clean["prospects"]
    groups = pd.read_csv(sample / "ground_truth" / "prospects.csv")
    assert list(groups["prospect_id"]) == list(prospects["prospect_id"])
    assert set(groups["group"]) == {"icp", "anti_icp", "other"}
    assert len(prospects) == 267  # a third of the accounts
    assert "account_manager" not in prospects and "customer_since" not in prospects


def test_parquet_and_weekly_usage_are_typed_chunked_and_reproducible(tmp_path):
    out = make_sample(tmp_path / "pq", accounts=300, years=2, seed=3, fmt="parquet",
                      usage_grain="week", chunk_size=120)
    again = make_sample(tmp_path / "pq2", accounts=300, years=2, seed=3, fmt="parquet",
                        usage_grain="week", chunk_size=120)
    for rel in _files(out):
        assert filecmp.cmp(out / rel, again / rel, shallow=False), rel
    usage = pq.read_table(out / "usage.parquet")
    assert str(usage.schema.field("account_id").type) == "string"
    assert str(usage.schema.field("date").type) == "date32[day]"
    dates = usage.column("date").to_pandas()
    assert (pd.to_datetime(dates).dt.day_of_week == 0).all()  # weeks start on Monday
    assert pq.ParquetFile(out / "usage.parquet").metadata.num_row_groups == 3
    tickets = pq.read_table(out / "tickets.parquet")
    assert str(tickets.schema.field("opened_at").type).startswith("timestamp")
    accounts = pq.read_table(out / "accounts.parquet").to_pandas()
    assert accounts["account_id"].str.fullmatch(r"A\d{5}").all()
    # the unparseable-date row exists in CSV only; the others are there
    broken = pd.read_csv(out / "ground_truth" / "broken_rows.csv")
    assert "unparseable date in issued_on" not in set(broken["problem"])
    assert len(broken) >= 10


def test_daily_usage_has_one_row_per_active_day_with_quiet_weekends(tmp_path):
    out = make_sample(tmp_path / "day", accounts=100, years=1, seed=5, usage_grain="day")
    usage = pd.read_csv(out / "usage.csv", parse_dates=["date"])
    assert not usage.duplicated(["account_id", "date"]).any()
    span = usage.groupby("account_id")["date"].agg(["min", "max", "size"])
    assert ((span["max"] - span["min"]).dt.days + 1 == span["size"]).all()
    weekend = usage["date"].dt.day_of_week >= 5
    assert usage.loc[weekend, "events"].mean() < 0.5 * usage.loc[~weekend, "events"].mean()


def test_bad_parameters_are_refused_with_a_clear_message(tmp_path):
    with pytest.raises(ValueError, match="'accounts' parameter of make_sample must be an int"):
        make_sample(tmp_path, accounts=5)
    with pytest.raises(ValueError, match="'fmt' parameter"):
        make_sample(tmp_path, fmt="xlsx")
    with pytest.raises(ValueError, match="ISO date"):
        make_sample(tmp_path, end_date="31/12/2025")


def test_icp_sample_command_writes_the_sample(tmp_path, capsys):
    assert main(["sample", "--out", str(tmp_path / "s"), "--accounts", "200", "--years", "3",
                 "--seed", "7"]) == 0
    assert main(["sample", "--out", str(tmp_path / "s2"), "--accounts", "200", "--years", "3",
                 "--seed", "7"]) == 0
    for rel in _files(tmp_path / "s"):
        assert filecmp.cmp(tmp_path / "s" / rel, tmp_path / "s2" / rel, shallow=False), rel
    assert "200 accounts" in capsys.readouterr().out
    assert main(["sample", "--out", str(tmp_path / "t"), "--accounts", "3"]) == 2


@pytest.mark.slow
def test_committed_sample_is_what_make_sample_regenerates(tmp_path):
    if not (SAMPLE / "accounts.csv").exists():
        pytest.fail("data/sample/ is missing: run `make sample`.")
    fresh = make_sample(tmp_path / "sample", accounts=3000, years=4, seed=42, fmt="csv")
    assert _files(fresh) == _files(SAMPLE)
    for rel in _files(fresh):
        assert filecmp.cmp(fresh / rel, SAMPLE / rel, shallow=False), rel
    size = sum((SAMPLE / rel).stat().st_size for rel in _files(SAMPLE))
    assert size < 15_000_000
