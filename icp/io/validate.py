"""Row validation in DuckDB SQL: typing, row rules, quarantine and category clean-up.

One table at a time: a first statement types every column of the raw relation,
evaluates the contract's row rules and keeps the rows that break one, with a
``reason`` and their raw text, as ``broken__<name>`` (``quarantine__<name>`` shows
them). Accepted rows are the typed rows without those, found by their row
number: the rules are evaluated once, at load. Small tables are materialised as
``<name>``; large ones (more than ``LARGE_ROWS`` rows) stay views over the
file, so that snapshots aggregate them out of core without a copy, with their
filters reaching the file reader."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb

from icp.exceptions import SchemaError
from icp.io.categories import normalise_categories, synonym_map
from icp.io.contract import Column, TableContract
from icp.io.readers import RawTable
from icp.io.report import Problem, TableReport
from icp.io.sqltypes import (
    DATE_FORMATS,
    DUCKDB_OF,
    clean_text,
    drop_relation,
    lit,
    parse,
    q,
    type_family,
)

__all__ = ["ColumnPlan", "TableResult", "check_table", "LARGE_ROWS"]

log = logging.getLogger(__name__)

LARGE_ROWS = 2_000_000
_SAMPLE = 200_000
_SAFE_CASTS = {("text", "string"), ("text", "period"), ("number", "float"), ("date", "date"),
               ("timestamp", "timestamp"), ("date", "timestamp")}
_KIND_WORDS = {"int": "a whole number", "float": "a number", "date": "a date (YYYY-MM-DD)",
               "timestamp": "a date and time", "period": "a quarter (YYYYQn)", "yesno": "yes or no",
               "bool": "true or false"}


@dataclass
class ColumnPlan:
    """How one output column is made from the raw input."""

    name: str
    source: str | None
    kind: str
    family: str = "text"
    contract: Column | None = None
    date_format: str | None = None
    category: bool = False
    mapping: dict[str, str] = field(default_factory=dict)
    strict: bool = True  # unreadable cells quarantine the row (contract columns) or become missing
    profile: dict[str, Any] = field(default_factory=dict)


@dataclass
class TableResult:
    """What checking one table produced."""

    name: str
    report: TableReport
    plans: list[ColumnPlan]
    problems: list[Problem]
    category_changes: dict[str, int]
    large: bool


def _norm_name(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def resolve_columns(raw: RawTable, contract: TableContract, spec: dict[str, Any], *, via: bool = False) -> tuple[dict[str, str | None], list[Problem]]:
    """Match the contract's columns to the file's columns (icp.yaml mapping, then by name)."""
    mapped = dict(spec.get("columns") or {})
    unknown = sorted(set(mapped) - {c.name for c in contract.columns})
    if unknown:
        raise SchemaError(
            f"icp.yaml maps unknown {contract.name} columns: {', '.join(unknown)}. "
            f"Expected contract columns of {contract.name}: {', '.join(c.name for c in contract.columns)}. "
            "Write the contract's column name on the left and yours on the right."
        )
    found = ", ".join(raw.columns)
    out: dict[str, str | None] = {}
    problems = []
    by_norm: dict[str, list[str]] = {}
    for c in raw.columns:
        by_norm.setdefault(_norm_name(c), []).append(c)
    for col in contract.columns:
        if col.name in mapped:
            target = mapped[col.name]
            if target is None:
                out[col.name] = None
                problems.append(Problem(
                    "warning", f"{raw.label} has no {col.name} column (icp.yaml declares it absent); "
                    f"it is left empty, so analyses that need it skip it.", contract.name, col.name, code="absent column"))
                continue
            if str(target) not in raw.columns:
                raise SchemaError(
                    f"icp.yaml maps {contract.name}.{col.name} to the column '{target}', but {raw.label} has no such column. "
                    f"Found columns: {found}. Correct the name under tables: {{{contract.name}: {{columns: {{{col.name}: ...}}}}}}."
                )
            out[col.name] = str(target)
        elif col.name in raw.columns:
            out[col.name] = col.name
        elif len(by_norm.get(_norm_name(col.name), [])) == 1:
            out[col.name] = by_norm[_norm_name(col.name)][0]
            problems.append(Problem("info", f"{raw.label}: the column '{out[col.name]}' was read as {col.name}.",
                                    contract.name, col.name, code="column matched by name"))
    missing = [c for c in contract.required_columns if c not in out and not (via and c == "account_id")]
    if missing:
        what = "column" if len(missing) == 1 else "columns"
        names = ", ".join(f"'{m}'" for m in missing)
        example = ", ".join(f"{m}: your_column" for m in missing)
        raise SchemaError(
            f"{raw.label} is missing required {what} {names}. Found columns: {found}. "
            f"Map your {what} in icp.yaml (tables: {{{contract.name}: {{columns: {{{example}}}}}}})."
        )
    return out, problems


def _profile_text_columns(con: duckdb.DuckDBPyConnection, raw: RawTable, cols: list[str], large: bool) -> dict[str, dict[str, Any]]:
    if not cols:
        return {}
    aggs = []
    for i, c in enumerate(cols):
        s = clean_text(c, "text")
        num, _ = parse(c, "float", "text")
        aggs += [
            f"count({s}) AS n{i}", f"count({num}) AS num{i}",
            f"count(*) FILTER (WHERE regexp_full_match({s}, '[+-]?\\d{{1,18}}')) AS int{i}",
            f"count(*) FILTER (WHERE regexp_full_match({s}, '[+-]?0\\d+')) AS lead{i}",
            f"count(*) FILTER (WHERE lower({s}) IN ('true', 'false')) AS bool{i}",
            f"count(COALESCE(TRY_CAST({s} AS DATE), TRY_CAST(TRY_CAST({s} AS TIMESTAMP) AS DATE))) AS date{i}",
            f"count(*) FILTER (WHERE {s} LIKE '%:%') AS time{i}",
            f"approx_count_distinct({s}) AS dist{i}",
            f"avg(length({s})) AS len{i}", f"avg(len(string_split({s}, ' '))) AS words{i}",
        ]
    sample = f" USING SAMPLE reservoir({_SAMPLE} ROWS) REPEATABLE (42)" if large else ""
    row = con.execute(f"SELECT count(*) AS rows, {', '.join(aggs)} FROM {raw.relation}{sample}").df().iloc[0]
    out = {}
    for i, c in enumerate(cols):
        out[c] = {k: (None if row[f"{k}{i}"] != row[f"{k}{i}"] else float(row[f"{k}{i}"]))
                  for k in ("n", "num", "int", "lead", "bool", "date", "time", "dist", "len", "words")}
        out[c]["rows"] = float(row["rows"])
    return out


def infer_kind(p: dict[str, Any]) -> str:
    """The type of an attribute column from its profile (see _profile_text_columns)."""
    n = p["n"] or 0
    if n == 0:
        return "string"
    if p["lead"] and p["int"] == n:
        return "string"  # ids and codes with leading zeros stay text
    if p["bool"] == n:
        return "bool"
    if p["int"] == n:
        return "int"
    if p["num"] >= 0.95 * n and not p["lead"]:
        return "float"
    if p["date"] >= 0.95 * n:
        return "timestamp" if p["time"] else "date"
    return "string"


def _sniff_date_format(con: duckdb.DuckDBPyConnection, raw: RawTable, col: str, kind: str) -> tuple[str | None, int, bool]:
    """Choose a non-ISO date layout for a text column, when some of its values need one.

    Returns the format, how many values it reads, and whether the choice was
    ambiguous (day and month could be swapped), in which case no format is used.
    """
    s = clean_text(col, "text")
    iso, _ = parse(col, kind, "text")
    counts = ", ".join(
        f"count(TRY_STRPTIME({s}, {lit(f)})) AS f{i}" for i, f in enumerate(DATE_FORMATS)
    )
    row = con.execute(
        f"SELECT count(*) AS n, {counts} FROM (SELECT * FROM {raw.relation} LIMIT 1000000) "
        f"WHERE {s} IS NOT NULL AND {iso} IS NULL"
    ).fetchall()[0]
    if not row[0]:
        return None, 0, False
    hits = sorted(((row[i + 1], f) for i, f in enumerate(DATE_FORMATS)), key=lambda t: -t[0])
    best_n, best = hits[0]
    if best_n == 0:
        return None, 0, False
    ties = [f for n, f in hits if n == best_n and f != best]
    ambiguous = any(sorted(f.replace("%m", "X").replace("%d", "X") for f in (best, t)) ==
                    sorted([best.replace("%m", "X").replace("%d", "X")] * 2) for t in ties)
    return (None, best_n, True) if ambiguous else (best, best_n, False)


def _category_mapping(con, raw: RawTable, plan: ColumnPlan, synonyms: dict[str, str], allowed) -> tuple[dict[str, str], int]:
    s = clean_text(plan.source, plan.family)
    rows = con.execute(
        f"SELECT {s} AS v, count(*) FROM {raw.relation} WHERE {s} IS NOT NULL GROUP BY 1 LIMIT 5001"
    ).fetchall()
    if len(rows) > 5000:
        return {}, 0
    counts = {v: n for v, n in rows}
    full = normalise_categories(counts, synonyms=synonyms, allowed=allowed)
    changed = {k: v for k, v in full.items() if k != v}
    return changed, sum(counts[k] for k in changed)


def _fmt_count(n: int) -> str:
    return f"{n:,}"


def check_table(
    con: duckdb.DuckDBPyConnection,
    raw: RawTable,
    contract: TableContract,
    spec: dict[str, Any],
    config: Any,
    *,
    today: dt.date,
    parent: str | None = None,
    via: dict[str, Any] | None = None,
    outcome: tuple[str, str, bool] | None = None,
    infer_categories: bool = False,
    strict: bool = True,
) -> TableResult:
    """Type, check and split one table into accepted rows and quarantined rows.

    Parameters
    ----------
    con : duckdb connection
        Holds ``raw.relation``; receives ``<name>`` and ``quarantine__<name>``.
    raw : RawTable
        The table as read.
    contract : TableContract
        The contract's columns and rules for it.
    spec : dict
        The table's entry of icp.yaml ``tables``.
    config : Config
        For category synonyms.
    today : date
        Event dates after this are quarantined as "in the future".
    parent : str, optional
        The accepted table whose ``account_id`` values this table's must match.
    via : dict, optional
        ``{"table": t, "column": c}``: account_id is found by looking ``c`` up in the key of ``t``.
    outcome : (column, value, value_means_churn), optional
        Single-table form: the outcome column and the value that names the class.
    infer_categories : bool
        Also clean up text attributes with few distinct values (accounts, customers, prospects).
    strict : bool
        Quarantine rows that break rules (``False``: only type cells, unreadable cells become missing).
    """
    name = contract.name
    problems: list[Problem] = list(Problem("warning", n, name, code="read") for n in raw.notes)
    if via:
        colname = str(via.get("column") or "")
        if colname not in raw.columns:
            raise SchemaError(
                f"icp.yaml says {name} reaches account_id through the column '{colname}', but {raw.label} has no such column. "
                f"Found columns: {', '.join(raw.columns)}. Correct tables: {{{name}: {{account_id_from: {{column: ...}}}}}}."
            )
    mapping, notes = resolve_columns(raw, contract, spec, via=bool(via))
    problems += notes
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {raw.relation})").fetchall())
    n_raw = con.execute(f"SELECT count(*) FROM {raw.relation}").fetchall()[0][0]
    large = n_raw > LARGE_ROWS

    plans: list[ColumnPlan] = []
    for col in contract.columns:
        if col.name not in mapping:
            continue
        src = mapping[col.name]
        fam = type_family(types[src]) if src else "text"
        plans.append(ColumnPlan(col.name, src, col.type, fam, col, category=col.category, strict=True))
    used = {p.source for p in plans} | ({outcome[0]} if outcome else set()) | ({via["column"]} if via else set())
    taken = {p.name for p in plans} | {"churned"}
    extras = [c for c in raw.columns if c not in used]
    text_extras = [c for c in extras if type_family(types[c]) == "text"]
    profiles = _profile_text_columns(con, raw, text_extras, large)
    for c in extras:
        fam = type_family(types[c])
        kind = infer_kind(profiles[c]) if fam == "text" else {
            "number": "float" if "INT" not in types[c].upper() else "int", "date": "date",
            "timestamp": "timestamp", "bool": "bool"}.get(fam, "string")
        out_name = c if c not in taken else f"{c}_original"
        prof = profiles.get(c, {})
        is_cat = (kind == "string" and infer_categories and prof.get("n")
                  and (prof.get("dist") or 0) <= 100 and (prof.get("dist") or 0) < 0.5 * prof["n"])
        plans.append(ColumnPlan(out_name, c, kind, fam, None, category=bool(is_cat), strict=False, profile=prof))

    # Date layouts, column by column.
    for p in plans:
        if p.kind in ("date", "timestamp") and p.family == "text" and p.source:
            fmt, n_fmt, ambiguous = _sniff_date_format(con, raw, p.source, p.kind)
            if ambiguous:
                problems.append(Problem(
                    "warning", f"{n_fmt:,} values of {p.name} in {raw.label} are not ISO dates and could be read "
                    "day-first or month-first; they were not guessed. Write dates as YYYY-MM-DD.",
                    name, p.name, n_fmt, "ambiguous dates"))
            elif fmt:
                p.date_format = fmt
                problems.append(Problem(
                    "warning", f"{n_fmt:,} values of {p.name} in {raw.label} are not ISO dates; they were read as "
                    f"{fmt.replace('%', '')}. Write dates as YYYY-MM-DD to avoid any doubt.",
                    name, p.name, n_fmt, "non-ISO dates"))

    # Category clean-up.
    changes: dict[str, int] = {}
    declared = config.get("categories.synonyms", {}) or {}
    for p in plans:
        if p.category and p.source and p.family == "text":
            syn = synonym_map(declared.get(p.name)) | synonym_map(declared.get(f"{name}.{p.name}"))
            allowed = p.contract.allowed if p.contract else ()
            p.mapping, n_changed = _category_mapping(con, raw, p, syn, allowed)
            if n_changed:
                changes[f"{name}.{p.name}"] = n_changed

    # Typed values and row rules.
    select, bads, reasons = [], [], []
    # large tables: columns whose raw values may turn out to be their typed values
    # already (clean text, canonical quarters, whole numbers), checked at load
    plain_of: dict[str, tuple[str, str, str]] = {}
    for i, p in enumerate(plans):
        if p.source is None:
            select.append(f"CAST(NULL AS {DUCKDB_OF[p.kind]}) AS {q(p.name)}")
            continue
        value, bad = parse(p.source, p.kind, p.family, date_format=p.date_format)
        if p.mapping:
            cases = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in p.mapping.items())
            value = f"(CASE {value} {cases} ELSE {value} END)"
        if p.kind == "float":
            bad = f"({bad} OR NOT isfinite({value}))"
            value = f"(CASE WHEN isfinite({value}) THEN {value} END)"
        select.append(f"{value} AS {q(p.name)}")
        # (a cast within the family cannot fail, so it need not be tried: TRY_CAST costs more)
        cast = "CAST" if (p.family, p.kind) in _SAFE_CASTS else "TRY_CAST"
        plain = f"{cast}(r.{q(p.source)} AS {DUCKDB_OF[p.kind]})"
        if large and value not in (plain, f"CAST({q(p.source)} AS {DUCKDB_OF[p.kind]})"):
            plain_of[p.name] = (f"{value} AS {q(p.name)}", plain, f"__plain{i}")
        if bad != "false":
            select.append(f"{bad} AS _bad{i}")
            bads.append((i, p))
    via_join = ""
    if via:
        vt = str(via.get("table"))
        key = {"contracts": "contract_id"}.get(vt, f"{vt}_id")
        vval, _ = parse(via["column"], "string", type_family(types[via["column"]]))
        select.append("_via._acc AS account_id")
        select.append(f"{vval} AS _via_key")
        via_join = f" LEFT JOIN (SELECT {q(key)} AS _k, account_id AS _acc FROM {q(vt)}) _via ON _via._k = {vval}"
    if outcome:
        ocol, ovalue, means_churn = outcome
        s = clean_text(ocol, type_family(types[ocol]))
        hit = f"(lower({s}) = {lit(ovalue.strip().lower())})"
        select.append(f"(CASE WHEN {s} IS NULL THEN NULL ELSE {hit if means_churn else 'NOT ' + hit} END) AS churned")
        reasons.append((f"{ocol} missing", "churned IS NULL", lit(f"the outcome {ocol} is missing")))
    raw_cols = [f"CAST(r.{q(c)} AS VARCHAR) AS __r{j}" for j, c in enumerate(raw.columns)]
    # the typed rows (what accepted rows are made of), and the same with the raw text
    # of every cell (what a quarantined row shows)
    typed = f"SELECT r._row, {', '.join(select)} FROM {raw.relation} r{via_join}"
    checks = [f"{plain} AS {alias}" for _, plain, alias in plain_of.values()]
    typed_and_plain = f"SELECT r._row, {', '.join(select + checks)} FROM {raw.relation} r{via_join}"
    full = f"SELECT r._row, {', '.join(select + raw_cols)} FROM {raw.relation} r{via_join}"

    for i, p in bads:
        what = _KIND_WORDS.get(p.kind, p.kind)
        if p.strict:
            src = f"CAST(__r{raw.columns.index(p.source)} AS VARCHAR)"
            reasons.append((f"{p.name} unreadable", f"_bad{i}",
                            f"format('{p.name} {{}} is not {what}', {src})"))
    out_cols = [p.name for p in plans] + (["account_id"] if via else []) + (["churned"] if outcome else [])
    for p in plans:
        c, col, n = q(p.name), p.contract, p.name
        if col is None or p.source is None:
            continue
        if col.required and not col.nullable:
            reasons.append((f"{n} missing", f"{c} IS NULL AND NOT coalesce(_bad{plans.index(p)}, false)"
                            if any(j == plans.index(p) for j, _ in bads) else f"{c} IS NULL", lit(f"{n} is missing")))
        if col.min is not None:
            reasons.append((f"{n} below {col.min:g}", f"{c} < {col.min}", f"format('{n} is below {col.min:g} (found {{}})', {c})"))
        if col.max is not None:
            reasons.append((f"{n} above {col.max:g}", f"{c} > {col.max}", f"format('{n} is above {col.max:g} (found {{}})', {c})"))
        if p.kind in ("date", "timestamp"):
            reasons.append((f"{n} implausible", f"(year({c}) < 1900 OR year({c}) > 2200)",
                            f"format('{n} {{}} is not a plausible date', {c})"))
            if col.past_only:
                reasons.append((f"{n} in the future", f"CAST({c} AS DATE) > DATE '{today.isoformat()}'",
                                f"format('{n} {{}} is in the future', CAST({c} AS DATE))"))
        if col.allowed:
            allowed = ", ".join(lit(a) for a in col.allowed)
            reasons.append((f"{n} not allowed", f"{c} NOT IN ({allowed})",
                            f"format('{n} ''{{}}'' is not one of {', '.join(col.allowed)}', {c})"))
    if via:
        reasons.append(("account_id unknown", "account_id IS NULL AND _via_key IS NOT NULL",
                        f"format('{via['column']} {{}} is not a known {via.get('table')} key', _via_key)"))
        reasons.append(("account_id missing", "_via_key IS NULL", lit(f"{via['column']} is missing")))
    for chk in contract.checks:
        if chk.left in out_cols and chk.right in out_cols and mapping.get(chk.left) and mapping.get(chk.right):
            word = {">=": "before", ">": "not after"}[chk.op]
            reasons.append((f"{chk.left} {word} {chk.right}", f"NOT ({q(chk.left)} {chk.op} {q(chk.right)})",
                            f"format('{chk.left} ({{}}) is {word} {chk.right} ({{}})', {q(chk.left)}, {q(chk.right)})"))
    if parent and "account_id" in out_cols and not via:
        reasons.append(("account_id unknown", f"account_id IS NOT NULL AND account_id NOT IN (SELECT account_id FROM {q(parent)})",
                        f"format('account_id {{}} is not in {parent}', account_id)"))
    if not strict:
        reasons = [r for r in reasons if r[0].endswith("missing") and "account_id" in r[0]]

    # One pass finds the rows that break a rule and keeps them, with their reasons and
    # their raw text, in rej__<name> (usually small). Accepted rows are the typed rows
    # without those: no rule is evaluated again when they are read, so a query on
    # a large table (a view) costs what reading its file costs, with its filters
    # reaching the file reader.
    broken = " OR ".join(f"coalesce({c}, false)" for _, c, _ in reasons) or "false"
    reason_sql = ("NULLIF(concat_ws('; ', " + ", ".join(f"CASE WHEN {c} THEN {t} END" for _, c, t in reasons)
                  + "), '')") if reasons else "CAST(NULL AS VARCHAR)"
    code_sql = ("NULLIF(concat_ws('; ', " + ", ".join(f"CASE WHEN {c} THEN {lit(k)} END" for k, c, _ in reasons)
                + "), '')") if reasons else "CAST(NULL AS VARCHAR)"
    keep = ", ".join(q(c) for c in out_cols)
    raw_keep = ", ".join(f"__r{j}" for j in range(len(raw.columns)))
    rej = f"broken__{name}"
    con.execute(f"CREATE OR REPLACE TABLE {rej} AS SELECT _row, {raw_keep}, {reason_sql} AS _reason, "
                f"{code_sql} AS _codes FROM ({full}) WHERE {broken}")
    key = contract.key if contract.key in out_cols else None
    if key and strict:
        # a key seen again among the rows that break no rule: the first row keeps it
        # (the key alone is typed for this: the other columns are not read)
        dupk = f"dupk__{name}"
        con.execute(f"CREATE OR REPLACE TABLE {dupk} AS SELECT {q(key)} AS _dup_key, min(b._row) AS _dup_first "
                    f"FROM ({typed}) b ANTI JOIN {rej} _q ON _q._row = b._row WHERE {q(key)} IS NOT NULL "
                    "GROUP BY 1 HAVING count(*) > 1")
        if con.execute(f"SELECT count(*) FROM {dupk}").fetchall()[0][0]:
            con.execute(
                f"INSERT INTO {rej} SELECT b._row, {raw_keep}, format('duplicate {key} {{}} (first on row {{}})', "
                f"b.{q(key)}, _d._dup_first), 'duplicate {key}' FROM ({full}) b "
                f"JOIN {dupk} _d ON _d._dup_key = b.{q(key)} AND b._row > _d._dup_first "
                f"ANTI JOIN {rej} _q ON _q._row = b._row"
            )
        drop_relation(con, dupk)
    n_broken = con.execute(f"SELECT count(*) FROM {rej}").fetchall()[0][0]
    anti = f" ANTI JOIN {rej} _q ON _q._row = b._row" if n_broken else ""
    drop_relation(con, name)
    if not large:
        con.execute(f"CREATE TABLE {q(name)} AS SELECT {keep} FROM ({typed}) b{anti} ORDER BY b._row")
    raw_named = ", ".join(f"__r{j} AS {q(c)}" for j, c in enumerate(raw.columns))
    con.execute(f"CREATE OR REPLACE TABLE rejq__{name} (line BIGINT, reason VARCHAR)")
    if raw.rejected:
        con.executemany(f"INSERT INTO rejq__{name} VALUES (?, ?)", raw.rejected)
    nulls = ", ".join(f"NULL AS {q(c)}" for c in raw.columns)
    con.execute(
        f"CREATE OR REPLACE VIEW quarantine__{name} AS SELECT _row AS source_row, NULL::BIGINT AS source_line, "
        f"{raw_named}, _reason AS reason FROM {rej} "
        f"UNION ALL SELECT NULL, line, {nulls}, reason FROM rejq__{name}"
    )
    inferred_bad = [f"_bad{i}" for i, p in bads if not p.strict]
    # columns that a rule keeps from being missing need no count
    never_missing = {c for c in out_cols if f"{c} missing" in {k for k, _, _ in reasons}}
    plain_checks = {c: f"count(*) FILTER (WHERE b.{alias} IS DISTINCT FROM b.{q(c)})"
                    for c, (_, _, alias) in plain_of.items()}
    result, differ = _summarise(con, raw, name, plans, out_cols, f"({typed_and_plain}) b{anti}", n_raw, rej,
                                problems, changes, large, inferred_bad, bads, never_missing, plain_checks)
    if large:
        # A view over the file: the rules ran above, and a column whose raw values
        # are its typed values in every accepted row is read as it is.
        for c, n in differ.items():
            if n == 0:
                typed_expr, plain, _ = plain_of[c]
                select[select.index(typed_expr)] = f"{plain} AS {q(c)}"
        view = f"SELECT r._row, {', '.join(select)} FROM {raw.relation} r{via_join}"
        con.execute(f"CREATE VIEW {q(name)} AS SELECT {keep} FROM ({view}) b{anti}")
    return result


def _summarise(con, raw, name, plans, out_cols, accepted_rows, total, rej, problems, changes, large,
               inferred_bad, bads, never_missing, extra) -> tuple[TableResult, dict[str, int]]:
    """Counts, coverage and problems of the accepted rows (``accepted_rows``: a FROM clause),
    and the values of the ``extra`` aggregates ({name: SQL}) over them."""
    date_cols = [p.name for p in plans if p.kind in ("date", "timestamp")]
    aggs = ["count(*)"]
    aggs += ["count(*)" if c in never_missing else f"count(b.{q(c)})" for c in out_cols]
    aggs += [f"CAST(min(b.{q(c)}) AS VARCHAR)" for c in date_cols]
    aggs += [f"CAST(max(b.{q(c)}) AS VARCHAR)" for c in date_cols]
    aggs += [f"count(*) FILTER (WHERE b.{c})" for c in inferred_bad]
    aggs += list(extra.values())
    row = con.execute(f"SELECT {', '.join(aggs)} FROM {accepted_rows}").fetchall()[0]
    extra_values = dict(zip(extra, (int(v) for v in row[len(row) - len(extra):])))
    row = row[:len(row) - len(extra)]
    total, accepted = int(total), int(row[0])
    k = 1
    nonnull = dict(zip(out_cols, row[k:k + len(out_cols)]))
    k += len(out_cols)
    mins = dict(zip(date_cols, row[k:k + len(date_cols)]))
    k += len(date_cols)
    maxs = dict(zip(date_cols, row[k:k + len(date_cols)]))
    k += len(date_cols)
    set_missing = dict(zip(inferred_bad, row[k:]))
    n_rejected = len(raw.rejected)
    reasons: dict[str, int] = {}
    if total - accepted:
        for code, n in con.execute(
            f"SELECT code, count(*) FROM (SELECT unnest(string_split(_codes, '; ')) AS code FROM {rej} "
            "WHERE _codes IS NOT NULL) GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall():
            reasons[code] = int(n)
    if n_rejected:
        reasons["unreadable line"] = n_rejected
    for code, n in reasons.items():
        problems.append(Problem(
            "error", f"{_fmt_count(n)} row(s) of {raw.label} quarantined: {code}. They are listed with the reason "
            f"in quarantine/{name}.csv; correct them in the source and run again.", name, code.split(" ")[0], n, code))
    missing_share = {c: (1 - (nonnull[c] / accepted)) if accepted else 0.0 for c in out_cols}
    for c, share in missing_share.items():
        if accepted and share == 1.0:
            problems.append(Problem(
                "warning", f"The column {c} of {raw.label} is empty in every accepted row. Expected at least some values; "
                "it is left out of modelling. Check the export, or remove the column.", name, c, accepted, "all-null column"))
    for i, p in bads:
        b = f"_bad{i}"
        if b in set_missing and set_missing[b]:
            problems.append(Problem(
                "warning", f"{_fmt_count(set_missing[b])} value(s) of {p.name} in {raw.label} could not be read as "
                f"{_KIND_WORDS.get(p.kind, p.kind)} and were set to missing.", name, p.name, int(set_missing[b]), "unreadable values"))
    for p in plans:
        if not p.contract and p.kind in ("int", "float", "date", "timestamp") and accepted and 0 < missing_share[p.name] < 1:
            n_missing = accepted - nonnull[p.name]
            problems.append(Problem(
                "info", f"{p.name} in {raw.label} was read as {_KIND_WORDS[p.kind]} column; "
                f"{_fmt_count(n_missing)} of {_fmt_count(accepted)} values are blank and are kept as missing.",
                name, p.name, int(n_missing), "blank values"))
    for key, n in changes.items():
        problems.append(Problem("info", f"Category clean-up changed {_fmt_count(n)} value(s) of {key.split('.', 1)[1]} "
                                f"in {raw.label} (case, spacing or synonyms).", name, key.split(".", 1)[1], n, "categories"))
    report = TableReport(
        table=name, label=raw.label, rows_read=total + n_rejected, rows_accepted=accepted,
        rows_quarantined=total - accepted + n_rejected, quarantine_reasons=reasons,
        missing_share={c: round(v, 6) for c, v in missing_share.items()},
        date_coverage={c: (mins[c], maxs[c]) for c in date_cols},
        column_types={p.name: p.kind for p in plans} | ({"churned": "bool"} if "churned" in out_cols else {}),
        column_sources={p.name: p.source or "" for p in plans},
    )
    return TableResult(name, report, plans, problems, changes, large), extra_values
