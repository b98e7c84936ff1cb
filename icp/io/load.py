"""``icp.io.load``: read any supported source, validate it against the contract, return a Dataset."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import ibis

from icp.config import Config, load_config
from icp.dataset import MULTI, SINGLE, SINGLE_TABLE_NAME, Dataset, file_states
from icp.exceptions import InsufficientDataError, SchemaError
from icp.io.contract import (
    CONTRACT,
    NON_PRESALE_ACCOUNT_COLUMNS,
    TABLE_ORDER,
    Column,
    TableContract,
)
from icp.io.leakage import column_roles, leakage_flags
from icp.io.outcomes import compare_churn_labels, derive_contract_fields
from icp.io.readers import Source, open_source
from icp.io.report import SEVERITIES, Problem, ValidationReport
from icp.io.sqltypes import clean_text, q, type_family
from icp.io.validate import TableResult, check_table

__all__ = ["load", "validate", "parse_outcome"]

log = logging.getLogger(__name__)

MODELLING_CHECK_ROWS = 200_000

Progress = Callable[[int, int, str], None]


class _Steps:
    """Reports the load's steps as ``progress(done, total, what)``, ``what`` being the step now
    starting; an optional table that turns out to be absent is not counted."""

    def __init__(self, progress: Progress | None, total: int):
        self.progress, self.total, self.done = progress, total, 0

    def start(self, what: str) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total, what)
        self.done += 1

    def skip(self) -> None:
        """A step that has nothing to do (an optional table is absent) is not counted."""
        self.total -= 1

    def finish(self) -> None:
        self.done = self.total
        if self.progress is not None:
            self.progress(self.done, self.total, "done")


def parse_outcome(text: str, flag: str) -> tuple[str, str]:
    """Split ``"COLUMN=VALUE"`` (as given to --churn / --renewed)."""
    if not isinstance(text, str) or "=" not in text or not text.split("=", 1)[0].strip():
        raise SchemaError(
            f"--{flag} expects COLUMN=VALUE, the outcome column and the value that means {flag}. "
            f"Found '{text}'. Write for example --{flag} Churn=Yes."
        )
    col, value = text.split("=", 1)
    return col.strip(), value.strip()


def _config_for(source: str | Path, config: Config | str | Path | None) -> Config:
    if isinstance(config, Config):
        return config
    text = str(source)
    data_dir = None
    if "://" not in text:
        p = Path(text)
        data_dir = p if p.is_dir() else p.parent
    return load_config(config, data_dir=data_dir)


def _today(config: Config) -> dt.date:
    value = config.get("today")
    if value in (None, ""):
        return dt.date.today()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def load(
    source: str | Path,
    *,
    config: Config | str | Path | None = None,
    id_column: str | None = None,
    churn: str | None = None,
    renewed: str | None = None,
    engine: str = "duckdb",
    validate: bool = True,
    progress: Progress | None = None,
) -> Dataset:
    """Read a data source, validate it against the data contract and return a :class:`Dataset`.

    Parameters
    ----------
    source : str or Path
        A folder with one file per table, a single CSV/Parquet/Excel file (the
        single-table form), a DuckDB file, or a database URL that Ibis can open.
    config : Config, str or Path, optional
        The project file ``icp.yaml`` (default: ``icp.yaml`` beside the data).
    id_column : str, optional
        Single-table form: the customer id column.
    churn, renewed : str, optional
        Single-table form: ``"COLUMN=VALUE"``, the value that means churned (or renewed).
    engine : str
        Where later aggregations run ("duckdb", "spark" or a Spark master URL).
        Validation always runs in the embedded DuckDB.
    validate : bool
        ``False`` skips the row rules (for data validated before): cells are still
        typed, and unreadable cells become missing.
    progress : callable, optional
        Called as ``progress(done, total, description)`` as each step (reading and
        checking a table, then the outcome and modelling checks) starts, and once at
        the end with ``done == total``. When given, DuckDB's own progress bar is not
        printed (the caller shows progress), here or in later queries on the Dataset.

    Returns
    -------
    Dataset
        Accepted rows per table, with the validation report in ``.validation``.

    Raises
    ------
    SchemaError
        A required table or column is missing, or a file cannot be read.
    InsufficientDataError
        No usable row, or no outcome.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"id": ["007", "008", "009"], "size": [1, 5, 9],
    ...               "Churn": ["Yes", "No", "No"]}).to_csv(folder / "c.csv", index=False)
    >>> ds = load(folder / "c.csv", id_column="id", churn="Churn=Yes")
    >>> ds.to_pandas("customers")["account_id"].tolist()
    ['007', '008', '009']
    """
    cfg = _config_for(source, config)
    single_cfg = cfg.get("single_table") or {}
    id_column = id_column or single_cfg.get("id")
    if churn is None and renewed is None:
        churn, renewed = single_cfg.get("churn"), single_cfg.get("renewed")
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    if progress is not None:
        con.execute("SET enable_progress_bar_print = false")
    src = open_source(con, source)
    if id_column or churn or renewed or src.kind == "file":
        steps = _Steps(progress, 2)
        result = _load_single(con, src, cfg, id_column, churn, renewed, validate, steps)
    else:
        steps = _Steps(progress, len(TABLE_ORDER) + 1)
        result = _load_multi(con, src, cfg, validate, steps)
    steps.finish()
    tables_sql, report, excluded, presale, fingerprints, form, live = result
    backend = ibis.duckdb.from_connection(con)
    tables = {t: backend.table(t) for t in tables_sql}
    return Dataset(
        form=form, tables=tables, backend=backend, config=cfg, source=src.location,
        fingerprints=fingerprints, validation=report, excluded_columns=excluded,
        presale_columns=tuple(presale), engine=engine, live_files=live,
    )


def validate(source: str | Path, **kwargs: Any) -> ValidationReport:
    """Validate a data source and return its :class:`ValidationReport` (see :func:`load`).

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"id": ["a", "b", "b"], "Churn": ["Yes", "No", "No"]}).to_csv(
    ...     folder / "c.csv", index=False)
    >>> report = validate(folder / "c.csv", id_column="id", churn="Churn=Yes")
    >>> report.tables["customers"].rows_quarantined
    1
    """
    return load(source, **kwargs).validation


def _require_rows(con, raw, what: str) -> None:
    if not raw.rejected and con.execute(f"SELECT count(*) FROM {raw.relation}").fetchall()[0][0] == 0:
        raise InsufficientDataError(
            f"{raw.label} has a header but no data rows. Expected one row per {what}. "
            "Export the table again, with its rows."
        )


def _sorted_problems(problems: list[Problem]) -> tuple[Problem, ...]:
    return tuple(sorted(problems, key=lambda p: SEVERITIES.index(p.severity)))


def _modelling_columns(con, table: str, candidates: list[str], label: Any, cfg: Config, problems: list[Problem]) -> tuple[dict[str, str], dict[str, str]]:
    """Excluded columns (identifier, free text, leakage, icp.yaml exclude) and the leakage flags."""
    if not candidates:
        return {}, {}
    # Identifier, free-text and leakage checks read at most MODELLING_CHECK_ROWS rows,
    # a fixed pseudo-random choice of accounts (by a seeded hash of the id): these
    # shares and single-column ROC AUCs are precise long before a million rows.
    seed = int(cfg.get("random_state", 42))
    select = f"SELECT account_id, {', '.join(q(c) for c in candidates)} FROM {q(table)}"
    if con.execute(f"SELECT count(*) FROM {q(table)}").fetchall()[0][0] > MODELLING_CHECK_ROWS:
        select += (f" ORDER BY hash(CAST(account_id AS VARCHAR) || '#{seed}'), account_id "
                   f"LIMIT {MODELLING_CHECK_ROWS}")
    frame = con.execute(select).df()
    excluded = column_roles(frame, candidates)
    for c, why in excluded.items():
        problems.append(Problem("info", f"{c} is left out of modelling: {why}.", table, c, code="excluded column"))
    allow = set(cfg.get("allow_leaky") or [])
    rest = [c for c in candidates if c not in excluded]
    y = None
    if label is not None:
        aligned = label.reindex(frame["account_id"].to_numpy())
        keep = aligned.notna().to_numpy()
        if keep.sum() >= 20 and aligned[keep].nunique() == 2:
            frame, y = frame.loc[keep].reset_index(drop=True), aligned[keep].astype(bool).reset_index(drop=True)
    flags = leakage_flags(frame, y, rest, threshold=float(cfg.get("leakage_auc_threshold", 0.98)),
                          random_state=int(cfg.get("random_state", 42)))
    for c, why in flags.items():
        if c in allow:
            problems.append(Problem("warning", f"{c} {why}, but icp.yaml allows it (allow_leaky), so it is used.",
                                    table, c, code="leakage allowed"))
            continue
        excluded[c] = f"leakage: {why}"
        problems.append(Problem(
            "warning", f"{c} {why}; it is left out of modelling. If it is really known before the outcome, "
            f"list it under allow_leaky in icp.yaml.", table, c, code="leakage"))
    for c in cfg.get("exclude") or []:
        if c in candidates:
            excluded[c] = "excluded in icp.yaml"
    return excluded, {c: w for c, w in flags.items()}


def _presale(cfg: Config, candidates: list[str], excluded: dict[str, str], where: str) -> list[str]:
    declared = cfg.get("presale_attributes")
    if declared is None:
        return [c for c in candidates if c not in excluded]
    unknown = [c for c in declared if c not in candidates]
    if unknown:
        raise SchemaError(
            f"presale_attributes in icp.yaml names columns that {where} does not have: {', '.join(unknown)}. "
            f"Found attributes: {', '.join(candidates)}. Correct the names or remove them."
        )
    return [c for c in declared if c not in excluded]


def _load_single(con, src: Source, cfg: Config, id_column, churn, renewed, validate, steps: _Steps):
    if src.kind not in ("file",):
        raise SchemaError(
            f"The single-table form (--id with --churn or --renewed) needs one file, but {src.location} is a {src.kind}. "
            "Expected a CSV, Parquet or Excel file. Give the file itself as DATA."
        )
    if not id_column or not (churn or renewed):
        raise SchemaError(
            f"{Path(src.location).name} is a single file, so it is read in the single-table form, which needs an id "
            "column and an outcome. Expected --id COLUMN with --churn COLUMN=VALUE (or --renewed COLUMN=VALUE). "
            "For example: icp validate customers.csv --id customer_id --churn Churn=Yes."
        )
    flag = "churn" if churn else "renewed"
    ocol, ovalue = parse_outcome(churn or renewed, flag)
    steps.start(f"reading and checking {Path(src.location).name}")
    raw = src.reader(SINGLE_TABLE_NAME, {})
    files = file_states(raw.files)
    _require_rows(con, raw, "customer")
    found = ", ".join(raw.columns)
    for what, col in (("id column", id_column), ("outcome column", ocol)):
        if col not in raw.columns:
            raise SchemaError(
                f"{raw.label} has no {what} '{col}'. Found columns: {found}. "
                f"Give the exact column name (it is case-sensitive) with --{'id' if what == 'id column' else flag}."
            )
    s = clean_text(ocol, "text" if raw.text else type_family(dict(con.execute(
        f"SELECT column_name, column_type FROM (DESCRIBE {raw.relation})").fetchall())[ocol]))
    values = [v for (v,) in con.execute(f"SELECT DISTINCT {s} FROM {raw.relation} WHERE {s} IS NOT NULL ORDER BY 1 LIMIT 21").fetchall()]
    if len(values) == 1:
        raise InsufficientDataError(
            f"Every customer in {raw.label} has the same outcome ({ocol} = {values[0]}), so there is nothing to learn from. "
            f"Expected both outcomes in {ocol}. Check that the file holds customers who left as well as customers who stayed."
        )
    if ovalue.lower() not in {str(v).lower() for v in values}:
        shown = ", ".join(map(str, values[:20])) or "none (the column is empty)"
        raise InsufficientDataError(
            f"The outcome column {ocol} of {raw.label} never has the value '{ovalue}'. Found values: {shown}. "
            f"Give the value that means {'churned' if flag == 'churn' else 'renewed'} with --{flag} {ocol}=VALUE."
        )
    contract = TableContract(SINGLE_TABLE_NAME, (Column("account_id", required=True),), key="account_id",
                             child_of_accounts=False)
    res = check_table(con, raw, contract, {"columns": {"account_id": id_column}}, cfg, today=_today(cfg),
                      outcome=(ocol, ovalue, flag == "churn"), infer_categories=True, strict=validate)
    problems = list(res.problems)
    accepted = res.report.rows_accepted
    if accepted == 0:
        raise InsufficientDataError(
            f"{raw.label} has no usable row: {res.report.rows_read:,} read, all quarantined "
            f"({', '.join(res.report.quarantine_reasons) or 'no rows'}). Expected at least one customer with an id and an outcome. "
            "Check the file and the --id and --churn columns."
        )
    n_churned = con.execute(f"SELECT count(*) FILTER (WHERE churned), count(*) FROM {SINGLE_TABLE_NAME}").fetchall()[0]
    churned, total = int(n_churned[0]), int(n_churned[1])
    if churned in (0, total):
        which = "churned" if churned == total else "stayed"
        raise InsufficientDataError(
            f"Every accepted customer in {raw.label} {which} ({total:,} of {total:,}), so there is nothing to learn from. "
            f"Expected both outcomes in {ocol}. Check the value given with --{flag} ({ovalue})."
        )
    outcome = {"label": f"{ocol}={ovalue} ({'churned' if flag == 'churn' else 'renewed'})", "customers": total,
               "churned": churned, "not_churned": total - churned, "churn_rate": round(churned / total, 4)}
    attrs = [p.name for p in res.plans if p.name != "account_id"]
    steps.start("identifier, free-text and leakage checks")
    label = con.execute(f"SELECT account_id, churned FROM {SINGLE_TABLE_NAME}").df().set_index("account_id")["churned"]
    excluded, flags = _modelling_columns(con, SINGLE_TABLE_NAME, attrs, label, cfg, problems)
    presale = _presale(cfg, attrs, excluded, raw.label)
    report = ValidationReport(
        source=src.location, form=SINGLE, tables={SINGLE_TABLE_NAME: res.report},
        problems=_sorted_problems(problems), category_changes=res.category_changes, outcome=outcome,
        leakage=flags, excluded_columns=excluded,
    )
    live = {SINGLE_TABLE_NAME: files} if res.large and files else {}
    return [SINGLE_TABLE_NAME], report, excluded, presale, {SINGLE_TABLE_NAME: raw.fingerprint}, SINGLE, live


def _load_multi(con, src: Source, cfg: Config, validate, steps: _Steps):
    results: dict[str, TableResult] = {}
    fingerprints: dict[str, str] = {}
    live: dict[str, tuple] = {}
    problems: list[Problem] = []
    today = _today(cfg)
    specs = cfg.get("tables") or {}
    unknown = sorted(set(specs) - set(CONTRACT))
    if unknown:
        raise SchemaError(
            f"icp.yaml has unknown tables: {', '.join(unknown)}. Expected only: {', '.join(TABLE_ORDER)}. "
            "Extra files such as churn events go under churn_labels."
        )
    mapped_files = set()
    for name in TABLE_ORDER:
        contract = CONTRACT[name]
        spec = dict(specs.get(name) or {})
        if src.has(name, spec):
            steps.start(f"reading and checking {name}")
        else:
            steps.skip()
        raw = src.reader(name, spec)
        if raw is None:
            if contract.required:
                found = ", ".join(src.available) or "none"
                raise SchemaError(
                    f"{Path(src.location).name} has no {name} table. Expected a file {name}.csv (or .parquet, .xlsx). "
                    f"Found: {found}. Map your file in icp.yaml (tables: {{{name}: {{file: your_file.csv}}}})."
                )
            continue
        files = file_states(raw.files)
        if contract.required:
            _require_rows(con, raw, {"accounts": "account", "contracts": "contract"}[name])
        mapped_files.add(raw.label)
        fingerprints[name] = raw.fingerprint
        via = spec.get("account_id_from")
        if via and not (isinstance(via, dict) and via.get("table") in results and via.get("column")):
            raise SchemaError(
                f"icp.yaml: tables.{name}.account_id_from must name an earlier table and a column, "
                f"such as {{table: contracts, column: subscription_id}}. Found {via!r}. "
                "The table must be one of: " + ", ".join(results) + "."
            )
        parent = "accounts" if contract.child_of_accounts else None
        res = check_table(con, raw, contract, spec, cfg, today=today, parent=parent, via=via,
                          infer_categories=name in ("accounts", "prospects"), strict=validate)
        results[name] = res
        if res.large and files:
            live[name] = files
        problems += res.problems
        if name == "accounts" and res.report.rows_accepted == 0:
            raise InsufficientDataError(
                f"{raw.label} has no usable row: {res.report.rows_read:,} read, {res.report.rows_quarantined:,} quarantined "
                f"({', '.join(res.report.quarantine_reasons) or 'the file has only a header'}). "
                "Expected at least one account with an account_id, industry and employees. Check the file."
            )
    steps.start("outcomes, churn labels and modelling checks")
    mapped_files |= {str(e.get("file")) for e in (cfg.get("churn_labels") or []) if isinstance(e, dict)}
    for f in src.available:
        if f not in mapped_files and src.kind == "folder":
            problems.append(Problem("info", f"{f} is not part of the data contract and was not read as a table.",
                                    code="ignored file"))
    outcome, more, label = derive_contract_fields(con, results, cfg, today)
    problems += more
    outcome_problems = compare_churn_labels(con, src, cfg, results, outcome)
    problems += outcome_problems
    acc_plans = results["accounts"].plans
    candidates = [p.name for p in acc_plans if p.name not in NON_PRESALE_ACCOUNT_COLUMNS]
    excluded, flags = _modelling_columns(con, "accounts", candidates, label, cfg, problems)
    presale = _presale(cfg, candidates, excluded, "the accounts table")
    report = ValidationReport(
        source=src.location, form=MULTI, tables={n: r.report for n, r in results.items()},
        problems=_sorted_problems(problems),
        category_changes={k: v for r in results.values() for k, v in r.category_changes.items()},
        outcome=outcome, leakage=flags, excluded_columns=excluded,
    )
    return list(results), report, excluded, presale, fingerprints, MULTI, live

