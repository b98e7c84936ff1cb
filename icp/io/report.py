"""The validation report: what was read, accepted and quarantined, and every problem found."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["Problem", "TableReport", "ValidationReport", "SEVERITIES"]

# From the most to the least severe. "fatal" problems stop the run (exit code 2).
SEVERITIES = ("fatal", "error", "warning", "info")


@dataclass(frozen=True)
class Problem:
    """One problem found in the input, with how many rows or values it concerns."""

    severity: str
    message: str
    table: str | None = None
    column: str | None = None
    count: int | None = None
    code: str = ""


@dataclass(frozen=True)
class TableReport:
    """Row accounting and health of one table: ``rows_read == rows_accepted + rows_quarantined``."""

    table: str
    label: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    missing_share: dict[str, float] = field(default_factory=dict)
    date_coverage: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    column_types: dict[str, str] = field(default_factory=dict)
    column_sources: dict[str, str] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_accepted + self.rows_quarantined


@dataclass(frozen=True)
class ValidationReport:
    """What validation found, per table and overall.

    Attributes
    ----------
    source : str
        What was read.
    form : {"multi", "single"}
    tables : dict of str to TableReport
        Row accounting, missing shares, date coverage and column types per table.
    problems : tuple of Problem
        Every problem, most severe first.
    category_changes : dict of str to int
        ``"table.column"`` -> how many values category clean-up changed.
    outcome : dict
        Outcome balance (churned / not churned accounts, renewal decisions).
    leakage : dict of str to str
        Attributes flagged by the leakage guard, with the reason.
    excluded_columns : dict of str to str
        Columns left out of modelling, with the reason.
    """

    source: str
    form: str
    tables: dict[str, TableReport]
    problems: tuple[Problem, ...] = ()
    category_changes: dict[str, int] = field(default_factory=dict)
    outcome: dict[str, Any] = field(default_factory=dict)
    leakage: dict[str, str] = field(default_factory=dict)
    excluded_columns: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No fatal problem."""
        return not any(p.severity == "fatal" for p in self.problems)

    @property
    def rows_balanced(self) -> bool:
        """Rows read equal rows accepted plus rows quarantined, in every table."""
        return all(t.balanced for t in self.tables.values())

    @property
    def summary(self) -> pd.DataFrame:
        """One row per table: rows read, accepted, quarantined, and the date range covered."""
        rows = []
        for name, t in self.tables.items():
            starts = [s for s, _ in t.date_coverage.values() if s]
            ends = [e for _, e in t.date_coverage.values() if e]
            rows.append({
                "table": name,
                "file": t.label,
                "rows_read": t.rows_read,
                "rows_accepted": t.rows_accepted,
                "rows_quarantined": t.rows_quarantined,
                "first_date": min(starts) if starts else None,
                "last_date": max(ends) if ends else None,
            })
        return pd.DataFrame(rows, columns=[
            "table", "file", "rows_read", "rows_accepted", "rows_quarantined", "first_date", "last_date",
        ])

    def problems_frame(self) -> pd.DataFrame:
        """Every problem as a DataFrame (severity, table, column, count, message)."""
        return pd.DataFrame(
            [asdict(p) for p in self.problems],
            columns=["severity", "message", "table", "column", "count", "code"],
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (the content of ``validation.json``)."""
        counts = {s: sum(p.severity == s for p in self.problems) for s in SEVERITIES}
        return {
            "source": self.source,
            "form": self.form,
            "status": "ok" if self.ok else "fatal",
            "rows_balanced": self.rows_balanced,
            "problem_counts": counts,
            "tables": {
                name: {**asdict(t), "date_coverage": {k: list(v) for k, v in t.date_coverage.items()}}
                for name, t in self.tables.items()
            },
            "problems": [asdict(p) for p in self.problems],
            "category_changes": dict(self.category_changes),
            "outcome": dict(self.outcome),
            "leakage": dict(self.leakage),
            "excluded_columns": dict(self.excluded_columns),
        }

    def to_json(self, path: str | Path | None = None) -> str:
        """Return the report as JSON, and write it to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, default=str)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    def _repr_html_(self) -> str:
        parts = [f"<h4>Validation of {html.escape(self.source)} ({self.form}-table form)</h4>"]
        parts.append(self.summary.to_html(index=False))
        if self.outcome:
            items = ", ".join(f"{html.escape(str(k))}: {html.escape(str(v))}" for k, v in self.outcome.items()
                              if not isinstance(v, dict))
            parts.append(f"<p><b>Outcome:</b> {items}</p>")
        if self.problems:
            parts.append("<ul>")
            for p in self.problems:
                parts.append(f"<li><b>{p.severity}</b>: {html.escape(p.message)}</li>")
            parts.append("</ul>")
        return "".join(parts)

    def __repr__(self) -> str:
        counts = ", ".join(f"{t.table}: {t.rows_accepted}/{t.rows_read}" for t in self.tables.values())
        return f"ValidationReport({self.form}, accepted/read {counts}, {len(self.problems)} problems)"
