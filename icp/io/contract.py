"""The data contract as data: the tables, their columns, types and row rules.

Everything that validation enforces is declared here, so that the rules can be
read (and documented) in one place. Column names are the contract's, after the
mapping of ``icp.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Column", "Check", "TableContract", "CONTRACT", "TABLE_ORDER", "NA_TOKENS"]

# Cell values that mean "missing" in every column of a text file.
NA_TOKENS = ("", "na", "n/a", "nan", "null", "none", "#n/a", "-")


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    ``type`` is one of string, int, float, date, timestamp, period (YYYYQn) or
    yesno. ``past_only`` dates record events, so they cannot lie in the future.
    ``allowed`` is a closed vocabulary (after category clean-up).
    """

    name: str
    type: str = "string"
    required: bool = False
    min: float | None = None
    max: float | None = None
    category: bool = False
    past_only: bool = False
    allowed: tuple[str, ...] = ()
    nullable: bool = False  # a required column whose cells may be empty (end_date: open-ended)


@dataclass(frozen=True)
class Check:
    """A rule across two columns of one row: ``left op right`` must hold when both are present."""

    left: str
    op: str
    right: str


@dataclass(frozen=True)
class TableContract:
    """One table of the contract: its key, its columns and its row rules."""

    name: str
    columns: tuple[Column, ...]
    required: bool = False
    key: str | None = None
    child_of_accounts: bool = True
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None


# Money amounts above this are taken for data-entry or export errors.
MONEY_MAX = 1e12

CONTRACT: dict[str, TableContract] = {
    "accounts": TableContract(
        "accounts",
        (
            Column("account_id", required=True),
            Column("name"),
            Column("industry", required=True, category=True),
            Column("employees", "int", required=True, min=0, max=10_000_000),
            Column("annual_revenue_usd", "float", min=0, max=MONEY_MAX),
            Column("region", category=True),
            Column("country", category=True),
            Column("founded_year", "int", min=1700, max=2200),
            Column("acquisition_channel", category=True),
            Column("customer_since", "date", past_only=True),
            Column("account_manager", category=True),
        ),
        required=True,
        key="account_id",
        child_of_accounts=False,
    ),
    "contracts": TableContract(
        "contracts",
        (
            Column("contract_id", required=True),
            Column("account_id", required=True),
            Column("start_date", "date", required=True),
            Column("end_date", "date", required=True, nullable=True),  # empty = open-ended
            Column("arr_usd", "float", required=True, min=0, max=MONEY_MAX),
            Column("plan", category=True),
            Column("gross_margin_pct", "float", min=-100, max=100),
            Column("status", category=True, allowed=("renewed", "churned", "open")),
        ),
        required=True,
        key="contract_id",
        checks=(Check("end_date", ">=", "start_date"),),
    ),
    "invoices": TableContract(
        "invoices",
        (
            Column("invoice_id", required=True),
            Column("account_id", required=True),
            Column("issued_on", "date", required=True, past_only=True),
            Column("due_on", "date", required=True),
            Column("paid_on", "date", past_only=True),
            Column("amount_usd", "float", required=True, min=0, max=MONEY_MAX),  # credit notes are not invoices
            Column("written_off_on", "date", past_only=True),
        ),
        key="invoice_id",
        checks=(Check("due_on", ">=", "issued_on"), Check("paid_on", ">=", "issued_on")),
    ),
    "tickets": TableContract(
        "tickets",
        (
            Column("ticket_id", required=True),
            Column("account_id", required=True),
            Column("opened_at", "timestamp", required=True, past_only=True),
            Column("closed_at", "timestamp", past_only=True),
            Column("priority", category=True, allowed=("low", "normal", "high", "urgent")),
            Column("category", category=True),
            Column("csat", "float", min=1, max=5),
        ),
        key="ticket_id",
        checks=(Check("closed_at", ">=", "opened_at"),),
    ),
    "usage": TableContract(
        "usage",
        (
            Column("account_id", required=True),
            Column("date", "date", required=True, past_only=True),
            Column("active_users", "float", min=0, max=1e9),
            Column("events", "float", min=0, max=1e15),
        ),
    ),
    "am_grades": TableContract(
        "am_grades",
        (
            Column("account_id", required=True),
            Column("period", "period", required=True),
            Column("partnerability", "float", min=1, max=5),
            Column("reference_willing", "yesno"),
            Column("eagerness", "float", min=1, max=5),
            Column("strategic_fit", "float", min=1, max=5),
            Column("graded_by", category=True),
        ),
    ),
    "prospects": TableContract(
        "prospects",
        (
            Column("prospect_id", required=True),
            Column("name"),
            Column("industry", category=True),
            Column("employees", "int", min=0, max=10_000_000),
            Column("annual_revenue_usd", "float", min=0, max=MONEY_MAX),
            Column("region", category=True),
            Column("country", category=True),
            Column("founded_year", "int", min=1700, max=2200),
            Column("acquisition_channel", category=True),
        ),
        key="prospect_id",
        child_of_accounts=False,
    ),
}

# Validation order: parents before the tables that refer to them.
TABLE_ORDER = ("accounts", "contracts", "invoices", "tickets", "usage", "am_grades", "prospects")

# Accounts columns that are not pre-sale attributes by default.
NON_PRESALE_ACCOUNT_COLUMNS = ("account_id", "name", "customer_since", "account_manager")
