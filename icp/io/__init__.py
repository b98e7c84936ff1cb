"""Reading customer data, the data contract, validation and quarantine.

``load`` reads a folder, a file, a DuckDB file or a database URL, validates it
against the contract in :mod:`icp.io.contract` and returns a
:class:`~icp.dataset.Dataset`; ``validate`` returns only the report.
"""

from icp.io.contract import CONTRACT, TABLE_ORDER
from icp.io.load import load, parse_outcome, validate
from icp.io.report import Problem, TableReport, ValidationReport

__all__ = ["load", "validate", "parse_outcome", "ValidationReport", "TableReport", "Problem", "CONTRACT", "TABLE_ORDER"]
