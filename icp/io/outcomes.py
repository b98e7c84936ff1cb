"""Contract chains: derived status and customer_since, the outcome balance, and other churn labels."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from icp.config import Config
from icp.exceptions import InsufficientDataError, SchemaError
from icp.io.readers import Source
from icp.io.report import Problem
from icp.io.sqltypes import clean_text, drop_relation, lit, q, type_family

__all__ = ["derive_contract_fields", "compare_churn_labels"]

_EVENT_DATES = (("contracts", "start_date"), ("invoices", "issued_on"), ("tickets", "opened_at"), ("usage", "date"))


def _reference_date(results: dict[str, Any], today: dt.date) -> dt.date:
    """The latest event date in the data (not after today): where the observed history ends."""
    found = []
    for table, col in _EVENT_DATES:
        if table in results:
            top = results[table].report.date_coverage.get(col, (None, None))[1]
            if top:
                found.append(dt.date.fromisoformat(str(top)[:10]))
    found = [d for d in found if d <= today]
    return max(found) if found else today


def derive_contract_fields(con, results: dict[str, Any], cfg: Config, today: dt.date) -> tuple[dict[str, Any], list[Problem], pd.Series]:
    """Fill ``status`` and ``customer_since`` where absent, and measure the outcome balance.

    A contract is *open* when it has no end date or its renewal decision is still
    pending (its end plus the grace period is after the end of the observed
    history); *renewed* when another contract of the account starts within the
    grace period after it ends and runs beyond it; *churned* otherwise.
    An account has churned when all its contracts are over by more than the
    grace period.

    Returns the outcome summary, problems, and the churn label per account_id.
    """
    grace = int(cfg.get("grace_period_days", 30))
    problems: list[Problem] = []
    ref = _reference_date(results, today)
    cols = [r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE contracts)").fetchall()]
    status = "c.status" if "status" in cols else "CAST(NULL AS VARCHAR)"
    derived = (
        f"CASE WHEN c.end_date IS NULL OR c.end_date + INTERVAL {grace} DAY > DATE '{ref}' THEN 'open' "
        f"WHEN EXISTS (SELECT 1 FROM contracts d WHERE d.account_id = c.account_id AND d.contract_id <> c.contract_id "
        f"AND d.start_date <= c.end_date + INTERVAL {grace} DAY AND d.start_date >= c.start_date "
        f"AND (d.end_date IS NULL OR d.end_date > c.end_date)) THEN 'renewed' ELSE 'churned' END"
    )
    select = "c.* REPLACE (" + f"COALESCE({status}, {derived}) AS status)" if "status" in cols else f"c.*, {derived} AS status"
    n_derived = con.execute(f"SELECT count(*) FROM contracts c WHERE {status} IS NULL").fetchall()[0][0]
    con.execute(f"CREATE OR REPLACE TABLE _contracts_s AS SELECT {select} FROM contracts c")
    drop_relation(con, "contracts")
    con.execute("ALTER TABLE _contracts_s RENAME TO contracts")
    if n_derived:
        problems.append(Problem("info", f"The status of {n_derived:,} contract(s) was derived from the contract chains "
                                f"(grace period {grace} days, history observed until {ref}).", "contracts", "status",
                                n_derived, "derived status"))
    acc_cols = [r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE accounts)").fetchall()]
    first = "(SELECT account_id AS _a, min(start_date) AS _first FROM contracts GROUP BY 1)"
    if "customer_since" in acc_cols:
        n_fill = con.execute(f"SELECT count(*) FROM accounts a JOIN {first} f ON f._a = a.account_id "
                             "WHERE a.customer_since IS NULL").fetchall()[0][0]
        sel = "a.* REPLACE (COALESCE(a.customer_since, f._first) AS customer_since)"
    else:
        n_fill = con.execute(f"SELECT count(*) FROM {first}").fetchall()[0][0]
        sel = "a.*, f._first AS customer_since"
    con.execute(f"CREATE OR REPLACE TABLE _accounts_s AS SELECT {sel} FROM accounts a LEFT JOIN {first} f "
                "ON f._a = a.account_id ORDER BY a.account_id")
    drop_relation(con, "accounts")
    con.execute("ALTER TABLE _accounts_s RENAME TO accounts")
    if n_fill:
        problems.append(Problem("info", f"customer_since of {n_fill:,} account(s) was taken from their first contract.",
                                "accounts", "customer_since", n_fill, "derived customer_since"))
    acc = con.execute(
        f"SELECT account_id, max(coalesce(end_date, DATE '9999-12-31')) + INTERVAL {grace} DAY <= DATE '{ref}' AS churned "
        "FROM contracts GROUP BY 1"
    ).df()
    label = acc.set_index("account_id")["churned"].astype(bool)
    counts = dict(con.execute("SELECT status, count(*) FROM contracts GROUP BY 1").fetchall())
    n_accounts = con.execute("SELECT count(*) FROM accounts").fetchall()[0][0]
    without = n_accounts - len(label)
    outcome = {
        "label": f"contract chains (grace period {grace} days)", "history_end": str(ref),
        "accounts": int(n_accounts), "accounts_with_contracts": int(len(label)),
        "churned_accounts": int(label.sum()), "active_accounts": int((~label).sum()),
        "renewal_decisions": {k: int(counts.get(k, 0)) for k in ("renewed", "churned", "open")},
    }
    if without:
        problems.append(Problem("warning", f"{without:,} account(s) have no accepted contract, so no outcome; they are kept "
                                "but cannot count as renewed or churned.", "accounts", "account_id", without, "no contract"))
    decided = counts.get("renewed", 0) + counts.get("churned", 0)
    if decided == 0 and label.sum() == 0:
        raise InsufficientDataError(
            f"No renewal decision was observed: all {sum(counts.values()):,} accepted contracts are still open as of "
            f"{ref}. Expected contracts that ended (renewed or churned) to learn from. "
            "Add the contract history, including ended contracts."
        )
    if label.nunique() < 2 and len(label):
        which = "churned" if label.all() else "stayed"
        problems.append(Problem("warning", f"Every account with a contract {which}, so churn cannot be compared between "
                                "customers. Expected both outcomes. Check end_date values and the grace period.",
                                "contracts", "end_date", int(len(label)), "single outcome class"))
    return outcome, problems, label


def _label_accounts(con, src: Source, entry: dict[str, Any]) -> tuple[str, set[str]]:
    if "file" in entry:
        name = str(entry.get("name") or Path(str(entry["file"])).stem)
        raw = src.reader(f"label_{len(name)}_{abs(hash(name)) % 10**6}", {"file": entry["file"]}) if src.kind == "folder" else None
        if raw is None:
            raise SchemaError(f"The churn label file {entry['file']} was not found beside the data. "
                              "Expected it in the data folder. Check churn_labels in icp.yaml.")
        col = str(entry.get("account_column", "account_id"))
        if col not in raw.columns:
            raise SchemaError(f"{raw.label} has no column '{col}'. Found columns: {', '.join(raw.columns)}. "
                              "Set account_column under churn_labels in icp.yaml.")
        s = clean_text(col, "text" if raw.text else "other")
        return name, {r[0] for r in con.execute(f"SELECT DISTINCT {s} FROM {raw.relation} WHERE {s} IS NOT NULL").fetchall()}
    table, col = str(entry.get("table")), str(entry.get("column"))
    cols = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {q(table)})").fetchall()) \
        if table in ("accounts", "contracts") else {}
    if col not in cols:
        raise SchemaError(f"churn_labels in icp.yaml names {table}.{col}, which was not found. "
                          f"Found columns: {', '.join(cols)}. Check the table and column names.")
    s = clean_text(col, type_family(cols[col]))
    value = str(entry.get("value", "true")).lower()
    rows = con.execute(f"SELECT DISTINCT account_id FROM {q(table)} WHERE lower({s}) = {lit(value)}").fetchall()
    return f"{table}.{col}", {r[0] for r in rows}


def compare_churn_labels(con, src: Source, cfg: Config, results: dict[str, Any], outcome: dict[str, Any]) -> list[Problem]:
    """Compare the churn labels declared under ``churn_labels`` with the contract chains, account by account."""
    entries = cfg.get("churn_labels") or []
    if not entries:
        return []
    accounts = {r[0] for r in con.execute("SELECT account_id FROM accounts").fetchall()}
    grace = int(cfg.get("grace_period_days", 30))
    chain = {r[0] for r in con.execute(
        f"SELECT account_id FROM contracts GROUP BY 1 HAVING max(coalesce(end_date, DATE '9999-12-31')) "
        f"+ INTERVAL {grace} DAY <= DATE '{outcome['history_end']}'").fetchall()}
    labels = {"contract chains": chain}
    for entry in entries:
        name, ids = _label_accounts(con, src, dict(entry))
        labels[name] = ids & accounts
    n = len(accounts)
    names = list(labels)
    agreement = {}
    worst = (1.0, "", "")
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            agree = 1 - len(labels[a] ^ labels[b]) / n if n else 1.0
            agreement[f"{a} vs {b}"] = round(agree, 4)
            worst = min(worst, (agree, a, b))
    outcome["churn_labels"] = {k: len(v) for k, v in labels.items()}
    outcome["label_agreement"] = agreement
    if worst[0] >= 0.95:
        return []
    counts = "; ".join(f"{k}: {len(v):,}" for k, v in labels.items())
    return [Problem(
        "warning", f"The churn labels in the data contradict each other. Churned accounts out of {n:,} by each label: "
        f"{counts}. {worst[1]} and {worst[2]} agree on only {worst[0]:.0%} of accounts. ICP Lens uses the contract chains; "
        "decide which definition of churn your business means before trusting any other label.",
        "accounts", None, n, "contradictory churn labels")]
