"""A few broken rows that validation must quarantine, each listed in ground_truth.

Broken rows are added (never made by corrupting a real row), so that the clean
data keep their planted structure once validation has set the broken rows aside.
"""

from __future__ import annotations

import numpy as np

from icp.synth._tables import SCHEMAS, plain


class BrokenRows:
    """Adds broken rows to the last chunk and records them."""

    def __init__(self, rng: np.random.Generator, fmt: str, accounts: int, id_width: int,
                 row_width: int) -> None:
        self.rng = rng
        self.fmt = fmt
        self.accounts = accounts
        self.id_width = id_width
        self.row_width = row_width
        self.records: list[dict[str, str]] = []

    def _id(self, prefix: str, number: int, width: int) -> str:
        return f"{prefix}{str(number).zfill(width)}"

    def _insert(self, columns: dict[str, np.ndarray], row: dict) -> tuple[dict, int]:
        n = len(next(iter(columns.values())))
        pos = int(self.rng.integers(1, n)) if n > 1 else n
        out = {}
        for name, values in columns.items():
            value = row[name]
            arr = plain(values)
            if arr.dtype.kind != "O":
                value = arr.dtype.type(value)
            out[name] = np.insert(arr, pos, value) if arr.dtype.kind != "O" else np.insert(
                arr.astype(object), pos, np.array([value], dtype=object))
        return out, pos

    def _copy_of(self, columns: dict[str, np.ndarray], **changes) -> dict:
        n = len(next(iter(columns.values())))
        i = int(self.rng.integers(0, n))
        row = {name: values[i] for name, values in columns.items()}
        row.update(changes)
        return row

    def _add(self, tables: dict, overrides: dict, table: str, row: dict, key: str,
             problem: str, csv_text: dict[str, str] | None = None) -> None:
        if csv_text and self.fmt != "csv":
            return  # a typed Parquet column cannot hold an unparseable value
        # earlier overrides shift down when a row is inserted above them
        tables[table], pos = self._insert(tables[table], row)
        shifted = {}
        for (r, col), text in overrides.get(table, {}).items():
            shifted[(r + 1 if r >= pos else r, col)] = text
        for col, text in (csv_text or {}).items():
            shifted[(pos, col)] = text
        overrides[table] = shifted
        self.records.append({"table": table, "key": key, "problem": problem})

    def inject(self, tables: dict, counters) -> tuple[dict, dict]:
        """Add the broken rows to one chunk's tables; return tables and CSV cell overrides."""
        overrides: dict = {}
        tables = dict(tables)
        acc = tables["accounts"]
        unknown = self._id("A", self.accounts + 9000, self.id_width)

        dup = self._copy_of(acc)
        self._add(tables, overrides, "accounts", dup, dup["account_id"],
                  "duplicate account_id (an exact copy of another row)")
        bad = self._copy_of(acc, account_id=self._id("A", self.accounts + 1, self.id_width),
                            employees=-12)
        self._add(tables, overrides, "accounts", bad, bad["account_id"], "negative employees")

        con = tables["contracts"]
        nxt = counters.contract
        row = self._copy_of(con, contract_id=self._id("C", nxt + 1, self.row_width))
        row["end_date"] = row["start_date"] - 365
        self._add(tables, overrides, "contracts", row, row["contract_id"],
                  "end_date before start_date")
        row = self._copy_of(con, contract_id=self._id("C", nxt + 2, self.row_width))
        row["arr_usd"] = -abs(float(row["arr_usd"]))
        self._add(tables, overrides, "contracts", row, row["contract_id"], "negative arr_usd")
        row = self._copy_of(con, contract_id=self._id("C", nxt + 3, self.row_width),
                            gross_margin_pct=180.0)
        self._add(tables, overrides, "contracts", row, row["contract_id"],
                  "gross_margin_pct out of range (-100..100)")
        dup = self._copy_of(tables["contracts"])
        self._add(tables, overrides, "contracts", dup, dup["contract_id"],
                  "duplicate contract_id (an exact copy of another row)")
        counters.contract += 3

        nxt = counters.invoice
        row = self._copy_of(tables["invoices"],
                            invoice_id=self._id("INV", nxt + 1, self.row_width))
        self._add(tables, overrides, "invoices", row, row["invoice_id"],
                  "unparseable date in issued_on", csv_text={"issued_on": "2024-02-30"})
        row = self._copy_of(tables["invoices"],
                            invoice_id=self._id("INV", nxt + 2, self.row_width))
        row["amount_usd"] = -abs(float(row["amount_usd"]))
        self._add(tables, overrides, "invoices", row, row["invoice_id"], "negative amount_usd")
        counters.invoice += 2

        nxt = counters.ticket
        row = self._copy_of(tables["tickets"], ticket_id=self._id("T", nxt + 1, self.row_width),
                            account_id=unknown)
        self._add(tables, overrides, "tickets", row, row["ticket_id"], "unknown account_id")
        row = self._copy_of(tables["tickets"], ticket_id=self._id("T", nxt + 2, self.row_width),
                            csat=7.0)
        self._add(tables, overrides, "tickets", row, row["ticket_id"], "csat out of range (1..5)")
        counters.ticket += 2

        row = self._copy_of(tables["usage"], account_id=unknown)
        date = np.datetime_as_string(np.int64(row["date"]).astype("datetime64[D]"))
        self._add(tables, overrides, "usage", row, f"{unknown}|{date}", "unknown account_id")
        # a grade typed in wrong: this one replaces the real row (a copy would duplicate
        # the account's quarter)
        grades = {k: plain(v).copy() for k, v in tables["am_grades"].items()}
        i = int(self.rng.integers(0, len(grades["period"])))
        grades["eagerness"][i] = 9.0
        tables["am_grades"] = grades
        self.records.append({"table": "am_grades",
                             "key": f"{grades['account_id'][i]}|{grades['period'][i]}",
                             "problem": "eagerness out of range (1..5)"})
        assert set(tables) <= set(SCHEMAS)
        return tables, overrides
