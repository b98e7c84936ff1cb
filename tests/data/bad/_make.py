"""Regenerate the bad-input corpus: python tests/data/bad/_make.py (the files are committed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent

ACCOUNTS = """account_id,name,industry,employees,annual_revenue_usd,region,country,founded_year,acquisition_channel,customer_since,account_manager
A1,Alpha,Retail,120,5000000,EMEA,DE,1999,referral,2022-01-01,Kim
A2,Beta,Software,15,800000,NA,US,2015,outbound,2022-03-01,Lee
A3,Gamma,Retail,300,9000000,EMEA,FR,1980,partner,2022-06-01,Kim
A4,Delta,Health,8,300000,APAC,SG,2019,outbound,2022-01-01,Ann
A5,Epsilon,Software,50,2000000,NA,CA,2010,inbound,2023-01-01,Lee
A6,Zeta,Health,75,3500000,EMEA,UK,2005,event,2021-01-01,Ann
"""
CONTRACTS = """contract_id,account_id,start_date,end_date,arr_usd,plan,gross_margin_pct
C1,A1,2022-01-01,2022-12-31,1000,Pro,60
C2,A1,2023-01-01,2023-12-31,1200,Pro,62
C3,A2,2022-03-01,2023-02-28,500,Basic,40
C4,A3,2022-06-01,2023-05-31,3000,Enterprise,70
C5,A3,2023-06-01,2024-05-31,3300,Enterprise,71
C6,A4,2022-01-01,2022-12-31,400,Basic,35
C7,A5,2023-01-01,,900,Pro,55
C8,A6,2021-01-01,2021-12-31,700,Pro,58
C9,A6,2022-01-10,2022-12-31,750,Pro,59
"""
TICKETS = """ticket_id,account_id,opened_at,closed_at,priority,category,csat
T1,A1,2022-02-01 10:00:00,2022-02-02 09:00:00,high,billing,4
T2,A2,2022-05-01 08:00:00,2022-05-03 08:00:00,urgent,outage,2
T3,A4,2022-07-01 12:00:00,,normal,how-to,
"""
SINGLE = "customer_id,plan,seats,region,churned\n" + "".join(
    f"K{i:03d},{['basic', 'pro', 'team'][i % 3]},{5 + (i * 7) % 40},{['north', 'south'][i % 2]},{'yes' if i % 4 == 0 else 'no'}\n"
    for i in range(1, 41)
)
SINGLE_ARGS = ["--id", "customer_id", "--churn", "churned=yes"]

cases: list[dict] = []


def folder(name: str, *, accounts: str = ACCOUNTS, contracts: str | None = CONTRACTS, extra: dict | None = None,
           config: str | None = None) -> Path:
    path = HERE / name
    path.mkdir()
    (path / "accounts.csv").write_text(accounts)
    if contracts is not None:
        (path / "contracts.csv").write_text(contracts)
    for fname, text in (extra or {}).items():
        (path / fname).write_text(text)
    if config is not None:
        (path / "icp.yaml").write_text(config)
    return path


def case(name: str, path: str, args: list[str], exit_code: int, fragment: str, **expect) -> None:
    cases.append({"name": name, "data": path, "args": args, "exit": exit_code, "fragment": fragment, **expect})


def single(name: str, text: str | bytes, suffix: str = ".csv") -> str:
    path = HERE / f"{name}{suffix}"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path.name


def main() -> None:
    for p in HERE.iterdir():
        if p.name not in ("_make.py", "__pycache__"):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    # --- single-table form ---------------------------------------------------
    case("empty file", single("empty", b""), SINGLE_ARGS, 2, "is empty")
    case("header only", single("header_only", "customer_id,plan,churned\n"), SINGLE_ARGS, 2, "has a header but no data rows")
    case("wrong delimiter", single("semicolon", SINGLE.replace(",", ";")), SINGLE_ARGS, 0, "uses ';' as its delimiter",
         accepted={"customers": 40})
    case("non-UTF-8 encoding", single("latin1", SINGLE.replace("north", "Montréal").encode("latin-1")), SINGLE_ARGS, 0,
         "is not UTF-8 encoded", accepted={"customers": 40})
    case("byte-order mark", single("bom", "\ufeff" + SINGLE), SINGLE_ARGS, 0, "churn rate", accepted={"customers": 40})
    case("UTF-16 file", single("utf16", SINGLE.encode("utf-16")), SINGLE_ARGS, 0, "churn rate", accepted={"customers": 40})
    case("duplicate column names", single("duplicate_columns", SINGLE.replace("region", "plan", 1)), SINGLE_ARGS, 2,
         "has the column name 'plan' twice")
    case("unknown id column", single("no_id_column", SINGLE), ["--id", "customerID", "--churn", "churned=yes"], 2,
         "has no id column 'customerID'")
    case("outcome value never seen", single("bad_outcome_value", SINGLE), ["--id", "customer_id", "--churn", "churned=maybe"],
         2, "never has the value 'maybe'")
    case("outcome without a value", single("outcome_no_value", SINGLE), ["--id", "customer_id", "--churn", "churned"], 2,
         "expects COLUMN=VALUE")
    case("single outcome class", single("single_class", SINGLE.replace(",yes\n", ",no\n")), SINGLE_ARGS, 2,
         "there is nothing to learn from")
    case("no id given for a single file", single("no_id_given", SINGLE), [], 2, "needs an id column and an outcome")
    lead = "customer_id,zip,seats,churned\n" + "".join(f"{i:05d},{i:05d},{i},{'yes' if i % 3 == 0 else 'no'}\n" for i in range(1, 31))
    case("ids with leading zeros stay strings", single("leading_zeros", lead), SINGLE_ARGS, 0, "churn rate",
         types={"customers.account_id": "string", "customers.zip": "string", "customers.seats": "int"})
    nulls = "customer_id,plan,notes_code,churned\n" + "".join(f"K{i},basic,,{'yes' if i % 2 else 'no'}\n" for i in range(30))
    case("all-null column", single("all_null_column", nulls), SINGLE_ARGS, 0, "is empty in every accepted row")
    case("duplicate ids", single("duplicate_ids", SINGLE + "K001,pro,9,south,no\n"), SINGLE_ARGS, 0,
         "quarantined: duplicate account_id", quarantined={"customers": 1})
    case("missing outcome", single("missing_outcome", SINGLE + "K900,pro,9,south,\n"), SINGLE_ARGS, 0,
         "quarantined: churned missing", quarantined={"customers": 1})
    case("ragged rows", single("ragged_rows", SINGLE + "K901,pro,9\nK902,pro,9,south,no,extra\n"), SINGLE_ARGS, 0,
         "unreadable line", quarantined={"customers": 2})
    score = "customer_id,plan,churn_score,churned\n" + "".join(
        f"K{i},basic,{0.9 if i % 2 else 0.1},{'yes' if i % 2 else 'no'}\n" for i in range(40))
    case("another model's churn score", single("churn_score", score), SINGLE_ARGS, 0, "looks like another model's churn score")
    perfect = "customer_id,plan,days_inactive,churned\n" + "".join(
        f"K{i},basic,{100 + i if i % 2 else i % 30},{'yes' if i % 2 else 'no'}\n" for i in range(60))
    case("perfect single-feature predictor", single("perfect_predictor", perfect), SINGLE_ARGS, 0,
         "predicts the outcome almost perfectly")
    text = "customer_id,plan,notes,churned\n" + "".join(
        f"K{i},basic,\"Called on day {i} about the invoice and asked for a discount\",{'yes' if i % 2 else 'no'}\n" for i in range(30))
    case("free-text column", single("free_text", text), SINGLE_ARGS, 0, "free text")
    huge = SINGLE.replace("K002,team,19", "K002,team,1e400").replace("K003,basic,26", "K003,basic,99999999999999999999999")
    case("huge values", single("huge_values", huge), SINGLE_ARGS, 0, "could not be read as a number",
         accepted={"customers": 40})
    case("unsupported file type", single("data", "{}", ".json"), SINGLE_ARGS, 2, "is not a file type")
    case("file does not exist", "does_not_exist.csv", SINGLE_ARGS, 2, "does not exist")
    frame = pd.DataFrame([line.split(",") for line in SINGLE.strip().splitlines()[1:]],
                         columns=SINGLE.splitlines()[0].split(","))
    with pd.ExcelWriter(HERE / "excel_title_row.xlsx") as xl:
        pd.DataFrame([["Customer export, March"], [None]]).to_excel(xl, header=False, index=False, startrow=0)
        frame.to_excel(xl, index=False, startrow=3)
    case("Excel sheet with a title row above the header", "excel_title_row.xlsx", SINGLE_ARGS, 0,
         "row(s) above its header", accepted={"customers": 40})
    # --- multi-table form ----------------------------------------------------
    folder("ok_folder", extra={"tickets.csv": TICKETS})
    case("a clean folder with an open-ended contract", "ok_folder", [], 0, "holds for every table",
         quarantined={"accounts": 0, "contracts": 0, "tickets": 0})
    path = HERE / "missing_accounts"
    path.mkdir()
    (path / "contracts.csv").write_text(CONTRACTS)
    case("missing required table", "missing_accounts", [], 2, "has no accounts table")
    folder("missing_required_column", contracts=CONTRACTS.replace(",end_date", ",end").replace("contract_id,", "contract_id,", 1))
    case("missing required column", "missing_required_column", [], 2,
         "contracts.csv is missing required column 'end_date'. Found columns: contract_id, account_id, start_date, end")
    folder("mapped_column", contracts=CONTRACTS.replace(",end_date", ",end"), config="tables:\n  contracts:\n    columns: {end_date: end}\n")
    case("a mapped column", "mapped_column", [], 0, "holds for every table", quarantined={"contracts": 0})
    folder("bad_mapping", config="tables:\n  contracts:\n    columns: {end_date: finish}\n")
    case("mapping to a column that is not there", "bad_mapping", [], 2, "has no such column")
    folder("invalid_yaml", config="tables:\n  contracts: [unclosed\n")
    case("invalid icp.yaml", "invalid_yaml", [], 2, "is not valid YAML")
    folder("wrong_types", accounts=ACCOUNTS.replace("A2,Beta,Software,15", "A2,Beta,Software,many"))
    case("wrong types", "wrong_types", [], 0, "employees unreadable", quarantined={"accounts": 1, "contracts": 1})
    folder("mixed_date_formats", contracts=CONTRACTS.replace("C6,A4,2022-01-01,2022-12-31", "C6,A4,01/15/2022,12/31/2022"))
    case("mixed date formats", "mixed_date_formats", [], 0, "are not ISO dates", quarantined={"contracts": 0})
    folder("ambiguous_dates", contracts=CONTRACTS.replace("C6,A4,2022-01-01,2022-12-31", "C6,A4,01/02/2022,11/12/2022"))
    case("ambiguous day-month dates", "ambiguous_dates", [], 0, "could be read day-first or month-first",
         quarantined={"contracts": 1})
    folder("future_dates", extra={"tickets.csv": TICKETS.replace("2022-07-01 12:00:00", "2999-07-01 12:00:00")})
    case("future dates", "future_dates", [], 0, "opened_at in the future", quarantined={"tickets": 1})
    folder("end_before_start", contracts=CONTRACTS.replace("C3,A2,2022-03-01,2023-02-28", "C3,A2,2022-03-01,2021-02-28"))
    case("end before start", "end_before_start", [], 0, "end_date before start_date", quarantined={"contracts": 1})
    folder("negative_arr", contracts=CONTRACTS.replace("C4,A3,2022-06-01,2023-05-31,3000", "C4,A3,2022-06-01,2023-05-31,-3000"))
    case("negative ARR", "negative_arr", [], 0, "arr_usd below 0", quarantined={"contracts": 1})
    folder("huge_arr", contracts=CONTRACTS.replace(",3300,", ",4e15,"))
    case("huge ARR", "huge_arr", [], 0, "arr_usd above", quarantined={"contracts": 1})
    folder("duplicate_contract_ids", contracts=CONTRACTS + "C2,A1,2023-01-01,2023-12-31,1200,Pro,62\n")
    case("duplicate contract ids", "duplicate_contract_ids", [], 0, "duplicate contract_id", quarantined={"contracts": 1})
    folder("orphan_foreign_keys", extra={"tickets.csv": TICKETS + "T4,A99,2022-08-01 10:00:00,,low,billing,5\n"})
    case("orphan foreign keys", "orphan_foreign_keys", [], 0, "account_id unknown", quarantined={"tickets": 1})
    folder("csat_out_of_range", extra={"tickets.csv": TICKETS.replace("outage,2", "outage,7")})
    case("scores out of range", "csat_out_of_range", [], 0, "csat above 5", quarantined={"tickets": 1})
    folder("bad_period", extra={"am_grades.csv": "account_id,period,partnerability,reference_willing,eagerness,strategic_fit,graded_by\n"
                                                 "A1,2023Q1,4,yes,3,4,Kim\nA2,2023 Q5,2,no,2,2,Lee\nA3,2023-q2,5,Y,4,5,Kim\n"})
    case("bad quarter", "bad_period", [], 0, "period unreadable", quarantined={"am_grades": 1})
    messy = ACCOUNTS.replace("A3,Gamma,Retail", "A3,Gamma, retail ").replace("A5,Epsilon,Software", "A5,Epsilon,SOFTWARE")
    folder("messy_categories", accounts=messy)
    case("messy categories", "messy_categories", [], 0, "Category clean-up changed 2 value(s) of industry",
         quarantined={"accounts": 0})
    folder("all_contracts_open", contracts="contract_id,account_id,start_date,end_date,arr_usd\nC1,A1,2023-01-01,,100\nC2,A2,2023-02-01,,200\n")
    case("no outcome", "all_contracts_open", [], 2, "No renewal decision was observed")
    broken = ACCOUNTS.splitlines()[0] + "\n" + "".join(f",Name{i},Retail,5,,,,,,,\n" for i in range(3))
    folder("no_usable_accounts", accounts=broken)
    case("no usable row", "no_usable_accounts", [], 2, "has no usable row")
    folder("header_only_accounts", accounts=ACCOUNTS.splitlines()[0] + "\n")
    case("header-only required table", "header_only_accounts", [], 2, "has a header but no data rows")
    (HERE / "cases.yaml").write_text(
        "# The bad-input corpus: each case runs `icp validate DATA ARGS` in-process (tests/test_io_corpus.py).\n"
        "# exit: expected exit code; fragment: text that must appear in the output;\n"
        "# accepted / quarantined: expected row counts per table; types: expected column types.\n"
        "# Regenerate with: python tests/data/bad/_make.py\n"
        + yaml.safe_dump(cases, sort_keys=False, allow_unicode=True)
    )
    print(f"{len(cases)} cases written")


if __name__ == "__main__":
    main()
