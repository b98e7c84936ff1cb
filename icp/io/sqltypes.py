"""SQL expressions that read text (or typed) cells as the contract's types, in DuckDB.

Each parser returns ``(value_sql, bad_sql)``: the typed value, and a condition
that is true when a present cell could not be read.
"""

from __future__ import annotations

from icp.io.contract import NA_TOKENS

__all__ = ["q", "lit", "clean_text", "parse", "DATE_FORMATS", "type_family", "drop_relation"]

# Non-ISO date layouts tried, column by column, when a date column is not ISO 8601.
DATE_FORMATS = (
    "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y", "%m-%d-%Y", "%d %b %Y", "%b %d, %Y", "%Y%m%d",
)
DUCKDB_OF = {"int": "BIGINT", "float": "DOUBLE", "date": "DATE", "timestamp": "TIMESTAMP",
             "string": "VARCHAR", "period": "VARCHAR", "yesno": "VARCHAR", "bool": "BOOLEAN"}


def q(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: object) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def type_family(duck_type: str) -> str:
    """Coarse family of a DuckDB type: text, number, date, timestamp, bool or other."""
    t = duck_type.upper()
    if t.startswith(("VARCHAR", "STRING", "TEXT")):
        return "text"
    if t.startswith(("TIMESTAMP",)):
        return "timestamp"
    if t == "DATE":
        return "date"
    if t == "BOOLEAN":
        return "bool"
    if any(t.startswith(p) for p in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                                      "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL")):
        return "number"
    return "other"


def clean_text(col: str, family: str) -> str:
    """The cell as trimmed text, with the usual spellings of 'missing' as NULL."""
    tokens = ", ".join(lit(t) for t in NA_TOKENS)
    src = q(col) if family == "text" else f"CAST({q(col)} AS VARCHAR)"
    return f"(CASE WHEN lower(trim({src})) IN ({tokens}) THEN NULL ELSE trim({src}) END)"


def _number(s: str) -> str:
    # Plain numbers first; then with a currency sign, spaces or thousands separators removed.
    cleaned = f"regexp_replace(regexp_replace({s}, '^[$€£]|\\s', '', 'g'), '^([+-]?\\d{{1,3}}(,\\d{{3}})+)(\\.\\d+)?$', '\\1\\3')"
    return f"COALESCE(TRY_CAST({s} AS DOUBLE), TRY_CAST(replace({cleaned}, ',', '') AS DOUBLE))"


def parse(col: str, kind: str, family: str, *, date_format: str | None = None) -> tuple[str, str]:
    """Typed value and "could not be read" condition for column ``col`` read as ``kind``."""
    s = clean_text(col, family)
    if kind == "string":
        return s, "false"
    if kind in ("float", "int"):
        num = f"CAST({q(col)} AS DOUBLE)" if family == "number" else _number(s)
        present = f"{q(col)} IS NOT NULL" if family == "number" else f"{s} IS NOT NULL"
        if kind == "float":
            return num, f"({present} AND {num} IS NULL)"
        value = f"TRY_CAST({num} AS BIGINT)"
        bad = f"({present} AND ({num} IS NULL OR {num} <> round({num}) OR {value} IS NULL))"
        return f"(CASE WHEN {num} = round({num}) THEN {value} END)", bad
    if kind in ("date", "timestamp"):
        if family in ("date", "timestamp"):
            return f"CAST({q(col)} AS {DUCKDB_OF[kind]})", "false"
        iso = f"TRY_CAST({s} AS {DUCKDB_OF[kind]})"
        parts = [iso]
        if kind == "date":
            parts.append(f"TRY_CAST(TRY_CAST({s} AS TIMESTAMP) AS DATE)")
        if date_format:
            parts.append(f"CAST(TRY_STRPTIME({s}, {lit(date_format)}) AS {DUCKDB_OF[kind]})")
        value = f"COALESCE({', '.join(parts)})"
        return value, f"({s} IS NOT NULL AND {value} IS NULL)"
    if kind == "period":
        norm = f"regexp_replace(upper({s}), '[\\s_-]', '', 'g')"
        ok = f"regexp_full_match({norm}, '\\d{{4}}Q[1-4]')"
        return f"(CASE WHEN {ok} THEN {norm} END)", f"({s} IS NOT NULL AND NOT {ok})"
    if kind in ("yesno", "bool"):
        low = f"lower({s})"
        yes = f"{low} IN ('yes', 'y', 'true', 't', '1')"
        no = f"{low} IN ('no', 'n', 'false', 'f', '0')"
        if family == "bool":
            return (f"CAST({q(col)} AS BOOLEAN)", "false") if kind == "bool" else (
                f"(CASE WHEN {q(col)} THEN 'yes' WHEN NOT {q(col)} THEN 'no' END)", "false")
        value = (f"(CASE WHEN {yes} THEN true WHEN {no} THEN false END)" if kind == "bool"
                 else f"(CASE WHEN {yes} THEN 'yes' WHEN {no} THEN 'no' END)")
        return value, f"({s} IS NOT NULL AND {value} IS NULL)"
    raise ValueError(f"unknown column kind {kind!r}")


def drop_relation(con: object, name: str) -> None:
    """Drop the table or view ``name`` of the main schema, whichever it is."""
    kinds = con.execute(  # type: ignore[attr-defined]
        "SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = ? AND database_name = current_database() "
        "UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE view_name = ? AND database_name = current_database()",
        [name, name],
    ).fetchall()
    for (kind,) in kinds:
        con.execute(f"DROP {kind} {q(name)}")  # type: ignore[attr-defined]
